// The loomcycle simulator: a loomcycle-compatible HTTP+SSE server for demos
// and tests. startSimulator() builds the pieces, listens, and
// returns the control panel described in ./types.ts. Nothing runs at import.
import { setMaxListeners } from "node:events";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Engine } from "./engine.js";
import { FaultRegistry } from "./faults.js";
import { Router, makeListener, type Principal, type SimContext } from "./http.js";
import * as misc from "./routes-misc.js";
import * as runs from "./routes-runs.js";
import * as start from "./routes-start.js";
import { Store, rowToFrame } from "./store.js";
import { Replicas } from "./cluster.js";
import type { SimOptions, SimRequestRecord, SimRow, SimSnapshotSeed, Simulator, StartSimulator } from "./types.js";
import { Rng } from "./util.js";

export type * from "./types.js";
export { AGENTS } from "./agents.js";

function buildRouter(): Router {
  const r = new Router();
  r.add("/healthz", misc.handleHealthz, false);
  r.add("POST /v1/runs", start.handleRuns);
  r.add("GET /v1/runs/{run_id}/stream", runs.handleRunStream);
  r.add("POST /v1/runs/{run_id}/input", runs.handleRunInput);
  r.add("POST /v1/runs/{run_id}/cancel", runs.handleCancelTurn);
  r.add("POST /v1/runs/{run_id}/compact", runs.handleCompact);
  r.add("GET /v1/runs/{run_id}/interrupts", misc.handleListRunInterrupts);
  r.add("POST /v1/runs/{run_id}/interrupts/{interrupt_id}/resolve", misc.handleResolveInterrupt);
  r.add("GET /v1/sessions/{id}/transcript", misc.handleTranscript);
  r.add("POST /v1/sessions/{id}/messages", start.handleMessages);
  r.add("GET /v1/agents/{agent_id}", misc.handleGetAgent);
  r.add("POST /v1/agents/{agent_id}/cancel", misc.handleCancelAgent);
  r.add("GET /v1/users/{user_id}/agents", misc.handleListUserAgents);
  r.add("GET /v1/users/{user_id}/interrupts", misc.handleListUserInterrupts);
  r.add("GET /v1/_me", misc.handleMe);
  r.add("GET /v1/_runnable-agents", misc.handleRunnableAgents);
  r.add("GET /v1/_snapshots", misc.handleListSnapshots);
  return r;
}

