// zod schemas for loomcycle's JSON responses. Every JSON body the
// client returns passes through one of these. They are loose on purpose: unknown
// fields pass through untouched (loomcycle adds fields between releases), and only the
// fields a caller depends on are required. Optional strings are `.optional()` (Go's
// `omitempty` drops them); optional arrays/objects are `.nullish()` because a nil Go
// slice or pointer encodes as `null`. Zero times (`0001-01-01T00:00:00Z`) are kept as
// they come; use `isZeroTime` to read them as "unset".
import { z } from "zod";
import { LoomEvent } from "./events.js";

/** Go's zero `time.Time`, which loomcycle emits instead of omitting unset timestamps. */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

/** True for Go's zero time (any precision / offset spelling of year 1) and for absent values. */
export function isZeroTime(s: string | null | undefined): boolean {
  if (s === undefined || s === null || s === "") return true;
  return s === ZERO_TIME || s.startsWith("0001-01-01T00:00:00");
}

/** A list that Go may encode as `null` when empty. */
function list<T extends z.ZodType>(item: T) {
  return z
    .array(item)
    .nullish()
    .transform((v): z.output<T>[] => v ?? []);
}

// POST /v1/runs/{id}/input
export const InputResult = z.looseObject({
  delivered: z.boolean(),
  run_id: z.string(),
});
export type InputResult = z.infer<typeof InputResult>;

// POST /v1/runs/{id}/cancel
export const CancelTurnResult = z.looseObject({
  parked: z.boolean(),
  run_id: z.string(),
  stopped: z.boolean(),
});
export type CancelTurnResult = z.infer<typeof CancelTurnResult>;

// POST /v1/agents/{id}/cancel
export const CancelAgentResult = z.looseObject({
  cancelled: z.boolean(),
  agent_id: z.string(),
  /** Present when the run had already ended (`cancelled: false`). */
  status: z.string().optional(),
  /** The cancel reason, or (cluster mode) why the cancel did not happen. */
  reason: z.string().optional(),
  /** agent_ids of live sub-agents cancelled with it; omitted when empty. */
  cascaded: list(z.string()),
});
export type CancelAgentResult = z.infer<typeof CancelAgentResult>;

// POST /v1/runs/{id}/compact
export const CompactResult = z.looseObject({
  run_id: z.string(),
  compacted: z.boolean(),
  before_tokens: z.number().optional(),
  after_tokens: z.number().optional(),
  /** `live` | `marker` | `noop` */
  applied: z.string().optional(),
});
export type CompactResult = z.infer<typeof CompactResult>;

// GET /v1/agents/{id}. Note the usage cache field names differ from the SSE Usage.
export const AgentUsage = z.looseObject({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  cache_creation_tokens: z.number().optional(),
  cache_read_tokens: z.number().optional(),
  model: z.string().optional(),
  provider: z.string().optional(),
});
export type AgentUsage = z.infer<typeof AgentUsage>;

