// The run engine: loomcycle's agent loop (internal/loop/loop.go) around a
// scripted agent, plus the in-memory registries the HTTP handlers consult
// (steer queue per run_id, cancel registry per agent_id, turn-cancel token,
// parked flag). Behaviour mirrored from loop.go:
//   - `started` once; each iteration: heartbeat, drain queued steers (each
//     persisted as a user_input row), model call (text / tool_call deltas,
//     then one `usage`), tools (results in completion order);
//   - an interactive turn ending without tool use emits `awaiting_input`
//     {since_turn: iteration} and blocks on the steer queue; a steer queued
//     mid-turn is therefore consumed right after that `awaiting_input`, and
//     any further queued steers at the top of the next iteration;
//   - turn cancel: `turn_cancelled` then `awaiting_input`; running tools end
//     with is_error results;
//   - whole-run cancel: the run context dies, so nothing more is persisted
//     (store writes ride the cancelled context) and the status becomes
//     `cancelled` with the reason as stop_reason.
import { AGENTS, type AgentDef, type Block, type ConvMessage, type Json } from "./agents.js";
import { applyCompaction, estimateTokens, firstUserMessage, validateImages } from "./conversation.js";
import type { SegmentIn } from "./body.js";
import { makeEvent, type InterruptRec, type RunRec, type Store } from "./store.js";
import { goJSON, nowNs, rfc3339Nano, sleep, toolUseId, type Rng } from "./util.js";

export const MODEL = "sim-model-1";
export const PROVIDER = "sim";
const MAX_CONTEXT_TOKENS = 200_000;
const STEER_QUEUE_DEPTH = 16;
const README_TEXT = "# Simulator README\nThis file exists only inside the loomcycle simulator.\n";

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

// ---- one live run -------------------------------------------------------------

interface CallOutcome {
  kind: "ok" | "error" | "turn_cancelled";
  error?: string;
  stop: string;
  text: string;
  tools: Array<{ id: string; name: string; input: Json }>;
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

  constructor(
    private readonly engine: Engine,
    private readonly opts: StartRunOptions,
  ) {
    this.run = opts.run;
    this.agent = opts.agent;
    this.interactive = opts.interactive;
    this.messages = [...(opts.prior ?? []), ...firstUserMessage(opts.segments)];
  }

