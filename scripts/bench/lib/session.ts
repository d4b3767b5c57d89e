// A bridge spawned as users run it, pointed at an in-process simulator, plus helpers
// to get a run into a known shape.
import { startSimulator, type SimOptions, type Simulator } from "../../../src/sim/index.js";
import { ok, Peer } from "./peer.js";
import { bridgeBin, serverEnv } from "./targets.js";

export interface BridgeSession {
  sim: Simulator;
  bridge: Peer;
  close(): Promise<void>;
}

export async function bridgeAgainstSim(simOpts: SimOptions, env: Record<string, string> = {}): Promise<BridgeSession> {
  const sim = await startSimulator(simOpts);
  const bridge = new Peer(bridgeBin(), {
    env: serverEnv({
      LOOMCYCLE_BASE_URL: sim.url,
      LOOMCYCLE_AUTH_TOKEN: sim.token,
      LOOMCYCLE_USER_ID: "bench-user",
      LOOMCYCLE_MCP_LOG_LEVEL: "warn",
      ...env,
    }),
  });
  await bridge.initialize();
  return {
    sim,
    bridge,
    async close() {
      await bridge.close();
      await sim.close();
    },
  };
}

/** Log length of a run as the bridge holds it (a raw read from the end). */
export async function logLength(bridge: Peer, runId: string): Promise<number> {
  const r = ok(
    await bridge.callTool("read_run_events", { run_id: runId, cursor: 0, format: "raw", max_events: 1000, max_chars: 40_000 }),
    "read",
  );
  let next = r.structured.next_cursor as number;
  let more = r.structured.has_more as boolean;
  while (more) {
    const p = ok(
      await bridge.callTool("read_run_events", {
        run_id: runId,
        cursor: next,
        format: "raw",
        max_events: 1000,
        max_chars: 40_000,
      }),
      "read",
    );
    next = p.structured.next_cursor as number;
    more = p.structured.has_more as boolean;
  }
  return next;
}

/** Start an `echo` run and let it park; returns its run id. */
export async function parkedEchoRun(s: BridgeSession, prompt: string): Promise<string> {
  const r = ok(
    await s.bridge.callTool("start_interactive_run", { agent: "echo", prompt, wait_ms: 30_000 }),
    "start_interactive_run",
  );
  const runId = r.structured.run_id as string;
  if (r.structured.state !== "awaiting_input") throw new Error(`echo run did not park: ${String(r.structured.state)}`);
  return runId;
}

/** An echo run parked with exactly `n` events in its log (the prompt length is
 * adjusted after a probe run, so this follows whatever framing the simulator uses). */
export async function parkedEchoRunWithEvents(s: BridgeSession, n: number): Promise<string> {
  const words = (k: number) => Array.from({ length: Math.max(1, k) }, (_, i) => `word${i}`).join(" ");
  let k = Math.max(1, n - 6);
  for (let attempt = 0; attempt < 3; attempt++) {
    const runId = await parkedEchoRun(s, words(k));
    const len = await logLength(s.bridge, runId);
    if (len === n) return runId;
    k += n - len;
  }
  throw new Error(`could not park an echo run with exactly ${n} events`);
}
