// The simulator's "database": sessions, runs, persisted event rows with ONE
// global seq counter (like loomcycle's events table, shared by every run, so a
// run's seqs are increasing but never contiguous), interrupts and snapshots.
// Everything is in memory and synchronous; JSON shapes follow loomcycle's Go
// structs field by field (sessions, interrupts, snapshots, agent status).
import {
  Rng,
  ZERO_TIME,
  interruptId,
  nowNs,
  rfc3339Nano,
  runId as newRunId,
  sessionId as newSessionId,
  snapshotId,
} from "./util.js";
import type { SimSnapshotSeed } from "./types.js";

export type RunStatus = "running" | "completed" | "failed" | "cancelled";
export type Json = Record<string, unknown>;

/** Go's providers.Event field order; empty fields are omitted (omitempty). */
const EVENT_ORDER = [
  "type",
  "text",
  "tool_use",
  "usage",
  "error",
  "is_error",
  "retry",
  "fallback",
  "channel",
  "interruption",
  "host_widening",
  "user_input",
  "awaiting_input",
  "turn_cancelled",
  "spawn_child",
  "context_compaction",
  "limit",
  "stop_reason",
  "reasoning",
  "reasoning_signature",
] as const;

/** Build an Event object the way json.Marshal(providers.Event) lays it out. */
export function makeEvent(fields: Json & { type: string }): Json {
  const out: Json = {};
  for (const k of EVENT_ORDER) {
    const v = fields[k];
    if (k !== "type" && (v === undefined || v === null || v === "" || v === false)) continue;
    out[k] = v;
  }
  return out;
}

export interface UsageTotals {
  input_tokens: number;
  output_tokens: number;
  model?: string;
  provider?: string;
}

export interface SessionRec {
  id: string;
  tenant_id: string;
  agent: string;
  created_ns: bigint;
  user_id: string;
}

export interface RunRec {
  id: string;
  session_id: string;
  agent: string;
  agent_id: string;
  user_id: string;
  tenant_id: string;
  status: RunStatus;
  started_ns: bigint;
  completed_ns?: bigint;
  stop_reason: string;
  error: string;
  usage: UsageTotals;
  last_heartbeat_ns?: bigint;
  interactive: boolean;
  parent_context?: Json;
  /** Cluster mode: the replica running it. */
  replica_id?: string;
}

export interface RowRec {
  seq: number;
  run_id: string;
  ts_ns: bigint;
  type: string;
  event: Json;
  payload?: unknown;
}

export type InterruptStatus = "pending" | "resolved" | "declined" | "timed_out" | "cancelled";

export interface InterruptRec {
  interrupt_id: string;
  run_id: string;
  kind: string;
  status: InterruptStatus;
  question: string;
  options?: string[];
  context_data: string;
  priority: string;
  answer: string;
  created_ns: bigint;
  expires_ns?: bigint;
  resolved_ns?: bigint;
  resolved_by: string;
  user_id: string;
  agent_id: string;
}

export interface SnapshotRec {
  id: string;
  created_at: string;
  label: string;
  schema_version: number;
  byte_size: number;
}

export class Store {
  readonly sessions = new Map<string, SessionRec>();
  readonly runs = new Map<string, RunRec>();
  private readonly rows: RowRec[] = [];
  private readonly rowsByRun = new Map<string, RowRec[]>();
  readonly interrupts = new Map<string, InterruptRec>();
  readonly snapshots: SnapshotRec[] = [];
  private seq: number;

  constructor(readonly rng: Rng) {
    // A long-lived database: seq starts far from 1.
    this.seq = rng.int(40_000, 900_000);
  }

  createSession(tenantId: string, agent: string, userId: string): SessionRec {
    const s: SessionRec = { id: newSessionId(this.rng), tenant_id: tenantId, agent, created_ns: nowNs(), user_id: userId };
    this.sessions.set(s.id, s);
    return s;
  }

