// The fault suite's in-process set-up: the simulator, optionally the fault proxy in
// front of it, a Bridge pointed at one of them, and a real MCP client talking to
// createServer() over the SDK's in-memory transport (tests/mcp-client.ts, as tests/tools/harness.ts uses it).
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { startSimulator, type SimOptions, type Simulator } from "../../src/sim/index.js";
import { Bridge } from "../../src/bridge/bridge.js";
import type { Timings } from "../../src/bridge/timings.js";
import { caller as mcpCaller, connect as mcpConnect, type Call, type ToolOutcome } from "../mcp-client.js";
import type { TrackedRun } from "../../src/bridge/runs/tracked-run.js";
import { silentLogger, type Logger } from "../../src/logger.js";
import { FaultProxy } from "./proxy.js";

export type { ToolOutcome };

export interface FaultEnv {
  sim: Simulator;
  proxy: FaultProxy | undefined;
  bridge: Bridge;
  client: Client;
  call: Call;
  /** A second, fault-free bridge on the same simulator (a fresh process, as far as loomcycle can tell). */
  freshBridge(via?: "sim" | "proxy"): Promise<{ bridge: Bridge; call: FaultEnv["call"]; close(): Promise<void> }>;
  close(): Promise<void>;
}

export interface FaultEnvOptions {
  sim?: SimOptions;
  /** Put the fault proxy between the bridge and the simulator. */
  proxy?: boolean;
  logger?: Logger;
  /** Re-attach delays; default: the bridge's own (production) schedule. */
  backoffMs?: readonly number[];
  userId?: string;
}

/** FAULTS_PARK_RELEASE_MS=n runs the suite with parked runs releasing their streams after n ms
 * (so releases and re-attaches happen in the middle of every fault); unset: the default. */
const PARK_RELEASE_MS = process.env.FAULTS_PARK_RELEASE_MS ? Number(process.env.FAULTS_PARK_RELEASE_MS) : undefined;
const releaseOpt = (): { parkReleaseMs?: number } => (PARK_RELEASE_MS === undefined ? {} : { parkReleaseMs: PARK_RELEASE_MS });
const timingsOpt = (backoffMs: readonly number[] | undefined): { timings: Partial<Timings> } => ({
  timings: { ...(backoffMs ? { backoffMs } : {}), ...releaseOpt() },
});

/** A stream that is live, or released after catching up (FAULTS_PARK_RELEASE_MS): not reconnecting. */
export function settledPhase(phase: string | undefined): boolean {
  return phase === "live" || phase === "released";
}

/** A run's whole log as the bridge sees it: what it holds, after the part a release let
 * go of (FAULTS_PARK_RELEASE_MS), re-read the way a read re-fetches it. */
export async function fullLog(run: TrackedRun): Promise<unknown[]> {
  const first = run.events.firstHeld;
  const head = first > 0 ? await run.stream.fetchRange(0, first) : [];
  return [...head, ...run.events.slice()];
}

function connect(bridge: Bridge): ReturnType<typeof mcpConnect> {
  return mcpConnect(bridge, { name: "fault-host" });
}

export function caller(client: Client): Call {
  return mcpCaller(client, 120_000);
}

export async function startFaultEnv(opts: FaultEnvOptions = {}): Promise<FaultEnv> {
  const sim = await startSimulator({ tailPollMs: 10, speed: 0.05, keepaliveMs: 0, ...opts.sim });
  let proxy: FaultProxy | undefined;
  if (opts.proxy) {
    proxy = new FaultProxy(sim.url);
    await proxy.start();
  }
  const bridge = new Bridge({
    config: { baseUrl: proxy ? proxy.url : sim.url, token: sim.token, userId: opts.userId ?? "u_faults" },
    logger: opts.logger ?? silentLogger(),
    ...timingsOpt(opts.backoffMs),
  });
  const { client, close } = await connect(bridge);
  const extras: Array<() => Promise<void>> = [];
  return {
    sim,
    proxy,
    bridge,
    client,
    call: caller(client),
    async freshBridge(via = "sim") {
      const baseUrl = via === "proxy" && proxy ? proxy.url : sim.url;
      const b2 = new Bridge({
        config: { baseUrl, token: sim.token, userId: opts.userId ?? "u_faults" },
        logger: silentLogger(),
        ...timingsOpt([0, 20, 50, 100]),
      });
      const c2 = await connect(b2);
      const closeIt = async () => {
        await c2.close();
        b2.close();
      };
      extras.push(closeIt);
      return { bridge: b2, call: caller(c2.client), close: closeIt };
    },
    async close() {
      for (const e of extras) await e().catch(() => undefined);
      await close().catch(() => undefined);
      bridge.close();
      await proxy?.close();
      await sim.close();
    },
  };
}

/** Read a run's whole log as raw `{cursor, event}` items, paging with explicit cursors. */
export async function readAllRaw(
  call: FaultEnv["call"],
  runId: string,
  from = 0,
): Promise<Array<{ cursor: number; event: Record<string, unknown> }>> {
  const out: Array<{ cursor: number; event: Record<string, unknown> }> = [];
  let cursor = from;
  for (let i = 0; i < 10_000; i++) {
    const r = await call("read_run_events", { run_id: runId, cursor, format: "raw", max_events: 1000, max_chars: 40_000 });
    if (r.isError) throw new Error(`read_run_events failed: ${r.text}`);
    for (const e of r.sc.events ?? []) out.push(e as { cursor: number; event: Record<string, unknown> });
    cursor = Number(r.sc.next_cursor);
    if (r.sc.has_more !== true) break;
  }
  return out;
}

export { setTimeout as sleep } from "node:timers/promises";
