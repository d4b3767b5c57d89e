// One simulated run's agent loop, as loomcycle's loop runs it:
//   - `started` once; each iteration: heartbeat, drain queued steers (each persisted as a
//     user_input row), model call (text / tool_call deltas, then one `usage`), tools;
//   - an interactive turn ending without tool use emits `awaiting_input` and blocks on the
//     steer queue, so a steer queued mid-turn is consumed right after it;
//   - turn cancel: `turn_cancelled` then `awaiting_input`; running tools end as errors;
//   - whole-run cancel: nothing more is persisted and the status becomes `cancelled`.
import { type AgentDef, type Block, type ConvMessage, type Json } from "./agents.js";
import { applyCompaction, compactionSplit, estimateTokens, firstUserMessage, validateImages } from "./conversation.js";
import type { SegmentIn } from "./body.js";
import type { Engine } from "./engine.js";
import { executeTools, modelCall } from "./model-call.js";
import { makeEvent, type RunRec, type Store } from "./store.js";
import { nowNs, rfc3339Nano, scaledSleep, type Rng } from "./util.js";

export const MODEL = "sim-model-1";
export const PROVIDER = "sim";
const MAX_CONTEXT_TOKENS = 200_000;
const STEER_QUEUE_DEPTH = 16;
/** How the summary call of an agent whose summaries fail (`summaryFails`) fails. */
export const SUMMARY_FAILURE = "sim-provider 529: overloaded_error: Overloaded";
export interface SteerMsg {
  kind: "" | "compact";
  text: string;
  source: string;
  keepN?: number;
  keepFirst?: boolean;
}

export interface EngineOptions {
  store: Store;
  rng: Rng;
  speed: number;
  heartbeatMs: number;
  interruptTimeoutMs: number;
}

type Phase = "starting" | "turn" | "parked" | "interrupt" | "ended";
type Cause = { kind: "api"; reason: string } | { kind: "disconnect" } | { kind: "shutdown" } | { kind: "crash" };

export interface StartRunOptions {
  run: RunRec;
  agent: AgentDef;
  interactive: boolean;
  /** Detached (interactive POST /v1/runs): failures are persisted instead of sent live. */
  detached: boolean;
  segments: SegmentIn[];
  /** History replayed before the new input (POST /v1/sessions/{id}/messages). */
  prior?: ConvMessage[];
  /** Live forwarder for bound streams; every emitted event but spawn_child_*. */
  fwd?: (ev: Json) => void;
  /** Called after the run reached its terminal status (live error frame already sent). */
  onEnd?: () => void;
}

export class LiveRun {
  readonly run: RunRec;
  readonly agent: AgentDef;
  readonly interactive: boolean;
  phase: Phase = "starting";
  /** steerReg parked flag: set by awaiting_input, cleared by steer/text/tool_call. */
  parkedFlag = false;
  /** Turn-cancel token armed (interactive run mid-turn). */
  armed = false;
  /** The agent asked for its own compaction (Context op compact): done at the next iteration. */
  compactRequested = false;
  cause?: Cause;
  readonly runAbort = new AbortController();
  messages: ConvMessage[];
  done!: Promise<void>;
  private queue: SteerMsg[] = [];
  private wake?: () => void;
  private turnAbort?: AbortController;
  private turnCancelReason = "";
  private totals = { input_tokens: 0, output_tokens: 0 };
  private heartbeatTimer?: NodeJS.Timeout;
  /** Sleeps scaled by the simulator's speed, ended early by `signal`. */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(
    readonly engine: Engine,
    private readonly opts: StartRunOptions,
  ) {
    this.run = opts.run;
    this.agent = opts.agent;
    this.interactive = opts.interactive;
    this.messages = [...(opts.prior ?? []), ...firstUserMessage(opts.segments)];
    this.sleep = scaledSleep(engine.opts.speed);
  }

  get store(): Store {
    return this.engine.store;
  }

  /** makeRecordingEmit: persist (unless the run context is dead), then forward live. */
  emit(ev: Json): void {
    const type = String(ev.type);
    if (type === "awaiting_input") this.parkedFlag = true;
    else if (type === "steer" || type === "text" || type === "tool_call") this.parkedFlag = false;
    if (type !== "steer" && !this.runAbort.signal.aborted) this.store.appendRow(this.run.id, type, ev);
    if (!type.startsWith("spawn_child")) this.opts.fwd?.(ev);
    this.engine.changed(this.run.id);
  }

  private heartbeat(): void {
    this.store.heartbeat(this.run.id);
  }

  private disarm(): void {
    this.armed = false;
  }

  // -- steering --

  push(m: SteerMsg): "ok" | "full" {
    if (this.queue.length >= STEER_QUEUE_DEPTH) return "full";
    this.queue.push(m);
    const w = this.wake;
    this.wake = undefined;
    w?.();
    return "ok";
  }

