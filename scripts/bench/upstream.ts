// What following runs costs loomcycle, and what getting a released run back costs a read.
//
// upstream_cost: a bridge (spawned as users run it) follows 2,000 parked runs of one user
// against the in-process simulator, whose tails poll its store every 250 ms as loomcycle
// polls its database. Counted by the simulator: run-stream tails open, and run-event
// queries per minute — first while every run holds its stream (right after they parked),
// then once they have been idle for longer than LOOMCYCLE_MCP_PARK_RELEASE_MS.
//
// reattach_latency: a read_run_events (wait_ms 0) of a parked run whose stream was
// released, from the call leaving the client to its result arriving: the bridge reads
// the transcript for the resume point, re-opens the stream from there and answers once
// the frames loomcycle holds are in. Simulator tail poll 250 ms (loomcycle's default).
import { ok } from "./lib/peer.js";
import { bridgeAgainstSim, parkedEchoRun, type BridgeSession } from "./lib/session.js";
import { fmt, fmtInt, percentile, spread } from "./lib/stats.js";
import type { BenchContext, Figure, FigureResult } from "./lib/types.js";

const RUNS_FOLLOWED = 2000;
const RELEASE_MS = 30_000;
/** The tracker sweeps every RELEASE_MS / 4: every run has released by 1.25 × RELEASE_MS after its last use. */
const RELEASED_BY_MS = RELEASE_MS * 1.25 + 1000;
const WINDOW_MS = 20_000;
const CONCURRENCY = 50;
const GOAL_STREAMS_PER_USER = 1;
const TAIL_POLL_MS = 250;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function inParallel<T>(n: number, width: number, f: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await f(i);
      }
    }),
  );
  return out;
}

/** Tails open at the end of a window, and run-event queries per minute during it. */
async function measureWindow(s: BridgeSession, ms: number): Promise<{ open: number; pollsPerMin: number }> {
  const before = s.sim.tailStats().polls;
  const t0 = performance.now();
  await sleep(ms);
  const polls = s.sim.tailStats().polls - before;
  return { open: s.sim.tailStats().open, pollsPerMin: (polls * 60_000) / (performance.now() - t0) };
}

export const upstreamCostFigure: Figure = {
  key: "upstream_cost",
  title: "upstream streams and polls for 2,000 idle parked runs",
  async measure(ctx: BenchContext): Promise<FigureResult> {
    const s = await bridgeAgainstSim(
      { tailPollMs: TAIL_POLL_MS, speed: 0.05, seed: 13 },
      { LOOMCYCLE_MCP_PARK_RELEASE_MS: String(RELEASE_MS) },
    );
    try {
      const t0 = performance.now();
      await inParallel(RUNS_FOLLOWED, CONCURRENCY, (i) => parkedEchoRun(s, `run ${i}`));
      const startedMs = performance.now() - t0;
      ctx.log(`  ${RUNS_FOLLOWED} runs started and parked in ${fmt(startedMs / 1000)} s`);
      // While every run still holds its stream (the first ones parked less than RELEASE_MS ago only if the starts were quick).
      const held = await measureWindow(s, Math.min(2000, RELEASE_MS / 2));
      const sinceLast = performance.now() - t0 - startedMs;
      await sleep(Math.max(0, RELEASED_BY_MS - sinceLast));
      const idle = await measureWindow(s, WINDOW_MS);
      ctx.log(
        `  held: ${held.open} tails, ${fmtInt(held.pollsPerMin)} polls/min; idle past the release delay: ${idle.open} tails, ${fmtInt(idle.pollsPerMin)} polls/min`,
      );
      const users = 1;
      return {
        key: "upstream_cost",
        figure: `open upstream streams and loomcycle DB polls per minute, ${RUNS_FOLLOWED.toLocaleString("en-US")} followed parked runs idle past the release delay`,
        baseline: "the same runs while each holds its stream",
        measured: `${idle.open} streams, ${fmtInt(idle.pollsPerMin)} polls/min vs ${held.open} streams, ${fmtInt(held.pollsPerMin)} polls/min`,
        ratio: `${idle.open / users} streams per user`,
        goal: `≤ ${GOAL_STREAMS_PER_USER} stream per user`,
        pass: idle.open / users <= GOAL_STREAMS_PER_USER,
        limits:
          `A parked or asking run that nobody reads, waits on or subscribes to closes its stream ${RELEASE_MS / 1000} s here ` +
          `(LOOMCYCLE_MCP_PARK_RELEASE_MS, default 120 s) after its last use, so idle runs cost loomcycle nothing: no connection and no ` +
          `poll every ${TAIL_POLL_MS} ms. A run holds its stream while it is mid-turn (it would be polled for its frames anyway), while a ` +
          `call waits on it and while a host subscribes to its resource. The bridge does not open loomcycle's per-user run-state stream: ` +
          `a run's state is confirmed by re-attaching it at the next interest (see reattach_latency).`,
        details: [
          `one bridge, one user, ${RUNS_FOLLOWED} echo runs started through start_interactive_run (${CONCURRENCY} at a time, ${fmt(startedMs / 1000)} s in all) against the in-process simulator (tail poll ${TAIL_POLL_MS} ms, as loomcycle); counts from the simulator: tails open at the end of each window, run-event queries (loomcycle's GetRunEventsSince) during it.`,
          `held: a ${fmt(Math.min(2000, RELEASE_MS / 2) / 1000)} s window right after the last run parked; idle: a ${WINDOW_MS / 1000} s window starting ${fmt(RELEASED_BY_MS / 1000)} s after it (release delay ${RELEASE_MS / 1000} s, swept every ${RELEASE_MS / 4000} s). Counts, not timings: one run.`,
        ],
      };
    } finally {
      await s.close();
    }
  },
};

