// Released streams (issue 13): a parked run's upstream stream is closed while nobody needs
// it and re-attached on the next interest. Against the simulator over real HTTP: the log
// stays exactly loomcycle's persisted events across any number of releases, turns steered
// by someone else while the stream was released are all there once the re-attach is
// confirmed, and a released run holds no tail on loomcycle.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { LoomcycleClient } from "../../src/bridge/loomcycle/http.js";
import { RunStream } from "../../src/bridge/runs/run-stream.js";
import { newAgentId } from "../../src/bridge/runs/tracker.js";
import { silentLogger } from "../../src/logger.js";
import { nextTurn, rng, waitFor } from "../helpers.js";

const FAST_BACKOFF = [0, 5, 10, 20, 40];

let sim: Simulator;
let client: LoomcycleClient;

beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 5, keepaliveMs: 0, speed: 0.02, seed: 13 });
  client = new LoomcycleClient({ baseUrl: sim.url, token: sim.token, logger: silentLogger() });
});
afterAll(async () => {
  await sim?.close();
});

/** The log at the moment the stream reports itself confirmed (not some polls later). */
function logWhenConfirmed(rs: RunStream, timeoutMs = 10_000): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error("not confirmed in time"));
    }, timeoutMs);
    const check = (): void => {
      if (!rs.confirmed) return;
      clearTimeout(timer);
      off();
      resolve(rs.state.events.slice() as unknown as Array<Record<string, unknown>>);
    };
    const off = rs.state.onChange(check);
    check();
  });
}

const parks = (rs: RunStream): number => rs.state.events.slice().filter((e) => e.type === "awaiting_input").length;
const expectedOn = (on: Simulator, runId: string): Array<Record<string, unknown>> =>
  on.expectedTailFrames(runId).map(([, data]) => data);
const expected = (runId: string): Array<Record<string, unknown>> => expectedOn(sim, runId);

