// The runs a host can drive, as summaries: followed here, followed by an earlier process
// (from the state file), and the user's running interactive runs on loomcycle.
import type { Bridge } from "../bridge.js";
import type { RunState } from "./run-state.js";
import { assessStuck, LOOP_LOST_REMEDY, summarize, type RunSummary } from "./run-info.js";
import { loopLostFrom } from "./run-stream-client.js";

/** Every run state, in the order a schema lists them. */
export const RUN_STATES = [
  "starting",
  "running",
  "awaiting_input",
  "awaiting_answer",
  "completed",
  "failed",
  "cancelled",
  "unreachable",
] as const satisfies readonly RunState[];

/** loomcycle returns at most this many of a user's runs. */
export const REMOTE_RUNS_MAX = 100;
/** Runs this bridge follows, runs followed by an earlier process, and the user's running interactive runs on loomcycle. */
export async function collectRuns(
  bridge: Bridge,
  signal: AbortSignal,
): Promise<{ runs: RunSummary[]; remoteError?: string; hasMore: boolean }> {
  const out = new Map<string, RunSummary>();
  // Released runs re-attach to show a confirmed state, for a bounded time (then as of their release).
  await bridge.tracker.want(bridge.tracker.list(), { deadline: Date.now() + bridge.timings.attachWithinMs, signal });
  for (const run of bridge.tracker.list()) {
    if (!run.runId) continue;
    const stuck = await assessStuck(run, bridge.client, { signal });
    out.set(run.runId, summarize(run, stuck));
  }
  for (const [runId, e] of bridge.tracker.savedOnly()) {
    if (out.has(runId)) continue;
    const state = (RUN_STATES as readonly string[]).includes(e.state ?? "") ? (e.state as RunState) : "running";
    out.set(runId, {
      run_id: runId,
      agent_id: e.agent_id ?? "",
      session_id: e.session_id ?? "",
      ...(e.agent ? { agent: e.agent } : {}),
      state,
      followed: false,
      // What the earlier process saw (its save time only when it did not record more).
      last_activity_at: e.last_activity_at ?? e.updated_at,
      events: e.events ?? e.read_pos,
      unread: Math.max(0, (e.events ?? e.read_pos) - e.read_pos),
      pending_interrupts: e.pending ?? 0,
      next_step: "followed in an earlier session; read_run_events continues where you left off",
      ...(state === "cancelled" && e.cancelled_by ? { cancelled_by: e.cancelled_by } : {}),
    });
  }
  let remoteError: string | undefined;
  let hasMore = false;
  const userId = bridge.config.userId;
  if (userId) {
    try {
      const res = await bridge.client.listUserAgents(userId, { status: "running" }, { signal });
      // loomcycle's list stops at its cap: more of the user's runs may exist.
      hasMore = res.agents.length >= REMOTE_RUNS_MAX;
      for (const a of res.agents) {
        if (a.interactive !== true || out.has(a.run_id)) continue;
        const r: RunSummary = {
          run_id: a.run_id,
          agent_id: a.agent_id,
          session_id: a.session_id,
          state: "running",
          followed: false,
          last_activity_at: a.last_heartbeat_at ?? a.started_at ?? "",
          events: 0,
          unread: 0,
          pending_interrupts: 0,
          next_step: "started elsewhere (Web UI or another host): attach_run to follow it and see whether it is parked",
        };
        if (a.agent) r.agent = a.agent;
        // loomcycle lists a run whose loop it lost (it restarted) as running too.
        const lost = loopLostFrom(a, Date.now());
        if (lost) {
          const hb = lost.heartbeatAt ? Date.parse(lost.heartbeatAt) : NaN;
          r.stuck = {
            verdict: "likely_dead",
            idle_seconds: 0,
            ...(Number.isFinite(hb) ? { heartbeat_age_seconds: Math.round(Math.max(0, Date.now() - hb) / 1000) } : {}),
            remedy: LOOP_LOST_REMEDY,
          };
          r.next_step = LOOP_LOST_REMEDY;
        }
        out.set(a.run_id, r);
      }
    } catch (err) {
      remoteError = err instanceof Error ? err.message : String(err);
    }
  }
  return remoteError === undefined ? { runs: [...out.values()], hasMore } : { runs: [...out.values()], remoteError, hasMore };
}
