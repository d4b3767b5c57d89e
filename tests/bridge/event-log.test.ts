import { describe, expect, it } from "vitest";
import { EventLog, PatchedSource } from "../../src/bridge/runs/event-log.js";
import type { LoomEvent } from "../../src/bridge/loomcycle/events.js";

const ev = (i: number): LoomEvent =>
  i % 10 === 9
    ? { type: "usage", usage: { input_tokens: i, output_tokens: 1 } }
    : i % 7 === 0
      ? { type: "tool_call", tool_use: { id: `t${i}`, name: "Read", input: { n: i } } }
      : { type: "text", text: `w${i} ✓ ` };

describe("EventLog", () => {
  it("dropHeld lets go of every event and keeps positions: what follows is appended after them and read back exactly", () => {
    const log = new EventLog(1_000_000);
    for (let i = 0; i < 1300; i++) log.push(ev(i)); // mid-block, with recent events cached
    log.dropHeld();
    expect(log.length).toBe(1300);
    expect(log.firstHeld).toBe(1300);
    expect(log.at(1299)).toBeUndefined();
    expect(log.typeAt(0)).toBeUndefined();
    expect(log.slice()).toEqual([]);
    const more = Array.from({ length: 700 }, (_, k) => ev(1300 + k));
    for (const e of more) log.push(e);
    expect(log.length).toBe(2000);
    expect(log.slice()).toEqual(more);
    expect(log.at(1300)).toEqual(more[0]);
    expect(log.textAt(1301)).toBe((more[1] as { text?: string }).text);
    expect(log.typeAt(1999)).toBe(more[699]!.type);
  });

  it("round-trips every kind of event across block boundaries, in any read order", () => {
    const log = new EventLog(1_000_000);
    const all: LoomEvent[] = [];
    for (let i = 0; i < 2000; i++) {
      const e: LoomEvent =
        i % 3 === 0
          ? ev(i)
          : i % 3 === 1
            ? i % 5 === 0
              ? { type: "text", text: `with extra ${i}`, provider_hint: i } // not a plain delta: kept as JSON
              : { type: "text", text: i % 11 === 0 ? "" : `t${i}é🎉` }
            : { type: `kind_${i % 300}`, n: i };
      all.push(e);
      log.push(e);
      if (i % 97 === 0) expect(log.at(Math.floor(i / 2))).toEqual(all[Math.floor(i / 2)]); // reads while the block is open
    }
    for (let i = 1999; i >= 0; i--) {
      expect(log.at(i)).toEqual(all[i]);
      expect(log.typeAt(i)).toBe(all[i]!.type);
      const plain = all[i]!.type === "text" && Object.keys(all[i]!).length === 2;
      expect(log.textAt(i)).toBe(plain ? all[i]!.text : undefined);
    }
    expect(log.typeAt(5)).toBe(all[5]!.type);
  });

  it("returns every event it holds exactly, compact or recent", () => {
    const log = new EventLog(10_000);
    const all: LoomEvent[] = [];
    for (let i = 0; i < 3000; i++) {
      all.push(ev(i));
      log.push(ev(i));
    }
    expect(log.length).toBe(3000);
    for (let i = 0; i < 3000; i++) expect(log.at(i)).toEqual(all[i]);
    expect(log.typeAt(7)).toBe("tool_call");
    expect(log.at(3000)).toBeUndefined();
    expect(log.at(-1)).toBeUndefined();
  });

  it("keeps positions stable when it evicts, and reports what it no longer holds", () => {
    const log = new EventLog(1000);
    for (let i = 0; i < 5000; i++) log.push(ev(i));
    expect(log.length).toBe(5000);
    expect(log.firstHeld).toBeGreaterThanOrEqual(5000 - 1000 - 512); // evicted a block at a time
    expect(log.firstHeld).toBeLessThanOrEqual(4000);
    expect(log.at(log.firstHeld - 1)).toBeUndefined();
    expect(log.at(4999)).toEqual(ev(4999));
    expect(log.at(log.firstHeld)).toEqual(ev(log.firstHeld));
    const view = new PatchedSource(log, 10, [ev(10), ev(11), ev(12)]);
    expect(view.at(11)).toEqual(ev(11));
    expect(view.length).toBe(13); // a gap remains before what the log holds
    expect(view.at(13)).toBeUndefined();
  });

  it("stores text deltas far smaller than parsed objects", () => {
    // A full collection on both sides, so garbage left by whatever ran before in this
    // worker (or made by the loop) is not counted (vitest.config.ts passes --expose-gc).
    const gc = globalThis.gc;
    if (!gc) throw new Error("run with node --expose-gc (vitest.config.ts does)");
    const n = 200_000;
    gc();
    const before = process.memoryUsage().heapUsed;
    const log = new EventLog(n);
    for (let i = 0; i < n; i++) log.push({ type: "text", text: `word${i % 1000} ` });
    gc();
    const perEvent = (process.memoryUsage().heapUsed - before) / n;
    expect(log.length).toBe(n);
    // Parsed {type, text} objects cost well over 100 bytes each in V8; the columnar
    // blocks cost the characters (~8 here) plus a few bytes of offsets and kinds.
    process.stderr.write(`event log: ${perEvent.toFixed(1)} bytes per text delta\n`);
    expect(perEvent).toBeLessThan(32);
  });
});
