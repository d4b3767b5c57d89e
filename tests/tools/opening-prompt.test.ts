// The opening prompt is shown exactly as sent, whitespace included (SPEC §3; issue 19
// item 4): loomcycle keeps it untrimmed, so a prompt with leading or trailing whitespace — a
// trailing newline is what most hosts and pastes produce — must not turn into the
// "could not be separated" placeholder, in the process that started the run, in another
// bridge, after a restart, or for a run started elsewhere.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHarness, texts, type Harness } from "./harness.js";

const PROMPTS = ["  hi  \n", "Summarize README.md\n", "\n\n  echo me  \n", "\tfirst\n\tsecond\n", " x"];

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), "lcb-opening-"));
});
afterAll(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

function opening(r: { sc: { events?: Array<Record<string, unknown>> } }): Record<string, unknown> | undefined {
  return r.sc.events?.find((e) => e.kind === "input");
}

describe("the opening prompt with leading or trailing whitespace", () => {
  // Each prompt has its runs, bridges and state file: they run side by side.
  it.concurrent.each(PROMPTS)("%j is shown exactly as sent, in every view of the run", async (prompt) => {
    const path = join(dir, `state-${PROMPTS.indexOf(prompt)}.json`);
    const a = await startHarness({}, { sim: h.sim, stateFilePath: path });
    let runId: string;
    try {
      const s = await a.call("start_interactive_run", { agent: "echo", prompt, wait_ms: 10_000 });
      expect(s.isError, s.text).toBe(false);
      runId = String(s.sc.run_id);
      expect(opening(s)).toMatchObject({ cursor: 0, text: prompt, source: "host" });
      expect(s.text).not.toMatch(/could not be separated/);
      expect(texts(s.sc.events)).toBe(`You said: ${prompt}`);
      const again = await a.call("read_run_events", { run_id: runId, cursor: 0 });
      expect(opening(again)).toMatchObject({ text: prompt, source: "host" });
    } finally {
      await a.close();
    }
    // Another bridge (no prompt known: the transcript gives it), and the same one restarted.
    for (const b of [await startHarness({}, { sim: h.sim }), await startHarness({}, { sim: h.sim, stateFilePath: path })]) {
      try {
        const r = await b.call("read_run_events", { run_id: runId, cursor: 0, wait_ms: 5000 });
        expect(r.isError, r.text).toBe(false);
        expect(opening(r)?.text).toBe(prompt);
        expect(JSON.stringify(r.sc)).not.toMatch(/You are echo|could not be separated/);
      } finally {
        await b.close();
      }
    }
  });

  it("a run started elsewhere with such a prompt: attach_run shows it exactly", async () => {
    const prompt = "  from the web ui  \n";
    const res = await fetch(`${h.sim.url}/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.sim.token}`, "content-type": "application/json" },
      body: JSON.stringify({ agent: "echo", prompt, interactive: true }),
    });
    const reader = res.body!.getReader();
    let buf = "";
    while (!/"run_id":"(r_[0-9a-f]+)"/.test(buf)) buf += new TextDecoder().decode((await reader.read()).value);
    const runId = /"run_id":"(r_[0-9a-f]+)"/.exec(buf)![1]!;
    await reader.cancel();
    await h.sim.waitForStopPoint(runId);
    const r = await h.call("attach_run", { run_id: runId, wait_ms: 5000 });
    expect(r.isError, r.text).toBe(false);
    expect(opening(r)).toMatchObject({ text: prompt, source: "replay" });
  });
});