  /** makeSteer's OnSteer: persist a user_input row, emit the live steer. */
  private onSteer(m: SteerMsg): void {
    if (!this.runAbort.signal.aborted) {
      this.store.appendRow(this.run.id, "user_input", { type: "user_input" }, [
        { role: "user", content: [{ type: "trusted-text", text: m.text }] },
      ]);
    }
    this.emit(makeEvent({ type: "steer", user_input: { text: m.text, source: m.source, seen_at: rfc3339Nano(nowNs()) } }));
  }

  private applyCompact(m: SteerMsg): void {
    const before = estimateTokens(this.messages);
    this.messages = applyCompaction(this.messages, m.text, m.keepN ?? 0, !!m.keepFirst);
    this.emit(
      makeEvent({
        type: "context_compaction",
        context_compaction: {
          summary: m.text,
          before_tokens: before || undefined,
          after_tokens: estimateTokens(this.messages) || undefined,
          keep_n: m.keepN || undefined,
          keep_first: m.keepFirst || undefined,
        },
      }),
    );
  }

  /** maybeAutoCompact with trigger "self" (the agent asked with the Context tool): the loop
   * summarizes inline; a failed summary changes nothing and is reported as a non-terminal error. */
  private selfCompact(): void {
    const { firstIdx, cut, ok } = compactionSplit(this.messages);
    if (!ok) return;
    if (this.agent.summaryFails) {
      this.emit(makeEvent({ type: "error", error: `compaction summary failed (self): ${SUMMARY_FAILURE}` }));
      return;
    }
    const before = estimateTokens(this.messages);
    const summary = `The operator and the ${this.agent.name} agent exchanged earlier turns; nothing in them is needed verbatim.`;
    const keepN = this.messages.length - cut;
    this.messages = applyCompaction(this.messages, summary, keepN, firstIdx > 0);
    this.emit(
      makeEvent({
        type: "context_compaction",
        context_compaction: {
          summary,
          before_tokens: before || undefined,
          after_tokens: estimateTokens(this.messages) || undefined,
          keep_n: keepN || undefined,
          keep_first: firstIdx > 0 || undefined,
          trigger: "self",
        },
      }),
    );
  }

  private drainSteer(): void {
    while (this.queue.length > 0) {
      const m = this.queue.shift() as SteerMsg;
      if (m.kind === "compact") {
        this.applyCompact(m);
        continue;
      }
      this.messages.push({ role: "user", blocks: [{ type: "text", text: m.text }] });
      this.onSteer(m);
    }
  }