  createRun(
    sess: SessionRec,
    identity: { agent_id: string; user_id: string; tenant_id: string; interactive: boolean; parent_context?: Json },
  ): RunRec {
    const r: RunRec = {
      id: newRunId(this.rng),
      session_id: sess.id,
      agent: sess.agent,
      agent_id: identity.agent_id,
      user_id: identity.user_id || sess.user_id,
      tenant_id: identity.tenant_id,
      status: "running",
      started_ns: nowNs(),
      stop_reason: "",
      error: "",
      usage: { input_tokens: 0, output_tokens: 0 },
      interactive: identity.interactive,
      parent_context: identity.parent_context,
    };
    this.runs.set(r.id, r);
    this.rowsByRun.set(r.id, []);
    return r;
  }

  finishRun(runId: string, status: RunStatus, stopReason: string, usage: UsageTotals | undefined, error: string): void {
    const r = this.runs.get(runId);
    if (!r) return;
    r.status = status;
    r.stop_reason = stopReason;
    r.error = error;
    r.completed_ns = nowNs();
    if (usage) r.usage = { ...usage };
  }

  /** Runs whose heartbeat a test froze (a dead loop on another replica). */
  readonly frozenHeartbeats = new Set<string>();

  heartbeat(runId: string): void {
    const r = this.runs.get(runId);
    if (r && !this.frozenHeartbeats.has(runId)) r.last_heartbeat_ns = nowNs();
  }

  /** Test control: pretend the run's loop died `ageMs` ago (no more heartbeats). */
  freezeHeartbeat(runId: string, ageMs: number): void {
    const r = this.runs.get(runId);
    if (!r) return;
    this.frozenHeartbeats.add(runId);
    r.last_heartbeat_ns = nowNs() - BigInt(Math.round(ageMs)) * 1_000_000n;
  }

  /** The heartbeat sweeper (heartbeat/sweeper.go, SweepStaleRuns): every `running` run whose
   * heartbeat (or, without one, its start) is older than `staleMs` is failed, with no event. */
  sweepStaleRuns(staleMs: number, now = nowNs()): string[] {
    const cutoff = now - BigInt(Math.round(staleMs)) * 1_000_000n;
    const out: string[] = [];
    for (const r of this.runs.values()) {
      if (r.status !== "running" || (r.last_heartbeat_ns ?? r.started_ns) >= cutoff) continue;
      this.finishRun(r.id, "failed", "heartbeat_timeout", undefined, "heartbeat timeout");
      out.push(r.id);
    }
    return out;
  }

  /** The replicas sweeper's reap of a dead replica (reapReplica): its `running` runs are failed, with no event. */
  failRunsOfReplica(replicaId: string): string[] {
    const out: string[] = [];
    for (const r of this.runs.values()) {
      if (r.status !== "running" || r.replica_id !== replicaId) continue;
      this.finishRun(r.id, "failed", "replica_died", undefined, "owner replica died");
      out.push(r.id);
    }
    return out;
  }

  /** Everything gone, as a loomcycle started on a fresh database (snapshots stay: they are files). */
  wipe(): void {
    this.sessions.clear();
    this.runs.clear();
    this.rows.length = 0;
    this.rowsByRun.clear();
    this.interrupts.clear();
    this.frozenHeartbeats.clear();
  }

  /** Test control: the run's rows (and its start and heartbeat) happened `ageMs` earlier. */
  backdate(runId: string, ageMs: number): void {
    const d = BigInt(Math.round(ageMs)) * 1_000_000n;
    for (const row of this.rowsByRun.get(runId) ?? []) row.ts_ns -= d;
    const r = this.runs.get(runId);
    if (!r) return;
    r.started_ns -= d;
    if (r.last_heartbeat_ns !== undefined) r.last_heartbeat_ns -= d;
  }

