// One tracked run: its event log (RunStream), its state derived from the events, pending
// interrupts, summed usage, the host's read position, and waits that end at a stop point,
// at a deadline, or when the host cancels the call.
import type { LoomEvent } from "../loomcycle/events.js";
import type { EventLog } from "./event-log.js";
import type { RunStream } from "./run-stream.js";
import { segmentsText } from "./replay.js";
import type { RunStreamClient } from "./run-stream-client.js";
import type { TerminalInfo } from "./run-stream-state.js";
import type { Logger } from "../../logger.js";
import { NotFoundError, type LoomcycleError } from "../loomcycle/errors.js";
import { pendingInterrupt, type PendingInterrupt, type RunState, type UsageTotals } from "./run-state.js";
import { COMPACTION_SOURCE, RunMarks } from "./run-marks.js";
import type { LoopLost } from "./liveness.js";
import type { StateDetail } from "./run-info.js";

/** A released run keeps a log of up to this many events in memory (re-fetching it would cost more than it holds). */
export const DROP_LOG_ABOVE = 512;

type Base = "running" | "awaiting_input" | "awaiting_answer";

export class TrackedRun {
  /** Where the host last read to: the next read starts here, and it never passes an event the host was not given. */
  readPos = 0;
  /** The first replay after attaching has been waited for (tools wait once). */
  settled = false;
  /** Last time a tool or resource used this run (finished runs unused for long are dropped,
   * parked ones release their stream). */
  lastUsedAt = Date.now();
  /** Waits and subscriptions that need the run's stream open now. */
  private holds = 0;
  /** The user's prompt when this bridge started the run (to strip the system prompt). */
  prompt: string | undefined;
  /** The loomcycle agent's name, when known (start body, or a status lookup). */
  agentName: string | undefined;
  /** Who answers this run's questions: the host model, or the person (MCP elicitation); unset: the bridge's default. */
  questions: "host" | "human" | undefined;
  readonly pending = new Map<string, PendingInterrupt>();
  readonly usage: UsageTotals = { input_tokens: 0, output_tokens: 0 };
  /** Interrupts answered through this bridge whose tool_result has not arrived yet. */
  readonly answered = new Set<string>();
  /** Who sent the inputs, turn cancels, answers and run cancel that went through this
   * bridge (the host's model or the person at the run console), also after a restart. */
  readonly marks = new RunMarks();
  /** This bridge started the run: its opening steer is the host's. */
  startedHere = false;
  /** The bridge knew the run before this attach (a state file entry, or an earlier follow):
   * loomcycle saying it has no such run means the run is gone, not mistyped. */
  knownBefore = false;
  /** What an earlier process saw of this run (state file): its log length and the time of
   * its last event. Until the replay passes that length, the replayed events are not new
   * activity, and the run is known to have at least that many events. */
  saved: { events: number; lastActivityAt: number } | undefined;
  /** Steers loomcycle accepted (their trimmed text) whose `steer` frame has not arrived yet: a
   * turn is coming, though the log still ends parked (loomcycle's tail shows the steer 0–250 ms
   * after the 200, usually with the whole turn). */
  private readonly awaitingEcho: string[] = [];
  private base: Base = "running";
  private processed = 0;
  /** An event is being folded in (see catchUp). */
  private folding = false;
  private interruptToolCalls = new Map<string, string>(); // tool_use id → interrupt_id
  private lastInterruptToolUse: string | undefined;
  private openingText: string | undefined;
  /** Position and raw text of the run's first steer (the opening prompt, maybe with the system prompt). */
  private openingPos: number | undefined;
  private openingRaw = "";
  private openingLookup: Promise<void> | undefined;

  constructor(
    readonly stream: RunStream,
    private readonly client: RunStreamClient,
    private readonly log: Logger,
  ) {
    // Fold each event as the stream appends it (no read-back from the compact log).
    stream.state.onEvent((e, position) => {
      if (position !== this.processed) this.catchUp();
      if (position === this.processed) this.fold(e, position);
    });
    stream.state.onChange(() => this.catchUp());
    stream.state.isIdle = () => {
      const st = this.state;
      return st === "awaiting_input" || st === "awaiting_answer" || st === "loop_lost";
    };
  }

