// Parked runs nobody needs release their upstream stream (LOOMCYCLE_MCP_PARK_RELEASE_MS),
// through the MCP tools against the simulator: the next read, steer, wait, list or
// resource read re-attaches before answering, nothing is lost or repeated, a turn steered
// elsewhere meanwhile is seen, waits and subscriptions keep the stream, and a state that
// cannot be confirmed says it is as of the release.
import { afterEach, describe, expect, it, vi } from "vitest";
import { startHarness, texts, type Harness } from "./harness.js";
import { LoomcycleClient } from "../../src/bridge/loomcycle/http.js";
import { silentLogger } from "../../src/logger.js";
import { waitFor } from "../helpers.js";

const RELEASE_MS = 150;
let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function startParked(hh: Harness, prompt = "first"): Promise<string> {
  const r = await hh.call("start_interactive_run", { agent: "echo", prompt, wait_ms: 20_000 });
  expect(r.isError, r.text).toBe(false);
  expect(r.sc.state).toBe("awaiting_input");
  return String(r.sc.run_id);
}

const released = (hh: Harness, runId: string) => (): boolean => hh.bridge.tracker.get(runId)?.stream.state.phase === "released";

describe("releasing idle parked runs", () => {
  it("releases a parked run nobody reads, then a read re-attaches and returns a turn steered elsewhere, exactly once", async () => {
    h = await startHarness({}, { timings: { parkReleaseMs: RELEASE_MS } });
    const runId = await startParked(h);
    const first = await h.call("read_run_events", { run_id: runId });
    const cursor = Number(first.sc.next_cursor);
    await waitFor(released(h, runId), { what: "released" });
    await waitFor(() => h!.sim.tailStats().open === 0, { what: "no tail open on loomcycle" });

    // Another host steers the run while this bridge holds no stream for it.
    const other = new LoomcycleClient({ baseUrl: h.sim.url, token: h.sim.token, logger: silentLogger() });
    await other.sendInput(runId, "from elsewhere");
    await h.sim.waitForStopPoint(runId, 20_000);

    const r = await h.call("read_run_events", { run_id: runId });
    expect(r.isError, r.text).toBe(false);
    expect(r.sc.state).toBe("awaiting_input");
    expect(r.sc.state_as_of).toBeUndefined();
    const events = r.sc.events ?? [];
    expect(events[0]?.cursor).toBe(cursor);
    expect(events[0]).toMatchObject({ kind: "input", text: "from elsewhere" });
    expect(texts(events)).toBe("You said: from elsewhere");
    expect(events.at(-1)?.kind).toBe("awaiting_input");
    expect(h.bridge.tracker.get(runId)?.stream.state.phase).toBe("live");
    // The log is loomcycle's, once each.
    expect(h.bridge.tracker.get(runId)!.events.slice()).toEqual(h.sim.expectedTailFrames(runId).map(([, d]) => d));

    // Released again, a steer through this bridge re-attaches first and sees only its own turn.
    await waitFor(released(h, runId), { what: "released again" });
    const s = await h.call("send_steer", { run_id: runId, text: "mine", wait_ms: 20_000 });
    expect(s.isError, s.text).toBe(false);
    expect(s.sc.state).toBe("awaiting_input");
    expect((s.sc.events ?? [])[0]).toMatchObject({ kind: "input", text: "mine" });
    expect(texts(s.sc.events)).toBe("You said: mine");
  });

  it("keeps the stream while a read waits on the run and while the run's resource is subscribed", async () => {
    h = await startHarness({}, { timings: { parkReleaseMs: RELEASE_MS, progressEveryMs: 20 } });
    const runId = await startParked(h);
    const run = h.bridge.tracker.get(runId)!;
    // However long nobody else needs it: a sweep an hour after its last use.
    const sweepAnHourLater = (): number => h!.bridge.tracker.releaseIdle(RELEASE_MS, Date.now() + 3_600_000);
    // A read that waits for any new event holds the stream for its whole wait (it is
    // waiting once it sends progress); the turn another host steers ends the wait.
    let waitingNow: () => void = () => undefined;
    const isWaiting = new Promise<void>((r) => (waitingNow = r));
    const waiting = h.call(
      "read_run_events",
      { run_id: runId, wait_for: "any", wait_ms: 20_000 },
      { onprogress: () => waitingNow() },
    );
    await isWaiting;
    expect(sweepAnHourLater()).toBe(0);
    expect(run.stream.state.phase).toBe("live");
    const other = new LoomcycleClient({ baseUrl: h.sim.url, token: h.sim.token, logger: silentLogger() });
    await other.sendInput(runId, "end the wait");
    const woken = await waiting;
    expect(woken.sc.events?.[0]).toMatchObject({ kind: "input", text: "end the wait" });
    await waitFor(() => run.state === "awaiting_input", { what: "the bridge to see the run park again" });

    await h.client.subscribeResource({ uri: `loomcycle://runs/${runId}` });
    expect(sweepAnHourLater()).toBe(0);
    expect(run.stream.state.phase).toBe("live");
    expect(run.stream.state.releases).toBe(0);
    await h.client.unsubscribeResource({ uri: `loomcycle://runs/${runId}` });
    await waitFor(released(h, runId), { what: "released after unsubscribe" });
  });

  it("list_runs, wait_for_runs and a resource read re-attach released runs before answering", async () => {
    h = await startHarness({}, { timings: { parkReleaseMs: RELEASE_MS } });
    const a = await startParked(h, "a");
    const b = await startParked(h, "b");
    await waitFor(() => released(h!, a)() && released(h!, b)(), { what: "both released" });
    const other = new LoomcycleClient({ baseUrl: h.sim.url, token: h.sim.token, logger: silentLogger() });
    await other.sendInput(b, "b again");
    await h.sim.waitForStopPoint(b, 20_000);

    const list = await h.call("list_runs", {});
    expect(list.isError, list.text).toBe(false);
    const runs = list.sc.runs as Array<Record<string, unknown>>;
    const rb = runs.find((r) => r.run_id === b)!;
    expect(rb.state).toBe("awaiting_input");
    expect(rb.state_as_of).toBeUndefined();
    expect(rb.unread).toBe(h.bridge.tracker.get(b)!.events.length - h.bridge.tracker.get(b)!.readPos);
    expect(h.bridge.tracker.get(b)!.events.slice()).toEqual(h.sim.expectedTailFrames(b).map(([, d]) => d));

    await h.call("read_run_events", { run_id: b }); // nothing unread on b
    await waitFor(() => released(h!, a)() && released(h!, b)(), { what: "both released again" });
    await other.sendInput(a, "a again");
    await h.sim.waitForStopPoint(a, 20_000);
    // a has unread events the re-attach brings in: wait_for_runs names it at once.
    const w = await h.call("wait_for_runs", { run_ids: [a, b], wait_ms: 5_000 });
    expect(w.isError, w.text).toBe(false);
    expect(w.sc.ready).toEqual([a]);
    expect(w.sc.timed_out).toBe(false);

    await waitFor(released(h, a), { what: "a released again" });
    await other.sendInput(a, "a third");
    await h.sim.waitForStopPoint(a, 20_000);
    const res = await h.client.readResource({ uri: `loomcycle://runs/${a}` });
    const json = JSON.parse(String((res.contents[1] as { text: string }).text)) as {
      events: Array<Record<string, unknown>>;
      state: string;
    };
    expect(json.state).toBe("awaiting_input");
    expect(json.events.some((e) => e.kind === "input" && e.text === "a third")).toBe(true);
  });

  it("a released run whose re-attach cannot be confirmed shows its state as of the release, within the call's bound", async () => {
    // The read waits 300 ms for the re-attach (3 s by default); loomcycle is away until the
    // read has answered (a minute at most: only a failure reaches that), then comes back.
    h = await startHarness({}, { timings: { parkReleaseMs: RELEASE_MS, attachWithinMs: 300 } });
    const runId = await startParked(h);
    await waitFor(released(h, runId), { what: "released" });
    const releasedAt = h.bridge.tracker.get(runId)!.stream.state.releasedAt!;
    await h.sim.faults.refuseConnections(60_000);
    const r = await h.call("read_run_events", { run_id: runId, wait_ms: 0 });
    expect(r.isError, r.text).toBe(false);
    expect(r.sc.state).toBe("awaiting_input");
    expect(r.sc.state_as_of).toBe(new Date(releasedAt).toISOString());
    expect(r.text).toContain(`state=awaiting_input (as of ${new Date(releasedAt).toISOString()}, not confirmed since)`);
    await h.sim.faults.refuseConnections(0); // a new window, of none: listening again now
    await h.sim.whenAccepting?.();
    await waitFor(() => h!.bridge.tracker.get(runId)!.confirmed, {
      timeoutMs: 15_000,
      what: "confirmed once loomcycle is back",
    }).catch((e) => {
      const st = h!.bridge.tracker.get(runId)!.stream as unknown as Record<string, unknown>;
      throw new Error(
        `${String(e)} (stream: phase=${String(st.phase)} err=${String((st.lastError as Error | undefined)?.message)} fails=${String(st.reconnectFailures)} re-attaches=${String(st.reattaches)})`,
      );
    });
    const again = await h.call("read_run_events", { run_id: runId });
    expect(again.sc.state).toBe("awaiting_input");
    expect(again.sc.state_as_of).toBeUndefined();
  });

  it("a long released run lets go of its log; reads re-fetch it exactly, and the turn steered elsewhere follows it", async () => {
    h = await startHarness({}, { timings: { parkReleaseMs: RELEASE_MS } });
    const start = await h.call("start_interactive_run", { agent: "longtalk", prompt: "talk", wait_ms: 50_000 });
    expect(start.sc.state, start.text).toBe("awaiting_input");
    const runId = String(start.sc.run_id);
    const run = h.bridge.tracker.get(runId)!;
    const held = run.events.length;
    expect(held).toBeGreaterThan(512);
    // Unread events keep the log in memory across a release (the next read must not wait on a re-fetch).
    run.readPos = held - 1;
    await waitFor(released(h, runId), { what: "released with an unread event" });
    expect(run.events.firstHeld).toBe(0);
    const unread = await h.call("read_run_events", { run_id: runId });
    expect(unread.sc.next_cursor).toBe(held);
    // Read to the end: the next release lets go of it.
    await waitFor(() => run.stream.state.releases === 2, { what: "released again" });
    expect(run.events.firstHeld).toBe(held); // nothing of it in memory

    const other = new LoomcycleClient({ baseUrl: h.sim.url, token: h.sim.token, logger: silentLogger() });
    await other.sendInput(runId, "once more");
    await h.sim.waitForStopPoint(runId, 30_000);
    // The whole log from cursor 0, paged: the dropped part is re-read from loomcycle.
    const raw: Array<Record<string, unknown>> = [];
    for (let cursor = 0, more = true; more;) {
      const r = await h.call("read_run_events", { run_id: runId, cursor, format: "raw", max_events: 1000, max_chars: 40_000 });
      expect(r.isError, r.text).toBe(false);
      expect(r.sc.state).toBe("awaiting_input");
      for (const e of r.sc.events ?? []) raw.push(e);
      cursor = Number(r.sc.next_cursor);
      more = r.sc.has_more === true;
    }
    expect(raw.map((e) => e.cursor)).toEqual(raw.map((_, i) => i));
    expect(raw.map((e) => e.event)).toEqual(h.sim.expectedTailFrames(runId).map(([, d]) => d));
    expect(raw.slice(held).some((e) => (e.event as { type?: string }).type === "steer")).toBe(true);
  });

  it("never releases with LOOMCYCLE_MCP_PARK_RELEASE_MS=0", async () => {
    // The sweeper runs every 50 ms here (a quarter of retainFinishedMs); three of its rounds.
    h = await startHarness({}, { timings: { parkReleaseMs: 0, retainFinishedMs: 200 } });
    const runId = await startParked(h);
    const sweeps = vi.spyOn(h.bridge.tracker, "sweep");
    try {
      await waitFor(() => sweeps.mock.calls.length >= 3, { what: "three rounds of the tracker's sweeper" });
    } finally {
      sweeps.mockRestore();
    }
    expect(h.bridge.tracker.get(runId)!.stream.state.phase).toBe("live");
    expect(h.bridge.tracker.get(runId)!.stream.state.releases).toBe(0);
  });
});