export const AgentStatus = z.looseObject({
  agent_id: z.string(),
  run_id: z.string(),
  session_id: z.string(),
  agent: z.string().optional(),
  user_id: z.string().optional(),
  parent_agent_id: z.string().nullish(),
  /** `running` | `completed` | `failed` | `cancelled` (kept open: a newer loomcycle may add one). */
  status: z.string(),
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  /** For cancels: the cancel reason. */
  stop_reason: z.string().optional(),
  error: z.string().optional(),
  usage: AgentUsage.nullish(),
  last_heartbeat_at: z.string().optional(),
  /** Cancel handle registered on the answering replica. A parked run reads `running` + `live`. */
  live: z.boolean().optional(),
  interactive: z.boolean().optional(),
  awaited_state: z.string().optional(),
  awaited_on: z.string().optional(),
  replica_id: z.string().optional(),
  parent_context: z.unknown().optional(),
  resident: z.boolean().optional(),
  resident_state: z.string().optional(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

// GET /v1/users/{id}/agents
export const UserAgents = z.looseObject({ agents: list(AgentStatus) });
export type UserAgents = z.infer<typeof UserAgents>;

// GET /v1/sessions/{id}/transcript
export const Session = z.looseObject({
  id: z.string(),
  tenant_id: z.string().optional(),
  agent: z.string().optional(),
  created_at: z.string().optional(),
  user_id: z.string().optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  tags: z.array(z.string()).nullish(),
  pinned: z.boolean().optional(),
  summary: z.string().optional(),
  archived_at: z.string().optional(),
  summary_updated_at: z.string().optional(),
});
export type Session = z.infer<typeof Session>;

export const TranscriptRow = z.looseObject({
  /** Global autoincrement across the database: increasing per run, not contiguous. Exact. */
  seq: z.number().int(),
  run_id: z.string(),
  /** Unix nanoseconds. Exceeds 2^53, so this number is approximate (≈ 100 ns). */
  ts_ns: z.number().optional(),
  /** Record type: an Event type, or `user_input` / `system_prompt`. */
  type: z.string(),
  event: LoomEvent,
  /** `user_input`: PromptSegment[]; `system_prompt`: `{system_prompt, …}`. */
  payload: z.unknown().optional(),
});
export type TranscriptRow = z.infer<typeof TranscriptRow>;

export const Transcript = z.looseObject({
  session: Session,
  events: list(TranscriptRow),
});
export type Transcript = z.infer<typeof Transcript>;

// interrupts
export const InterruptRecord = z.looseObject({
  interrupt_id: z.string(),
  run_id: z.string(),
  kind: z.string().optional(),
  /** `pending` | `resolved` | `declined` | `timed_out` | `cancelled` */
  status: z.string(),
  question: z.string().optional(),
  options: z.array(z.string()).nullish(),
  context_data: z.string().optional(),
  priority: z.string().optional(),
  answer: z.string().optional(),
  answer_meta: z.unknown().optional(),
  created_at: z.string().optional(),
  /** Zero time when unset (see isZeroTime). */
  expires_at: z.string().optional(),
  /** Zero time when unset (see isZeroTime). */
  resolved_at: z.string().optional(),
  resolved_by: z.string().optional(),
  user_id: z.string().optional(),
  agent_id: z.string().optional(),
  agent_name: z.string().optional(),
});
export type InterruptRecord = z.infer<typeof InterruptRecord>;

export const InterruptList = z.looseObject({
  interrupts: list(InterruptRecord),
  total: z.number(),
});
export type InterruptList = z.infer<typeof InterruptList>;

// resolve
export const ResolveResult = z.looseObject({
  interrupt_id: z.string(),
  resolved_at: z.string(),
  /** `resolved` | `declined` */
  status: z.string(),
});
export type ResolveResult = z.infer<typeof ResolveResult>;

// GET /v1/_snapshots
export const SnapshotEntry = z.looseObject({
  id: z.string(),
  created_at: z.string(),
  label: z.string().optional(),
  schema_version: z.number().optional(),
  byte_size: z.number().optional(),
});
export type SnapshotEntry = z.infer<typeof SnapshotEntry>;

export const SnapshotList = z.looseObject({ entries: list(SnapshotEntry) });
export type SnapshotList = z.infer<typeof SnapshotList>;

// /healthz
export const Health = z.looseObject({
  ok: z.boolean(),
  version: z.string().optional(),
  commit: z.string().optional(),
  built: z.string().optional(),
  uptime_seconds: z.number().optional(),
  metrics_enabled: z.boolean().optional(),
  replica_id: z.string().optional(),
  replicas: z.array(z.unknown()).nullish(),
});
export type Health = z.infer<typeof Health>;

// GET /v1/_me
export const Me = z.looseObject({
  tenant_id: z.string().optional(),
  subject: z.string().optional(),
  scopes: list(z.string()),
  is_admin: z.boolean().optional(),
  legacy: z.boolean().optional(),
  open_mode: z.boolean().optional(),
  capabilities: z.record(z.string(), z.unknown()).nullish(),
});
export type Me = z.infer<typeof Me>;

// GET /v1/_runnable-agents
export const RunnableAgent = z.looseObject({
  name: z.string(),
  /** `bundled` | `tenant` | `own` */
  source: z.string().optional(),
});
export type RunnableAgent = z.infer<typeof RunnableAgent>;

export const RunnableAgents = z.looseObject({ agents: list(RunnableAgent) });
export type RunnableAgents = z.infer<typeof RunnableAgents>;
