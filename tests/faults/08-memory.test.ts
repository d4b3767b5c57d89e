// Scenario 8 — memory: one run flooding 1,000,000 frames keeps the bridge's RSS
// bounded. The bridge runs as a separate process (the built binary over stdio) so its
// RSS is its own; the simulator (which holds every row) stays in the test process.
// The log keeps a window in memory; a read of an evicted position re-fetches it by
// replay and still returns the right events.
// RSS alone is a loose measure (V8 grows its heap lazily: uncapped, RSS kept rising for
// the first half of the run while the bridge's heap after a full GC stayed at 12 MiB), so
// the bridge runs with its old space capped at 48 MiB: anything kept per frame (36 bytes
// of 1,000,000 frames) would exhaust it, and RSS is sampled every ~100 ms.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { StdioPeer } from "../stdio-peer.js";
import { record, rssMiB, size } from "./report.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 20, keepaliveMs: 0, speed: 0 });
});
afterAll(async () => {
  await sim?.close();
});

describe("scenario 8: memory under a 1,000,000-frame run", () => {
  it("keeps RSS bounded while ingesting, and re-reads evicted positions exactly", async ({ task }) => {
    const frames = size(1_000_000, 200_000);
    const rec = record(task, {
      scenario: 8,
      name: "memory: flood",
      injected: `one interactive run replying with ${frames.toLocaleString("en-US")} text deltas as fast as the simulator can write them; the bridge's V8 old space capped at 48 MiB (--max-old-space-size)`,
      expected:
        "the bridge ingests it all within its 48 MiB old space; peak RSS < 250 MiB and no growth with the frame count (last 3/4 of the run: < 40 MiB); evicted positions re-read exactly",
    });
    const peer = new StdioPeer({
      XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "lcb-mem-")),
      LOOMCYCLE_BASE_URL: sim.url,
      LOOMCYCLE_AUTH_TOKEN: sim.token,
      LOOMCYCLE_MCP_LOG_LEVEL: "warn",
      NODE_OPTIONS: "--max-old-space-size=48",
    });
    try {
      await peer.initialize();
      const baseline = (await rssMiB(peer.proc.pid!)) ?? 0;
      const t0 = Date.now();
      const s = await peer.callTool("start_interactive_run", { agent: "flood", prompt: String(frames), wait_ms: 0 });
      expect(s.isError, s.text).toBe(false);
      const runId = String(s.sc.run_id);
      const samples: Array<{ events: number; rss: number }> = [];
      let peak = 0;
      let state = String(s.sc.state);
      let events = 0;
      while (state !== "awaiting_input") {
        // Follow the end of the log (what a host tailing the run does).
        const r = await peer.callTool("read_run_events", {
          run_id: runId,
          cursor: events,
          wait_ms: 100,
          max_events: 1,
          max_chars: 200,
        });
        expect(r.isError, r.text).toBe(false);
        state = String(r.sc.state);
        const lr = await peer.callTool("list_runs", {});
        events = Number((lr.sc.runs as Array<{ run_id: string; events: number }>).find((x) => x.run_id === runId)?.events ?? 0);
        const rss = (await rssMiB(peer.proc.pid!)) ?? 0;
        peak = Math.max(peak, rss);
        samples.push({ events, rss });
        expect(Date.now() - t0).toBeLessThan(240_000);
      }
      const ingestS = (Date.now() - t0) / 1000;
      const total = events;
      expect(total).toBeGreaterThanOrEqual(frames);
      // RSS growth over the last three quarters of the run (after warm-up).
      const quarter = samples.find((x) => x.events >= total / 4)?.rss ?? samples[0]!.rss;
      const last = samples.at(-1)!.rss;
      const growth = last - quarter;

      // Evicted positions: the start and the middle of the run, compared with the
      // simulator's persisted events.
      const expected = sim.expectedTailFrames(runId).map(([, d]) => d);
      const checks = [0, 5, Math.floor(total / 2)];
      for (const cursor of checks) {
        const r = await peer.callTool("read_run_events", {
          run_id: runId,
          cursor,
          format: "raw",
          max_events: 4,
          wait_ms: 55_000,
        });
        expect(r.isError, r.text).toBe(false);
        expect((r.sc.events as Array<{ cursor: number; event: unknown }>).map((e) => e.event)).toEqual(
          expected.slice(cursor, cursor + 4),
        );
        expect((r.sc.events as Array<{ cursor: number }>).map((e) => e.cursor)).toEqual([
          cursor,
          cursor + 1,
          cursor + 2,
          cursor + 3,
        ]);
      }
      const tail = await peer.callTool("read_run_events", { run_id: runId, cursor: total - 2, format: "raw" });
      expect((tail.sc.events as Array<{ event: unknown }>).map((e) => e.event)).toEqual(expected.slice(total - 2));

      rec.measured = `${total.toLocaleString("en-US")} events ingested in ${ingestS.toFixed(1)} s; RSS idle ${baseline.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, growth over the last 3/4 ${growth.toFixed(1)} MiB; evicted positions ${checks.join(", ")} re-read exactly`;
      rec.figures = {
        frames: total,
        ingest_s: Number(ingestS.toFixed(1)),
        rss_idle_mib: Math.round(baseline),
        rss_peak_mib: Math.round(peak),
        rss_growth_mib: Number(growth.toFixed(1)),
      };
      process.stderr.write(`memory: ${rec.measured}\n`);
      expect(peak).toBeLessThan(250);
      expect(growth).toBeLessThan(40);
    } finally {
      peer.kill();
    }
  }, 300_000);
});
