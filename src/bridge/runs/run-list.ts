// The runs a host can drive, as summaries: followed here, followed by an earlier process
// (from the state file), and the user's running interactive runs on loomcycle.
import type { Bridge } from "../bridge.js";
import { isTerminal, type RunState } from "./run-state.js";
import { assessStuck, nextStepFor, summarize, type RunSummary } from "./run-info.js";
import { judgeLoop } from "./liveness.js";
import type { AgentStatus } from "../loomcycle/api-types.js";
import { NotFoundError } from "../loomcycle/errors.js";
import type { SavedRun } from "./state-file.js";
import { listedUserNote } from "../identity.js";

/** At most this many runs followed in an earlier process are looked up per list (the latest used). */
const SAVED_CHECKS = 20;

/** What loomcycle says now of runs followed by an earlier process: their status, or "gone"
 * (no such run); a run not looked up in time is missing from the map (shown as saved). */
async function checkSaved(
  bridge: Bridge,
  saved: ReadonlyArray<[string, SavedRun]>,
  deadline: number,
  signal: AbortSignal,
): Promise<Map<string, AgentStatus | "gone">> {
  const out = new Map<string, AgentStatus | "gone">();
  const latest = saved
    .filter(([, e]) => e.agent_id)
    .sort((a, b) => b[1].updated_at.localeCompare(a[1].updated_at))
    .slice(0, SAVED_CHECKS);
  const bound = AbortSignal.any([signal, AbortSignal.timeout(Math.max(0, deadline - Date.now()))]);
  await Promise.all(
    latest.map(async ([runId, e]) => {
      try {
        const st = await bridge.client.getAgent(e.agent_id!, { signal: bound });
        if (st.run_id === runId) out.set(runId, st);
      } catch (err) {
        if (err instanceof NotFoundError) out.set(runId, "gone");
      }
    }),
  );
  return out;
}

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
  "loop_lost",
] as const satisfies readonly RunState[];

/** loomcycle returns at most this many of a user's runs. */
export const REMOTE_RUNS_MAX = 100;

export interface CollectedRuns {
  runs: RunSummary[];
  hasMore: boolean;
  /** What the list cannot show by itself (loomcycle's list unreadable, runs gone…): the text's note lines. */
  notes: string[];
}

