// What a run's state says, against what loomcycle v1.59 does to runs (issue 19 items 9, 12,
// 14, 15, 16, 17; /work/coord/loomcycle-findings.md): a state that remembers the input the
// bridge just delivered, a run whose loop loomcycle lost called loop_lost by a bridge that
// first meets it, the reason loomcycle's sweeper records, loomcycle's time of a run's last
// event, the lists of a token that cannot see the configured user's runs, and runs loomcycle
// has no record of any more, shown as gone.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { startHarness, texts, type Harness } from "./harness.js";
import { waitFor } from "../helpers.js";

const open: Harness[] = [];
let sims: Simulator[] = [];
async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  open.push(h);
  return h;
}
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  for (const s of sims) await s.close();
  sims = [];
});

type Row = Record<string, unknown>;
const rowOf = (r: { sc: Row }, runId: string): Row | undefined => (r.sc.runs as Row[]).find((x) => x.run_id === runId);
const statePath = (): string => join(mkdtempSync(join(tmpdir(), "lcb-states-")), "state.json");

/** Start a run as the Web UI or another host would (not through the bridge). */
async function startElsewhere(sim: Simulator, agent: string, prompt: string, userId = "u_test"): Promise<string> {
  const ac = new AbortController();
  const res = await fetch(`${sim.url}/v1/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${sim.token}`, "content-type": "application/json" },
    body: JSON.stringify({ agent, prompt, interactive: true, user_id: userId }),
    signal: ac.signal,
  });
  let text = "";
  const reader = res.body!.getReader();
  while (!/"run_id":"(r_[0-9a-f]+)"/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
  ac.abort();
  const runId = /"run_id":"(r_[0-9a-f]+)"/.exec(text)![1]!;
  await sim.waitForStopPoint(runId);
  return runId;
}

describe("a state that remembers the input the bridge delivered (item 12)", () => {
  // loomcycle's tail polls every 250 ms: a steer's echo arrives up to a poll after its 200.
  // The simulator's tails are held (faults.holdTails) to look into that window without a clock.

  it("send_steer {wait_ms: 0} to a parked run says running until its turn shows; a read's wait and wait_for_runs wait for that turn", async () => {
    const h = await harness({}, { timings: { progressEveryMs: 20 } });
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "first" });
    expect(s.sc.state).toBe("awaiting_input");
    const runId = String(s.sc.run_id);
    let release = h.sim.faults.holdTails();
    const steer = await h.call("send_steer", { run_id: runId, text: "second", wait_ms: 0 });
    expect(steer.isError, steer.text).toBe(false);
    expect(steer.sc.delivered).toBe(true);
    // The echo is not in yet (the tail has not sent it): the state says a turn is coming.
    expect(steer.sc.events).toEqual([]);
    expect(steer.sc.state).toBe("running");
    expect(steer.text).toMatch(/state=running/);
    expect(String(steer.sc.next_step)).toMatch(/read_run_events with wait_ms/);
    release();
    // A wait for a stop point does not stop at the park before the turn: it returns the turn.
    const read = await h.call("read_run_events", { run_id: runId, wait_ms: 20_000 });
    expect(read.sc.state).toBe("awaiting_input");
    expect(read.sc.events![0]).toMatchObject({ kind: "input", text: "second", source: "host" });
    expect(texts(read.sc.events)).toBe("You said: second");

    // wait_for_runs: a run just steered is not "parked with nothing unread": it is waited on
    // until its turn parks with the reply unread.
    release = h.sim.faults.holdTails();
    const again = await h.call("send_steer", { run_id: runId, text: "third", wait_ms: 0 });
    expect(again.sc.state).toBe("running");
    // Still held once the wait has begun (it sends progress): it must not take the park
    // before the turn for a stop point; the turn comes once the tail is released.
    const w = await h.call("wait_for_runs", { run_ids: [runId], wait_ms: 20_000 }, { onprogress: () => release() });
    expect(w.sc.ready).toEqual([runId]);
    expect(rowOf(w, runId)).toMatchObject({ state: "awaiting_input" });
    expect(Number(rowOf(w, runId)!.unread)).toBeGreaterThan(0);
  });

  it("resolve_interrupt {wait_ms: 0}: the answered question is no longer pending and the state says a turn is coming", async () => {
    const h = await harness();
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "may I?" });
    expect(s.sc.state).toBe("awaiting_answer");
    const runId = String(s.sc.run_id);
    const iid = String(s.sc.pending_interrupts![0]!.interrupt_id);
    const release = h.sim.faults.holdTails();
    const r = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: iid, answer: "yes", wait_ms: 0 });
    expect(r.isError, r.text).toBe(false);
    expect(r.sc).toMatchObject({ status: "resolved", state: "running", pending_interrupts: [] });
    const list = await h.call("list_runs", {});
    expect(rowOf(list, runId)).toMatchObject({ state: "running", pending_interrupts: 0 });
    release();
    const read = await h.call("read_run_events", { run_id: runId, wait_ms: 20_000 });
    expect(read.sc.state).toBe("awaiting_input");
    expect(texts(read.sc.events)).toContain("Answer was yes");
  });
});