const REATTACH_RUNS = 40;
const GOAL_P50_MS = 50;

export const reattachLatencyFigure: Figure = {
  key: "reattach_latency",
  title: "wake latency of a read that re-attaches a released run",
  async measure(ctx: BenchContext): Promise<FigureResult> {
    const release = 300;
    const s = await bridgeAgainstSim(
      { tailPollMs: TAIL_POLL_MS, speed: 0.05, seed: 14 },
      { LOOMCYCLE_MCP_PARK_RELEASE_MS: String(release) },
    );
    try {
      const runIds = await inParallel(REATTACH_RUNS, 10, (i) => parkedEchoRun(s, `run ${i}`));
      const all: number[] = [];
      const perRun: number[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        // Every run idle past the release delay (no tail left open), then one read each.
        await sleep(release * 1.25 + 300);
        if (s.sim.tailStats().open !== 0)
          throw new Error(`reattach latency: ${s.sim.tailStats().open} tails still open after the release delay`);
        const xs: number[] = [];
        for (const id of runIds) {
          const r = ok(await s.bridge.callTool("read_run_events", { run_id: id, wait_ms: 0 }), "read_run_events");
          if (r.structured.state !== "awaiting_input" || r.structured.state_as_of !== undefined)
            throw new Error(`reattach latency: unconfirmed state ${JSON.stringify(r.structured.state)}`);
          xs.push(r.recvAt - r.sentAt);
        }
        all.push(...xs);
        perRun.push(percentile(xs, 50));
        ctx.log(`  run ${run + 1}: p50 ${fmt(percentile(xs, 50), 2)} ms, p99 ${fmt(percentile(xs, 99), 2)} ms`);
      }
      const p50 = percentile(all, 50);
      const p99 = percentile(all, 99);
      return {
        key: "reattach_latency",
        figure: "wake latency of a read that has to re-attach a released run (read_run_events, wait_ms 0)",
        baseline: "— (absolute)",
        measured: `p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms (n = ${all.length})`,
        ratio: `p50 ${fmt(p50, 2)} ms`,
        goal: `p50 ≤ ${GOAL_P50_MS} ms`,
        pass: p50 <= GOAL_P50_MS,
        limits:
          `The read waits for two requests: the session's transcript (the resume point, and how many frames loomcycle holds) and ` +
          `the re-attach stream's response head; the frames after the resume point come in the tail's first drain, before its ` +
          `first ${TAIL_POLL_MS} ms poll, and the read answers as soon as the transcript's count is reached — no quiet period, no ` +
          `poll interval in the path. Without a transcript (no session id, or over 50,000 frames) the re-attach replays from 0 ` +
          `and is confirmed after 150 ms without a new frame.`,
        details: [
          `${ctx.runs} rounds × ${REATTACH_RUNS} parked echo runs (simulator tail poll ${TAIL_POLL_MS} ms, release delay ${release} ms); each round waits until no tail is open, then reads every run once, one at a time; pooled percentiles.`,
          `per-round p50: ${spread(perRun, 2)} ms.`,
        ],
      };
    } finally {
      await s.close();
    }
  },
};
