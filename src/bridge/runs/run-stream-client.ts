// What a run stream needs of loomcycle (a narrow slice of LoomcycleClient, easy to fake),
// and what loomcycle's answers and failures mean for a followed run.
import { LoomcycleError, NotFoundError, UnauthorizedError, ForbiddenError } from "../loomcycle/errors.js";
import type { StreamFrame } from "../loomcycle/events.js";

export interface SseStreamLike {
  frames: AsyncIterable<StreamFrame>;
  /** Optional: the same frames, grouped by the read that completed them (fewer wake-ups). */
  batches?: AsyncIterable<StreamFrame[]>;
  close(): void;
}

export interface AgentStatusLike {
  status: string;
  run_id?: string;
  session_id?: string;
  agent_id?: string;
  stop_reason?: string | undefined;
  error?: string | undefined;
  last_heartbeat_at?: string | undefined;
  /** Cancel handle registered on the answering replica (false for a run no loop drives there). */
  live?: boolean | undefined;
  /** Cluster mode: the replica that owns the run. */
  replica_id?: string | undefined;
}

export interface TranscriptRowLike {
  seq: number;
  run_id: string;
  /** Unix nanoseconds (µs precision on PostgreSQL); beyond 2^53, so approximate. */
  ts_ns?: number | undefined;
  type: string;
  payload?: unknown;
}

/** The slice of LoomcycleClient a run stream needs (kept narrow so it is easy to fake). */
export interface RunStreamClient {
  startInteractiveRun(
    body: {
      agent: string;
      prompt: string;
      user_id?: string;
      agent_id?: string;
      session_id?: string;
      metadata?: Record<string, string>;
    },
    opts?: { signal?: AbortSignal },
  ): Promise<SseStreamLike>;
  streamRun(runId: string, fromSeq: number, opts?: { signal?: AbortSignal }): Promise<SseStreamLike>;
  getAgent(agentId: string, opts?: { signal?: AbortSignal }): Promise<AgentStatusLike>;
  transcript(sessionId: string, opts?: { signal?: AbortSignal }): Promise<{ events: TranscriptRowLike[] }>;
  /** GET /healthz: in a cluster, loomcycle's view of its replicas (liveness.ts). */
  healthz?(opts?: { signal?: AbortSignal }): Promise<{ replicas?: readonly unknown[] | null | undefined }>;
  /** loomcycle's clock, from its Date header (HttpCore.serverNow). */
  serverNow?(): number;
}

/** Transport failures that mean the request never reached loomcycle (see network-errors.ts networkError). */
const NOT_REACHED = new Set(["connect_refused", "dns_failed", "connect_timeout", "host_unreachable", "tls_failed"]);

/** A failed start that certainly created no run: loomcycle (or a proxy) refused it with a
 * 4xx, or it never reached loomcycle. 5xx, resets and timeouts leave it open. */
export function startNotCreated(e: LoomcycleError): boolean {
  if (e.code !== undefined && NOT_REACHED.has(e.code)) return true;
  return e.status !== undefined && e.status >= 400 && e.status < 500;
}

/** Errors after which re-attaching cannot help: the run is unknown to loomcycle (or to
 * this token), or the token is refused before we ever read the run. */
export function isFatalForStream(e: LoomcycleError, eventsHeld: number): boolean {
  if (e instanceof NotFoundError) return true;
  return (e instanceof UnauthorizedError || e instanceof ForbiddenError) && eventsHeld === 0;
}

export function asLoomError(err: unknown): LoomcycleError {
  if (err instanceof LoomcycleError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new LoomcycleError("unreachable", msg, { cause: err });
}

export function errSummary(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
