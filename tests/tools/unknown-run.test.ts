// A run loomcycle does not have (or this token may not see) gets the same answer from every
// tool that takes a run_id (issue 19 item 7): list_interrupts used to answer an empty list,
// because loomcycle's run-scoped interrupt list folds an unknown run into 200 [] (no existence
// oracle), and tools with their own wording of a 404 (send_steer, resolve_interrupt) used it
// for a failed attach too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./harness.js";

const UNKNOWN = "r_0123456789abcdef";
const SAME = `loomcycle has no run ${UNKNOWN} visible to this token.`;

/** Every tool that takes a run id, with otherwise valid arguments. */
const CALLS: Array<[string, Record<string, unknown>]> = [
  ["read_run_events", { run_id: UNKNOWN }],
  ["read_run_events", { run_id: UNKNOWN, cursor: 0, wait_ms: 1000 }],
  ["send_steer", { run_id: UNKNOWN, text: "hello", wait_ms: 1000 }],
  ["resolve_interrupt", { run_id: UNKNOWN, interrupt_id: "intr_0123456789abcdef01234567", answer: "yes", wait_ms: 1000 }],
  ["attach_run", { run_id: UNKNOWN }],
  ["cancel_turn", { run_id: UNKNOWN }],
  ["cancel_run", { run_id: UNKNOWN }],
  ["compact_run", { run_id: UNKNOWN }],
  ["list_interrupts", { run_id: UNKNOWN }],
  ["list_interrupts", { run_id: UNKNOWN, status: "all" }],
  ["wait_for_runs", { run_ids: [UNKNOWN], wait_ms: 1000 }],
];

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("a run loomcycle does not have", () => {
  it.each(CALLS)("%s %j: the same error as every other tool", async (tool, args) => {
    const r = await h.call(tool, args);
    expect(r.isError, `${tool} answered: ${r.text}`).toBe(true);
    expect(r.text.startsWith(SAME), r.text).toBe(true);
    // It is not kept: a mistyped id must not become a followed run.
    expect(h.bridge.tracker.get(UNKNOWN)).toBeUndefined();
  });

  it("covers every tool that takes a run_id", async () => {
    const { tools } = await h.client.listTools();
    const taking = tools
      .filter((t) => {
        const p = (t.inputSchema.properties ?? {}) as Record<string, unknown>;
        return "run_id" in p || "run_ids" in p;
      })
      .map((t) => t.name)
      .sort();
    expect([...new Set(CALLS.map(([t]) => t))].sort()).toEqual(taking);
  });

  it("list_interrupts of a known run still lists its questions", async () => {
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "x", wait_ms: 10_000 });
    const r = await h.call("list_interrupts", { run_id: String(s.sc.run_id) });
    expect(r.isError, r.text).toBe(false);
    expect(r.sc.count).toBe(1);
  });
});