describe("releasing and re-attaching a parked run's stream", () => {
  // The two resume strategies side by side, each against a simulator of its own (its tail count is the test's).
  it.concurrent.each([
    ["transcript from_seq", true],
    ["replay from 0 and skip", false],
  ] as const)(
    "keeps the log exact across random releases, with turns steered by someone else while released (%s)",
    async (_label, useTranscriptResume) => {
      const own = await startSimulator({ tailPollMs: 5, keepaliveMs: 0, speed: 0.02, seed: 13 });
      try {
        await randomReleases(own, useTranscriptResume);
      } finally {
        await own.close();
      }
    },
    120_000,
  );

  it("sees a run that ended while released, and a re-attach of an unchanged run is confirmed without waiting", async () => {
    const rs = RunStream.start(
      client,
      { agent: "echo", prompt: "end me", agent_id: newAgentId(), user_id: "u_rel" },
      { logger: silentLogger(), timings: { backoffMs: FAST_BACKOFF } },
    );
    await waitFor(() => parks(rs) >= 1, { timeoutMs: 30_000, what: "parked" });
    expect(rs.release()).toBe(true);
    await waitFor(() => rs.state.phase === "released", { what: "released" });
    const before = rs.state.reattaches;
    rs.interest();
    await waitFor(() => rs.state.phase === "live", { what: "live again" });
    // Nothing happened meanwhile: the transcript's count says so, no quiet period needed.
    expect(rs.confirmed).toBe(true);
    expect(rs.state.reattaches).toBe(before + 1);

    expect(rs.release()).toBe(true);
    await waitFor(() => rs.state.phase === "released", { what: "released again" });
    await client.cancelAgent(rs.state.agentId!, "ended elsewhere");
    rs.interest();
    await waitFor(() => rs.state.terminal !== undefined, { timeoutMs: 10_000, what: "terminal seen" });
    expect(rs.state.terminal?.status).toBe("cancelled");
    expect(rs.confirmed).toBe(true);
    expect(rs.state.events.slice()).toEqual(expected(rs.state.runId!));
    rs.close();
  });

  it("does not release a run that is not live, and close() ends a released one for good", async () => {
    const rs = RunStream.start(
      client,
      { agent: "longtalk", prompt: "talk", agent_id: newAgentId(), user_id: "u_rel" },
      { logger: silentLogger(), timings: { backoffMs: FAST_BACKOFF } },
    );
    expect(rs.release()).toBe(false); // still connecting: nothing to release
    await waitFor(() => parks(rs) >= 1, { timeoutMs: 60_000, what: "parked" });
    expect(rs.release()).toBe(true);
    await waitFor(() => rs.state.phase === "released", { what: "released" });
    rs.close();
    expect(rs.state.phase).toBe("ended");
    // A late interest after close re-attaches nothing: the woken loop would ask loomcycle
    // (the transcript, then the stream) before its first await returned, so by the next
    // turn a re-attach would have made a request. None comes.
    const requests = sim.requests.length;
    const calls: string[] = [];
    const refuse = (m: string) => (): Promise<never> => {
      calls.push(m);
      return Promise.reject(new Error("not expected after close"));
    };
    const spies = [
      vi.spyOn(client, "transcript").mockImplementation(refuse("transcript")),
      vi.spyOn(client, "streamRun").mockImplementation(refuse("streamRun")),
      vi.spyOn(client, "getAgent").mockImplementation(refuse("getAgent")),
    ];
    try {
      rs.interest();
      await nextTurn();
      expect(calls).toEqual([]);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(sim.requests.length).toBe(requests);
    expect(rs.state.reattaches).toBe(0);
  });
});

/** Five runs steered through six turns each, released at random, some steered elsewhere meanwhile. */
async function randomReleases(sim: Simulator, useTranscriptResume: boolean): Promise<void> {
  const client = new LoomcycleClient({ baseUrl: sim.url, token: sim.token, logger: silentLogger() });
  const expected = (runId: string): Array<Record<string, unknown>> => expectedOn(sim, runId);
  const seed = Number(process.env.RELEASE_SEED ?? 20261313) + (useTranscriptResume ? 0 : 1);
  const rand = rng(seed);
  const agents = ["echo", "unicode", "toolish", "longtalk", "echo"];
  const TURNS = 6;
  const posts = sim.requests.filter((r) => r.method === "POST" && r.path === "/v1/runs").length;
  const streams = agents.map((agent, i) =>
    RunStream.start(
      client,
      { agent, prompt: `prompt ${i} — héllo ✓`, agent_id: newAgentId(), user_id: "u_rel" },
      { logger: silentLogger(), timings: { backoffMs: FAST_BACKOFF }, useTranscriptResume },
    ),
  );
  let releases = 0;
  let steeredWhileReleased = 0;
  await Promise.all(
    streams.map(async (rs, i) => {
      for (let turn = 1; turn <= TURNS; turn++) {
        await waitFor(() => parks(rs) >= turn, { timeoutMs: 60_000, what: `run ${i} park ${turn}` });
        if (turn === TURNS) break;
        if (rand() < 0.7 && rs.release()) {
          releases += 1;
          await waitFor(() => rs.state.phase === "released", { what: `run ${i} released` });
          expect(rs.confirmed).toBe(false);
          if (rand() < 0.6) {
            // Someone else (the Web UI, another host) steers the run while we hold no stream.
            steeredWhileReleased += 1;
            await client.sendInput(rs.state.runId!, `turn ${turn} of run ${i}, steered elsewhere: ünï 🎉`);
            const settled = rand() < 0.5;
            if (settled) await sim.waitForStopPoint(rs.state.runId!, 30_000);
            const atConfirm = logWhenConfirmed(rs);
            rs.interest();
            const log = await atConfirm;
            // Confirmed: every frame loomcycle held when we re-attached is in the log, none
            // twice (all of the turn when it had parked again before the interest).
            const want = expected(rs.state.runId!);
            if (settled) expect(log).toEqual(want);
            else expect(want.slice(0, log.length)).toEqual(log);
            continue;
          }
          const atConfirm = logWhenConfirmed(rs);
          rs.interest();
          expect(await atConfirm).toEqual(expected(rs.state.runId!));
        }
        await client.sendInput(rs.state.runId!, `turn ${turn} of run ${i}`);
      }
    }),
  );
  for (const rs of streams) expect(rs.state.events.slice()).toEqual(expected(rs.state.runId!));
  expect(releases).toBeGreaterThanOrEqual(10);
  expect(steeredWhileReleased).toBeGreaterThanOrEqual(5);
  // Every release was followed by exactly one re-attach, and no start was ever repeated.
  expect(streams.reduce((n, rs) => n + rs.state.reattaches, 0)).toBe(releases);
  if (useTranscriptResume) expect(streams.reduce((n, rs) => n + rs.state.reattachesFromSeq, 0)).toBe(releases);
  expect(sim.requests.filter((r) => r.method === "POST" && r.path === "/v1/runs").length - posts).toBe(streams.length);

  // Released, they hold no tail on loomcycle; closed, nothing is left.
  const openBefore = sim.tailStats().open;
  for (const rs of streams) expect(rs.release()).toBe(true);
  await waitFor(() => sim.tailStats().open === openBefore - streams.length, { what: "tails closed" });
  for (const rs of streams) rs.close();
}