  get runId(): string | undefined {
    return this.stream.state.runId;
  }
  get agentId(): string | undefined {
    return this.stream.state.agentId;
  }
  get sessionId(): string | undefined {
    return this.stream.state.sessionId;
  }
  get events(): EventLog {
    return this.stream.state.events;
  }

  get state(): RunState {
    this.catchUp();
    const s = this.stream.state;
    if (s.terminal) return s.terminal.status;
    if (s.fatal) return s.created ? "unreachable" : "failed";
    // What loomcycle said of the loop stands while the stream is down: it will not come back.
    if (s.created && s.loopLost) return "loop_lost";
    // After a release, a failed re-attach leaves the state as of the release (stateAsOf says so).
    if (s.phase === "reconnecting" && s.lastError && this.confirmed) return "unreachable";
    if (!s.created) return "starting";
    if (this.openQuestionIds().length > 0) return "awaiting_answer";
    // Input this bridge delivered (an answer, a steer) whose turn the log does not show yet.
    if (this.pending.size > 0 || this.awaitingEcho.length > 0) return "running";
    return this.base;
  }

  private openQuestionIds(): string[] {
    return [...this.pending.keys()].filter((id) => !this.answered.has(id));
  }

  /** The questions that wait for an answer: none once the run ended or lost its loop (loomcycle
   * lists a swept run's question as pending, and takes an answer nothing reads), nor one this
   * bridge has answered (its result is on the way). */
  get openQuestions(): PendingInterrupt[] {
    const st = this.state;
    if (st === "loop_lost" || st === "completed" || st === "failed" || st === "cancelled") return [];
    return this.openQuestionIds().map((id) => ({ ...this.pending.get(id)! }));
  }

  /** loomcycle accepted an answer (or a decline) sent through this bridge: until the question's
   * result arrives, the run's state says a turn is coming (`running`). */
  noteAnswered(interruptId: string): void {
    this.answered.add(interruptId);
    this.stream.state.emit();
  }

  /**
   * loomcycle accepted a steer (its 200): until its `steer` frame arrives, the run's state says
   * a turn is coming (`running`), not the park the log still ends with. `since`: the log's
   * length when the steer was sent (its echo may already be there).
   */
  noteDelivered(text: string, since: number): void {
    const t = text.trim();
    const ev = this.stream.state.events;
    for (let i = Math.max(since, ev.firstHeld); i < ev.length; i++) {
      const e = ev.at(i);
      if (e?.type === "steer" && (e.user_input?.text ?? "").trim() === t) return;
    }
    this.awaitingEcho.push(t);
    this.stream.state.emit();
  }

  /** Read loomcycle's status of the run again when the last reading is older than the
   * heartbeat cache (a loop can be lost while the stream stays open), or wait for the one in
   * flight. Runs that ended, or were never announced, are not asked about. */
  async refreshLiveness(signal?: AbortSignal): Promise<void> {
    await this.stream.checkLoopIfStale(this.stream.state.timings.heartbeatCacheMs, signal);
  }

  /** What is known of why the run is where it is: a lost loop's cause, loomcycle's reason for a failure. */
  get stateDetail(): StateDetail {
    const t = this.stream.state.terminal;
    return { lost: this.lostLoop, error: t?.status === "failed" ? t.error : undefined };
  }

  /** Why loomcycle no longer runs the run's loop, when it does not. */
  get lostLoop(): LoopLost | undefined {
    return this.stream.state.created && !this.stream.state.terminal ? this.stream.state.loopLost : undefined;
  }

  /** When the run last produced an event (not when this process happened to replay it). */
  get lastActivityAt(): number {
    const s = this.saved;
    // loomcycle's own record (the transcript's times) beats what an earlier process saw.
    if (s && this.stream.state.events.length <= s.events && this.stream.state.storedAt === undefined) return s.lastActivityAt;
    return this.stream.state.lastActivityAt;
  }

  /** Events the run is known to have (the replay after a restart may not be there yet). */
  get knownLength(): number {
    return Math.max(this.stream.state.events.length, this.saved?.events ?? 0);
  }

  get terminal(): TerminalInfo | undefined {
    return this.stream.state.terminal;
  }

