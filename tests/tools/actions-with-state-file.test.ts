// The run actions, on a bridge that keeps a state file (as every real one does): each mark an
// action adds makes the tracker save the run, which reads its state while the run layer is
// folding the event in. That read used to fold the event a second time and skip the next one:
// after a turn cancel, the park was lost and the run read `running` for good (seen against
// loomcycle in the live tier's "turn cancel mid-turn").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHarness, texts, type Harness } from "./harness.js";

let h: Harness;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lcb-actions-"));
  h = await startHarness({}, { stateFilePath: join(dir, "state.json") });
});
afterAll(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("run actions with a state file", () => {
  it("cancel_turn: the turn_cancelled and the park are both folded in, and the run reads parked", async () => {
    const s = await h.call("start_interactive_run", { agent: "hang", prompt: "think", wait_ms: 300 });
    const runId = String(s.sc.run_id);
    const c = await h.call("cancel_turn", { run_id: runId, reason: "enough" });
    expect(c.isError, c.text).toBe(false);
    expect(c.sc.state, c.text).toBe("awaiting_input");
    expect(c.sc.events!.map((e) => e.kind).slice(-2)).toEqual(["turn_cancelled", "awaiting_input"]);
    expect(h.bridge.stateFile!.get(runId)).toMatchObject({ state: "awaiting_input", turn_cancels: expect.any(Object) });
  });

  it("send_steer, resolve_interrupt and cancel_run: each leaves the run in the state its events say", async () => {
    const e = await h.call("start_interactive_run", { agent: "echo", prompt: "one", wait_ms: 10_000 });
    const st = await h.call("send_steer", { run_id: String(e.sc.run_id), text: "two", wait_ms: 10_000 });
    expect(st.sc.state, st.text).toBe("awaiting_input");
    expect(texts(st.sc.events)).toBe("You said: two");
    const a = await h.call("start_interactive_run", { agent: "asker", prompt: "x", wait_ms: 10_000 });
    const iid = String(a.sc.pending_interrupts![0]!.interrupt_id);
    const r = await h.call("resolve_interrupt", {
      run_id: String(a.sc.run_id),
      interrupt_id: iid,
      answer: "yes",
      wait_ms: 10_000,
    });
    expect(r.sc.state, r.text).toBe("awaiting_input");
    const c = await h.call("cancel_run", { run_id: String(e.sc.run_id) });
    expect(c.sc.state, c.text).toBe("cancelled");
  });
});
