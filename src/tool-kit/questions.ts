// Agent questions put to the person (MCP elicitation). A run started or attached with
// `questions: "human"` has its questions asked, by the tool call that is waiting on the
// run, with `elicitation/create` when the host declared form elicitation:
//   accept  → the bridge resolves the interrupt with the person's answer and keeps waiting;
//   decline → the interrupt is declined and the call keeps waiting;
//   cancel, or no answer within the call's bound → the question stays pending.
// Hosts without elicitation get the usual result plus one line saying so.
import { z } from "zod";
import { given } from "./fields.js";
import { loopLostWhy } from "../bridge/runs/liveness.js";
import { ElicitResultSchema, type ClientCapabilities, type ElicitRequestFormParams } from "@modelcontextprotocol/sdk/types.js";
import type { Bridge } from "../bridge/bridge.js";
import type { PendingInterrupt } from "../bridge/runs/run-state.js";
import type { TrackedRun } from "../bridge/runs/tracked-run.js";
import { redactSecrets } from "../logger.js";
import { visible } from "../render/visible.js";
import { SLACK_MS, callSignal, progressReporter, waitOnRun } from "./call.js";
import type { PersonQuestion } from "./asked.js";
export type { PersonQuestion };
import type { Extra } from "./define-tool.js";

export type QuestionsMode = "host" | "human";

export const questionsField = z
  .enum(["host", "human"], { error: given("questions", '"host" or "human"') })
  .optional()
  .describe(
    'Who answers the agent\'s questions: "host" (you) or "human" (the person is asked, if your host can). Default LOOMCYCLE_MCP_QUESTIONS.',
  );

/** Form elicitation declared: `elicitation: {}` (before modes existed) or `elicitation: {form: {}}`. */
export function hostCanElicitForm(caps: ClientCapabilities | undefined): boolean {
  const e = caps?.elicitation as Record<string, unknown> | undefined;
  if (!e) return false;
  return e.form !== undefined || Object.keys(e).length === 0;
}

/** Questions being asked right now, per run: two calls waiting on one run ask once. */
const asking = new WeakMap<TrackedRun, Set<string>>();

/** The run's mode: set by start_interactive_run or attach_run, else the bridge's default. */
export function questionsMode(run: TrackedRun, bridge: Bridge): QuestionsMode {
  return run.questions ?? bridge.config.questions ?? "host";
}

/**
 * What one tool call puts to the person, across the runs it waits on: which questions it
 * has seen (each is asked at most once per call), which the person resolved, and the
 * outcomes for the result.
 */
export class PersonAsker {
  readonly asked: PersonQuestion[] = [];
  private readonly seen = new Set<string>();
  private readonly resolvedHere = new Set<string>();

  constructor(
    private readonly extra: Extra,
    private readonly bridge: Bridge,
  ) {}

  /**
   * The person resolved every pending question of `run` in this call: loomcycle's stream
   * has not caught up yet, so the run is not at a stop point for this call.
   */
  answeredAll(run: TrackedRun): boolean {
    return (
      run.state === "awaiting_answer" && run.pending.size > 0 && [...run.pending.keys()].every((id) => this.resolvedHere.has(id))
    );
  }

  /** `run` is in human mode and has a question this call has not dealt with. */
  hasOpen(run: TrackedRun): boolean {
    return this.open(run).length > 0;
  }

  private open(run: TrackedRun): PendingInterrupt[] {
    if (questionsMode(run, this.bridge) !== "human" || run.state !== "awaiting_answer") return [];
    return [...run.pending.values()].filter(
      (p) => !this.seen.has(p.interrupt_id) && !this.resolvedHere.has(p.interrupt_id) && !run.answered.has(p.interrupt_id),
    );
  }

  /**
   * Put `run`'s next open question to the person, within `until`. "resolved": the person
   * answered or declined it (the caller waits on); "stop": the caller returns now.
   */
  async askNext(run: TrackedRun, until: number): Promise<"resolved" | "stop"> {
    const open = this.open(run);
    if (open.length === 0) return "stop";
    if (!(this.extra.canElicit?.() ?? false)) {
      for (const p of open) {
        this.seen.add(p.interrupt_id);
        this.asked.push({
          ...base(p),
          outcome: "not_asked",
          note: "this host does not support MCP elicitation; answer it with resolve_interrupt",
        });
      }
      return "stop";
    }
    const inFlight = asking.get(run) ?? new Set<string>();
    asking.set(run, inFlight);
    const q = open.find((p) => !inFlight.has(p.interrupt_id));
    if (!q) return "stop"; // another call is asking the person right now
    this.seen.add(q.interrupt_id);
    // Nothing would read the person's answer to a run whose loop loomcycle lost.
    if (await run.loopGoneNow(callSignal(this.extra, { started: Date.now(), hardUntil: until }))) {
      this.asked.push({ ...base(q), outcome: "not_asked", note: `${loopLostWhy(run.lostLoop!)} Start a new run to go on.` });
      return "stop";
    }
    const timeLeft = until - Date.now();
    if (timeLeft < 1000) {
      this.asked.push({
        ...base(q),
        outcome: "no_answer",
        note: "no time left in this call to ask the person; it stays pending",
      });
      return "stop";
    }
    inFlight.add(q.interrupt_id);
    let outcome: PersonQuestion;
    try {
      outcome = await askPerson(run, q, timeLeft, until, this.extra, this.bridge);
    } finally {
      inFlight.delete(q.interrupt_id);
    }
    this.asked.push(outcome);
    if (outcome.outcome !== "answered" && outcome.outcome !== "declined") return "stop";
    this.resolvedHere.add(q.interrupt_id);
    return "resolved";
  }
}