  /** AppendEvent: the next global seq, advancing by a small random gap. */
  appendRow(runId: string, type: string, event: Json, payload?: unknown): RowRec {
    this.seq += this.rng.int(1, 3);
    const row: RowRec = { seq: this.seq, run_id: runId, ts_ns: nowNs(), type, event };
    if (payload !== undefined) row.payload = payload;
    this.rows.push(row);
    let list = this.rowsByRun.get(runId);
    if (!list) this.rowsByRun.set(runId, (list = []));
    list.push(row);
    return row;
  }

  /** Rows of one run with seq > afterSeq, ascending (GetRunEventsSince). */
  rowsOfRun(runId: string, afterSeq = 0, limit = Infinity): RowRec[] {
    const list = this.rowsByRun.get(runId) ?? [];
    if (afterSeq <= 0) return list.slice(0, limit);
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid] as RowRec).seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return list.slice(lo, lo + limit);
  }

  /** Every row of every run in the session, by seq. */
  sessionRows(sessionId: string): RowRec[] {
    const runIds = new Set([...this.runs.values()].filter((r) => r.session_id === sessionId).map((r) => r.id));
    return this.rows.filter((row) => runIds.has(row.run_id));
  }

  /** GetRunByAgentID: the most recently started run carrying that agent_id. */
  runByAgentId(agentId: string): RunRec | undefined {
    let best: RunRec | undefined;
    for (const r of this.runs.values()) {
      if (r.agent_id === agentId && (!best || r.started_ns >= best.started_ns)) best = r;
    }
    return best;
  }

  /** ListActiveRunsByUser: newest first, at most 100. */
  runsByUser(userId: string, status: string): RunRec[] {
    return [...this.runs.values()]
      .filter((r) => r.user_id === userId && (status === "" || r.status === status))
      .sort((a, b) => (a.started_ns === b.started_ns ? 0 : a.started_ns > b.started_ns ? -1 : 1))
      .slice(0, 100);
  }

  // ---- interrupts ----

  createInterrupt(
    fields: Omit<InterruptRec, "interrupt_id" | "created_ns" | "status" | "answer" | "resolved_by" | "kind">,
  ): InterruptRec {
    const now = nowNs();
    const rec: InterruptRec = {
      ...fields,
      interrupt_id: interruptId(this.rng, now),
      kind: "question",
      status: "pending",
      answer: "",
      resolved_by: "",
      created_ns: now,
    };
    this.interrupts.set(rec.interrupt_id, rec);
    return rec;
  }

  /** Transition a pending interrupt; false when it was already terminal. */
  finishInterrupt(id: string, status: InterruptStatus, resolvedBy: string, answer = ""): boolean {
    const rec = this.interrupts.get(id);
    if (!rec || rec.status !== "pending") return false;
    rec.status = status;
    rec.resolved_by = resolvedBy;
    rec.answer = answer;
    rec.resolved_ns = nowNs();
    return true;
  }

  /** Newest first, at most 200 (InterruptListByRun / ByUser). */
  listInterrupts(filter: (r: InterruptRec) => boolean): InterruptRec[] {
    return [...this.interrupts.values()]
      .filter(filter)
      .sort((a, b) => (a.created_ns === b.created_ns ? 0 : a.created_ns > b.created_ns ? -1 : 1))
      .slice(0, 200);
  }

  // ---- snapshots ----

  addSnapshot(s: SimSnapshotSeed): SnapshotRec {
    const created = s.created_at ? new Date(s.created_at) : new Date();
    const createdAt = created.toISOString();
    const rec: SnapshotRec = {
      id: snapshotId(this.rng, created.getTime()),
      created_at: createdAt,
      label: s.label ?? "",
      schema_version: 1,
      byte_size: s.byte_size ?? this.rng.int(20_000, 400_000),
    };
    this.snapshots.push(rec);
    return rec;
  }

  /** Newest first; case-insensitive label filter. */
  listSnapshots(labelContains: string, limit: number): SnapshotRec[] {
    const needle = labelContains.toLowerCase();
    return this.snapshots
      .filter((s) => needle === "" || s.label.toLowerCase().includes(needle))
      .sort((a, b) => (a.created_at === b.created_at ? b.id.localeCompare(a.id) : a.created_at < b.created_at ? 1 : -1))
      .slice(0, limit);
  }
}

