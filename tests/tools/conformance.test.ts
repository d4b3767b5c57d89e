// Behaviours first seen against a real loomcycle (docs/conformance.md), kept here against the
// simulator so `npm test` catches a regression without one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./harness.js";
import { waitFor } from "../helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe("loomcycle restarted under followed runs (conformance: restart)", () => {
  it("a parked and a mid-turn run: loomcycle still lists them running, but no loop drives them; their state says loop_lost and a steer is refused with that reason", async () => {
    const parked = await h.call("start_interactive_run", { agent: "echo", prompt: "park me" });
    expect(parked.sc.state).toBe("awaiting_input");
    const mid = await h.call("start_interactive_run", { agent: "longtalk", prompt: "talk", wait_ms: 0 });
    const parkedId = String(parked.sc.run_id);
    const midId = String(mid.sc.run_id);
    await h.sim.restart(100);
    expect(h.sim.runStatus(parkedId)).toBe("running");
    expect(h.sim.runStatus(midId)).toBe("running");

    // The bridge re-attaches both streams; each then reads as loomcycle has it.
    await waitFor(() => [parkedId, midId].every((id) => h.bridge.tracker.get(id)?.stream.state.loopLost !== undefined), {
      timeoutMs: 10_000,
      what: "liveness checked after re-attach",
    });
    for (const id of [parkedId, midId]) {
      const r = await h.call("read_run_events", { run_id: id });
      expect(r.sc.state).toBe("loop_lost");
      expect(r.sc.stuck).toBeUndefined();
      expect(String(r.sc.next_step)).toMatch(
        /^start a new run to go on\. loomcycle no longer runs this run's loop: loomcycle restarted/,
      );
      expect(String(r.sc.next_step)).toMatch(/"heartbeat timeout"/);
      expect(r.text).toMatch(/state=loop_lost/);
    }
    // A wait for a stop point returns at once: nothing more will come of the run.
    const waited = await h.call("read_run_events", { run_id: parkedId, wait_ms: 20_000 });
    expect(waited.sc.state).toBe("loop_lost");
    const l = await h.call("list_runs", {});
    const rows = l.sc.runs as Array<Record<string, unknown>>;
    for (const id of [parkedId, midId]) expect(rows.find((r) => r.run_id === id)?.state).toBe("loop_lost");
    expect((await h.call("list_runs", { state: "loop_lost" })).sc.count).toBeGreaterThanOrEqual(2);

    const before = h.sim.requests.filter((q) => q.path.endsWith("/input")).length;
    const s = await h.call("send_steer", { run_id: parkedId, text: "anyone?", wait_ms: 1000 });
    expect(s.isError).toBe(true);
    expect(s.text).toMatch(/cannot take input \(state loop_lost\): loomcycle no longer runs this run's loop/);
    expect(s.text).toMatch(/NOT sent/);
    expect(h.sim.requests.filter((q) => q.path.endsWith("/input")).length).toBe(before);
  });

  it("an answer to a question of a run whose loop loomcycle lost is not sent: loomcycle would take it, and nothing would read it", async () => {
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "ask me" });
    expect(s.sc.state).toBe("awaiting_answer");
    const runId = String(s.sc.run_id);
    const iid = String(s.sc.pending_interrupts![0]!.interrupt_id);
    await h.sim.restart(50);
    await h.sim.whenAccepting?.();
    // What real loomcycle v1.59 does (docs/conformance.md): the resolve is accepted.
    const before = h.sim.requests.length;
    for (const args of [{ answer: "yes" }, { decline: true }]) {
      const r = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: iid, ...args });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/no longer runs this run's loop/);
      expect(r.text).toMatch(args.decline ? /The decline was NOT sent/ : /The answer was NOT sent/);
    }
    expect(h.sim.requests.slice(before).filter((q) => q.path.endsWith("/resolve"))).toEqual([]);
    const list = await h.call("list_interrupts", { run_id: runId, status: "all" });
    expect(list.sc.interrupts).toEqual([expect.objectContaining({ interrupt_id: iid, status: "pending" })]);

    // Nor is the question put to the person: it is not open any more.
    let elicited = 0;
    const human = await startHarness(
      {},
      { sim: h.sim, questions: "human", onElicit: async () => (elicited++, { action: "accept", content: { answer: "yes" } }) },
    );
    try {
      const a = await human.call("attach_run", { run_id: runId, wait_ms: 2000 });
      expect(a.isError, a.text).toBe(false);
      expect(elicited).toBe(0);
      expect(a.sc).toMatchObject({ state: "loop_lost", pending_interrupts: [] });
      expect(a.sc.questions_to_person).toBeUndefined();
    } finally {
      await human.close();
    }
  });

  it("list_runs flags a run started elsewhere whose loop loomcycle lost", async () => {
    const ac = new AbortController();
    const res = await fetch(`${h.sim.url}/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.sim.token}`, "content-type": "application/json" },
      body: JSON.stringify({ agent: "echo", prompt: "elsewhere", interactive: true, user_id: "u_test" }),
      signal: ac.signal,
    });
    let text = "";
    const reader = res.body!.getReader();
    while (!/"run_id":"(r_[0-9a-f]+)"/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const runId = /"run_id":"(r_[0-9a-f]+)"/.exec(text)![1]!;
    await h.sim.waitForStopPoint(runId);
    const before = await h.call("list_runs", {});
    expect((before.sc.runs as Array<Record<string, unknown>>).find((r) => r.run_id === runId)?.stuck).toBeUndefined();
    await h.sim.restart(50);
    await h.sim.whenAccepting?.();
    const after = await h.call("list_runs", {});
    const row = (after.sc.runs as Array<Record<string, unknown>>).find((r) => r.run_id === runId);
    expect(row).toMatchObject({ followed: false, state: "loop_lost" });
    expect(row?.stuck).toBeUndefined();
    expect(String(row?.next_step)).toMatch(/no longer runs this run's loop: loomcycle restarted/);
  });

  it("a run that is still live after a stream cut is not flagged", async () => {
    const r = await h.call("start_interactive_run", { agent: "echo", prompt: "still alive" });
    const runId = String(r.sc.run_id);
    h.sim.faults.cutStream({ runId, afterFrames: 0 });
    const s = await h.call("send_steer", { run_id: runId, text: "after the cut" });
    expect(s.isError, s.text).toBe(false);
    const again = await h.call("read_run_events", { run_id: runId });
    expect(again.sc.stuck).toBeUndefined();
    expect(h.bridge.tracker.get(runId)?.stream.state.loopLost).toBeUndefined();
  });
});

