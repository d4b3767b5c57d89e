// What the host's model and the person at the run console can do to a run, one function
// each, shared by the model's tools (send_steer, resolve_interrupt, cancel_turn, cancel_run)
// and the console's console_act, so both go through the same checks: a steer is never sent
// twice blindly (one retry after a 429, a re-send only where a cluster replica refused it
// before queueing), an answer is checked against the question's options and the run's loop
// before loomcycle is called. Each records who acted (run-marks.ts), so every later read
// shows the input, answer or cancel as the host's or the person's. None of them reads the
// run: the caller decides whether (and for whom) to read. loomcycle's refusals are thrown
// as they come; the calling tool words them (its errors map; console_act uses the map of
// the model's tool for the same action).
import { setTimeout as sleep } from "node:timers/promises";
import { LoomcycleError, NotFoundError, RateLimitedError, ToolError } from "../bridge/loomcycle/errors.js";
import type { CancelAgentResult } from "../bridge/loomcycle/api-types.js";
import { loopLostRefusal } from "../bridge/runs/liveness.js";
import type { Actor } from "../bridge/runs/run-marks.js";
import { isTerminal, type PendingInterrupt } from "../bridge/runs/run-state.js";
import type { TrackedRun } from "../bridge/runs/tracked-run.js";
import type { ToolContext } from "./define-tool.js";

/** What an action needs of its tool call. */
export type ActionContext = Pick<ToolContext, "bridge" | "extra" | "clock" | "signal">;

/** Re-sends after a cluster replica that does not run the run refused a steer (see deliverSteer). */
const OTHER_REPLICA_TRIES = 8;

/** loomcycle's `resolved_by` for an answer sent here: the host's model, or the person at the console. */
const RESOLVED_BY: Record<Actor, string> = { host: "mcp", person: "mcp-console" };

/** The reason loomcycle records for a run cancel sent without one. */
const CANCEL_REASON: Record<Actor, string> = {
  host: "cancelled via loomcycle-mcp-bridge",
  person: "cancelled by the person from the run console (loomcycle-mcp-bridge)",
};

/**
 * Deliver `text` to the run as `by`'s next input (queued when it is mid-turn). Returns once
 * loomcycle accepted it; its echo in the log is marked as `by`'s. Throws (a ToolError that
 * says whether it was delivered) otherwise.
 */
export async function deliverSteer(ctx: ActionContext, run: TrackedRun, runId: string, text: string, by: Actor): Promise<void> {
  const { bridge, extra, clock: c } = ctx;
  const before = run.state;
  if (isTerminal(before)) {
    const why = run.stateDetail.error ? `; loomcycle recorded "${run.stateDetail.error}" as its reason` : "";
    throw new ToolError(
      `Run ${runId} has ended (state ${before})${why}; it cannot take more input. Start a new run with start_interactive_run.`,
    );
  }
  // loomcycle would refuse it (404): say why without sending.
  const lost = run.lostLoop;
  if (lost) throw new ToolError(loopLostRefusal(runId, lost, "The message was NOT sent."));
  const mark = run.events.length;
  let otherReplica = 0;
  /** The replica loomcycle says runs it, once asked (null: none named, not a cluster's other replica). */
  let owner: { replica: string; reportedAgoMs?: number } | null | undefined;
  let rateRetried = false;
  // Its echo is `by`'s input; forgotten again if it was not sent.
  const forget = run.marks.expectInput(text, by);
  for (;;) {
    try {
      const res = await bridge.client.sendInput(runId, text, { signal: ctx.signal() });
      if (res.delivered) {
        // Until its echo arrives the log still ends parked: the state says a turn is coming.
        run.noteDelivered(text, mark);
        return;
      }
      throw new ToolError(
        `loomcycle did not accept the message for run ${runId} (delivered: false). Call read_run_events to check the run's state.`,
      );
    } catch (caught) {
      let err = caught;
      // 429 means "not queued": one retry after the stated delay is safe, if it fits.
      const wait = err instanceof RateLimitedError ? (err.retryAfterMs ?? 1000) : undefined;
      if (!rateRetried && wait !== undefined && Date.now() + wait < c.hardUntil - 1500) {
        rateRetried = true;
        await sleep(wait, undefined, { signal: extra.signal }).catch(() => undefined);
        if (extra.signal.aborted) {
          forget();
          throw new ToolError("Cancelled by the host before the retry: the message was NOT delivered.");
        }
        continue;
      }
      // "No in-flight run" refuses before anything is queued. While loomcycle still lists
      // the run as running, ask why: its loop is gone, or (cluster) the replica that
      // answered is not the one running it — loomcycle v1.59 does not forward an HTTP steer
      // between replicas — so sending again, which a load balancer routes anew, is safe.
      if (err instanceof NotFoundError) {
        // Looked up once a call: between re-sends, an extra request would keep a
        // round-robin balancer sending each one to the same wrong replica.
        if (owner === undefined) {
          owner = (await run.loopOwner(extra.signal)) ?? null;
          const gone = run.lostLoop;
          if (gone) err = new ToolError(loopLostRefusal(runId, gone, "The message was NOT delivered."));
        }
        if (owner && !run.loopLost) {
          if (otherReplica++ < OTHER_REPLICA_TRIES && Date.now() < c.hardUntil - 1500) {
            // A short random pause, so other traffic through the balancer does not keep
            // this request in step with the same replica.
            await sleep(10 + Math.random() * 50, undefined, { signal: extra.signal }).catch(() => undefined);
            continue;
          }
          err = new ToolError(otherReplicaRefusal(runId, owner));
        }
      }
      // Refused outright (not a lost answer): no echo will come.
      if (err instanceof ToolError || (err instanceof LoomcycleError && err.status !== undefined && err.status < 500)) forget();
      throw err;
    }
  }
}

