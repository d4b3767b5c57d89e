// A run longer than the bridge's in-memory window: reads of evicted positions are
// re-fetched from loomcycle by replay and return exactly what an unbounded log would.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers.js";
import { startHarness, texts, type Harness } from "./harness.js";

let small: Harness;
let big: Harness;
beforeAll(async () => {
  small = await startHarness({}, { eventWindow: 100 });
  big = await startHarness({}, { sim: small.sim });
});
afterAll(async () => {
  await big?.close();
  await small?.close();
});

describe("bounded event log", () => {
  it("re-reads evicted positions by replay with the same items and cursors", async () => {
    const s = await small.call("start_interactive_run", { agent: "longtalk", prompt: "a long one", wait_ms: 30_000 });
    expect(s.isError, s.text).toBe(false);
    const runId = String(s.sc.run_id);
    await small.call("read_run_events", { run_id: runId, wait_ms: 30_000 });
    expect(small.bridge.tracker.get(runId)!.events.firstHeld).toBeGreaterThan(500);

    let cursor = 0;
    const pagesSmall: unknown[] = [];
    const pagesBig: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      const a = await small.call("read_run_events", { run_id: runId, cursor, max_chars: 3000 });
      const b = await big.call("read_run_events", { run_id: runId, cursor, max_chars: 3000 });
      expect(a.isError, a.text).toBe(false);
      pagesSmall.push(a.sc.events);
      pagesBig.push(b.sc.events);
      expect(a.sc.next_cursor).toBe(b.sc.next_cursor);
      cursor = Number(a.sc.next_cursor);
      if (!a.sc.has_more) break;
    }
    // The same items, except who sent the opening prompt: "host" for the bridge that
    // started the run, loomcycle's own source for the other one.
    const sourceless = (pages: unknown[]) =>
      (pages as Array<Array<Record<string, unknown>>>).map((p) => p.map((e) => (e.kind === "input" ? { ...e, source: "?" } : e)));
    expect(sourceless(pagesSmall)).toEqual(sourceless(pagesBig));
    expect((pagesSmall[0] as Array<Record<string, unknown>>)[0]).toMatchObject({ kind: "input", source: "host" });
    const words = texts((pagesSmall as Array<Array<Record<string, unknown>>>).flat()).split(/\s+/).length;
    expect(words).toBeGreaterThan(2500);
    const raw = await small.call("read_run_events", { run_id: runId, cursor: 3, format: "raw", max_events: 5 });
    const rawBig = await big.call("read_run_events", { run_id: runId, cursor: 3, format: "raw", max_events: 5 });
    expect(raw.sc.events).toEqual(rawBig.sc.events);
  }, 60_000);
});

describe("finished runs are not kept forever", () => {
  it("drops a finished run nobody uses, and reads it again transparently from where the host left off", async () => {
    const h = await startHarness({}, { sim: small.sim, timings: { retainFinishedMs: 200 } });
    try {
      const s = await h.call("start_interactive_run", { agent: "echo", prompt: "finish me" });
      const runId = String(s.sc.run_id);
      const c = await h.call("cancel_run", { run_id: runId });
      expect(c.sc.final_state).toBe("cancelled");
      const full = await h.call("read_run_events", { run_id: runId, cursor: 0 });
      await waitFor(() => h.bridge.tracker.get(runId) === undefined, { what: "the finished run dropped from memory" });
      const cont = await h.call("read_run_events", { run_id: runId });
      expect(cont.isError, cont.text).toBe(false);
      expect(cont.sc.state).toBe("cancelled");
      expect(cont.sc.events).toEqual([]); // continues where the host left off
      expect(cont.sc.next_cursor).toBe(full.sc.next_cursor);
      const again = await h.call("read_run_events", { run_id: runId, cursor: 0 });
      expect(again.sc.events).toEqual(full.sc.events);
      // a parked (unfinished) run is never dropped
      const parked = await h.call("start_interactive_run", { agent: "echo", prompt: "stay" });
      h.bridge.tracker.sweep(200, Date.now() + 60_000); // a sweep long after its last use
      expect(h.bridge.tracker.get(String(parked.sc.run_id))).toBeDefined();
    } finally {
      await h.close();
    }
  });
});
