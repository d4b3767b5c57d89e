// Tier (a) harness: a real MCP Client over the SDK's InMemoryTransport, talking to
// createServer() with a Bridge pointed at the simulator over real HTTP.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { ElicitRequest, ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { startSimulator, type Simulator, type SimOptions } from "../../src/sim/index.js";
import { Bridge } from "../../src/bridge/bridge.js";
import type { Timings } from "../../src/bridge/timings.js";
import { caller, connect, type Call, type ToolOutcome } from "../mcp-client.js";
import { silentLogger } from "../../src/logger.js";

export interface Harness {
  sim: Simulator;
  bridge: Bridge;
  client: Client;
  call: Call;
  close(): Promise<void>;
}

export type { ToolOutcome };

export interface HarnessBridgeOptions {
  token?: string;
  userId?: string;
  stateFilePath?: string;
  eventWindow?: number;
  /** Delays over the harness's (fast re-attach and retry backoff) and the bridge's defaults. */
  timings?: Partial<Timings>;
  /** Point the bridge here instead of the simulator's URL (e.g. a wrong path). */
  baseUrl?: string;
  /** Reuse a running simulator (the harness then does not close it). */
  sim?: Simulator;
  /** The bridge's default for `questions` (LOOMCYCLE_MCP_QUESTIONS). */
  questions?: "host" | "human";
  /** Label results as coming from the built-in simulator (`--sandbox`). */
  sandbox?: boolean;
  /** Declare form elicitation and answer `elicitation/create` with this handler. */
  onElicit?: (req: ElicitRequest, extra: { signal: AbortSignal }) => Promise<ElicitResult>;
  /** The host declares MCP Apps: it shows the run console and lists its app-only tools. */
  apps?: boolean;
}

export async function startHarness(simOpts: SimOptions = {}, bridgeOpts: HarnessBridgeOptions = {}): Promise<Harness> {
  const ownSim = !bridgeOpts.sim;
  const sim = bridgeOpts.sim ?? (await startSimulator({ tailPollMs: 10, speed: 0.05, ...simOpts }));
  const bridge = new Bridge({
    config: {
      baseUrl: bridgeOpts.baseUrl ?? sim.url,
      token: bridgeOpts.token ?? sim.token,
      userId: bridgeOpts.userId ?? "u_test",
      ...(bridgeOpts.questions ? { questions: bridgeOpts.questions } : {}),
    },
    logger: silentLogger(),
    // Re-attaches and GET retries back off in tens of ms, not seconds (src/bridge/timings.ts).
    timings: { backoffMs: [0, 20, 50, 100], retryBaseMs: 10, ...bridgeOpts.timings },
    ...(bridgeOpts.sandbox ? { sandbox: true } : {}),
    ...(bridgeOpts.stateFilePath ? { stateFilePath: bridgeOpts.stateFilePath } : {}),
    ...(bridgeOpts.eventWindow ? { eventWindow: bridgeOpts.eventWindow } : {}),
  });
  const { client, close } = await connect(bridge, {
    ...(bridgeOpts.onElicit ? { onElicit: bridgeOpts.onElicit } : {}),
    ...(bridgeOpts.apps ? { apps: true } : {}),
  });
  return {
    sim,
    bridge,
    client,
    call: caller(client),
    async close() {
      await close();
      bridge.close();
      if (ownSim) await sim.close();
    },
  };
}

export function texts(events: Array<Record<string, unknown>> | undefined): string {
  return (events ?? [])
    .filter((e) => e.kind === "text")
    .map((e) => String(e.text))
    .join("");
}