  /** loomcycle has told whether the run exists: its ids came, or following it failed for good. */
  get known(): boolean {
    return this.stream.state.created || this.stream.state.fatal !== undefined;
  }

  /** Known, and (after a release) caught up again, or failed: a view of it can be shown. */
  get showable(): boolean {
    return (this.stream.state.created && this.confirmed) || this.stream.state.fatal !== undefined;
  }

  /** loomcycle says it has no such run, though the bridge knew it (SPEC §2 "shown as gone"):
   * it was deleted, or loomcycle now uses another database. It leaves the lists. */
  get gone(): boolean {
    return this.stream.state.fatal instanceof NotFoundError && (this.stream.state.created || this.knownBefore);
  }

  /** Why following the run failed before loomcycle announced it (no such run, refused), if it did. */
  get attachFailure(): LoomcycleError | undefined {
    return this.stream.state.created ? undefined : this.stream.state.fatal;
  }

  /** The last error of the run's connection (cleared once it works again). */
  get lastFailure(): LoomcycleError | undefined {
    return this.stream.state.lastError;
  }

  /** loomcycle no longer runs the run's loop (it restarted, or its replica is gone). */
  get loopLost(): boolean {
    return this.lostLoop !== undefined;
  }

  /** Ask loomcycle afresh whether the run's loop is gone. Before an answer: loomcycle accepts
   * one for a run whose loop it lost (after a restart) and nothing ever reads it. */
  async loopGoneNow(signal: AbortSignal): Promise<boolean> {
    await this.stream.checkLoop(signal);
    return this.loopLost;
  }

  /** Ask loomcycle who runs the run: the replica loomcycle names (cluster), and how long ago
   * that replica last reported to the cluster (GET /healthz replicas[]); undefined when no
   * replica is named (a single node) or the run is not running. */
  async loopOwner(signal: AbortSignal): Promise<{ replica: string; reportedAgoMs?: number } | undefined> {
    const st = await this.stream.checkLoop(signal);
    if (st?.status !== "running" || !st.replica_id) return undefined;
    const age = await this.stream.replicaReportAge(st.replica_id, signal);
    return age === undefined ? { replica: st.replica_id } : { replica: st.replica_id, reportedAgoMs: age };
  }

  /** A run that was just ended, or one a call waits on: a lost stream re-attaches now. */
  retryNow(): void {
    this.stream.nudge();
  }

  /** Called whenever the run's log or connection changes; returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    return this.stream.state.onChange(fn);
  }

  /** Someone needs this run now (a tool call, a resource read): a released stream re-attaches. */
  touch(): void {
    this.lastUsedAt = Date.now();
    this.stream.interest();
  }