/** A live replica reports to the cluster every 30 s; one silent longer has missed a report. */
const MISSED_REPORT_MS = 45_000;

/**
 * Every try landed on a replica that does not run the run (loomcycle v1.59 does not pass an
 * HTTP steer on). Whether sending again can help depends on the owner: loomcycle calls a
 * replica dead 90 s after its last report, but one that has missed a report is likely down.
 */
function otherReplicaRefusal(runId: string, owner: { replica: string; reportedAgoMs?: number }): string {
  const tries = OTHER_REPLICA_TRIES + 1;
  const age = owner.reportedAgoMs;
  if (age !== undefined && age > MISSED_REPORT_MS)
    return `Run ${runId} runs on loomcycle replica ${owner.replica}, which has not reported to the cluster for ${Math.round(age / 1000)} s (a live replica reports every 30 s; loomcycle counts one dead after 90 s): it has likely stopped, and then the run cannot take input. The message was NOT delivered: the ${tries} replicas that answered do not run the run. Call read_run_events in a minute: state loop_lost means ${owner.replica} is dead (start a new run); send the message again only if it is not.`;
  const reported = age !== undefined ? `, which last reported to the cluster ${Math.round(age / 1000)} s ago` : "";
  return `The loomcycle replica that answered does not run ${runId} (it runs on replica ${owner.replica}${reported}) and did not pass the message on, ${tries} times: it was NOT delivered. Send it again, or point LOOMCYCLE_BASE_URL at that replica (or a load balancer that routes by run).`;
}

export interface AnswerArgs {
  interruptId: string;
  /** The answer (trimmed, non-empty) unless `decline`. */
  answer: string;
  decline: boolean;
}

/**
 * Answer (or decline) one of the run's questions as `by`. Checked before loomcycle is
 * called: the question must be pending, the answer one of its options when it has some,
 * and the run's loop alive (loomcycle takes an answer for a run whose loop it lost, and
 * nothing reads it). Returns loomcycle's status once it accepted it.
 */
