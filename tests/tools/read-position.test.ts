// The read position only ever moves forward (SPEC §2; issue 19 item 13): a re-read of
// earlier events with a cursor leaves it where it is, so the next read without a cursor
// gives the host nothing it already has. The property test (read-position.property.test.ts)
// checks the same over random sequences; this is the case the issue reported.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers.js";
import { startHarness, texts, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("the read position", () => {
  it("stays where it is after a re-read from cursor 0, and the next plain read re-delivers nothing", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "one two three" });
    const runId = String(s.sc.run_id);
    const st = await h.call("send_steer", { run_id: runId, text: "four five six" });
    expect(st.sc.state).toBe("awaiting_input");
    const end = Number(st.sc.next_cursor);
    expect(h.bridge.tracker.get(runId)!.readPos).toBe(end);

    const again = await h.call("read_run_events", { run_id: runId, cursor: 0, max_events: 3 });
    expect(again.isError, again.text).toBe(false);
    expect(again.sc.events!.map((e) => e.kind)).toEqual(["input", "text", "awaiting_input"]);
    expect(Number(again.sc.next_cursor)).toBeLessThan(end);
    expect(again.sc.has_more).toBe(true);
    // Before: the read position went back to this page's end.
    expect(h.bridge.tracker.get(runId)!.readPos).toBe(end);
    // The next step says where a plain read goes on from, not "read again for what this page left out".
    expect(again.sc.next_step).toMatch(new RegExp(`re-read .*your read position stays at ${end}`));
    expect(again.text).toContain(`your read position stays at ${end}`);

    const plain = await h.call("read_run_events", { run_id: runId });
    expect(plain.isError, plain.text).toBe(false);
    expect(plain.sc.events).toEqual([]);
    expect(plain.sc.next_cursor).toBe(end);

    // A steer's result starts after the read position too: only its own echo and reply.
    const st2 = await h.call("send_steer", { run_id: runId, text: "seven" });
    expect(st2.sc.events![0]).toMatchObject({ kind: "input", text: "seven", cursor: end });
    expect(texts(st2.sc.events)).toBe("You said: seven");
  });

  it("a re-read that reaches past the read position moves it to where that read ended", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "first" });
    const runId = String(s.sc.run_id);
    const pos = Number(s.sc.next_cursor);
    // Someone else steers: new events after the read position.
    await fetch(`${h.sim.url}/v1/runs/${runId}/input`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.sim.token}`, "content-type": "application/json" },
      body: JSON.stringify({ text: "from elsewhere" }),
    });
    const run = h.bridge.tracker.get(runId)!;
    await waitFor(() => run.events.slice(0).filter((e) => e.type === "awaiting_input").length === 2, {
      timeoutMs: 10_000,
      what: "the second park",
    });
    const r = await h.call("read_run_events", { run_id: runId, cursor: 0 });
    expect(texts(r.sc.events)).toBe("You said: firstYou said: from elsewhere");
    expect(Number(r.sc.next_cursor)).toBeGreaterThan(pos);
    expect(h.bridge.tracker.get(runId)!.readPos).toBe(Number(r.sc.next_cursor));
  });
});
