// Run summaries shared by list_runs, the run resources and read results: ids, state,
// last activity, the one next-step table, and stuck detection.
import type { TrackedRun } from "./tracked-run.js";
import type { RunState } from "./run-state.js";
import { REAPER_WINDOW_MS } from "../timings.js";
import type { Actor } from "./run-marks.js";
import { loopLostRemedy, type LoopLost } from "./liveness.js";

export interface StuckInfo {
  verdict: "stuck" | "likely_dead";
  idle_seconds: number;
  heartbeat_age_seconds?: number;
  remedy: string;
}

/** `p`, or undefined as soon as `signal` aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, () => resolve(undefined)).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Stuck verdict for a running run silent for its `stuckAfterMs` (timings.ts), else undefined. loomcycle
 * refreshes a live loop's heartbeat every 30 s and fails a run 10 minutes without one, so
 * a fresh heartbeat means "stuck" (a hung tool or model call), an older one "likely_dead".
 * (A run whose loop loomcycle no longer runs is not stuck: its state says `loop_lost`.)
 */
export async function assessStuck(
  run: TrackedRun,
  opts: { now?: number; signal?: AbortSignal } = {},
): Promise<StuckInfo | undefined> {
  const now = opts.now ?? Date.now();
  const { stuckAfterMs: after, heartbeatCacheMs } = run.stream.state.timings;
  if (run.state !== "running") return undefined;
  const idleMs = now - run.lastActivityAt;
  if (idleMs < after || !run.agentId) return undefined;
  // Never trust a heartbeat reading older than the stuck window itself.
  await abortable(run.stream.checkLoopIfStale(Math.min(heartbeatCacheMs, after), opts.signal), opts.signal);
  if (run.state !== "running") return undefined; // the lookup found the loop gone
  const idle_seconds = Math.round(idleMs / 1000);
  const heartbeat = run.stream.state.lastStatus?.last_heartbeat_at;
  const hb = heartbeat ? Date.parse(heartbeat) : NaN;
  if (Number.isFinite(hb)) {
    const age = Math.max(0, now - hb);
    const heartbeat_age_seconds = Math.round(age / 1000);
    if (age > REAPER_WINDOW_MS) {
      return {
        verdict: "likely_dead",
        idle_seconds,
        heartbeat_age_seconds,
        remedy:
          "loomcycle has not heard from this run's loop for over 10 minutes; it will mark it failed. Start a new run (cancel_run this one to be sure).",
      };
    }
    return {
      verdict: "stuck",
      idle_seconds,
      heartbeat_age_seconds,
      remedy:
        "The run is alive but has produced nothing for a while (a slow tool or model call). Wait, or cancel_turn to stop this turn and park it.",
    };
  }
  return {
    verdict: "stuck",
    idle_seconds,
    remedy:
      "The run has produced nothing for a while and loomcycle reports no heartbeat. Wait, or cancel_turn to stop this turn.",
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
  /** Cancelled through this bridge, by the host's model or the person. */
  cancelled_by?: Actor;
  /** Why the run failed, as loomcycle recorded it (its `error` field: e.g. "heartbeat timeout"
   * when its sweeper ended the run, which writes no event). */
  error?: string;
}

/** The one table of what to do next in each state, for tool results, lists and resources. */
const NEXT_STEP: Record<RunState, string> = {
  starting: "wait: call read_run_events with wait_ms to see it start",
  running: "call read_run_events with wait_ms (e.g. 25000) to follow it",
  awaiting_input: "send_steer to give it its next instruction, or leave it parked",
  awaiting_answer: "answer the pending question with resolve_interrupt",
  completed: "nothing: the run finished; its log stays readable",
  failed: "the run failed (its error events say why); start a new run if needed",
  cancelled: "nothing: the run was cancelled",
  unreachable: "retry later: the bridge lost loomcycle and keeps trying to re-attach",
  loop_lost: "start a new run to go on: loomcycle no longer runs this run's loop, so it cannot take a steer or an answer",
};

/** What is known of why a run is where it is, beyond its state: the next step says it. */
export interface StateDetail {
  /** loomcycle no longer runs the loop (state loop_lost). */
  lost?: LoopLost | undefined;
  /** loomcycle's own record of why the run ended (its `error` field), when it has one. */
  error?: string | undefined;
}

/** The next step of a state, with what is known of why. */
export function stateStep(state: RunState, detail: StateDetail = {}): string {
  if (state === "loop_lost" && detail.lost) return loopLostRemedy(detail.lost);
  if (state === "failed" && detail.error)
    return `the run failed: loomcycle recorded "${detail.error}" as its reason (in error); start a new run if needed`;
  return NEXT_STEP[state];
}

/**
 * What the host should do next after a read, from everything it has not seen yet: events
 * left after this page come first (a parked run's "send_steer" would answer a turn the
 * host has not read), then a stuck run's remedy, then the state's own step.
 */
export function nextStep(
  state: RunState,
  unseen: {
    hasMore?: boolean;
    skipped?: { readPos: number; count: number };
    reread?: { readPos: number };
    stuck?: StuckInfo;
    /** The call's own next step, instead of the state's. */
    then?: string;
  } & StateDetail = {},
): string {
  const then = unseen.stuck ? unseen.stuck.remedy : (unseen.then ?? stateStep(state, unseen));
  if (unseen.reread)
    return `this was a re-read of events you were already given; your read position stays at ${unseen.reread.readPos}: read_run_events without a cursor goes on from there (with cursor=next_cursor to re-read further); then: ${then}`;
  if (unseen.skipped) {
    const { readPos, count } = unseen.skipped;
    return `call read_run_events without a cursor for the ${count} earlier event${count === 1 ? "" : "s"} you have not been given (from position ${readPos}; your read position stays there); then: ${then}`;
  }
  if (unseen.hasMore)
    return `call read_run_events again now (no cursor, no wait) for the events after next_cursor that this page left out; then: ${then}`;
  return then;
}

/** The next step in a run list: unread events come first. */
export function nextStepFor(state: RunState, stuck?: StuckInfo, unread = 0, detail: StateDetail = {}): string {
  const then = stuck ? stuck.remedy : stateStep(state, detail);
  if (unread > 0 && state !== "running" && state !== "starting")
    return `read_run_events to read its ${unread} unread event${unread === 1 ? "" : "s"}; then ${then}`;
  return then;
}

export function summarize(run: TrackedRun, stuck?: StuckInfo): RunSummary {
  const state = run.state;
  const unread = Math.max(0, run.knownLength - run.readPos);
  const s: RunSummary = {
    run_id: run.runId ?? "",
    agent_id: run.agentId ?? "",
    session_id: run.sessionId ?? "",
    state,
    followed: true,
    last_activity_at: new Date(run.lastActivityAt).toISOString(),
    events: run.knownLength,
    unread,
    pending_interrupts: run.openQuestions.length,
    next_step: nextStepFor(state, stuck, unread, run.stateDetail),
  };
  if (run.agentName) s.agent = run.agentName;
  const error = run.stateDetail.error;
  if (error) s.error = error;
  if (stuck) s.stuck = stuck;
  const asOf = run.stateAsOf;
  if (asOf) s.state_as_of = asOf;
  if (state === "cancelled" && run.marks.cancelledBy) s.cancelled_by = run.marks.cancelledBy;
  return s;
}
