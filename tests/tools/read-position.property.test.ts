// Property: no sequence of reads (with and without cursor, with paging limits, raw or
// digest, concurrent), steers, bridge restarts and evictions from memory moves a run's read position past an
// event the host has not been given, or past the end of the log (issue 11, defect 1), or
// backwards (issue 19, item 13); and nothing the run console does in between (its reads and
// waits from its own cursor, the person's steers and turn cancels) moves it at all or hides
// an event from the host (issue 18).
//
// The model is "what the host has seen" (every position a result of the host's own reads
// covered; what the console read does not count) and "where the read position is": a read
// that starts at or before it and ends past it moves it to where that read ended, and
// nothing else moves it. After each step the bridge's read position must be the model's,
// never behind where it was, at most the log's length, and every item-making position
// before it must have been seen; after a console step it must be where it was; a read
// without a cursor never gives the host a position before the read position it started
// from; at the end, reading on without a cursor must have shown the host every item-making
// event of the run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { isSilent } from "../../src/bridge/runs/digest.js";
import { startHarness, type Harness, type ToolOutcome } from "./harness.js";

type Op =
  | { op: "read"; cursor?: number; cursorPastEnd?: number; maxEvents?: number; maxChars?: number; raw: boolean; waitMs: number }
  | { op: "concurrent"; a: number | undefined; b: number | undefined; maxEvents: number }
  | { op: "steer"; waitMs: number }
  | { op: "restart" }
  | { op: "console_read"; cursor: number; waitMs: number; sinceState: boolean }
  | { op: "console_act"; action: "steer" | "cancel_turn" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        op: fc.constant("read" as const),
        // A cursor anywhere in the log (as a fraction of its length), or past its end.
        cursor: fc.option(fc.nat({ max: 100 }), { nil: undefined }),
        cursorPastEnd: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
        maxEvents: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
        maxChars: fc.option(fc.integer({ min: 200, max: 400 }), { nil: undefined }),
        raw: fc.boolean(),
        waitMs: fc.constantFrom(0, 0, 300),
      },
      { requiredKeys: ["op", "raw", "waitMs"] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("concurrent" as const),
      a: fc.option(fc.nat({ max: 100 }), { nil: undefined }),
      b: fc.option(fc.nat({ max: 100 }), { nil: undefined }),
      maxEvents: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("steer" as const), waitMs: fc.constantFrom(0, 5000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("restart" as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("console_read" as const),
      cursor: fc.nat({ max: 100 }),
      waitMs: fc.constantFrom(0, 0, 300),
      sinceState: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("console_act" as const),
      action: fc.constantFrom("steer" as const, "cancel_turn" as const),
    }),
  },
);

let sim: Simulator;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.02 });
  dir = mkdtempSync(join(tmpdir(), "lcb-readpos-"));
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The positions a successful read result gave the host. */
function covered(r: ToolOutcome): number[] {
  const evs = (r.sc.events ?? []) as Array<{ cursor: number }>;
  const next = Number(r.sc.next_cursor);
  if (evs.length === 0) return [];
  const out: number[] = [];
  for (let p = evs[0]!.cursor; p < next; p++) out.push(p);
  return out;
}

// A few runs in `npm test`; the fault suite runs the full count (tests/faults/11-read-positions.test.ts).
const RUNS = Number(process.env.READ_POSITION_RUNS ?? 5);

