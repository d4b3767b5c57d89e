// A loomcycle cluster whose replica dies under a parked run (issue 19 items 18 and 19's
// compact_run side; /work/coord/loomcycle-findings.md items 18, 19), against the simulator's
// cluster behind a round-robin balancer: the bridge tells a dead owner from a live one by
// loomcycle's own view of its replicas (GET /healthz replicas[]), says the run cannot take
// input (loop_lost), promises no time loomcycle does not, never tells the host to send a steer
// again to a replica that is down, and reports a compaction loomcycle passed on as a message
// for what it was.
import { afterEach, describe, expect, it } from "vitest";
import { startHarness, texts, type Harness } from "./harness.js";
import { waitFor } from "../helpers.js";

let c: Harness | undefined;
let extra: Harness[] = [];
afterEach(async () => {
  for (const x of extra) await x.close();
  extra = [];
  await c?.close();
  c = undefined;
});

type Row = Record<string, unknown>;
const rowOf = (r: { sc: Row }, runId: string): Row | undefined => (r.sc.runs as Row[]).find((x) => x.run_id === runId);

/** A cluster; each read asks loomcycle afresh (the bridge keeps a reading 10 s: killReplica's
 * silentForMs stands for time that has not passed). */
async function cluster(): Promise<Harness> {
  return startHarness({ replicas: ["lc-1", "lc-2"] }, { timings: { heartbeatCacheMs: 0 } });
}

/** The bridge's stream of the run went through its owner: wait until it re-attached through the survivor. */
async function reattached(h: Harness, runId: string): Promise<void> {
  const s = h.bridge.tracker.get(runId)!.stream.state;
  await waitFor(() => s.reattaches >= 1 && s.phase === "live", { timeoutMs: 10_000, what: "the re-attach through the survivor" });
}

/** A parked echo run and the replica that runs it. */
async function parkedOn(h: Harness): Promise<{ runId: string; owner: string }> {
  const s = await h.call("start_interactive_run", { agent: "echo", prompt: "cluster run" });
  expect(s.sc.state).toBe("awaiting_input");
  const runId = String(s.sc.run_id);
  const st = await h.bridge.client.getAgent(String(s.sc.agent_id));
  return { runId, owner: String(st.replica_id) };
}