describe("a run whose loop loomcycle lost, met first by a fresh bridge (item 14)", () => {
  it("attach_run, read_run_events, wait_for_runs and list_runs say loop_lost at once, and send_steer sends nothing", async () => {
    const sim = await startSimulator({ tailPollMs: 10, speed: 0.05 });
    sims.push(sim);
    const path = statePath();
    const a = await harness({}, { sim, stateFilePath: path });
    const parked = String((await a.call("start_interactive_run", { agent: "echo", prompt: "park" })).sc.run_id);
    const asking = String((await a.call("start_interactive_run", { agent: "asker", prompt: "ask" })).sc.run_id);
    const elsewhere = await startElsewhere(sim, "echo", "started in the Web UI");
    await a.close();
    open.splice(open.indexOf(a), 1);
    await sim.restart(20);
    await sim.whenAccepting?.();

    // A fresh bridge, no state: its first call about each run.
    const b = await harness({}, { sim });
    const att = await b.call("attach_run", { run_id: parked });
    expect(att.isError, att.text).toBe(false);
    expect(att.sc.state).toBe("loop_lost");
    expect(att.sc.stuck).toBeUndefined();
    expect(String(att.sc.next_step)).toMatch(
      /^start a new run to go on\. loomcycle no longer runs this run's loop: loomcycle restarted/,
    );
    const read = await b.call("read_run_events", { run_id: asking });
    expect(read.sc).toMatchObject({ state: "loop_lost", pending_interrupts: [] });
    // A fresh bridge's wait_for_runs: such a run needs the host (start over), like an ended one.
    const c = await harness({}, { sim });
    const w = await c.call("wait_for_runs", { run_ids: [parked, asking], wait_ms: 20_000 });
    expect(w.sc.timed_out).toBe(false);
    expect(w.sc.ready).toEqual([parked, asking]);
    for (const id of [parked, asking]) expect(rowOf(w, id)).toMatchObject({ state: "loop_lost" });
    // A fresh bridge's list_runs: the runs it follows from its state file, and one started elsewhere.
    const d = await harness({}, { sim, stateFilePath: path });
    expect(d.bridge.tracker.restore()).toBe(2);
    const l = await d.call("list_runs", {});
    for (const id of [parked, asking, elsewhere]) expect(rowOf(l, id), id).toMatchObject({ state: "loop_lost" });
    expect(l.text).toMatch(/loop_lost \(3\):/);

    const before = sim.requests.filter((q) => q.path.endsWith("/input")).length;
    const steer = await b.call("send_steer", { run_id: parked, text: "hello?", wait_ms: 1000 });
    expect(steer.isError).toBe(true);
    expect(steer.text).toMatch(/^Run r_\w+ cannot take input \(state loop_lost\): loomcycle no longer runs this run's loop/);
    expect(steer.text).toMatch(/The message was NOT sent\. Start a new run to go on\.$/);
    expect(sim.requests.filter((q) => q.path.endsWith("/input")).length).toBe(before);
  });

  it("a run loomcycle runs is not called loop_lost by a fresh bridge", async () => {
    const h = await harness();
    const runId = await startElsewhere(h.sim, "echo", "alive");
    const fresh = await harness({}, { sim: h.sim });
    const att = await fresh.call("attach_run", { run_id: runId });
    expect(att.sc.state).toBe("awaiting_input");
    expect(rowOf(await fresh.call("list_runs", {}), runId)).toMatchObject({ state: "awaiting_input" });
  });
});

describe("a run failed by loomcycle's heartbeat sweeper (item 15)", () => {
  it("shows loomcycle's reason (its error field) in results, lists and the run resource; its question is not offered, nor answered", async () => {
    const h = await harness();
    const asking = await h.call("start_interactive_run", { agent: "asker", prompt: "ask me" });
    const runId = String(asking.sc.run_id);
    const iid = String(asking.sc.pending_interrupts![0]!.interrupt_id);
    await h.sim.restart(20);
    await h.sim.whenAccepting?.();
    expect((await h.call("read_run_events", { run_id: runId, wait_ms: 10_000 })).sc.state).toBe("loop_lost");
    h.sim.freezeHeartbeat(runId, 11 * 60_000);
    expect(h.sim.sweepHeartbeats()).toEqual([runId]);
    // No event says why: the tail just ends, and the bridge asks loomcycle.
    await waitFor(() => h.bridge.tracker.get(runId)?.state === "failed", { timeoutMs: 10_000, what: "the sweep seen" });
    const read = await h.call("read_run_events", { run_id: runId });
    expect(read.sc).toMatchObject({ state: "failed", error: "heartbeat timeout", pending_interrupts: [] });
    expect(read.sc.events!.some((e) => e.kind === "error")).toBe(false);
    expect(String(read.sc.next_step)).toBe(
      'the run failed: loomcycle recorded "heartbeat timeout" as its reason (in error); start a new run if needed',
    );
    expect(read.text).toMatch(/error="heartbeat timeout"/);
    expect(rowOf(await h.call("list_runs", {}), runId)).toMatchObject({ state: "failed", error: "heartbeat timeout" });
    const res = await h.client.readResource({ uri: `loomcycle://runs/${runId}` });
    expect(JSON.parse(String((res.contents[1] as { text: string }).text))).toMatchObject({
      state: "failed",
      error: "heartbeat timeout",
    });
    // loomcycle keeps the question pending and would take an answer nothing reads.
    const before = h.sim.requests.length;
    const ans = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: iid, answer: "yes" });
    expect(ans.isError).toBe(true);
    expect(ans.text).toMatch(/has ended \(state failed\); loomcycle recorded "heartbeat timeout".*The answer was NOT sent/);
    expect(h.sim.requests.slice(before).filter((q) => q.path.endsWith("/resolve"))).toEqual([]);

    // A bridge that first meets the swept run says the same.
    const fresh = await harness({}, { sim: h.sim });
    const att = await fresh.call("attach_run", { run_id: runId, wait_ms: 5000 });
    expect(att.sc).toMatchObject({ state: "failed", error: "heartbeat timeout" });
  });
});

