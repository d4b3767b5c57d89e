// read_run_events round trip on a parked run with 50 buffered events (cursor 0, no
// wait: the whole log is digested on every call), against the bare SDK echo
// server's echo round trip. Calls are strictly alternated one by one, so both sides
// see the same machine load.
import { ok, Peer } from "./lib/peer.js";
import { bridgeAgainstSim, parkedEchoRunWithEvents } from "./lib/session.js";
import { fmt, median, percentile, spread } from "./lib/stats.js";
import { echoServer, serverEnv } from "./lib/targets.js";
import type { BenchContext, Figure, FigureResult } from "./lib/types.js";

const CALLS_PER_RUN = 150;
const WARMUP = 100;
const GOAL = 1.5;
const EVENTS = 50;

export const roundTripFigure: Figure = {
  key: "round_trip",
  title: "read_run_events round trip",
  async measure(ctx: BenchContext): Promise<FigureResult> {
    const session = await bridgeAgainstSim({ tailPollMs: 20, speed: 0, seed: 11 });
    const echo = new Peer(await echoServer(), { env: serverEnv() });
    try {
      await echo.initialize();
      const runId = await parkedEchoRunWithEvents(session, EVENTS);
      const readArgs = { run_id: runId, cursor: 0 };
      const echoArgs = { text: "ping" };
      const read = async () => {
        const r = ok(await session.bridge.callTool("read_run_events", readArgs), "read_run_events");
        return r.recvAt - r.sentAt;
      };
      const ping = async () => {
        const r = ok(await echo.callTool("echo", echoArgs), "echo");
        return r.recvAt - r.sentAt;
      };
      const sample = ok(await session.bridge.callTool("read_run_events", readArgs), "read_run_events");
      if (sample.structured.next_cursor !== EVENTS || sample.structured.state !== "awaiting_input") {
        throw new Error(
          `round trip: expected a parked run with ${EVENTS} events, got ${JSON.stringify(sample.structured).slice(0, 300)}`,
        );
      }
      for (let i = 0; i < WARMUP; i++) {
        await read();
        await ping();
      }
      const perRun: Array<{ bridge: number; echo: number; ratio: number; bridgeP99: number }> = [];
      for (let run = 0; run < ctx.runs; run++) {
        const b: number[] = [];
        const e: number[] = [];
        for (let i = 0; i < CALLS_PER_RUN; i++) {
          if ((run + i) % 2 === 0) {
            b.push(await read());
            e.push(await ping());
          } else {
            e.push(await ping());
            b.push(await read());
          }
        }
        const r = {
          bridge: percentile(b, 50),
          echo: percentile(e, 50),
          ratio: percentile(b, 50) / percentile(e, 50),
          bridgeP99: percentile(b, 99),
        };
        perRun.push(r);
        ctx.log(`  run ${run + 1}: read_run_events p50 ${fmt(r.bridge, 3)} ms, echo p50 ${fmt(r.echo, 3)} ms → ${fmt(r.ratio)}×`);
      }
      const bridge = median(perRun.map((r) => r.bridge));
      const echoMs = median(perRun.map((r) => r.echo));
      const ratio = median(perRun.map((r) => r.ratio));
      return {
        key: "round_trip",
        figure: `\`read_run_events\` round trip, parked run, ${EVENTS} buffered events, no wait`,
        baseline: "the bare server's `echo` round trip",
        measured: `p50 ${fmt(bridge, 3)} ms vs ${fmt(echoMs, 3)} ms`,
        ratio: `${fmt(ratio)}×`,
        goal: `p50 ≤ ${GOAL}×`,
        pass: ratio <= GOAL,
        limits:
          `Both sides pay the same JSON-RPC framing, SDK dispatch, zod input validation and pipe hops; the bridge adds the digest of ` +
          `${EVENTS} events (merged into a few items), the text rendering, and the SDK's validation of structuredContent against the ` +
          `output schema, which grows with the result. The absolute difference is ${fmt((bridge - echoMs) * 1000, 0)} µs per call.`,
        details: [
          `${ctx.runs} runs × ${CALLS_PER_RUN} calls each side, strictly alternated, after ${WARMUP} warm-up pairs; each call reads from cursor 0 (all ${EVENTS} events) with the default digest format.`,
          `per-run ratio: ${spread(perRun.map((r) => r.ratio))}; bridge p99 per run: ${spread(
            perRun.map((r) => r.bridgeP99),
            3,
          )} ms.`,
          `result size: ${sample.lineBytes} bytes of JSON-RPC for read_run_events.`,
        ],
      };
    } finally {
      await echo.close();
      await session.close();
    }
  },
};