describe("the owner replica of a parked run is killed (item 18)", () => {
  it("once loomcycle counts it dead (its row 90 s stale): loop_lost everywhere, naming the replica and loomcycle's own sweeper, and a steer is not sent", async () => {
    c = await cluster();
    const { runId, owner } = await parkedOn(c);
    await c.sim.killReplica(owner, { silentForMs: 95_000 });
    await reattached(c, runId);
    const read = await c.call("read_run_events", { run_id: runId });
    expect(read.sc.state).toBe("loop_lost");
    const next = String(read.sc.next_step);
    expect(next).toMatch(
      new RegExp(
        `^start a new run to go on\\. loomcycle no longer runs this run's loop: the replica that ran it, ${owner}, stopped reporting to the cluster`,
      ),
    );
    expect(next).toMatch(/replicas sweeper marks the dead replica's runs failed \("owner replica died"\) when it next runs/);
    // No time loomcycle does not promise.
    expect(next).not.toMatch(/10 minutes/);
    expect(rowOf(await c.call("list_runs", {}), runId)).toMatchObject({ state: "loop_lost" });
    const fresh = await startHarness({}, { sim: c.sim });
    extra.push(fresh);
    expect((await fresh.call("attach_run", { run_id: runId })).sc.state).toBe("loop_lost");
    const before = c.sim.requests.filter((q) => q.path.endsWith("/input")).length;
    const steer = await c.call("send_steer", { run_id: runId, text: "anyone?" });
    expect(steer.isError).toBe(true);
    expect(steer.text).toMatch(/cannot take input \(state loop_lost\)/);
    expect(steer.text).not.toMatch(/send it again/i);
    expect(c.sim.requests.filter((q) => q.path.endsWith("/input")).length).toBe(before);
    // loomcycle's replicas sweeper fails it, with its reason and no event.
    expect(c.sim.sweepReplicas()).toEqual([runId]);
    await waitFor(() => c!.bridge.tracker.get(runId)?.state === "failed", { timeoutMs: 10_000, what: "the reap seen" });
    const failed = await c.call("read_run_events", { run_id: runId });
    expect(failed.sc).toMatchObject({ state: "failed", error: "owner replica died" });
  });

  it("before loomcycle counts it dead: a refused steer says the owner has not reported for a while and not to send it again blindly", async () => {
    c = await cluster();
    const { runId, owner } = await parkedOn(c);
    // 50 s silent (+ up to 30 s since its last beat): missed a report, not yet 90 s.
    await c.sim.killReplica(owner, { silentForMs: 50_000 });
    await reattached(c, runId);
    const read = await c.call("read_run_events", { run_id: runId });
    expect(read.sc.state).toBe("awaiting_input"); // loomcycle does not know yet either
    const steer = await c.call("send_steer", { run_id: runId, text: "still there?" });
    expect(steer.isError).toBe(true);
    expect(steer.text).toMatch(
      new RegExp(`runs on loomcycle replica ${owner}, which has not reported to the cluster for \\d+ s .*it has likely stopped`),
    );
    expect(steer.text).toMatch(/The message was NOT delivered/);
    expect(steer.text).not.toMatch(new RegExp(`it runs on replica ${owner}\\) and did not pass the message on`));
    expect(steer.text).not.toMatch(/^.*Send it again, or point/);
    // Nothing was queued: the owner's log has no such input.
    expect(c.sim.rowsOfRun(runId).filter((r) => r.type === "user_input")).toHaveLength(1);
  });

  it("an owner that restarted under the same id: alive in replicas[], but the parked run's heartbeat stopped — loop_lost, left to the heartbeat sweeper", async () => {
    c = await cluster();
    const { runId, owner } = await parkedOn(c);
    await c.sim.killReplica(owner);
    c.sim.startReplica(owner);
    c.sim.freezeHeartbeat(runId, 100_000);
    await reattached(c, runId);
    const read = await c.call("read_run_events", { run_id: runId });
    expect(read.sc.state).toBe("loop_lost");
    expect(String(read.sc.next_step)).toMatch(new RegExp(`the replica that runs it, ${owner}, restarted`));
    expect(String(read.sc.next_step)).toMatch(/"heartbeat timeout"/);
  });

  it("a live owner is not called dead, whichever replica answers the status", async () => {
    c = await cluster();
    const { runId } = await parkedOn(c);
    for (let i = 0; i < 4; i++) {
      c.bridge.tracker.get(runId)!.stream.state.loopCheckedAt = 0; // ask loomcycle again, through the next replica
      const r = await c.call("read_run_events", { run_id: runId });
      expect(r.sc.state).toBe("awaiting_input");
    }
    const s = await c.call("send_steer", { run_id: runId, text: "alive?" });
    expect(s.isError, s.text).toBe(false);
    expect(texts(s.sc.events)).toBe("You said: alive?");
  });
});

describe("compact_run through a replica that does not run the run (item 19, compact_run's side)", () => {
  it("says the compaction reached the run as a message and compacted nothing; through the owner it compacts", async () => {
    c = await startHarness({ replicas: ["lc-1", "lc-2"] }, { timings: { compactionSeenMs: 5000 } });
    const s = await c.call("start_interactive_run", { agent: "echo", prompt: "one" });
    const runId = String(s.sc.run_id);
    for (const t of ["two", "three"]) expect((await c.call("send_steer", { run_id: runId, text: t })).isError).toBe(false);
    const results = [];
    for (let i = 0; i < 2; i++) {
      results.push(await c.call("compact_run", { run_id: runId }));
      await c.call("read_run_events", { run_id: runId, wait_ms: 10_000 }); // parked again
    }
    // Round robin: one of two consecutive compactions lands on the replica that does not run it.
    const asMessage = results.filter((r) => r.isError);
    const done = results.filter((r) => !r.isError);
    expect(asMessage).toHaveLength(1);
    expect(done).toHaveLength(1);
    expect(asMessage[0]!.text).toMatch(
      /^loomcycle answered that run r_\w+ was compacted \(applied: live\), but the replica that took the request does not run the run and passed the summary on to it as an ordinary message \(log position \d+\): the run is running a turn on it, and its context was not compacted/,
    );
    expect(done[0]!.sc).toMatchObject({ compacted: true, applied: "live" });
    const rows = c.sim.rowsOfRun(runId);
    expect(rows.filter((r) => r.type === "context_compaction")).toHaveLength(1);
    const position = Number(/log position (\d+)/.exec(asMessage[0]!.text)![1]);
    const all = await c.call("read_run_events", { run_id: runId, cursor: position, max_events: 3 });
    expect(all.sc.events![0]).toMatchObject({ kind: "input", cursor: position });
    expect(String(all.sc.events![0]!.text)).toMatch(/exchanged \d+ earlier turn/);
  }, 40_000);
});