// ---- JSON views -------------------------------------------------------------

/** store.Session as the transcript endpoint encodes it. */
export function sessionJSON(s: SessionRec): Json {
  const out: Json = { id: s.id, tenant_id: s.tenant_id, agent: s.agent, created_at: rfc3339Nano(s.created_ns) };
  if (s.user_id) out.user_id = s.user_id;
  out.archived_at = ZERO_TIME;
  out.summary_updated_at = ZERO_TIME;
  return out;
}

/** One transcript row (transcriptEvent). */
export function rowJSON(r: RowRec): Json {
  const out: Json = { seq: r.seq, run_id: r.run_id, ts_ns: r.ts_ns, type: r.type, event: r.event };
  if (r.payload !== undefined) out.payload = r.payload;
  return out;
}

/** store.InterruptRow. */
export function interruptJSON(r: InterruptRec): Json {
  const out: Json = { interrupt_id: r.interrupt_id, run_id: r.run_id, kind: r.kind, status: r.status };
  if (r.question) out.question = r.question;
  if (r.options && r.options.length > 0) out.options = r.options;
  if (r.context_data) out.context_data = r.context_data;
  out.priority = r.priority;
  if (r.answer) out.answer = r.answer;
  out.created_at = rfc3339Nano(r.created_ns);
  out.expires_at = r.expires_ns !== undefined ? rfc3339Nano(r.expires_ns) : ZERO_TIME;
  out.resolved_at = r.resolved_ns !== undefined ? rfc3339Nano(r.resolved_ns) : ZERO_TIME;
  if (r.resolved_by) out.resolved_by = r.resolved_by;
  if (r.user_id) out.user_id = r.user_id;
  if (r.agent_id) out.agent_id = r.agent_id;
  return out;
}

/** agentResponse (GET /v1/agents/{id} and the per-user list). */
export function agentResponseJSON(r: RunRec, live: boolean): Json {
  const out: Json = { agent_id: r.agent_id, run_id: r.id, session_id: r.session_id };
  if (r.agent) out.agent = r.agent;
  if (r.user_id) out.user_id = r.user_id;
  out.status = r.status;
  out.started_at = rfc3339Nano(r.started_ns);
  if (r.completed_ns !== undefined) out.completed_at = rfc3339Nano(r.completed_ns);
  if (r.stop_reason) out.stop_reason = r.stop_reason;
  if (r.error) out.error = r.error;
  const usage: Json = { input_tokens: r.usage.input_tokens, output_tokens: r.usage.output_tokens };
  if (r.usage.model) usage.model = r.usage.model;
  if (r.usage.provider) usage.provider = r.usage.provider;
  out.usage = usage;
  if (r.last_heartbeat_ns !== undefined) out.last_heartbeat_at = rfc3339Nano(r.last_heartbeat_ns);
  out.live = live;
  if (r.interactive) out.interactive = true;
  if (r.replica_id) out.replica_id = r.replica_id;
  if (r.parent_context) out.parent_context = r.parent_context;
  return out;
}

/**
 * The re-attach/tail conversion (run_stream.go runEventToFrame): system_prompt
 * rows are dropped, user_input rows become replay steers (segment texts joined
 * with \n; no text → skipped), everything else is the stored Event.
 */
export function rowToFrame(row: RowRec): [string, Json] | undefined {
  if (row.type === "system_prompt") return undefined;
  if (row.type === "user_input") {
    const segs = Array.isArray(row.payload) ? (row.payload as Array<{ content?: Array<{ text?: string }> | null }>) : [];
    const parts: string[] = [];
    for (const seg of segs) for (const c of seg?.content ?? []) if (c?.text) parts.push(c.text);
    if (parts.length === 0) return undefined;
    return ["steer", makeEvent({ type: "steer", user_input: { text: parts.join("\n"), source: "replay" } })];
  }
  return [String(row.event.type ?? row.type), row.event];
}