  private nextSteer(): Promise<SteerMsg | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    const signal = this.runAbort.signal;
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        this.wake = undefined;
        resolve(undefined);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.wake = () => {
        signal.removeEventListener("abort", onAbort);
        resolve(this.queue.shift());
      };
      this.phase = "parked";
      this.engine.changed(this.run.id);
    });
  }

  /** parkForOperatorTurn. */
  private async park(iter: number): Promise<boolean> {
    this.emit(makeEvent({ type: "awaiting_input", awaiting_input: { since_turn: iter } }));
    for (;;) {
      const m = await this.nextSteer();
      if (!m) return false;
      if (m.kind === "compact") {
        this.applyCompact(m);
        continue;
      }
      this.phase = "turn";
      this.messages.push({ role: "user", blocks: [{ type: "text", text: m.text }] });
      this.onSteer(m);
      return true;
    }
  }

  /** finishTurnCancel. */
  private async finishTurnCancel(iter: number): Promise<boolean> {
    const reason = this.turnCancelReason;
    this.emit(makeEvent({ type: "turn_cancelled", turn_cancelled: { ...(reason ? { reason } : {}), since_turn: iter } }));
    this.disarm();
    if (this.interactive) return this.park(iter);
    return false;
  }

  /** POST /v1/runs/{id}/cancel on an armed run. */
  cancelTurn(reason: string): void {
    this.turnCancelReason = reason;
    this.armed = false;
    this.turnAbort?.abort();
  }

  /** Whole-run cancel (API) or client disconnect of a bound run. */
  abort(cause: Cause): void {
    if (this.runAbort.signal.aborted) return;
    this.cause = cause;
    this.runAbort.abort();
  }

  // -- the loop --

  start(): void {
    this.heartbeatTimer = setInterval(() => this.heartbeat(), Math.max(50, this.engine.opts.heartbeatMs));
    this.heartbeatTimer.unref();
    this.done = this.loop()
      .then((r) => this.finish(r))
      .catch((err: unknown) => this.finish({ stop: "", error: err instanceof Error ? err.message : String(err), normal: false }));
  }

  private async loop(): Promise<{ stop: string; error?: string; normal: boolean }> {
    const imageErr = validateImages(this.opts.segments);
    if (imageErr) {
      this.emit(makeEvent({ type: "error", error: imageErr }));
      return { stop: "", error: imageErr, normal: false };
    }
    this.emit(makeEvent({ type: "started" }));
    const iterCap = this.interactive ? 1 << 20 : 16;
    let stopReason = "";
    for (let iter = 0; iter < iterCap; iter++) {
      this.disarm();
      this.heartbeat();
      this.drainSteer();
      if (this.compactRequested) {
        this.compactRequested = false;
        this.selfCompact();
      }
      if (this.runAbort.signal.aborted) {
        // Provider.Call on a dead context fails before streaming.
        this.emit(makeEvent({ type: "error", error: "context canceled" }));
        return { stop: "", error: "context canceled", normal: false };
      }
      const turn = new AbortController();
      this.turnAbort = turn;
      this.turnCancelReason = "";
      this.armed = this.interactive;
      this.phase = "turn";
      const turnSignal = AbortSignal.any([turn.signal, this.runAbort.signal]);

      const res = await modelCall(this, iter, turnSignal);
      if (res.kind === "error") {
        this.emit(makeEvent({ type: "error", error: res.error }));
        return { stop: "", error: `provider error: ${res.error ?? ""}`, normal: false };
      }
      const blocks: Block[] = [];
      if (res.text) blocks.push({ type: "text", text: res.text });
      for (const tu of res.tools) blocks.push({ type: "tool_use", ...tu });
      if (res.kind === "ok" || blocks.length > 0) this.messages.push({ role: "assistant", blocks });
      if (res.kind === "ok") {
        const usage = {
          input_tokens: estimateTokens(this.messages.slice(0, -1)) + Math.ceil(this.agent.systemPrompt.length / 4) + 12,
          output_tokens: Math.max(1, estimateTokens(this.messages.slice(-1))),
        };
        this.totals.input_tokens += usage.input_tokens;
        this.totals.output_tokens += usage.output_tokens;
        this.emit(
          makeEvent({
            type: "usage",
            usage: { ...usage, model: MODEL, provider: PROVIDER, max_context_tokens: MAX_CONTEXT_TOKENS },
          }),
        );
      }
      stopReason = res.stop;

      if (res.kind === "turn_cancelled") {
        if (res.tools.length > 0) {
          this.messages.push({
            role: "user",
            blocks: res.tools.map((t) => ({
              type: "tool_result",
              tool_use_id: t.id,
              name: t.name,
              text: "cancelled by operator",
              is_error: true,
            })),
          });
        }
        if (!(await this.finishTurnCancel(iter))) break;
        continue;
      }

      if (res.stop !== "tool_use" || res.tools.length === 0) {
        if (this.interactive && !this.agent.endsRunOnEndTurn) {
          this.disarm();
          if (!(await this.park(iter))) break;
          continue;
        }
        break;
      }

      const results = await executeTools(this, res.tools, turnSignal);
      this.messages.push({ role: "user", blocks: results });
      if (turn.signal.aborted && !this.runAbort.signal.aborted) {
        if (!(await this.finishTurnCancel(iter))) break;
        continue;
      }
      this.disarm();
    }
    if (stopReason === "tool_use") stopReason = "max_iterations";
    this.emit(
      makeEvent({
        type: "done",
        usage: {
          input_tokens: this.totals.input_tokens,
          output_tokens: this.totals.output_tokens,
          model: MODEL,
          provider: PROVIDER,
        },
        stop_reason: stopReason,
      }),
    );
    return { stop: stopReason, normal: true };
  }

  private finish(r: { stop: string; error?: string; normal: boolean }): void {
    clearInterval(this.heartbeatTimer);
    this.disarm();
    if (this.cause?.kind === "crash") {
      // The process died: nothing more is written, the row stays `running` with its last
      // heartbeat, and no replica has a loop for it (loomcycle does not resume such runs).
      this.phase = "ended";
      this.engine.deregister(this);
      this.engine.changed(this.run.id);
      return;
    }
    const totals = r.normal ? { ...this.totals, model: MODEL, provider: PROVIDER } : { input_tokens: 0, output_tokens: 0 };
    if (r.error !== undefined) {
      // The handler reports the loop's error: persisted for a detached run, live-only otherwise.
      const ev = makeEvent({ type: "error", error: r.error });
      if (this.opts.detached) this.emit(ev);
      else this.opts.fwd?.(ev);
    }
    const cause = this.cause;
    if (cause?.kind === "api") this.store.finishRun(this.run.id, "cancelled", cause.reason || "cancelled by api", totals, "");
    else if (cause)
      this.store.finishRun(
        this.run.id,
        "cancelled",
        cause.kind === "disconnect" ? "client disconnected" : "simulator shut down",
        totals,
        "",
      );
    else if (r.error !== undefined) this.store.finishRun(this.run.id, "failed", r.stop, undefined, r.error);
    else this.store.finishRun(this.run.id, "completed", r.stop, totals, "");
    this.phase = "ended";
    this.engine.deregister(this);
    this.engine.changed(this.run.id);
    this.opts.onEnd?.();
  }
}
