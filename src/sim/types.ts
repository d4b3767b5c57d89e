// Public, programmatic face of the loomcycle simulator (src/sim). Tests, the demo and
// `--sandbox` use only this. The simulator itself speaks loomcycle's HTTP+SSE API as
// ../shared/loomcycle-wire-contract.md describes it; this interface is the test-side
// control panel (fault hooks, request log, persisted rows).

export interface SimTokenSpec {
  token: string;
  /** e.g. ["substrate:admin"] or ["runs:create","runs:read"]. */
  scopes: string[];
  tenant_id?: string;
  subject?: string;
  /** Legacy shared secret semantics (body user_id honoured). Default: true for the admin token. */
  legacy?: boolean;
}

export interface SimOptions {
  /** 0 (default) = any free port. */
  port?: number;
  host?: string;
  /** Admin bearer (legacy shared secret semantics). Default: random. */
  token?: string;
  /** Further tokens, e.g. a non-admin one to exercise 403 on snapshots. */
  extraTokens?: SimTokenSpec[];
  /** DB-tail poll interval of interactive / re-attach streams. loomcycle: 250 ms. Default 250. */
  tailPollMs?: number;
  /** `: keepalive` comment interval on run streams. loomcycle: 20000. <= 0 disables. Default 20000. */
  keepaliveMs?: number;
  /** Multiplies every scripted delay (0 = as fast as possible). Default 1. */
  speed?: number;
  /** Seed for the pseudo-random parts (seq gaps, ids). */
  seed?: number;
  /** Interruption `ask` timeout (expires_at), wall-clock, not scaled by speed. <= 0 = never. Default 30 min. */
  interruptTimeoutMs?: number;
  /** Run heartbeat interval (last_heartbeat_at), besides the per-iteration one. loomcycle: 30000. Default 30000. */
  heartbeatMs?: number;
  /**
   * Simulate a cluster of these replicas behind a round-robin balancer: a run belongs to the
   * replica that answered its start, status reads name it (`replica_id`; `live` only from the
   * owner), and, as in loomcycle v1.59, a steer that lands on another replica is refused with
   * 404 instead of being passed on, while a compaction that lands there is passed on as a
   * plain message whose text is the summary (answered "live"). Default: one node.
   */
  replicas?: string[];
  /** The heartbeat sweeper's stale limit: a `running` run whose heartbeat is older is failed
   * ("heartbeat timeout"). loomcycle: LOOMCYCLE_HEARTBEAT_STALE_MS, 600000. Default 600000. */
  heartbeatStaleMs?: number;
  /** How often the heartbeat sweeper runs by itself (loomcycle: 60000); 0 (default) = only when
   * a test calls sweepHeartbeats(). */
  heartbeatSweepMs?: number;
  /** Cluster mode: a replica whose row is older than this is dead, and the replicas sweeper fails
   * its runs ("owner replica died"). loomcycle: LOOMCYCLE_REPLICAS_STALE_AFTER_MS, 90000. Default 90000. */
  replicaStaleAfterMs?: number;
  /** How often the replicas sweeper runs by itself (loomcycle: 60000); 0 (default) = only when a
   * test calls sweepReplicas(). */
  replicaSweepMs?: number;
  /** The operator snapshots GET /v1/_snapshots lists (default: three, a few days old). */
  snapshots?: SimSnapshotSeed[];
}

/** A snapshot the simulator holds from the start (loomcycle's snapshots are made by its operator). */
export interface SimSnapshotSeed {
  label?: string;
  byte_size?: number;
  created_at?: string;
}

/** One persisted row, as `GET /v1/sessions/{id}/transcript` returns it. */
export interface SimRow {
  seq: number;
  run_id: string;
  ts_ns: number;
  type: string;
  event: Record<string, unknown>;
  payload?: unknown;
}

export interface SimRequestRecord {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Raw request body text ("" when none). */
  body: string;
  at: number;
}

export interface CutStreamFault {
  /** Only streams of this run (POST /v1/runs streams match once the run id is known). Default: any run stream. */
  runId?: string;
  /** Cut after this many complete frames were written on the connection (the `session`/`agent` frames count). */
  afterFrames?: number;
  /** Or cut once this many bytes of the response body were written (may land inside a UTF-8 character). */
  atByte?: number;
  /** How many subsequent matching connections to cut. Default 1. */
  connections?: number;
  /** "destroy" (TCP reset, default) or "end" (clean close: looks like a normal EOF). */
  mode?: "destroy" | "end";
}

