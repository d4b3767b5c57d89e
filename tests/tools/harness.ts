// Tier (a) harness: a real MCP Client over the SDK's InMemoryTransport, talking to
// createServer() with a Bridge pointed at the simulator over real HTTP.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { startSimulator, type Simulator, type SimOptions } from "../../src/sim/index.js";
import { Bridge } from "../../src/bridge/bridge.js";
import { createServer } from "../../src/server.js";
import { silentLogger } from "../../src/logger.js";

export interface Harness {
  sim: Simulator;
  bridge: Bridge;
  client: Client;
  call(name: string, args: Record<string, unknown>, opts?: { signal?: AbortSignal; onprogress?: (p: unknown) => void; timeout?: number }): Promise<ToolOutcome>;
  close(): Promise<void>;
}

export interface ToolOutcome {
  isError: boolean;
  text: string;
  sc: Record<string, unknown> & { events?: Array<Record<string, unknown>>; pending_interrupts?: Array<Record<string, unknown>> };
  raw: CallToolResult;
}

export interface HarnessBridgeOptions {
  token?: string;
  userId?: string;
  stuckAfterMs?: number;
  stateFilePath?: string;
  eventWindow?: number;
  retainFinishedMs?: number;
  parkReleaseMs?: number;
  /** Reuse a running simulator (the harness then does not close it). */
  sim?: Simulator;
}

export async function startHarness(simOpts: SimOptions = {}, bridgeOpts: HarnessBridgeOptions = {}): Promise<Harness> {
  const ownSim = !bridgeOpts.sim;
  const sim = bridgeOpts.sim ?? (await startSimulator({ tailPollMs: 10, speed: 0.05, ...simOpts }));
  const bridge = new Bridge({
    config: { baseUrl: sim.url, token: bridgeOpts.token ?? sim.token, userId: bridgeOpts.userId ?? "u_test" },
    logger: silentLogger(),
    backoffMs: [0, 20, 50, 100],
    ...(bridgeOpts.stuckAfterMs !== undefined ? { stuckAfterMs: bridgeOpts.stuckAfterMs } : {}),
    ...(bridgeOpts.stateFilePath ? { stateFilePath: bridgeOpts.stateFilePath } : {}),
    ...(bridgeOpts.eventWindow ? { eventWindow: bridgeOpts.eventWindow } : {}),
    ...(bridgeOpts.retainFinishedMs !== undefined ? { retainFinishedMs: bridgeOpts.retainFinishedMs } : {}),
    ...(bridgeOpts.parkReleaseMs !== undefined ? { parkReleaseMs: bridgeOpts.parkReleaseMs } : {}),
  });
  const { server, close } = createServer({ bridge });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "test-host", version: "1.0.0" });
  await Promise.all([server.connect(a), client.connect(b)]);
  // As hosts do: with the tool list known, the SDK client validates every result's
  // structuredContent against the tool's outputSchema (strictly: no extra fields).
  await client.listTools();
  return {
    sim,
    bridge,
    client,
    async call(name, args, opts = {}) {
      const reqOpts: Record<string, unknown> = { timeout: opts.timeout ?? 70_000 };
      if (opts.signal) reqOpts.signal = opts.signal;
      if (opts.onprogress) reqOpts.onprogress = opts.onprogress;
      const raw = (await client.callTool({ name, arguments: args }, undefined, reqOpts)) as CallToolResult;
      const first = raw.content[0];
      return { isError: raw.isError === true, text: first && first.type === "text" ? first.text : "", sc: (raw.structuredContent ?? {}) as ToolOutcome["sc"], raw };
    },
    async close() {
      await client.close();
      await close();
      bridge.close();
      if (ownSim) await sim.close();
    },
  };
}

export function texts(events: Array<Record<string, unknown>> | undefined): string {
  return (events ?? []).filter((e) => e.kind === "text").map((e) => String(e.text)).join("");
}