describe("read positions (property)", () => {
  it("never pass an event the host has not been given, nor the end of the log", { timeout: 240_000 }, async () => {
    let n = 0;
    await fc.assert(
      // A small in-memory window makes reads of early positions re-read them from loomcycle.
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 14 }),
        fc.constantFrom(undefined, 6),
        async (ops, eventWindow) => {
          n += 1;
          const path = join(dir, `state-${n}.json`);
          // The host shows the run console: its model and the console share the connection.
          const opts = { sim, stateFilePath: path, apps: true, ...(eventWindow ? { eventWindow } : {}) };
          let h: Harness = await startHarness({}, opts);
          const seen = new Set<number>();
          const see = (r: ToolOutcome) => {
            expect(r.isError, r.text).toBe(false);
            for (const p of covered(r)) seen.add(p);
          };
          try {
            const s = await h.call("start_interactive_run", { agent: "echo", prompt: "first", wait_ms: 5000 });
            see(s);
            const runId = String(s.sc.run_id);
            const run = () => h.bridge.tracker.get(runId);
            const readPos = () => run()?.readPos ?? h.bridge.stateFile!.get(runId)!.read_pos;
            // The model's read position: where the start's read ended.
            let model = Number(s.sc.next_cursor);
            const check = (what: string) => {
              const r = run();
              if (!r) return; // not attached in this process yet: checked at its first read
              expect(
                r.readPos,
                `${what}: the read position moved backwards from ${model} to ${r.readPos}`,
              ).toBeGreaterThanOrEqual(model);
              const len = r.events.length;
              expect(r.readPos, `${what}: read position ${r.readPos} is past the log's end ${len}`).toBeLessThanOrEqual(len);
              for (let p = 0; p < r.readPos; p++) {
                const e = r.events.at(p);
                if (e && isSilent(e)) continue;
                expect(
                  seen.has(p),
                  `${what}: read position ${r.readPos} passes position ${p} (${e?.type}) that the host was never given`,
                ).toBe(true);
              }
            };
            for (const o of ops) {
              const len = run()?.events.length ?? 0;
              if (o.op === "read") {
                const args: Record<string, unknown> = {
                  run_id: runId,
                  wait_ms: o.waitMs,
                  wait_for: "any",
                  format: o.raw ? "raw" : "digest",
                };
                if (o.maxEvents !== undefined) args.max_events = o.maxEvents;
                if (o.maxChars !== undefined) args.max_chars = o.maxChars;
                if (o.cursorPastEnd !== undefined && run()) {
                  const before = readPos();
                  const bad = run()!.events.length + o.cursorPastEnd;
                  const r = await h.call("read_run_events", { ...args, cursor: bad, wait_ms: 0 });
                  expect(r.isError).toBe(true);
                  expect(r.text).toMatch(new RegExp(`cursor ${bad} is past the end .* holds ${run()!.events.length} event`));
                  expect(readPos()).toBe(before);
                } else {
                  if (o.cursor !== undefined) args.cursor = Math.floor((o.cursor / 100) * len);
                  const before = run() ? readPos() : model;
                  const r = await h.call("read_run_events", args);
                  see(r);
                  const from = o.cursor !== undefined ? Number(args.cursor) : before;
                  const next = Number(r.sc.next_cursor);
                  if (o.cursor === undefined) {
                    // Reading on never gives again what the host was already given.
                    const first = (r.sc.events ?? [])[0] as { cursor: number } | undefined;
                    if (first) expect(first.cursor, "a read without a cursor re-delivered events").toBeGreaterThanOrEqual(before);
                  }
                  // Forward only: a re-read behind the read position leaves it; a read from
                  // at or before it that ends past it moves it there.
                  const expected = from <= before && next > before ? next : before;
                  expect(readPos(), `read from ${from} to ${next} with the read position at ${before}`).toBe(expected);
                  model = expected;
                }
              } else if (o.op === "concurrent") {
                const arg = (c: number | undefined) => ({
                  run_id: runId,
                  max_events: o.maxEvents,
                  ...(c === undefined ? {} : { cursor: Math.floor((c / 100) * len) }),
                });
                const [ra, rb] = await Promise.all([h.call("read_run_events", arg(o.a)), h.call("read_run_events", arg(o.b))]);
                see(ra);
                see(rb);
                check("concurrent");
                model = readPos();
              } else if (o.op === "steer") {
                // Only a parked run takes a steer without queueing; a queued one is fine too.
                const r = await h.call("send_steer", { run_id: runId, text: `steer ${seen.size}`, wait_ms: o.waitMs });
                see(r);
                check("steer");
                model = readPos();
              } else if (o.op === "console_read" || o.op === "console_act") {
                const before = run() ? readPos() : undefined;
                if (o.op === "console_read") {
                  const r = await h.call("console_read", {
                    run_id: runId,
                    cursor: Math.floor((o.cursor / 100) * len),
                    wait_ms: o.waitMs,
                    ...(o.sinceState && run() ? { since_state: run()!.state } : {}),
                  });
                  expect(r.isError, r.text).toBe(false);
                } else {
                  // A turn cancel of a parked run is refused: that is fine, it must move nothing either.
                  const args = o.action === "steer" ? { text: `person ${n}-${len}` } : {};
                  await h.call("console_act", { run_id: runId, action: o.action, ...args });
                }
                if (before !== undefined) expect(readPos(), `${o.op} moved the read position`).toBe(before);
              } else {
                await h.close();
                h = await startHarness({}, opts);
              }
              check(o.op);
            }
            // Everything the run produced reaches the host by reading on without a cursor.
            await h.call("read_run_events", { run_id: runId, wait_ms: 5000 }).then(see);
            for (let i = 0; i < 200; i++) {
              const r = await h.call("read_run_events", { run_id: runId, max_events: 1000 });
              see(r);
              if (r.sc.has_more !== true) break;
            }
            check("final");
            const r = run()!;
            for (let p = 0; p < r.events.length; p++) {
              const e = r.events.at(p);
              if (e && !isSilent(e)) expect(seen.has(p), `position ${p} (${e.type}) was never shown to the host`).toBe(true);
            }
          } finally {
            await h.close();
          }
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });
});
