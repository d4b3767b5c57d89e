// Who acted through the bridge (run-marks.ts): what is attributed to whom, and what the state
// file keeps of it, old files included.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunMarks } from "../../src/bridge/runs/run-marks.js";
import { StateFile } from "../../src/bridge/runs/state-file.js";
import { silentLogger } from "../../src/logger.js";

const dir = mkdtempSync(join(tmpdir(), "lcb-marks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const meta = { baseUrl: "http://127.0.0.1:8787", userId: "u_1" };
const RUN = "r_0b1c2d3e4f5a6b7c";

describe("run marks", () => {
  it("attribute a steer's echo by its text, a turn cancel to the first turn_cancelled after it, and nothing once the turn ended otherwise", () => {
    const m = new RunMarks();
    let changes = 0;
    m.onChange = () => (changes += 1);
    m.sawOpening(0, "host");
    m.expectInput("from the person ", "person");
    const forget = m.expectInput("never sent", "host");
    forget();
    m.sawInput(5, "someone else's");
    m.sawInput(7, "never sent");
    m.sawInput(9, "from the person");
    expect([...m.inputs]).toEqual([
      [0, "host"],
      [9, "person"],
    ]);
    // Asked for while the log held 12 events: the turn_cancelled at 14 is the person's.
    m.expectTurnCancel(12, "person");
    m.sawFrame("text", 13);
    m.sawFrame("turn_cancelled", 14);
    // Asked for at 20, but the turn parked first (loomcycle refused or it was too late): a
    // later turn_cancelled (someone else's) is not attributed to it.
    m.expectTurnCancel(20, "host");
    m.sawFrame("awaiting_input", 21);
    m.sawFrame("turn_cancelled", 30);
    expect([...m.turnCancels]).toEqual([[14, "person"]]);
    m.noteAnswer("intr_1", { by: "person", answer: "yes" });
    m.noteAnswer("intr_2", { by: "elicitation", declined: true, answer: "ignored" });
    m.sawAnswerResult(40, "intr_1");
    m.noteRunCancel("person");
    m.noteRunCancel("host"); // the first accepted cancel counts
    expect(m.cancelledBy).toBe("person");
    expect([...m.answers]).toEqual([
      ["intr_1", { by: "person", answer: "yes" }],
      ["intr_2", { by: "elicitation", declined: true }],
    ]);
    expect(changes).toBe(6);
  });

  it("are kept in the state file beside host_inputs and read back; a file of the earlier format still loads", () => {
    const m = new RunMarks();
    m.sawOpening(0, "host");
    m.expectInput("a", "person");
    m.sawInput(4, "a");
    m.expectTurnCancel(5, "person");
    m.sawFrame("turn_cancelled", 6);
    m.noteAnswer("intr_9", { by: "host", answer: "no" });
    m.noteRunCancel("person");
    const path = join(dir, "state.json");
    const sf = new StateFile(path, meta, silentLogger(), 0);
    sf.set(RUN, { read_pos: 3, ...m.toSaved() });
    sf.flush();
    const back = new StateFile(path, meta, silentLogger());
    back.load();
    const saved = back.get(RUN)!;
    expect(saved).toMatchObject({
      host_inputs: [0],
      person_inputs: [4],
      turn_cancels: { "6": "person" },
      answers: { intr_9: { by: "host", answer: "no" } },
      cancelled_by: "person",
    });
    const again = new RunMarks();
    again.load(saved);
    expect([...again.inputs].sort()).toEqual([...m.inputs].sort());
    expect([...again.turnCancels]).toEqual([...m.turnCancels]);
    expect([...again.answers]).toEqual([...m.answers]);
    expect(again.cancelledBy).toBe("person");

    // The earlier format: host_inputs only.
    const old = join(dir, "old.json");
    writeFileSync(
      old,
      JSON.stringify({
        version: 1,
        base_url: meta.baseUrl,
        user_id: meta.userId,
        runs: { [RUN]: { read_pos: 7, host_inputs: [0, 5], state: "awaiting_input", updated_at: new Date().toISOString() } },
      }),
    );
    const oldFile = new StateFile(old, meta, silentLogger());
    oldFile.load();
    const fromOld = new RunMarks();
    fromOld.load(oldFile.get(RUN)!);
    expect([...fromOld.inputs]).toEqual([
      [0, "host"],
      [5, "host"],
    ]);
    expect(fromOld.turnCancels.size + fromOld.answers.size).toBe(0);
  });

  it("save a change of any kind (the state file skips writes that change nothing)", () => {
    const path = join(dir, "changes.json");
    const sf = new StateFile(path, meta, silentLogger(), 0);
    const m = new RunMarks();
    sf.set(RUN, { read_pos: 1, ...m.toSaved() });
    const stamp = () => sf.get(RUN)!;
    let last = stamp();
    const changed = (): boolean => {
      sf.set(RUN, { read_pos: 1, ...m.toSaved() });
      const now = stamp();
      const moved = now !== last;
      last = now;
      return moved;
    };
    expect(changed()).toBe(false);
    m.sawOpening(2, "person");
    expect(changed()).toBe(true);
    m.expectTurnCancel(3, "host");
    m.sawFrame("turn_cancelled", 4);
    expect(changed()).toBe(true);
    m.noteAnswer("intr_a", { by: "person", answer: "x" });
    expect(changed()).toBe(true);
    m.noteRunCancel("host");
    expect(changed()).toBe(true);
    expect(changed()).toBe(false);
  });
});
