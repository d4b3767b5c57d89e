// The simulator's cluster, sweepers and restarts, against what loomcycle v1.59 does
// (/work/coord/loomcycle-findings.md items 14, 15, 18, 19; docs/conformance.md): GET /healthz
// replicas[], a killed replica's row going stale and its runs failed by the replicas sweeper,
// the heartbeat sweeper failing a run whose loop is gone (no event, a bare EOF), and a restart on
// a fresh database (a compaction through a replica that does not run the run: cluster.test.ts).
// Tested on the wire, independently of the bridge.
import { afterEach, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { api, SseReader, authHeaders, startInteractive } from "./sim-helpers.js";

let sim: Simulator;
afterEach(async () => {
  await sim?.close();
});

interface ReplicaRow {
  id: string;
  started_at: string;
  last_heartbeat_at: string;
}

async function healthz(s: Simulator): Promise<{ replica_id?: string; replicas?: ReplicaRow[] }> {
  const r = await fetch(s.url + "/healthz");
  return (await r.json()) as { replica_id?: string; replicas?: ReplicaRow[] };
}

async function parkedRun(s: Simulator, agent = "echo"): Promise<{ runId: string; agentId: string; sse: SseReader }> {
  const r = await startInteractive(s, { agent, prompt: "hi" });
  await r.sse.waitFor((f) => f.event === "awaiting_input" || f.event === "interruption_pending");
  r.sse.abort();
  return r;
}

describe("cluster mode: loomcycle's view of its replicas", () => {
  it("GET /healthz names the answering replica and lists every replica's row with a heartbeat every 30 s", async () => {
    sim = await startSimulator({ replicas: ["lc-1", "lc-2"], speed: 0, tailPollMs: 10 });
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const h = await healthz(sim);
      seen.add(String(h.replica_id));
      expect(h.replicas?.map((r) => r.id)).toEqual(["lc-1", "lc-2"]);
      for (const r of h.replicas ?? []) expect(Date.parse(r.last_heartbeat_at)).toBeLessThanOrEqual(Date.now());
    }
    expect([...seen].sort()).toEqual(["lc-1", "lc-2"]);
    // A single node has neither.
    const single = await startSimulator({ speed: 0 });
    try {
      const h = await healthz(single);
      expect(h.replica_id).toBeUndefined();
      expect(h.replicas).toBeUndefined();
    } finally {
      await single.close();
    }
  });

  it("a killed owner: its row goes stale, the balancer routes around it, its run stays running (live false, steer 404) until the replicas sweeper fails it with no event", async () => {
    sim = await startSimulator({ replicas: ["lc-1", "lc-2"], speed: 0, tailPollMs: 10 });
    const { runId, agentId } = await parkedRun(sim);
    const owner = String(((await api(sim, "GET", `/v1/agents/${agentId}`)).json() as { replica_id: string }).replica_id);
    const other = owner === "lc-1" ? "lc-2" : "lc-1";
    await sim.killReplica(owner, { silentForMs: 60_000 });
    const tail = await SseReader.open(`${sim.url}/v1/runs/${runId}/stream`, { headers: authHeaders(sim) });
    await tail.waitFor((f) => f.event === "awaiting_input");
    const h = await healthz(sim);
    expect(h.replica_id).toBe(other); // every request now lands on the survivor
    const row = h.replicas?.find((r) => r.id === owner);
    expect(Date.now() - Date.parse(row!.last_heartbeat_at)).toBeGreaterThanOrEqual(60_000);
    const st = (await api(sim, "GET", `/v1/agents/${agentId}`)).json() as Record<string, unknown>;
    expect(st).toMatchObject({ status: "running", live: false, replica_id: owner });
    expect((await api(sim, "POST", `/v1/runs/${runId}/input`, { text: "anyone?" })).status).toBe(404);

    // Not stale yet (60 s < 90 s): nothing is reaped.
    expect(sim.sweepReplicas()).toEqual([]);
    await sim.killReplica(owner, { silentForMs: 40_000 });
    expect(sim.sweepReplicas()).toEqual([runId]);
    const after = (await api(sim, "GET", `/v1/agents/${agentId}`)).json() as Record<string, unknown>;
    expect(after).toMatchObject({ status: "failed", error: "owner replica died", stop_reason: "replica_died" });
    expect((await healthz(sim)).replicas?.map((r) => r.id)).toEqual([other]);
    // The tail ends with a bare EOF, after no frame saying why.
    expect(await tail.ended).toEqual({ kind: "eof" });
    expect(tail.frames.at(-1)?.event).toBe("awaiting_input");
  });

  it("a replica stopped gracefully deletes its row; started again under the same id it upserts it, keeping started_at", async () => {
    sim = await startSimulator({ replicas: ["lc-1", "lc-2"], speed: 0 });
    const before = (await healthz(sim)).replicas!.find((r) => r.id === "lc-2")!;
    await sim.stopReplica("lc-2");
    expect((await healthz(sim)).replicas?.map((r) => r.id)).toEqual(["lc-1"]);
    sim.startReplica("lc-2");
    expect((await healthz(sim)).replicas?.map((r) => r.id)).toEqual(["lc-1", "lc-2"]);
    await sim.killReplica("lc-2");
    sim.startReplica("lc-2");
    const again = (await healthz(sim)).replicas!.find((r) => r.id === "lc-2")!;
    expect(again.started_at).not.toBe(before.started_at); // a new row after the graceful stop
    await sim.killReplica("lc-2");
    const row = (await healthz(sim)).replicas!.find((r) => r.id === "lc-2")!;
    sim.startReplica("lc-2");
    expect((await healthz(sim)).replicas!.find((r) => r.id === "lc-2")!.started_at).toBe(row.started_at);
  });
});