  /** Keep the stream open until the returned function is called (a subscription, a wait). */
  hold(): () => void {
    this.holds += 1;
    this.touch();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.holds -= 1;
      this.lastUsedAt = Date.now();
    };
  }

  /** The state has been confirmed since the last release (see RunStream.confirmed). */
  get confirmed(): boolean {
    return this.stream.confirmed;
  }

  /** When the state shown was last seen, if it is not confirmed (the stream was released
   * and has not caught up since): the state is as of that time. */
  get stateAsOf(): string | undefined {
    const at = this.stream.state.releasedAt;
    return at === undefined || this.stream.confirmed ? undefined : new Date(at).toISOString();
  }

  /**
   * Release the stream of a parked or asking run that nobody has needed for `afterMs`
   * (no wait, no subscription, no tool call, no frame): it costs loomcycle a connection
   * and a database poll every 250 ms for nothing. A run mid-turn keeps its stream.
   */
  releaseIfIdle(afterMs: number, now = Date.now()): boolean {
    if (this.holds > 0) return false;
    const s = this.stream.state;
    // A re-attach that just caught up served a use: the delay counts from then, or a run
    // idle before an outage would be released again the moment it is confirmed.
    if (s.phase !== "live" || now - Math.max(this.lastUsedAt, s.lastActivityAt, s.confirmedAt) < afterMs) return false;
    // A re-attach still catching up is not released again: its state would stay unconfirmed
    // (shown "as of" an old release) until the next use, though loomcycle is reachable.
    if (!this.confirmed) return false;
    const st = this.state;
    if (st !== "awaiting_input" && st !== "awaiting_answer" && st !== "loop_lost") return false;
    // A long log the host has read to its end is let go too (loomcycle keeps it; a read
    // of it re-fetches it): what a followed run costs the bridge then no longer grows with
    // its length. Unread events stay, so the next read or steer never waits on a re-fetch.
    const dropLog = s.events.length - s.events.firstHeld > DROP_LOG_ABOVE && this.readPos >= s.events.length;
    return this.stream.release({ dropLog });
  }

  /** Fold new log entries into the derived state. Idempotent and incremental. */
  catchUp(): void {
    // Folding an event can call out (a mark added → the tracker saves the run, reading its
    // state): that read sees the state so far and folds nothing, or this event would be
    // folded twice and the next one skipped (a park after a turn cancel was lost that way).
    if (this.folding) return;
    const ev = this.stream.state.events;
    while (this.processed < ev.length) {
      const e = ev.at(this.processed);
      if (e) this.fold(e, this.processed);
      else this.processed += 1;
    }
  }

  /** Fold the event at `position` (the next one) into the derived state. */
  private fold(e: LoomEvent, position: number): void {
    this.folding = true;
    try {
      this.apply(e, position);
    } finally {
      this.folding = false;
      this.processed = position + 1;
    }
  }

  private apply(e: LoomEvent, position: number): void {
    if (e.type === "steer") {
      if (this.openingPos === undefined) {
        this.openingPos = position;
        this.openingRaw = e.user_input?.text ?? "";
        if (this.startedHere) this.marks.sawOpening(position, "host");
      } else {
        const text = e.user_input?.text ?? "";
        const echo = this.awaitingEcho.indexOf(text.trim());
        if (echo >= 0) this.awaitingEcho.splice(echo, 1);
        this.marks.sawInput(position, text);
      }
    } else this.marks.sawFrame(e.type, position);
    switch (e.type) {
      case "usage":
        this.usage.input_tokens += e.usage?.input_tokens ?? 0;
        this.usage.output_tokens += e.usage?.output_tokens ?? 0;
        return;
      case "awaiting_input":
        this.base = "awaiting_input";
        return;
      case "interruption_pending": {
        const i = e.interruption;
        if (!i) return;
        this.pending.set(i.interrupt_id, pendingInterrupt(i));
        if (this.lastInterruptToolUse) this.interruptToolCalls.set(this.lastInterruptToolUse, i.interrupt_id);
        this.base = "running";
        return;
      }
      case "tool_call":
        if (e.tool_use?.name === "Interruption") this.lastInterruptToolUse = e.tool_use.id;
        this.base = "running";
        return;
      case "tool_result": {
        const id = e.tool_use?.id;
        let intr = id ? this.interruptToolCalls.get(id) : undefined;
        if (!intr && e.tool_use?.name === "Interruption") intr = interruptIdInResult(e.text) ?? [...this.pending.keys()][0];
        if (intr) {
          this.pending.delete(intr);
          this.answered.delete(intr);
          this.marks.sawAnswerResult(position, intr);
        }
        this.base = "running";
        return;
      }
      case "steer":
      case "started":
      case "text":
      case "thinking":
      case "turn_cancelled":
        this.base = "running";
        return;
      default:
        // usage-like, notices, compaction (a parked run stays parked), errors (the
        // stream's end decides whether they were terminal).
        return;
    }
  }

  /**
   * A compaction this bridge is about to ask loomcycle for (compact_run): until the returned
   * function is called, a steer whose text this bridge did not send is that compaction's
   * summary delivered as a message (RunMarks.expectCompaction). Called before the request:
   * the steer can arrive before its answer is read.
   */
  expectCompaction(): () => void {
    this.catchUp(); // what arrived before the request is not its outcome
    return this.marks.expectCompaction();
  }

  /** Log positions of the inputs that are a compaction's summary delivered as a message
   * (marked "compaction" by expectCompaction's wait). */
  get compactionInputs(): ReadonlySet<number> {
    const out = new Set<number>();
    for (const [p, by] of this.marks.inputs) if (by === COMPACTION_SOURCE) out.add(p);
    return out;
  }

  /** The position and user-visible text of the opening prompt, when known. */
  opening(): { position: number; text: string } | undefined {
    this.catchUp();
    const pos = this.openingPos;
    if (pos === undefined) return undefined;
    const text = this.openingFromPrompt() ?? this.openingText;
    if (text !== undefined) return { position: pos, text };
    return { position: pos, text: "[opening prompt: could not be separated from the agent's system prompt]" };
  }

  /** The opening prompt is known exactly (not the placeholder), or there is none yet. */
  get openingResolved(): boolean {
    this.catchUp();
    return this.openingPos === undefined || this.openingFromPrompt() !== undefined || this.openingText !== undefined;
  }

  /**
   * The prompt this bridge sent, when the opening steer carries it. loomcycle keeps the
   * prompt exactly as sent (never trimmed) and replays the opening turn as its system
   * prompt, "\n", then the prompt, byte for byte — or the prompt alone for an agent without
   * one — so the prompt is compared as sent: leading or trailing whitespace included.
   */
  private openingFromPrompt(): string | undefined {
    const p = this.prompt;
    if (p === undefined) return undefined;
    const raw = this.openingRaw;
    return raw === p || raw.endsWith("\n" + p) ? p : undefined;
  }

  /** Learn the user's opening prompt from the transcript (the user segments of the run's
   * first user_input row, verbatim) when the prompt this bridge sent does not give it (a
   * run started elsewhere, or in an earlier process), so the system prompt that loomcycle
   * prepends to the replayed opening turn is never shown. */
  async resolveOpening(signal?: AbortSignal): Promise<void> {
    if (this.openingResolved || !this.sessionId || !this.runId) return;
    this.openingLookup ??= (async () => {
      try {
        const opts = signal ? { signal } : {};
        // The transcript read when the bridge first met the run, when it could be read.
        const events = (await this.stream.state.firstTranscript) ?? (await this.client.transcript(this.sessionId!, opts)).events;
        const row = events.find((r) => r.run_id === this.runId && r.type === "user_input");
        if (!row || !Array.isArray(row.payload)) return;
        const userSegs = row.payload.filter((s) => (s as { role?: unknown })?.role === "user");
        this.openingText = segmentsText(userSegs);
      } catch (err) {
        this.log.debug({ err: String(err), runId: this.runId }, "could not read the opening prompt from the transcript");
      } finally {
        this.openingLookup = undefined;
      }
    })();
    await this.openingLookup;
  }

  /**
   * Wait until `done()` holds, the deadline passes, or `signal` aborts. `done` is
   * re-checked whenever the run's log or connection changes. Sends `onTick` at least
   * every `tickMs` while waiting.
   */
  waitUntil(
    done: () => boolean,
    opts: { deadline: number; signal?: AbortSignal; onTick?: () => void; tickMs?: number; now?: () => number },
  ): Promise<"done" | "timeout" | "aborted"> {
    const now = opts.now ?? Date.now;
    // A run that turned out gone will never change again: the caller finds out why.
    const cond = done;
    done = () => cond() || this.gone;
    if (done()) return Promise.resolve("done");
    if (opts.signal?.aborted) return Promise.resolve("aborted");
    if (now() >= opts.deadline) return Promise.resolve("timeout");
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: "done" | "timeout" | "aborted") => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (tick) clearInterval(tick);
        unhold();
        off();
        opts.signal?.removeEventListener("abort", onAbort);
        resolve(r);
      };
      const off = this.stream.state.onChange(() => {
        if (done()) finish("done");
      });
      const onAbort = () => finish("aborted");
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(() => finish(done() ? "done" : "timeout"), Math.max(0, opts.deadline - now()));
      const tick = opts.onTick ? setInterval(() => opts.onTick?.(), opts.tickMs ?? 5000) : undefined;
      // The stream stays open while someone waits on it (and re-attaches if it was released).
      const unhold = this.hold();
      // A waiting host is a good reason to retry a lost stream now.
      this.stream.nudge();
    });
  }
}

function interruptIdInResult(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as { interrupt_id?: unknown };
    return typeof v.interrupt_id === "string" ? v.interrupt_id : undefined;
  } catch {
    return undefined;
  }
}
