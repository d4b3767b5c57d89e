// The simulator's cluster mode does what a loomcycle v1.59 cluster does (findings item 19,
// docs/conformance.md divergence 3): a compaction asked of a replica that does not run the
// run reaches the owner as a plain message whose text is the summary — a steer, a turn on
// it, no context_compaction — answered "live"; asked of the owner, it is a real compaction.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { api, startInteractive, type Frame } from "./sim-helpers.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0, replicas: ["lc-1", "lc-2"] });
});
afterAll(async () => {
  await sim.close();
});

type Run = Awaited<ReturnType<typeof startInteractive>>;

/** A parked echo run owned by lc-1, with three turns behind it (enough to compact). */
async function ownedByLc1(): Promise<Run> {
  sim.faults.routeTo("lc-1", { method: "POST", pathPrefix: "/v1/runs" });
  const r = await startInteractive(sim, { agent: "echo", prompt: "one" });
  await r.sse.waitCount("awaiting_input", 1);
  for (const [i, t] of ["two", "three"].entries()) {
    sim.faults.routeTo("lc-1", { pathPrefix: `/v1/runs/${r.runId}/input` });
    expect((await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text: t })).status).toBe(200);
    await r.sse.waitCount("awaiting_input", i + 2);
  }
  return r;
}

function compact(r: Run, replica: string): ReturnType<typeof api> {
  sim.faults.routeTo(replica, { pathPrefix: `/v1/runs/${r.runId}/compact` });
  return api(sim, "POST", `/v1/runs/${r.runId}/compact`);
}

const after = (r: Run, n: number): Frame[] => r.sse.frames.slice(n);

describe("compaction in a cluster", () => {
  it("through a replica that does not run the run: the summary arrives as a message, the agent answers it, no compaction", async () => {
    const r = await ownedByLc1();
    const n = r.sse.frames.length;
    const res = await compact(r, "lc-2");
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ compacted: true, applied: "live" });
    await r.sse.waitCount("awaiting_input", 4);
    const frames = after(r, n);
    expect(frames.map((f) => f.event).filter((e) => e !== "text")).toEqual(["steer", "usage", "awaiting_input"]);
    const summary = (frames[0]!.data.user_input as { text: string; source: string }).text;
    expect(frames[0]!.data.user_input).toEqual({ text: summary, source: "replay" });
    expect(summary).toMatch(/^The operator and the echo agent exchanged \d+ earlier turn/);
    expect(
      frames
        .filter((f) => f.event === "text")
        .map((f) => f.data.text)
        .join(""),
    ).toBe(`You said: ${summary}`);
    // The transcript holds it as an ordinary operator row, as loomcycle's does.
    const tr = (await api(sim, "GET", `/v1/sessions/${r.sessionId}/transcript`)).json() as {
      events: Array<{ type: string; payload: unknown }>;
    };
    expect(tr.events.filter((e) => e.type === "context_compaction")).toEqual([]);
    expect(tr.events.filter((e) => e.type === "user_input").at(-1)!.payload).toEqual([
      { role: "user", content: [{ type: "trusted-text", text: summary }] },
    ]);

    // Through the owner: the real thing, one context_compaction frame and nothing else.
    const m = r.sse.frames.length;
    expect((await compact(r, "lc-1")).json()).toMatchObject({ compacted: true, applied: "live" });
    await r.sse.waitFor((f) => f.event === "context_compaction", 5000, m);
    expect(after(r, m).map((f) => f.event)).toEqual(["context_compaction"]);
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
  });

  it("mid-turn: the owner refuses (run_busy); another replica cannot see the turn and passes it on, queued", async () => {
    sim.faults.routeTo("lc-1", { method: "POST", pathPrefix: "/v1/runs" });
    const r = await startInteractive(sim, { agent: "hang", prompt: "think" });
    const stop = async (): Promise<void> => {
      const parked = r.sse.frames.filter((f) => f.event === "awaiting_input").length;
      sim.faults.routeTo("lc-1", { pathPrefix: `/v1/runs/${r.runId}/cancel` });
      expect((await api(sim, "POST", `/v1/runs/${r.runId}/cancel`)).status).toBe(200);
      await r.sse.waitCount("awaiting_input", parked + 1);
    };
    // Three turns, each stopped mid-stall, so that there is something to compact.
    for (const t of ["again", "and again"]) {
      await r.sse.waitFor((f) => f.event === "text", 5000, r.sse.frames.length - 1);
      await stop();
      sim.faults.routeTo("lc-1", { pathPrefix: `/v1/runs/${r.runId}/input` });
      expect((await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text: t })).status).toBe(200);
    }
    await r.sse.waitCount("steer", 3);
    await r.sse.waitFor(
      (f) => f.event === "text",
      5000,
      r.sse.frames.findLastIndex((f) => f.event === "steer"),
    );
    const busy = await compact(r, "lc-1");
    expect(busy.status).toBe(409);
    expect(busy.json()).toMatchObject({ code: "run_busy" });
    const n = r.sse.frames.length;
    const other = await compact(r, "lc-2");
    expect(other.status).toBe(200);
    expect(other.json()).toMatchObject({ compacted: true, applied: "live" });
    // Queued: the owner reads it at its next turn, here right after this one is stopped.
    expect(after(r, n).map((f) => f.event)).not.toContain("steer");
    await stop();
    const next = await r.sse.waitFor((f) => f.event === "steer", 5000, n);
    expect((next.data.user_input as { text: string }).text).toMatch(/^The operator and the hang agent exchanged/);
    expect(after(r, n).map((f) => f.event)).not.toContain("context_compaction");
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
  });
});