/** A few snapshots, as a real deployment would have. */
function defaultSnapshots(): SimSnapshotSeed[] {
  const day = 86_400_000;
  const base = Date.now();
  return [
    { label: "nightly-backup", created_at: new Date(base - 3 * day).toISOString() },
    { label: "before-deploy", created_at: new Date(base - 2 * day).toISOString() },
    { label: "Nightly-Backup-2", created_at: new Date(base - day).toISOString() },
  ];
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections();
      return resolve();
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export const startSimulator: StartSimulator = async (opts: SimOptions = {}) => {
  const rng = new Rng(opts.seed);
  const store = new Store(rng);
  const host = opts.host ?? "127.0.0.1";
  const token = opts.token ?? "lcsim_" + randomBytes(16).toString("hex");
  const tokens = new Map<string, Principal>();
  tokens.set(token, { tenant_id: "default", subject: "default", scopes: ["substrate:admin"], legacy: true });
  for (const t of opts.extraTokens ?? []) {
    tokens.set(t.token, {
      tenant_id: t.tenant_id ?? "default",
      subject: t.subject ?? "sim-user",
      scopes: [...t.scopes],
      legacy: t.legacy ?? false,
    });
  }
  const shutdown = new AbortController();
  // Every open tail and scripted turn sleeps on this one signal: many listeners is normal.
  setMaxListeners(0, shutdown.signal);
  const engine = new Engine({
    store,
    rng,
    speed: opts.speed ?? 1,
    heartbeatMs: opts.heartbeatMs ?? 30_000,
    interruptTimeoutMs: opts.interruptTimeoutMs ?? 30 * 60_000,
  });

  const server = createServer();
  // Go's server: no read/write timeout on streams; idle keep-alive connections close after 120 s.
  server.keepAliveTimeout = 120_000;
  server.requestTimeout = 0;
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  let port = opts.port ?? 0;
  let refuseTimer: NodeJS.Timeout | undefined;
  let accepting: Promise<void> = Promise.resolve();
  let closed = false;

  const refuse = async (ms: number): Promise<void> => {
    if (closed) return;
    clearTimeout(refuseTimer);
    await closeServer(server);
    for (const s of sockets) s.destroy();
    accepting = new Promise<void>((resolve) => {
      refuseTimer = setTimeout(() => {
        refuseTimer = undefined;
        if (closed) return resolve();
        listen(server, port, host).then(
          () => resolve(),
          () => resolve(),
        );
      }, ms);
    });
  };

  const faults = new FaultRegistry(refuse);
  const requests: SimRequestRecord[] = [];
  const sim: SimContext = {
    store,
    engine,
    faults,
    opts: {
      tailPollMs: opts.tailPollMs ?? 250,
      keepaliveMs: opts.keepaliveMs ?? 20_000,
      speed: opts.speed ?? 1,
      replicas: opts.replicas ?? [],
      heartbeatStaleMs: opts.heartbeatStaleMs ?? 600_000,
      replicaStaleAfterMs: opts.replicaStaleAfterMs ?? 90_000,
    },
    served: 0,
    cluster: opts.replicas && opts.replicas.length > 0 ? new Replicas(opts.replicas) : undefined,
    tokens,
    startedAt: Date.now(),
    shutdown: shutdown.signal,
    sessionLocks: new Set(),
    tailStats: { open: 0, polls: 0, held: 0 },
  };
  server.on("request", makeListener(sim, buildRouter(), requests));

  // loomcycle's sweepers: a run whose loop is gone is failed with no event (the tails end).
  const sweepHeartbeats = (): string[] => {
    const ids = store.sweepStaleRuns(sim.opts.heartbeatStaleMs);
    for (const id of ids) engine.changed(id);
    return ids;
  };
  const sweepReplicas = (): string[] => {
    const out: string[] = [];
    for (const id of sim.cluster?.stale(sim.opts.replicaStaleAfterMs) ?? []) {
      out.push(...store.failRunsOfReplica(id));
      sim.cluster?.remove(id);
    }
    for (const id of out) engine.changed(id);
    return out;
  };
  const sweepers: NodeJS.Timeout[] = [];
  if ((opts.heartbeatSweepMs ?? 0) > 0) sweepers.push(setInterval(sweepHeartbeats, opts.heartbeatSweepMs));
  if (sim.cluster && (opts.replicaSweepMs ?? 0) > 0) sweepers.push(setInterval(sweepReplicas, opts.replicaSweepMs));
  for (const t of sweepers) t.unref();

  for (const s of opts.snapshots ?? defaultSnapshots()) store.addSnapshot(s);

  port = await listen(server, port, host);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const simulator: Simulator & { whenAccepting(): Promise<void> } = {
    url,
    port,
    token,
    faults,
    requests,
    rowsOfRun(runId: string): SimRow[] {
      return store.rowsOfRun(runId).map((r) => {
        const row: SimRow = { seq: r.seq, run_id: r.run_id, ts_ns: Number(r.ts_ns), type: r.type, event: r.event };
        if (r.payload !== undefined) row.payload = r.payload;
        return row;
      });
    },
    expectedTailFrames(runId: string) {
      const out: Array<[string, Record<string, unknown>]> = [];
      for (const r of store.rowsOfRun(runId)) {
        const f = rowToFrame(r);
        if (f) out.push(f);
      }
      return out;
    },
    async restart(downMs = 200, o: { wipe?: boolean } = {}) {
      await engine.crash();
      if (o.wipe) store.wipe();
      await faults.refuseConnections(downMs);
    },
    async killReplica(id: string, o: { silentForMs?: number } = {}) {
      sim.cluster?.kill(id, o.silentForMs);
      await engine.crash(id);
    },
    async stopReplica(id: string) {
      sim.cluster?.stopGracefully(id);
      await engine.crash(id);
    },
    startReplica(id: string) {
      sim.cluster?.start(id);
    },
    sweepReplicas,
    sweepHeartbeats,
    tailStats() {
      return { ...sim.tailStats };
    },
    freezeHeartbeat(runId: string, ageMs: number) {
      store.freezeHeartbeat(runId, ageMs);
    },
    backdate(runId: string, ageMs: number) {
      store.backdate(runId, ageMs);
    },
    runStatus(runId: string) {
      return store.runs.get(runId)?.status;
    },
    waitForStopPoint(runId: string, timeoutMs = 10_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const isStop = (): boolean | undefined => {
          const run = store.runs.get(runId);
          if (!run) return undefined;
          if (run.status !== "running") return true;
          const live = engine.byRun.get(runId);
          return live !== undefined && (live.phase === "parked" || live.phase === "interrupt");
        };
        const first = isStop();
        if (first === undefined) return reject(new Error(`simulator: unknown run ${runId}`));
        if (first) return resolve();
        const timer = setTimeout(() => {
          off();
          reject(new Error(`simulator: run ${runId} reached no stop point within ${timeoutMs} ms`));
        }, timeoutMs);
        const off = engine.onChange((id) => {
          if (id === runId && isStop()) {
            clearTimeout(timer);
            off();
            resolve();
          }
        });
      });
    },
    whenAccepting() {
      return accepting;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(refuseTimer);
      for (const t of sweepers) clearInterval(t);
      shutdown.abort();
      await engine.shutdown();
      await closeServer(server);
      for (const s of sockets) s.destroy();
    },
  };
  return simulator;
};