describe("last_activity_at of a run the bridge attaches to (item 16)", () => {
  it("is loomcycle's time of the run's last event (the transcript's ts_ns), not the time of the attach", async () => {
    const h = await harness();
    const runId = await startElsewhere(h.sim, "echo", "an hour ago");
    h.sim.backdate(runId, 3_600_000);
    const last = Math.floor(h.sim.rowsOfRun(runId).at(-1)!.ts_ns / 1e6);
    const att = await h.call("attach_run", { run_id: runId });
    expect(att.sc.state).toBe("awaiting_input");
    const row = rowOf(await h.call("list_runs", {}), runId)!;
    expect(row.last_activity_at).toBe(new Date(last).toISOString());
    const res = await h.client.readResource({ uri: `loomcycle://runs/${runId}` });
    expect(JSON.parse(String((res.contents[1] as { text: string }).text)).last_activity_at).toBe(new Date(last).toISOString());
    // A new turn is new activity.
    await h.call("send_steer", { run_id: runId, text: "now" });
    expect(Date.parse(String(rowOf(await h.call("list_runs", {}), runId)!.last_activity_at))).toBeGreaterThan(last + 3_000_000);
  });
});

describe("a non-admin token whose subject is not LOOMCYCLE_USER_ID (item 17)", () => {
  const USER = { token: "user-token-17", scopes: ["runs:create", "runs:read"], subject: "sim-user", tenant_id: "t17" };

  it("list_runs and list_interrupts say why the configured user's lists are empty; loomcycle is asked who the token is once", async () => {
    const sim = await startSimulator({ tailPollMs: 10, speed: 0.05, extraTokens: [USER] });
    sims.push(sim);
    const h = await harness({}, { sim, token: USER.token, userId: "someone-else" });
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "mine" });
    expect(s.isError, s.text).toBe(false);
    const l = await h.call("list_runs", {});
    expect(l.sc.notes).toEqual([expect.stringContaining('loomcycle lists only the runs of its own subject "sim-user"')]);
    expect(String((l.sc.notes as string[])[0])).toMatch(/Set LOOMCYCLE_USER_ID to "sim-user"/);
    expect(l.text).toMatch(/note: this token is not an admin: loomcycle lists only the runs of its own subject "sim-user"/);
    const i = await h.call("list_interrupts", {});
    expect(i.sc.notes).toEqual([
      expect.stringContaining('its subject is "sim-user": it can neither read nor answer the runs of "someone-else"'),
    ]);
    expect(i.text).toMatch(/note: this token is not an admin and its subject is "sim-user"/);
    await h.call("list_runs", {});
    expect(sim.requests.filter((q) => q.path === "/v1/_me")).toHaveLength(1);

    // The token's own subject: no note.
    const own = await harness({}, { sim, token: USER.token, userId: "sim-user" });
    const ol = await own.call("list_runs", {});
    expect(ol.sc.notes).toBeUndefined();
    expect(rowOf(ol, String(s.sc.run_id))).toBeDefined();
    expect((await own.call("list_interrupts", {})).sc.notes).toBeUndefined();
  });
});

