// Run summaries shared by list_runs, the run resources and read results: ids, state,
// last activity, the next step, and stuck detection.
//
// Stuck detection: a `running` run that has produced no event for `stuckAfterMs`
// is checked against loomcycle's heartbeat (`GET /v1/agents/{agent_id}`,
// `last_heartbeat_at`). loomcycle refreshes the heartbeat every 30 s while the loop is
// alive and its reaper marks a run failed after 10 minutes without one, so:
//  - heartbeat fresh  → "stuck": alive but silent (a hung tool or provider call);
//  - heartbeat older than the reaper window → "likely_dead": the process running it
//    is probably gone, and loomcycle will mark it failed.
import type { TrackedRun, RunState } from "./tracker.js";
import type { RunStreamClient } from "./run-stream.js";

export const DEFAULT_STUCK_AFTER_MS = 120_000;
export const REAPER_WINDOW_MS = 10 * 60_000;
const STATUS_CACHE_MS = 10_000;

export interface StuckInfo {
  verdict: "stuck" | "likely_dead";
  idle_seconds: number;
  heartbeat_age_seconds?: number;
  remedy: string;
}

const heartbeatCache = new WeakMap<TrackedRun, { at: number; heartbeat?: string }>();

/** Stuck verdict for a running run that has been silent for `stuckAfterMs`, else undefined. */
export async function assessStuck(
  run: TrackedRun,
  client: Pick<RunStreamClient, "getAgent">,
  opts: { stuckAfterMs?: number; now?: number; signal?: AbortSignal } = {},
): Promise<StuckInfo | undefined> {
  const now = opts.now ?? Date.now();
  const after = opts.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
  if (run.state !== "running") return undefined;
  const idleMs = now - run.stream.lastActivityAt;
  if (idleMs < after || !run.agentId) return undefined;
  let cached = heartbeatCache.get(run);
  // Never trust a heartbeat reading older than the stuck window itself.
  if (!cached || now - cached.at > Math.min(STATUS_CACHE_MS, after)) {
    try {
      const st = await client.getAgent(run.agentId, opts.signal ? { signal: opts.signal } : {});
      cached = { at: now };
      if (st.last_heartbeat_at) cached.heartbeat = st.last_heartbeat_at;
      heartbeatCache.set(run, cached);
    } catch {
      cached = { at: now };
    }
  }
  const idle_seconds = Math.round(idleMs / 1000);
  const hb = cached.heartbeat ? Date.parse(cached.heartbeat) : NaN;
  if (Number.isFinite(hb)) {
    const age = Math.max(0, now - hb);
    const heartbeat_age_seconds = Math.round(age / 1000);
    if (age > REAPER_WINDOW_MS) {
      return {
        verdict: "likely_dead",
        idle_seconds,
        heartbeat_age_seconds,
        remedy: "loomcycle has not heard from this run's loop for over 10 minutes; it will mark it failed. Start a new run (cancel_run this one to be sure).",
      };
    }
    return {
      verdict: "stuck",
      idle_seconds,
      heartbeat_age_seconds,
      remedy: "The run is alive but has produced nothing for a while (a slow tool or model call). Wait, or cancel_turn to stop this turn and park it.",
    };
  }
  return {
    verdict: "stuck",
    idle_seconds,
    remedy: "The run has produced nothing for a while and loomcycle reports no heartbeat. Wait, or cancel_turn to stop this turn.",
  };
}

export interface RunSummary {
  run_id: string;
  agent_id: string;
  session_id: string;
  agent?: string;
  state: RunState;
  followed: boolean;
  last_activity_at: string;
  events: number;
  unread: number;
  pending_interrupts: number;
  next_step: string;
  stuck?: StuckInfo;
  /** The state is as of this time (the stream was released and has not caught up since). */
  state_as_of?: string;
}

const NEXT: Record<RunState, string> = {
  starting: "wait: read_run_events with wait_ms",
  running: "read_run_events with wait_ms to follow it",
  awaiting_input: "send_steer with the next instruction (or leave it parked)",
  awaiting_answer: "resolve_interrupt to answer its question",
  completed: "nothing: it finished; read_run_events still reads its log",
  failed: "read its error with read_run_events; start a new run if needed",
  cancelled: "nothing: it was cancelled",
  unreachable: "retry later: the bridge lost loomcycle and keeps re-attaching",
};

export function nextStepFor(state: RunState, stuck?: StuckInfo): string {
  return stuck ? stuck.remedy : NEXT[state];
}

export function summarize(run: TrackedRun, stuck?: StuckInfo): RunSummary {
  const state = run.state;
  const s: RunSummary = {
    run_id: run.runId ?? "",
    agent_id: run.agentId ?? "",
    session_id: run.sessionId ?? "",
    state,
    followed: true,
    last_activity_at: new Date(run.stream.lastActivityAt).toISOString(),
    events: run.events.length,
    unread: Math.max(0, run.events.length - run.readPos),
    pending_interrupts: run.pending.size,
    next_step: nextStepFor(state, stuck),
  };
  if (run.agentName) s.agent = run.agentName;
  if (stuck) s.stuck = stuck;
  const asOf = run.stateAsOf;
  if (asOf) s.state_as_of = asOf;
  return s;
}