  private get store(): Store {
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

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return sleep(ms * this.engine.opts.speed, signal);
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
      this.store.appendRow(this.run.id, "user_input", { type: "user_input" }, [{ role: "user", content: [{ type: "trusted-text", text: m.text }] }]);
    }
    this.emit(makeEvent({ type: "steer", user_input: { text: m.text, source: m.source, seen_at: rfc3339Nano(nowNs()) } }));
  }

  private applyCompact(m: SteerMsg): void {
    const before = estimateTokens(this.messages);
    this.messages = applyCompaction(this.messages, m.text, m.keepN ?? 0, !!m.keepFirst);
    this.emit(
      makeEvent({
        type: "context_compaction",
        context_compaction: { summary: m.text, before_tokens: before || undefined, after_tokens: estimateTokens(this.messages) || undefined, keep_n: m.keepN || undefined, keep_first: m.keepFirst || undefined },
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

  private async modelCall(iter: number, signal: AbortSignal): Promise<CallOutcome> {
    const out: CallOutcome = { kind: "ok", stop: "", text: "", tools: [] };
    const gen = this.agent.call({ iter, messages: this.messages, sleep: (ms) => this.sleep(ms, signal), rng: this.engine.rng });
    for await (const ev of gen) {
      if (signal.aborted) break;
      if (ev.type === "text") {
        out.text += ev.text;
        this.emit(makeEvent({ type: "text", text: ev.text }));
      } else if (ev.type === "tool_call") {
        const tu = { id: toolUseId(this.engine.rng), name: ev.name, input: ev.input };
        out.tools.push(tu);
        this.emit(makeEvent({ type: "tool_call", tool_use: tu }));
      } else if (ev.type === "done") {
        out.stop = ev.stop_reason;
      } else {
        out.kind = "error";
        out.error = ev.error;
        break;
      }
    }
    if (out.kind === "ok" && signal.aborted) {
      if (this.runAbort.signal.aborted) {
        // The driver surfaces the dead context as an in-stream error.
        out.kind = "error";
        out.error = "context canceled";
      } else {
        out.kind = "turn_cancelled";
      }
    }
    return out;
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
      if (this.agent.compactionFails) {
        this.emit(makeEvent({ type: "error", error: "compaction summary failed (auto): summarize: sim-provider 529: overloaded_error: Overloaded" }));
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

      const res = await this.modelCall(iter, turnSignal);
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
        this.emit(makeEvent({ type: "usage", usage: { ...usage, model: MODEL, provider: PROVIDER, max_context_tokens: MAX_CONTEXT_TOKENS } }));
      }
      stopReason = res.stop;

      if (res.kind === "turn_cancelled") {
        if (res.tools.length > 0) {
          this.messages.push({
            role: "user",
            blocks: res.tools.map((t) => ({ type: "tool_result", tool_use_id: t.id, name: t.name, text: "cancelled by operator", is_error: true })),
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

      const results = await this.executeTools(res.tools, turnSignal);
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
        usage: { input_tokens: this.totals.input_tokens, output_tokens: this.totals.output_tokens, model: MODEL, provider: PROVIDER },
        stop_reason: stopReason,
      }),
    );
    return { stop: stopReason, normal: true };
  }

  private async executeTools(tools: Array<{ id: string; name: string; input: Json }>, signal: AbortSignal): Promise<Block[]> {
    return Promise.all(
      tools.map(async (tu) => {
        const r = await this.runTool(tu, signal);
        this.emit(makeEvent({ type: "tool_result", text: r.text, tool_use: tu, is_error: r.isError }));
        return { type: "tool_result", tool_use_id: tu.id, name: tu.name, text: r.text, is_error: r.isError } as Block;
      }),
    );
  }

  private async runTool(tu: { name: string; input: Json }, signal: AbortSignal): Promise<{ text: string; isError: boolean }> {
    if (tu.name === "Read") {
      await this.sleep(400, signal);
      if (signal.aborted) return { text: "context canceled", isError: true };
      return { text: README_TEXT, isError: false };
    }
    if (tu.name === "Interruption") return this.ask(tu.input, signal);
    return { text: `unknown tool "${tu.name}"`, isError: true };
  }

  /** The Interruption tool's `ask`: create the row, emit, block until resolved/cancelled/expired. */
  private async ask(input: Json, signal: AbortSignal): Promise<{ text: string; isError: boolean }> {
    const question = typeof input.question === "string" ? input.question : "";
    if (!question) return { text: "ask: missing required field: question", isError: true };
    const options = Array.isArray(input.options) ? input.options.filter((o): o is string => typeof o === "string") : undefined;
    const priority = input.priority === "low" || input.priority === "high" ? input.priority : "normal";
    const timeoutMs = this.engine.opts.interruptTimeoutMs;
    const created = nowNs();
    const rec = this.store.createInterrupt({
      run_id: this.run.id,
      question,
      options: options && options.length > 0 ? options : undefined,
      context_data: typeof input.context === "string" ? input.context : "",
      priority,
      expires_ns: timeoutMs > 0 ? created + BigInt(Math.round(timeoutMs)) * 1_000_000n : undefined,
      user_id: this.run.user_id,
      agent_id: this.run.agent_id,
    });
    this.emit(
      makeEvent({
        type: "interruption_pending",
        interruption: {
          interrupt_id: rec.interrupt_id,
          kind: "question",
          question,
          ...(rec.options ? { options: rec.options } : {}),
          ...(rec.context_data ? { context: rec.context_data } : {}),
          priority,
          ...(rec.expires_ns !== undefined ? { expires_at: rfc3339Nano(rec.expires_ns) } : {}),
        },
      }),
    );
    this.phase = "interrupt";
    this.engine.changed(this.run.id);
    const outcome = await this.engine.waitInterrupt(rec, signal, timeoutMs);
    if (rec.status === "pending") {
      if (outcome === "timeout") this.store.finishInterrupt(rec.interrupt_id, "timed_out", "timeout");
      else this.store.finishInterrupt(rec.interrupt_id, "cancelled", "agent_cancel");
    }
    this.phase = "turn";
    return toolResultForInterrupt(rec);
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
    else if (cause) this.store.finishRun(this.run.id, "cancelled", cause.kind === "disconnect" ? "client disconnected" : "simulator shut down", totals, "");
    else if (r.error !== undefined) this.store.finishRun(this.run.id, "failed", r.stop, undefined, r.error);
    else this.store.finishRun(this.run.id, "completed", r.stop, totals, "");
    this.phase = "ended";
    this.engine.deregister(this);
    this.engine.changed(this.run.id);
    this.opts.onEnd?.();
  }
}

/** The Interruption tool result for the row's final status (toolResultForStatus). */
export function toolResultForInterrupt(row: InterruptRec): { text: string; isError: boolean } {
  switch (row.status) {
    case "resolved":
      return {
        text: goJSON({ answer: row.answer, interrupt_id: row.interrupt_id, resolved_at: row.resolved_ns !== undefined ? rfc3339Nano(row.resolved_ns) : "", resolved_by: row.resolved_by }),
        isError: false,
      };
    case "declined":
      return {
        text: goJSON({ declined: true, interrupt_id: row.interrupt_id, note: "The operator declined to answer; proceed without this input.", resolved_by: row.resolved_by }),
        isError: false,
      };
    case "timed_out":
      return { text: `interruption timed_out (id=${row.interrupt_id}) — no answer received in the allotted window`, isError: true };
    case "cancelled":
      return { text: `interruption cancelled (id=${row.interrupt_id}, resolved_by=${row.resolved_by})`, isError: true };
    default:
      return { text: `interruption in unexpected state "${row.status}" after block (id=${row.interrupt_id})`, isError: true };
  }
}

// ---- the engine (registries) -------------------------------------------------------

export class Engine {
  /** Steer registry: run_id → live run (registered for every live run, interactive or not). */
  readonly byRun = new Map<string, LiveRun>();
  /** Cancel registry: agent_id → live run (removed the moment a cancel fires). */
  readonly byAgent = new Map<string, LiveRun>();
  readonly store: Store;
  readonly rng: Rng;
  private readonly listeners = new Set<(runId: string) => void>();
  private readonly interruptWaiters = new Map<string, () => void>();

  constructor(readonly opts: EngineOptions) {
    this.store = opts.store;
    this.rng = opts.rng;
  }

  static agent(name: string): AgentDef | undefined {
    return AGENTS.get(name);
  }

  /** cancel.Registry.Register: false when the agent_id is already live. */
  agentIdInUse(agentId: string): boolean {
    return this.byAgent.has(agentId);
  }

  start(opts: StartRunOptions): LiveRun {
    const live = new LiveRun(this, opts);
    this.byRun.set(opts.run.id, live);
    this.byAgent.set(opts.run.agent_id, live);
    live.start();
    return live;
  }

  deregister(live: LiveRun): void {
    if (this.byRun.get(live.run.id) === live) this.byRun.delete(live.run.id);
    if (this.byAgent.get(live.run.agent_id) === live) this.byAgent.delete(live.run.agent_id);
  }

  /** cancel.Registry.Cancel: fires and forgets the entry. */
  cancelAgent(agentId: string, reason: string): boolean {
    const live = this.byAgent.get(agentId);
    if (!live) return false;
    this.byAgent.delete(agentId);
    live.abort({ kind: "api", reason });
    return true;
  }

  onChange(fn: (runId: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(runId: string): void {
    for (const fn of [...this.listeners]) fn(runId);
  }

  waitInterrupt(rec: InterruptRec, signal: AbortSignal, timeoutMs: number): Promise<"resolved" | "aborted" | "timeout"> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (how: "resolved" | "aborted" | "timeout"): void => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.interruptWaiters.delete(rec.interrupt_id);
        resolve(how);
      };
      const onAbort = (): void => settle("aborted");
      if (signal.aborted) return settle("aborted");
      signal.addEventListener("abort", onAbort, { once: true });
      this.interruptWaiters.set(rec.interrupt_id, () => settle("resolved"));
      if (timeoutMs > 0) timer = setTimeout(() => settle("timeout"), timeoutMs);
    });
  }

  /** Wake the tool blocked on this interrupt (bus.Notify). */
  notifyInterrupt(id: string): void {
    this.interruptWaiters.get(id)?.();
  }

  /** Drop every live loop as a process crash or restart would: rows untouched. */
  async crash(): Promise<void> {
    const runs = [...this.byRun.values()];
    for (const r of runs) r.abort({ kind: "crash" });
    await Promise.all(runs.map((r) => r.done.catch(() => undefined)));
  }

  /** Stop every live run (simulator shutdown). */
  async shutdown(): Promise<void> {
    const runs = [...this.byRun.values()];
    for (const r of runs) r.abort({ kind: "shutdown" });
    await Promise.all(runs.map((r) => r.done.catch(() => undefined)));
  }
}