describe("runs loomcycle has no record of any more are shown as gone (item 9)", () => {
  it("after loomcycle lost its database: the runs leave list_runs (said once), every tool and the resource say gone, the state file forgets them", async () => {
    const sim = await startSimulator({ tailPollMs: 10, speed: 0.05 });
    sims.push(sim);
    const path = statePath();
    const a = await harness({}, { sim, stateFilePath: path });
    const parked = String((await a.call("start_interactive_run", { agent: "echo", prompt: "gone soon" })).sc.run_id);
    const ended = String((await a.call("start_interactive_run", { agent: "oneshot", prompt: "done" })).sc.run_id);
    await a.close();
    open.splice(open.indexOf(a), 1);
    const b = await harness({}, { sim, stateFilePath: path });
    b.bridge.tracker.restore();
    await waitFor(() => b.bridge.tracker.get(parked)?.state === "awaiting_input", {
      timeoutMs: 10_000,
      what: "the restored run followed again",
    });
    expect(rowOf(await b.call("list_runs", {}), parked)).toMatchObject({ state: "awaiting_input" });

    await sim.restart(20, { wipe: true });
    await sim.whenAccepting?.();
    // A fresh bridge meeting the state file (the issue's case), and the one that followed them
    // (its streams re-attach and find no such run).
    const c = await harness({}, { sim, stateFilePath: path });
    c.bridge.tracker.restore();
    await waitFor(() => b.bridge.tracker.get(parked) === undefined, {
      timeoutMs: 10_000,
      what: "b's re-attach finding no such run",
    });
    for (const h of [b, c]) {
      const l = await h.call("list_runs", {});
      expect(rowOf(l, parked)).toBeUndefined();
      expect(rowOf(l, ended)).toBeUndefined();
      expect(l.sc.notes).toEqual([expect.stringMatching(/^gone: .*loomcycle has no such run any more/)]);
      expect(String((l.sc.notes as string[])[0])).toContain(parked);
      expect(l.text).toMatch(/note: gone: /);
      // Said once: the next list has left them behind.
      expect((await h.call("list_runs", {})).sc.notes).toBeUndefined();
      const r = await h.call("read_run_events", { run_id: parked });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(
        /^Run r_\w+ is gone: loomcycle has no such run any more .*It has left list_runs; start a new run to go on\.$/,
      );
      const w = await h.call("wait_for_runs", { run_ids: [parked] });
      expect(w.isError).toBe(true);
      expect(w.text).toMatch(/is gone: loomcycle has no such run any more.*Remove it from run_ids\./);
      const res = await h.client.readResource({ uri: `loomcycle://runs/${parked}` }).catch((e: unknown) => e);
      expect(res).toMatchObject({ code: -32002 });
    }
    await c.close();
    open.splice(open.indexOf(c), 1);
    const saved = JSON.parse(readFileSync(path, "utf8")) as { runs: Record<string, unknown> };
    expect(Object.keys(saved.runs)).not.toContain(parked);
    expect(Object.keys(saved.runs)).not.toContain(ended);
  });
});
