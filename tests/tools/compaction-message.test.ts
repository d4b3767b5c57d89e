// A compaction loomcycle delivers as a message is shown for what it is (issue 19 item 19, the
// digest side): in a loomcycle v1.59 cluster, a compaction through a replica that does not run
// the run reaches the owner as a plain steer whose text is the summary (findings item 19), and
// the run replies to it. The digest showed it as an `input` like the host's own messages; it is
// now `source: "compaction"`, in structuredContent and in the text, also after a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { waitFor } from "../helpers.js";
import { startHarness, texts, type Harness } from "./harness.js";

let sim: Simulator;
let dir: string;
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.05, replicas: ["lc-1", "lc-2"] });
  dir = mkdtempSync(join(tmpdir(), "lcb-compaction-"));
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

const SUMMARY = /^The operator and the echo agent exchanged \d+ earlier turn/;

/** A parked echo run owned by lc-1 with three turns, started and steered through `h`. */
async function threeTurns(h: Harness): Promise<string> {
  sim.faults.routeTo("lc-1", { method: "POST", pathPrefix: "/v1/runs" });
  const s = await h.call("start_interactive_run", { agent: "echo", prompt: "one", wait_ms: 10_000 });
  const runId = String(s.sc.run_id);
  sim.faults.routeTo("lc-1", { pathPrefix: `/v1/runs/${runId}/input`, count: 2 });
  for (const t of ["two", "three"]) {
    const st = await h.call("send_steer", { run_id: runId, text: t, wait_ms: 10_000 });
    expect(st.isError, st.text).toBe(false);
  }
  return runId;
}

describe("a compaction delivered as a message (cluster)", () => {
  it("is shown as loomcycle's compaction summary, not as the host's input, in structuredContent and text", async () => {
    const path = join(dir, "state.json");
    const h = await startHarness({}, { sim, stateFilePath: path, timings: { compactionSeenMs: 2000 } });
    let runId: string;
    try {
      runId = await threeTurns(h);
      const before = h.bridge.tracker.get(runId)!.events.length;
      sim.faults.routeTo("lc-2", { pathPrefix: `/v1/runs/${runId}/compact` });
      await h.call("compact_run", { run_id: runId }); // what it reports is compact_run's own business
      const run = h.bridge.tracker.get(runId)!;
      await waitFor(() => run.events.slice(before).filter((e) => e.type === "awaiting_input").length === 1, {
        timeoutMs: 10_000,
        what: "the run's reply to the summary",
      });
      const r = await h.call("read_run_events", { run_id: runId });
      expect(r.isError, r.text).toBe(false);
      const inputs = r.sc.events!.filter((e) => e.kind === "input");
      expect(inputs).toHaveLength(1);
      expect(inputs[0]).toMatchObject({ kind: "input", source: "compaction" });
      expect(String(inputs[0]!.text)).toMatch(SUMMARY);
      expect(texts(r.sc.events)).toBe(`You said: ${String(inputs[0]!.text)}`);
      expect(r.text).toMatch(
        /\] input \(compaction: loomcycle's summary of the conversation, delivered to the agent as a message; not from you or the person\): The operator and the echo agent/,
      );
      // The host's own inputs stay the host's.
      const all = await h.call("read_run_events", { run_id: runId, cursor: 0 });
      expect(all.sc.events!.filter((e) => e.kind === "input").map((e) => e.source)).toEqual([
        "host",
        "host",
        "host",
        "compaction",
      ]);
      // Later inputs are not taken for a compaction: the expectation ended with the call.
      sim.faults.routeTo("lc-1", { pathPrefix: `/v1/runs/${runId}/input` });
      await fetch(`${sim.url}/v1/runs/${runId}/input`, {
        method: "POST",
        headers: { authorization: `Bearer ${sim.token}`, "content-type": "application/json" },
        body: JSON.stringify({ text: "from someone else" }),
      });
      await waitFor(() => run.events.slice(0).some((e) => e.type === "steer" && e.user_input?.text === "from someone else"), {
        timeoutMs: 10_000,
        what: "the other client's message",
      });
      const later = await h.call("read_run_events", { run_id: runId });
      expect(later.sc.events!.find((e) => e.kind === "input")).toMatchObject({ text: "from someone else", source: "replay" });
    } finally {
      await h.close();
    }
    // The same bridge restarted (its state file) still knows it.
    const again = await startHarness({}, { sim, stateFilePath: path });
    try {
      const r = await again.call("read_run_events", { run_id: runId, cursor: 0, wait_ms: 5000 });
      expect(r.sc.events!.filter((e) => e.kind === "input").map((e) => e.source)).toEqual([
        "host",
        "host",
        "host",
        "compaction",
        "replay",
      ]);
    } finally {
      await again.close();
    }
  });

  it("through the owner it is a compaction, and no input is marked", async () => {
    const h = await startHarness({}, { sim });
    try {
      const runId = await threeTurns(h);
      sim.faults.routeTo("lc-1", { pathPrefix: `/v1/runs/${runId}/compact` });
      const c = await h.call("compact_run", { run_id: runId });
      expect(c.isError, c.text).toBe(false);
      expect(c.sc).toMatchObject({ compacted: true, applied: "live" });
      const r = await h.call("read_run_events", { run_id: runId });
      expect(r.sc.events!.map((e) => e.kind)).toEqual(["compaction"]);
      expect(h.bridge.tracker.get(runId)!.compactionInputs.size).toBe(0);
    } finally {
      await h.close();
    }
  });
});