export async function answerQuestion(
  ctx: ActionContext,
  run: TrackedRun,
  runId: string,
  args: AnswerArgs,
  by: Actor,
): Promise<"resolved" | "declined"> {
  const { bridge } = ctx;
  const { interruptId, answer, decline } = args;
  let q: (PendingInterrupt & { status?: string }) | undefined = run.pending.get(interruptId);
  if (!q) {
    const list = await bridge.client.listRunInterrupts(runId, { status: "all" }, { signal: ctx.signal() });
    const row = list.interrupts.find((r) => r.interrupt_id === interruptId);
    if (!row) {
      const pend = [...run.pending.keys()];
      throw new ToolError(
        `Run ${runId} has no interrupt ${interruptId}. ${pend.length ? `Pending: ${pend.join(", ")}.` : "It has no pending question."} Call read_run_events to see pending_interrupts.`,
      );
    }
    if (row.status !== "pending") {
      throw new ToolError(
        `Interrupt ${interruptId} is already ${row.status}; it cannot be answered again. Call read_run_events to see what the run did next.`,
      );
    }
    q = { interrupt_id: row.interrupt_id, question: row.question ?? "", status: row.status };
    if (row.options && row.options.length > 0) q.options = [...row.options];
  }
  if (!decline && q.options && q.options.length > 0 && !q.options.includes(answer)) {
    throw new ToolError(
      `The answer must be one of the question's options: ${q.options.map((o) => JSON.stringify(o)).join(", ")} (got ${JSON.stringify(answer)}). Or pass decline: true.`,
    );
  }
  // loomcycle takes an answer for a run that ended, or whose loop it lost (it keeps such a
  // run's question pending), and nothing reads it.
  const notSent = `The ${decline ? "decline" : "answer"} was NOT sent.`;
  const ended = run.state;
  if (isTerminal(ended)) {
    const why = run.stateDetail.error ? `; loomcycle recorded "${run.stateDetail.error}" as its reason` : "";
    throw new ToolError(
      `Run ${runId} has ended (state ${ended})${why}; nothing will read an answer to its question, though loomcycle may still list it pending. ${notSent} Start a new run to go on.`,
    );
  }
  if (await run.loopGoneNow(ctx.signal())) throw new ToolError(loopLostRefusal(runId, run.lostLoop!, notSent));
  const res = await bridge.client.resolveInterrupt(
    runId,
    interruptId,
    decline
      ? { kind: "question", disposition: "declined", resolved_by: RESOLVED_BY[by] }
      : { kind: "question", answer, resolved_by: RESOLVED_BY[by] },
    { signal: ctx.signal() },
  );
  run.noteAnswered(interruptId);
  run.marks.noteAnswer(interruptId, decline ? { by, declined: true } : { by, answer });
  return res.status === "declined" || decline ? "declined" : "resolved";
}

/**
 * Stop the run's current turn as `by` (it parks again). Returns the log's length before the
 * request: the `turn_cancelled` and the park come after it, and are marked as `by`'s.
 */
export async function stopTurn(
  ctx: ActionContext,
  run: TrackedRun,
  runId: string,
  reason: string | undefined,
  by: Actor,
): Promise<number> {
  if (isTerminal(run.state)) throw new ToolError(`Run ${runId} has ended (state ${run.state}); there is no turn to stop.`);
  const lost = run.lostLoop;
  if (lost) throw new ToolError(loopLostRefusal(runId, lost, "Nothing was stopped."));
  const mark = run.events.length;
  const forget = run.marks.expectTurnCancel(mark, by);
  try {
    await ctx.bridge.client.cancelTurn(runId, reason, { signal: ctx.signal() });
  } catch (err) {
    // Refused outright (not mid-turn, not interactive): no turn_cancelled will come. (After
    // an ambiguous failure one may; a park without it ends the expectation.)
    if (err instanceof LoomcycleError && err.status !== undefined && err.status < 500) forget();
    // "No in-flight run" for a run loomcycle still lists: its loop is gone (a restart).
    if (err instanceof NotFoundError && (await run.loopGoneNow(ctx.signal())))
      throw new ToolError(loopLostRefusal(runId, run.lostLoop!, "Nothing was stopped."));
    throw err;
  }
  return mark;
}

/**
 * End the whole run as `by` (POST /v1/agents/{agent_id}/cancel). Returns loomcycle's answer;
 * when it cancelled the run, the run is marked cancelled by `by` and its stream reconnects
 * at once so the bridge confirms the final state.
 */
export async function endRun(
  ctx: ActionContext,
  run: TrackedRun,
  runId: string,
  reason: string | undefined,
  by: Actor,
): Promise<CancelAgentResult> {
  if (!run.agentId) throw new ToolError(`loomcycle has not told the bridge run ${runId}'s agent_id yet; try again in a moment.`);
  const res = await ctx.bridge.client.cancelAgent(run.agentId, reason ?? CANCEL_REASON[by], { signal: ctx.signal() });
  if (res.cancelled) run.marks.noteRunCancel(by);
  // The stream ends with a bare EOF; the bridge confirms the outcome with a status lookup.
  run.retryNow();
  return res;
}