/**
 * `waitOnRun` for the calls that wait on a run, with the run's questions put to the person
 * when it is in "human" mode. `asked` collects what happened to each question, for the result.
 */
export async function waitAsking(
  run: TrackedRun,
  done: () => boolean,
  until: number,
  extra: Extra,
  bridge: Bridge,
  asked: PersonQuestion[],
): Promise<"done" | "timeout" | "aborted"> {
  const asker = new PersonAsker(extra, bridge);
  try {
    for (;;) {
      const r = await waitOnRun(run, () => done() && !asker.answeredAll(run), until, extra, bridge);
      if (r !== "done" || (await asker.askNext(run, until)) === "stop") return r;
    }
  } finally {
    asked.push(...asker.asked);
  }
}

function base(p: PendingInterrupt): Pick<PersonQuestion, "interrupt_id" | "question"> {
  return { interrupt_id: p.interrupt_id, question: p.question };
}

async function askPerson(
  run: TrackedRun,
  q: PendingInterrupt,
  timeoutMs: number,
  until: number,
  extra: Extra,
  bridge: Bridge,
): Promise<PersonQuestion> {
  const options = q.options && q.options.length > 0 ? q.options : undefined;
  const params: ElicitRequestFormParams = {
    // Shown to the person: no control character of the agent's reaches the host's form raw.
    message: visible(
      `The loomcycle agent "${run.agentName ?? "(unknown)"}" (run ${run.runId ?? "?"}) asks:\n\n${q.question}\n\n` +
        `Answer it, decline to refuse the question, or cancel to leave it pending for the assistant.`,
    ),
    requestedSchema: {
      type: "object",
      properties: {
        answer: options
          ? { type: "string", title: "Answer", description: "Choose one", enum: options }
          : { type: "string", title: "Answer", description: "Your answer", minLength: 1 },
      },
      required: ["answer"],
    },
  };
  let res;
  // The call is still waiting (on the person now): keep the host's progress coming.
  const tick = progressReporter(extra, () => `run ${run.runId ?? "?"}: waiting for the person to answer ${q.interrupt_id}`);
  const ticker = setInterval(tick, bridge.timings.progressEveryMs);
  try {
    res = await extra.sendRequest({ method: "elicitation/create", params }, ElicitResultSchema, {
      signal: extra.signal,
      timeout: timeoutMs,
    });
  } catch (err) {
    const why = extra.signal.aborted
      ? "the call was cancelled"
      : `no answer within this call's wait (${Math.round(timeoutMs / 1000)} s)`;
    bridge.logger.debug({ err: err instanceof Error ? err.message : String(err) }, "elicitation ended without an answer");
    return { ...base(q), outcome: "no_answer", note: `${why}; it stays pending` };
  } finally {
    clearInterval(ticker);
  }
  if (res.action === "cancel") return { ...base(q), outcome: "no_answer", note: "the person cancelled; it stays pending" };
  const runId = run.runId ?? "";
  // Delivering the answer fits in what is left of the call's bound.
  const signal = callSignal(extra, { started: Date.now(), hardUntil: until + SLACK_MS - 1000 });
  try {
    if (res.action === "decline") {
      await bridge.client.resolveInterrupt(
        runId,
        q.interrupt_id,
        { kind: "question", disposition: "declined", resolved_by: "mcp-elicitation" },
        { signal },
      );
      run.noteAnswered(q.interrupt_id);
      run.marks.noteAnswer(q.interrupt_id, { by: "elicitation", declined: true });
      return { ...base(q), outcome: "declined" };
    }
    const answer = typeof res.content?.answer === "string" ? res.content.answer.trim() : "";
    if (answer === "" || (options && !options.includes(answer))) {
      return {
        ...base(q),
        outcome: "no_answer",
        note: `the host returned no valid answer${options ? ` (allowed: ${options.join(", ")})` : ""}; it stays pending`,
      };
    }
    await bridge.client.resolveInterrupt(
      runId,
      q.interrupt_id,
      { kind: "question", answer, resolved_by: "mcp-elicitation" },
      { signal },
    );
    run.noteAnswered(q.interrupt_id);
    run.marks.noteAnswer(q.interrupt_id, { by: "elicitation", answer });
    return { ...base(q), outcome: "answered", answer };
  } catch (err) {
    const msg = redactSecrets(err instanceof Error ? err.message : String(err), bridge.secrets);
    return {
      ...base(q),
      outcome: "no_answer",
      note: `the person's ${res.action === "decline" ? "decline" : "answer"} could not be delivered to loomcycle (${msg}); check pending_interrupts`,
    };
  }
}
