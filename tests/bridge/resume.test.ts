// Exact resume: runs whose streams are cut again and again
// (mid-frame, inside UTF-8 characters, between frames, with resets and clean closes)
// end up with a log equal to loomcycle's persisted events, positions unchanged, and
// exactly one POST /v1/runs per run. The two resume strategies run side by side, each
// against a simulator (and a queue of cuts) of its own.
import { describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { LoomcycleClient } from "../../src/bridge/loomcycle/http.js";
import { RunStream } from "../../src/bridge/runs/run-stream.js";
import { newAgentId } from "../../src/bridge/runs/tracker.js";
import { silentLogger } from "../../src/logger.js";
import { rng, waitFor } from "../helpers.js";

const FAST_BACKOFF = [0, 5, 10, 20, 40];

function parked(rs: RunStream): boolean {
  const last = rs.state.events
    .slice()
    .reverse()
    .find((e) => e.type !== "usage" && e.type !== "context_compaction");
  return last?.type === "awaiting_input";
}

function expectedEvents(sim: Simulator, runId: string): Array<Record<string, unknown>> {
  return sim.expectedTailFrames(runId).map(([, data]) => data);
}

describe.concurrent("exact resume under random stream cuts", () => {
  it.each([
    ["transcript from_seq", true],
    ["replay from 0 and skip", false],
  ] as const)(
    "survives at least 50 random cuts across concurrent runs with an exact log (%s)",
    async (_label, useTranscriptResume) => {
      const sim: Simulator = await startSimulator({ tailPollMs: 5, keepaliveMs: 0, speed: 0.05, seed: 7 });
      const client = new LoomcycleClient({ baseUrl: sim.url, token: sim.token, logger: silentLogger() });
      try {
        await survivesCuts(sim, client, _label, useTranscriptResume);
      } finally {
        await sim.close();
      }
    },
    120_000,
  );
});

async function survivesCuts(
  sim: Simulator,
  client: LoomcycleClient,
  _label: string,
  useTranscriptResume: boolean,
): Promise<void> {
  const seed = Number(process.env.RESUME_SEED ?? 20261121) + (useTranscriptResume ? 0 : 1);
  const rand = rng(seed);
  const agents = ["unicode", "echo", "toolish", "longtalk", "unicode", "echo"];
  const TURNS = 4;
  const totalCuts = 60;
  // Queue the cuts: each one takes the next run-stream connection that opens.
  for (let i = 0; i < totalCuts; i++) {
    const mode = rand() < 0.5 ? "destroy" : "end";
    if (rand() < 0.5) sim.faults.cutStream({ atByte: 40 + Math.floor(rand() * 4000), mode });
    else sim.faults.cutStream({ afterFrames: 3 + Math.floor(rand() * 40), mode });
  }
  const postsBefore = sim.requests.filter((r) => r.method === "POST" && r.path === "/v1/runs").length;
  const streams = agents.map((agent, i) =>
    RunStream.start(
      client,
      { agent, prompt: `prompt ${i} — héllo ✓ 你好`, agent_id: newAgentId(), user_id: "u_test" },
      { logger: silentLogger(), timings: { backoffMs: FAST_BACKOFF }, useTranscriptResume },
    ),
  );
  // Drive every run through TURNS turns: steer whenever it parks.
  await Promise.all(
    streams.map(async (rs, i) => {
      for (let turn = 1; turn < TURNS; turn++) {
        await waitFor(() => parked(rs) && rs.state.events.slice().filter((e) => e.type === "awaiting_input").length >= turn, {
          timeoutMs: 60_000,
          what: `run ${i} park ${turn}`,
        });
        await client.sendInput(rs.state.runId!, `turn ${turn} of run ${i}: ünïcödé 🎉`);
      }
      await waitFor(() => rs.state.events.slice().filter((e) => e.type === "awaiting_input").length >= TURNS, {
        timeoutMs: 60_000,
        what: `run ${i} final park`,
      });
    }),
  );
  // Cancel half of them: a bare EOF that the status lookup must turn into "cancelled".
  for (const rs of streams.slice(0, 3)) await client.cancelAgent(rs.state.agentId!, "test over");
  await waitFor(() => streams.slice(0, 3).every((rs) => rs.state.terminal?.status === "cancelled"), {
    timeoutMs: 20_000,
    what: "cancelled runs",
  });

  const reattaches = streams.reduce((n, rs) => n + rs.state.reattaches, 0);
  const fromSeq = streams.reduce((n, rs) => n + rs.state.reattachesFromSeq, 0);
  const cutsLeft = sim.faults.pendingCuts();
  const cutsSurvived = totalCuts - cutsLeft;
  for (const rs of streams) {
    expect(rs.state.events.slice()).toEqual(expectedEvents(sim, rs.state.runId!));
  }
  const posts = sim.requests.filter((r) => r.method === "POST" && r.path === "/v1/runs").length - postsBefore;
  expect(posts).toBe(streams.length);
  expect(cutsSurvived).toBeGreaterThanOrEqual(50);
  // The strategy under test is the one that ran.
  if (useTranscriptResume) expect(fromSeq).toBeGreaterThan(0);
  else expect(fromSeq).toBe(0);
  process.stderr.write(
    `resume (${_label}): seed ${seed}, ${cutsSurvived} cuts survived across ${streams.length} runs, ${reattaches} re-attaches (${fromSeq} with a transcript from_seq), ${streams.reduce((n, rs) => n + rs.state.events.length, 0)} events, 0 lost, 0 duplicated\n`,
  );

  // A fresh process attaching the same runs sees the same positions.
  sim.faults.clear();
  for (const rs of streams) {
    const fresh = RunStream.attach(client, rs.state.runId!, { logger: silentLogger(), timings: { backoffMs: FAST_BACKOFF } });
    await waitFor(() => fresh.state.events.length >= rs.state.events.length, {
      timeoutMs: 10_000,
      what: "fresh attach replay",
    });
    expect(fresh.state.events.slice()).toEqual(rs.state.events.slice());
    fresh.close();
  }
  for (const rs of streams) rs.close();
}