describe("loomcycle's sweepers and restarts", () => {
  it("the heartbeat sweeper fails a run whose loop is gone ('heartbeat timeout'), with no event: the tail ends with a bare EOF", async () => {
    sim = await startSimulator({ speed: 0, tailPollMs: 10, heartbeatStaleMs: 45_000 });
    const { runId, agentId } = await parkedRun(sim);
    const live = await parkedRun(sim);
    await sim.restart(20);
    await sim.whenAccepting?.();
    const tail = await SseReader.open(`${sim.url}/v1/runs/${runId}/stream`, { headers: authHeaders(sim) });
    await tail.waitFor((f) => f.event === "awaiting_input");
    expect(sim.sweepHeartbeats()).toEqual([]); // heartbeats are fresh
    sim.freezeHeartbeat(runId, 46_000);
    expect(sim.sweepHeartbeats()).toEqual([runId]);
    expect((await api(sim, "GET", `/v1/agents/${agentId}`)).json()).toMatchObject({
      status: "failed",
      error: "heartbeat timeout",
      stop_reason: "heartbeat_timeout",
    });
    expect(await tail.ended).toEqual({ kind: "eof" });
    expect(tail.frames.at(-1)?.event).toBe("awaiting_input");
    expect(sim.rowsOfRun(runId).at(-1)?.type).toBe("awaiting_input"); // no row for the failure
    expect(sim.runStatus(live.runId)).toBe("running");
  });

  it("a restart on a fresh database: the old runs are gone (404 on stream, status and steer)", async () => {
    sim = await startSimulator({ speed: 0, tailPollMs: 10 });
    const { runId, agentId } = await parkedRun(sim);
    await sim.restart(20, { wipe: true });
    await sim.whenAccepting?.();
    expect((await api(sim, "GET", `/v1/runs/${runId}/stream`)).status).toBe(404);
    expect((await api(sim, "GET", `/v1/agents/${agentId}`)).status).toBe(404);
    expect((await api(sim, "POST", `/v1/runs/${runId}/input`, { text: "x" })).status).toBe(404);
    expect(sim.rowsOfRun(runId)).toEqual([]);
  });
});
