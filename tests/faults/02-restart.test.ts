// Scenario 2 — upstream restart. loomcycle refuses connections for 5 s in the middle
// of several runs (open streams reset, nothing listening), then comes back with its
// state. Runs must recover with exact logs and the right states; reads during the
// outage must say `unreachable` and return within their bound; a steer or a start
// during the outage must fail clearly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullLog, settledPhase, startFaultEnv, sleep, type FaultEnv } from "./env.js";
import { ms, record } from "./report.js";
import { waitFor } from "../helpers.js";

const OUTAGE_MS = 5000;
const BOUND_SLACK_MS = 5000; // every call returns within wait_ms + 5 s

let env: FaultEnv;
beforeAll(async () => {
  // Real scripted speeds (a `slow` turn takes 3 s, `longtalk` about 5 s) and the
  // bridge's production re-attach schedule.
  env = await startFaultEnv({ sim: { speed: 1, tailPollMs: 50 } });
});
afterAll(async () => {
  await env?.close();
});

describe("scenario 2: upstream restart", () => {
  it("refused for 5 s mid-run: reads say unreachable within their bound, runs recover with the right states and exact logs", async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 2,
      name: "5 s connection refusal mid-run",
      injected: `simulator refuses TCP connections for ${OUTAGE_MS / 1000} s (open streams reset) while 7 runs are parked, asking, finished, failed, mid-turn (slow, longtalk) or just steered; then listens again with its state`,
      expected:
        "reads during the outage say unreachable within wait_ms + 5 s; steer/start fail clearly within bound; after restart every run recovers with its right state and a log equal to loomcycle's",
    });
    const call = env.call;
    const start = async (agent: string, prompt: string, wait_ms = 15_000) => {
      const s = await call("start_interactive_run", { agent, prompt, wait_ms });
      expect(s.isError, s.text).toBe(false);
      return String(s.sc.run_id);
    };
    const parked = await start("echo", "park here");
    const asking = await start("asker", "ask me");
    const finished = await start("oneshot", "finish now");
    const failed = await start("failing", "fail now");
    const steered = await start("echo", "steer me");
    // A run this bridge has never seen, started by another host.
    const other = await env.freshBridge();
    const foreign = String((await other.call("start_interactive_run", { agent: "echo", prompt: "elsewhere" })).sc.run_id);
    await other.close();
    const slow = await start("slow", "take your time", 0);
    const long = await start("longtalk", "talk at length", 0);
    const st = await call("send_steer", { run_id: steered, text: "answer during the outage", wait_ms: 0 });
    expect(st.isError, st.text).toBe(false);
    expect(env.bridge.tracker.get(slow)!.state).toBe("running");

    // The outage.
    await env.sim.faults.refuseConnections(OUTAGE_MS);
    const outageAt = Date.now();
    await sleep(200);
    const [r0, r2, rf, steerOut, startOut] = await Promise.all([
      call("read_run_events", { run_id: parked, wait_ms: 0 }),
      call("read_run_events", { run_id: slow, wait_ms: 2000 }),
      call("read_run_events", { run_id: foreign, wait_ms: 0 }),
      call("send_steer", { run_id: parked, text: "are you there?", wait_ms: 1000 }),
      call("start_interactive_run", { agent: "echo", prompt: "during the outage", wait_ms: 1000 }),
    ]);
    const duringOutage = Date.now() - outageAt < OUTAGE_MS;

    // After the restart: passive recovery (no host call nudges the streams).
    await (env.sim as { whenAccepting(): Promise<void> }).whenAccepting();
    const backAt = Date.now();
    const runs = { parked, asking, finished, failed, steered, slow, long };
    const want: Record<keyof typeof runs, string> = {
      parked: "awaiting_input",
      asking: "awaiting_answer",
      finished: "completed",
      failed: "failed",
      steered: "awaiting_input",
      slow: "awaiting_input",
      long: "awaiting_input",
    };
    const recoveredAt: Record<string, number> = {};
    await waitFor(
      () => {
        for (const [k, id] of Object.entries(runs)) {
          const t = env.bridge.tracker.get(id)!;
          const live = settledPhase(t.stream.state.phase) || t.stream.state.phase === "ended";
          if (recoveredAt[k] === undefined && live && t.state === want[k as keyof typeof runs])
            recoveredAt[k] = Date.now() - backAt;
        }
        return Object.keys(recoveredAt).length === Object.keys(runs).length;
      },
      { timeoutMs: 30_000, what: "recovery of every run" },
    );
    for (const id of Object.values(runs)) await env.sim.waitForStopPoint(id, 20_000);
    // The foreign run recovers on the next read.
    const rfAfter = await call("read_run_events", { run_id: foreign, wait_ms: 5000 });

    const states: Record<string, string> = {};
    let exact = 0;
    for (const [k, id] of Object.entries(runs)) {
      const r = await call("read_run_events", { run_id: id, cursor: 0, max_events: 1000, max_chars: 40_000 });
      states[k] = String(r.sc.state);
      const expected = env.sim.expectedTailFrames(id).map(([, d]) => d);
      if (JSON.stringify(await fullLog(env.bridge.tracker.get(id)!)) === JSON.stringify(expected)) exact += 1;
    }
    const steeredTexts = (await call("read_run_events", { run_id: steered, cursor: 0 })).sc
      .events!.filter((e) => e.kind === "input")
      .map((e) => e.text);
    const maxRecovery = Math.max(...Object.values(recoveredAt));
    Object.assign(rec.figures, {
      outage_ms: OUTAGE_MS,
      read_wait0_state: String(r0.sc.state),
      read_wait0_ms: r0.ms,
      read_wait2000_state: String(r2.sc.state),
      read_wait2000_ms: r2.ms,
      read_unknown_run_state: String(rf.sc.state),
      read_unknown_run_ms: rf.ms,
      steer_during_outage_ms: steerOut.ms,
      start_during_outage_ms: startOut.ms,
      max_recovery_ms: maxRecovery,
      runs_with_exact_log: exact,
      runs: Object.keys(runs).length,
      ...Object.fromEntries(Object.entries(recoveredAt).map(([k, v]) => [`recovered_${k}_ms`, v])),
    });
    rec.measured =
      `during the outage: read (wait_ms 0) → ${String(r0.sc.state)} in ${ms(r0.ms)}; read (wait_ms 2000) → ${String(r2.sc.state)} in ${ms(r2.ms)}; first read of a run started elsewhere → ${String(rf.sc.state)} in ${ms(rf.ms)}; ` +
      `send_steer → isError in ${ms(steerOut.ms)}; start → isError in ${ms(startOut.ms)}. After the restart, with no host call to nudge them, all ${Object.keys(runs).length} runs recovered within ${ms(maxRecovery)} ` +
      `(${Object.entries(states)
        .map(([k, s]) => `${k}: ${s}`)
        .join(", ")}); ${exact}/${Object.keys(runs).length} logs equal loomcycle's`;

    expect(duringOutage).toBe(true);
    expect(r0.isError, r0.text).toBe(false);
    // A parked run whose stream was released before the outage (FAULTS_PARK_RELEASE_MS)
    // cannot re-attach: its state is the one seen at the release, and says so.
    if (r0.sc.state_as_of !== undefined) expect(r0.sc.state).toBe("awaiting_input");
    else expect(r0.sc.state).toBe("unreachable");
    expect(r0.ms).toBeLessThan(0 + BOUND_SLACK_MS);
    expect(r2.isError, r2.text).toBe(false);
    expect(r2.sc.state).toBe("unreachable");
    expect(r2.ms).toBeLessThan(2000 + BOUND_SLACK_MS);
    expect(rf.isError, rf.text).toBe(false);
    expect(rf.sc.state).toBe("unreachable");
    expect(rf.ms).toBeLessThan(0 + BOUND_SLACK_MS);
    expect(steerOut.isError).toBe(true);
    expect(steerOut.text).toMatch(/Cannot reach loomcycle/);
    expect(steerOut.ms).toBeLessThan(1000 + BOUND_SLACK_MS);
    expect(startOut.isError).toBe(true);
    expect(startOut.text).toMatch(/Cannot reach loomcycle/);
    expect(startOut.text).toMatch(/No run was created/);
    expect(startOut.ms).toBeLessThan(1000 + BOUND_SLACK_MS);
    expect(states).toEqual(want);
    expect(exact).toBe(Object.keys(runs).length);
    expect(steeredTexts).toEqual(["steer me", "answer during the outage"]);
    expect(rfAfter.sc.state).toBe("awaiting_input");
    // Production re-attach schedule: at most 4 s between attempts, plus the attempt itself.
    expect(maxRecovery).toBeLessThan(8000);
    // Nothing was started twice and the refused start never reached loomcycle.
    expect(env.sim.requests.filter((q) => q.method === "POST" && q.path === "/v1/runs").length).toBe(8);
  });
});