export interface SimFaults {
  cutStream(f: CutStreamFault): void;
  /** Hold response headers of the next `count` requests (default 1, optionally only matching `pathPrefix`) for `ms`. */
  delayHeaders(ms: number, opts?: { count?: number; pathPrefix?: string; method?: string }): void;
  /** Answer the next `count` requests (optionally only matching `pathPrefix`) with a 502 HTML proxy page. */
  html502(count: number, opts?: { pathPrefix?: string; method?: string }): void;
  /**
   * Refuse TCP connections for `ms` (listener closed, open sockets destroyed); state is kept; same port after.
   * Resolves once refusal is in effect; `Simulator.whenAccepting()` resolves when it listens again.
   * A call while refusing replaces the window: `refuseConnections(0)` listens again now.
   */
  refuseConnections(ms: number): Promise<void>;
  /**
   * Cluster mode: the balancer sends the next `count` requests (default 1) matching `pathPrefix`
   * and `method` to `replica` instead of the next one in its round robin (as a client that
   * talks to one replica directly does).
   */
  routeTo(replica: string, opts?: { count?: number; pathPrefix?: string; method?: string }): void;
  /**
   * Hold every run stream's tail: rows written meanwhile (a steer's echo, a reply) reach no
   * stream until the returned `release()` is called; then they are sent in order, as after a
   * slow poll. A test looks into the window between a row's write and its delivery this way,
   * without a clock.
   */
  holdTails(): () => void;
  /** Remove every pending fault. */
  clear(): void;
  /** How many cut-stream connections are still pending (not yet applied). */
  pendingCuts(): number;
}

export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** The admin bearer token. */
  readonly token: string;
  readonly faults: SimFaults;
  /** Every request received, in arrival order. */
  readonly requests: SimRequestRecord[];
  /** Persisted rows of one run, in seq order (includes user_input and system_prompt rows). */
  rowsOfRun(runId: string): SimRow[];
  /**
   * The frames a from-zero re-attach of this run would replay, after the `agent` frame,
   * as [eventName, dataJson] pairs: system_prompt rows dropped, user_input rows as steer.
   */
  expectedTailFrames(runId: string): Array<[string, Record<string, unknown>]>;
  /** Run-stream tails open now, and run-event queries made so far (loomcycle polls its database
   * every tailPollMs per open tail: this is what a followed run costs it); `held`: tails waiting
   * on faults.holdTails. */
  tailStats(): { open: number; polls: number; held: number };
  /** Test control: stop the run's heartbeat and backdate it by `ageMs` (its loop died elsewhere). */
  freezeHeartbeat(runId: string, ageMs: number): void;
  /** Test control: the run's events (transcript `ts_ns`), start and heartbeat happened `ageMs` earlier. */
  backdate(runId: string, ageMs: number): void;
  /** Run status as GET /v1/agents reports it. */
  runStatus(runId: string): "running" | "completed" | "failed" | "cancelled" | undefined;
  /** Resolve when the run is parked (awaiting_input), awaiting an interrupt, or terminal. */
  waitForStopPoint(runId: string, timeoutMs?: number): Promise<void>;
  /**
   * Test control: loomcycle restarts on the same store. Every live loop is gone without a
   * word (rows stay `running`, `live: false`, heartbeats stop; a steer gets 404), open
   * connections drop, and connections are refused for `downMs` (as real loomcycle v1.59).
   * With `wipe`, loomcycle comes back on a fresh database: every run, session, row and
   * question is gone, and a stream, status or steer of an old run gets 404.
   */
  restart(downMs?: number, opts?: { wipe?: boolean }): Promise<void>;
  /**
   * Cluster test control: the replica is killed (SIGKILL). Its loops are gone without a word
   * (rows `running`, steers 404), the balancer sends nothing more to it, and its row in
   * GET /healthz `replicas[]` stops being refreshed; `silentForMs` backdates its last heartbeat
   * (as if it died that long ago). sweepReplicas() then reaps it once its row is stale.
   */
  killReplica(id: string, opts?: { silentForMs?: number }): Promise<void>;
  /** Cluster test control: the replica stops gracefully (SIGTERM): its loops are gone and it deletes its row. */
  stopReplica(id: string): Promise<void>;
  /** Cluster test control: the replica starts again under the same id (its old row is upserted). */
  startReplica(id: string): void;
  /** Run the replicas sweeper once: each stale replica's running runs are failed
   * ("owner replica died", stop_reason replica_died) and its row deleted. Returns the failed run ids. */
  sweepReplicas(): string[];
  /** Run the heartbeat sweeper once: each running run whose heartbeat is older than
   * heartbeatStaleMs is failed ("heartbeat timeout", stop_reason heartbeat_timeout). Returns the failed run ids. */
  sweepHeartbeats(): string[];
  /** Resolves once the listener accepts connections again after faults.refuseConnections. */
  whenAccepting?(): Promise<void>;
  close(): Promise<void>;
}

export type StartSimulator = (opts?: SimOptions) => Promise<Simulator>;