describe("a loomcycle cluster behind a round-robin balancer (conformance: cluster steer)", () => {
  it("a steer that lands on a replica not running the run is sent again, never lost or doubled", async () => {
    const c = await startHarness({ replicas: ["replica-a", "replica-b"] });
    try {
      const s = await c.call("start_interactive_run", { agent: "echo", prompt: "cluster" });
      const runId = String(s.sc.run_id);
      for (let i = 0; i < 6; i++) {
        const r = await c.call("send_steer", { run_id: runId, text: `steer ${i}` });
        expect(r.isError, r.text).toBe(false);
        expect(r.sc.state).toBe("awaiting_input");
      }
      const rows = c.sim.rowsOfRun(runId).filter((x) => x.type === "user_input");
      expect(rows).toHaveLength(7); // the opening prompt and each steer exactly once
      const refused = c.sim.requests.filter((q) => q.path.endsWith("/input")).length;
      expect(refused).toBeGreaterThan(6); // some landed on the other replica and were sent again
      const st = await c.call("read_run_events", { run_id: runId });
      expect(st.sc.stuck).toBeUndefined();
    } finally {
      await c.close();
    }
  });
});

describe("compact_run in a cluster (conformance: cluster compact)", () => {
  it("a compaction loomcycle reports as live but passes on as a message is reported as not done", async () => {
    const c = await startHarness({ replicas: ["replica-a", "replica-b"] }, { timings: { compactionSeenMs: 5000 } });
    try {
      const s = await c.call("start_interactive_run", { agent: "echo", prompt: "one" });
      const runId = String(s.sc.run_id);
      for (const t of ["two", "three"]) expect((await c.call("send_steer", { run_id: runId, text: t })).isError).toBe(false);
      const results = [];
      for (let i = 0; i < 2; i++) {
        results.push(await c.call("compact_run", { run_id: runId }));
        await c.call("read_run_events", { run_id: runId, wait_ms: 10_000 }); // parked again
      }
      // Round robin: one of two consecutive compactions lands on the replica that does not run it.
      const failed = results.filter((r) => r.isError);
      const done = results.filter((r) => !r.isError);
      expect(failed).toHaveLength(1);
      expect(done).toHaveLength(1);
      for (const f of failed) expect(f.text).toMatch(/passed the summary on to it as an ordinary message/);
      for (const d of done) expect(d.sc).toMatchObject({ compacted: true, applied: "live" });
      const frames = c.sim.rowsOfRun(runId).filter((r) => r.type === "context_compaction");
      expect(frames).toHaveLength(done.length);
    } finally {
      await c.close();
    }
  }, 40_000);
});