/** Runs this bridge follows, runs followed by an earlier process, and the user's running interactive runs on loomcycle. */
export async function collectRuns(bridge: Bridge, signal: AbortSignal): Promise<CollectedRuns> {
  const notes: string[] = [];
  const out = new Map<string, RunSummary>();
  const deadline = Date.now() + bridge.timings.attachWithinMs;
  const userId = bridge.config.userId;
  // loomcycle's list of the user's running runs: shown for runs not followed here, and the
  // status of each followed one in one request (a loop can be lost while its stream stays open).
  const remote = userId
    ? bridge.client.listUserAgents(userId, { status: "running" }, { signal }).then(
        (r) => ({ agents: r.agents }),
        (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
      )
    : Promise.resolve({ agents: [] as AgentStatus[] });
  // A non-admin token sees only its own subject's runs: an empty list would say nothing of it.
  const whose = userId ? listedUserNote(bridge, userId, "runs", signal) : Promise.resolve(undefined);
  // Released runs re-attach to show a confirmed state, for a bounded time (then as of their release).
  const followed = bridge.tracker.list();
  await bridge.tracker.want(followed, { deadline, signal });
  const listed = await remote;
  const statusOf = new Map("agents" in listed ? listed.agents.map((a) => [a.run_id, a]) : []);
  // Each followed run's loop, judged from a fresh status (bounded like the re-attaches); a run
  // attached just now (restored from the state file) is asked about once its ids came.
  await Promise.race([
    Promise.all(
      followed.map(async (run) => {
        if (!run.known) await run.waitUntil(() => run.known, { deadline, signal });
        const st = run.runId ? statusOf.get(run.runId) : undefined;
        const s = run.stream.state;
        if (st && s.created && !s.terminal && !s.loopCheck && Date.now() - s.loopCheckedAt > s.timings.heartbeatCacheMs)
          return run.stream.noteStatus(st, signal);
        return run.refreshLiveness(signal);
      }),
    ),
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    }),
  ]);
  for (const run of followed) {
    if (!run.runId) continue;
    const stuck = await assessStuck(run, { signal });
    out.set(run.runId, summarize(run, stuck));
  }
  // Runs followed by an earlier process (the state file): what loomcycle says of them now.
  const saved = bridge.tracker.savedOnly().filter(([runId]) => !out.has(runId));
  const checked = await checkSaved(bridge, saved, deadline, signal);
  for (const [runId, e] of saved) {
    const now = checked.get(runId);
    if (now === "gone") {
      bridge.tracker.forgetGone(undefined, runId);
      continue;
    }
    let state = (RUN_STATES as readonly string[]).includes(e.state ?? "") ? (e.state as RunState) : "running";
    let error = e.error;
    let next = "followed in an earlier session; read_run_events continues where you left off";
    if (now) {
      if (now.status !== "running") {
        state = (RUN_STATES as readonly string[]).includes(now.status) ? (now.status as RunState) : state;
        error = now.status === "failed" ? now.error : undefined;
        next = `${nextStepFor(state, undefined, 0, { error })} (followed in an earlier session; read_run_events shows its events)`;
      } else {
        const idle = state === "awaiting_input" || state === "awaiting_answer" || state === "loop_lost";
        const lost = judgeLoop(now, bridge.client.serverNow(), { idle, cluster: await bridge.tracker.cluster?.view(signal) });
        if (lost) {
          state = "loop_lost";
          next = nextStepFor(state, undefined, 0, { lost });
        } else if (state === "loop_lost" || isTerminal(state)) state = "running";
      }
    }
    const r: RunSummary = {
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
      pending_interrupts: state === "awaiting_answer" ? (e.pending ?? 0) : 0,
      next_step: next,
      ...(state === "cancelled" && e.cancelled_by ? { cancelled_by: e.cancelled_by } : {}),
    };
    if (error && state === "failed") r.error = error;
    out.set(runId, r);
  }
  const whoseNote = await whose;
  if (whoseNote) notes.push(whoseNote);
  const gone = bridge.tracker.takeGone();
  if (gone.length > 0)
    notes.push(
      `gone: ${gone.join(", ")}: loomcycle has no such run any more (it was deleted, or loomcycle now uses another database); ${gone.length === 1 ? "it has" : "they have"} left this list`,
    );
  let hasMore = false;
  if ("error" in listed) {
    notes.push(`loomcycle's run list could not be read (${listed.error}); only runs this bridge follows are shown`);
  } else {
    // loomcycle's list stops at its cap: more of the user's runs may exist.
    hasMore = listed.agents.length >= REMOTE_RUNS_MAX;
    const cluster = listed.agents.some((a) => a.replica_id && a.live !== true)
      ? await bridge.tracker.cluster?.view(signal)
      : undefined;
    const now = bridge.client.serverNow();
    for (const a of listed.agents) {
      if (a.interactive !== true || out.has(a.run_id)) continue;
      // loomcycle lists a run whose loop it lost (it restarted, or the replica is dead) as
      // running too. Not followed, the bridge does not know whether it is parked: a parked
      // loop's stale heartbeat counts only once a read shows it parked.
      const lost = judgeLoop(a, now, { idle: false, cluster });
      const state: RunState = lost ? "loop_lost" : "running";
      const r: RunSummary = {
        run_id: a.run_id,
        agent_id: a.agent_id,
        session_id: a.session_id,
        state,
        followed: false,
        last_activity_at: a.last_heartbeat_at ?? a.started_at ?? "",
        events: 0,
        unread: 0,
        pending_interrupts: 0,
        next_step: lost
          ? nextStepFor("loop_lost", undefined, 0, { lost })
          : "started elsewhere (Web UI or another host): attach_run to follow it and see whether it is parked",
      };
      if (a.agent) r.agent = a.agent;
      out.set(a.run_id, r);
    }
  }
  return { runs: [...out.values()], hasMore, notes };
}
