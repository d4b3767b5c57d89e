// The run tracker: every run the bridge started or was asked about, with its event
// log (RunStream), its state as the events say it (one RunState), pending interrupts, summed usage, the
// host's read position, and waits that end at a stop point, at a deadline, or when
// the host cancels the call.
import { randomBytes } from "node:crypto";
import type { LoomEvent } from "../loomcycle/events.js";
import type { EventLog } from "./event-log.js";
import { RunStream, segmentsText } from "./run-stream.js";
import type { RunStreamClient } from "./run-stream-client.js";
import type { TerminalInfo } from "./run-stream-state.js";
import { BadRequestError } from "../loomcycle/errors.js";
import type { Logger } from "../../logger.js";
import { isId, mustMatch } from "../../ids.js";
import type { StateFile } from "./state-file.js";

export type RunState =
  | "starting"
  | "running"
  | "awaiting_input"
  | "awaiting_answer"
  | "completed"
  | "failed"
  | "cancelled"
  | "unreachable";

export const STOP_STATES: ReadonlySet<RunState> = new Set(["awaiting_input", "awaiting_answer", "completed", "failed", "cancelled"]);
export const TERMINAL_STATES: ReadonlySet<RunState> = new Set(["completed", "failed", "cancelled"]);

export interface PendingInterrupt {
  interrupt_id: string;
  question: string;
  options?: string[];
  expires_at?: string;
}

export interface UsageTotals {
  input_tokens: number;
  output_tokens: number;
}

/** Positions of the host's own inputs kept per run in the state file (the newest). */
const MAX_HOST_INPUTS = 500;

export function newAgentId(): string {
  return "a_" + randomBytes(8).toString("hex");
}

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
  /** Log positions of inputs this bridge sent (the opening prompt of a run it started,
   * its steers): shown with source "host", also after a restart (kept in the state file). */
  readonly hostInputs = new Set<number>();
  /** This bridge started the run: its opening steer is the host's. */
  startedHere = false;
  /** What an earlier process saw of this run (state file): its log length and the time of
   * its last event. Until the replay passes that length, the replayed events are not new
   * activity, and the run is known to have at least that many events. */
  saved: { events: number; lastActivityAt: number } | undefined;
  /** Called when an input of the host's is found in the log (the tracker saves it). */
  onHostInput: (() => void) | undefined;
  /** Steer texts sent (or being sent) whose echo has not arrived yet. */
  private readonly sentTexts: string[] = [];
  private base: Base = "running";
  private processed = 0;
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
    stream.onEvent((e, position) => {
      if (position !== this.processed) this.catchUp();
      if (position === this.processed) {
        this.apply(e, position);
        this.processed += 1;
      }
    });
    stream.onChange(() => this.catchUp());
  }

  get runId(): string | undefined {
    return this.stream.runId;
  }
  get agentId(): string | undefined {
    return this.stream.agentId;
  }
  get sessionId(): string | undefined {
    return this.stream.sessionId;
  }
  get events(): EventLog {
    return this.stream.events;
  }

  get state(): RunState {
    this.catchUp();
    const s = this.stream;
    if (s.terminal) return s.terminal.status;
    if (s.fatal) return s.created ? "unreachable" : "failed";
    // After a release, a failed re-attach leaves the state as of the release (stateAsOf says so).
    if (s.phase === "reconnecting" && s.lastError && s.confirmed) return "unreachable";
    if (!s.created) return "starting";
    if (this.pending.size > 0) return "awaiting_answer";
    return this.base;
  }

  /** When the run last produced an event (not when this process happened to replay it). */
  get lastActivityAt(): number {
    const s = this.saved;
    if (s && this.stream.events.length <= s.events) return s.lastActivityAt;
    return this.stream.lastActivityAt;
  }

  /** Events the run is known to have (the replay after a restart may not be there yet). */
  get knownLength(): number {
    return Math.max(this.stream.events.length, this.saved?.events ?? 0);
  }

  get terminal(): TerminalInfo | undefined {
    return this.stream.terminal;
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
    const at = this.stream.releasedAt;
    return at === undefined || this.stream.confirmed ? undefined : new Date(at).toISOString();
  }

  /**
   * Release the stream of a parked or asking run that nobody has needed for `afterMs`
   * (no wait, no subscription, no tool call, no frame): it costs loomcycle a connection
   * and a database poll every 250 ms for nothing. A run mid-turn keeps its stream.
   */
  releaseIfIdle(afterMs: number, now = Date.now()): boolean {
    if (this.holds > 0) return false;
    const s = this.stream;
    if (s.phase !== "live" || now - Math.max(this.lastUsedAt, s.lastActivityAt) < afterMs) return false;
    // A re-attach still catching up is not released again: its state would stay unconfirmed
    // (shown "as of" an old release) until the next use, though loomcycle is reachable.
    if (!this.confirmed) return false;
    const st = this.state;
    if (st !== "awaiting_input" && st !== "awaiting_answer") return false;
    // A long log the host has read to its end is let go too (loomcycle keeps it; a read
    // of it re-fetches it): what a followed run costs the bridge then no longer grows with
    // its length. Unread events stay, so the next read or steer never waits on a re-fetch.
    const dropLog = s.events.length - s.events.firstHeld > DROP_LOG_ABOVE && this.readPos >= s.events.length;
    return s.release({ dropLog });
  }

  /** Fold new log entries into the derived state. Idempotent and incremental. */
  catchUp(): void {
    const ev = this.stream.events;
    while (this.processed < ev.length) {
      const e = ev.at(this.processed);
      if (e) this.apply(e, this.processed);
      this.processed += 1;
    }
  }

  private apply(e: LoomEvent, position: number): void {
    if (e.type === "steer") {
      if (this.openingPos === undefined) {
        this.openingPos = position;
        this.openingRaw = e.user_input?.text ?? "";
        if (this.startedHere) {
          this.hostInputs.add(position);
          this.onHostInput?.();
        }
      } else if (this.sentTexts.length > 0) {
        const i = this.sentTexts.indexOf((e.user_input?.text ?? "").trim());
        if (i >= 0) {
          this.sentTexts.splice(i, 1);
          this.hostInputs.add(position);
          this.onHostInput?.();
        }
      }
    }
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
        const p: PendingInterrupt = { interrupt_id: i.interrupt_id, question: i.question ?? "" };
        if (i.options && i.options.length > 0) p.options = [...i.options];
        if (i.expires_at && !i.expires_at.startsWith("0001-01-01")) p.expires_at = i.expires_at;
        this.pending.set(i.interrupt_id, p);
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

  /** A steer this bridge is sending: its echo in the log is the host's input. Returns a
   * function that forgets it (the send failed, so no echo will come). */
  noteSending(text: string): () => void {
    const t = text.trim();
    this.sentTexts.push(t);
    return () => {
      const i = this.sentTexts.indexOf(t);
      if (i >= 0) this.sentTexts.splice(i, 1);
    };
  }

  /** The position and user-visible text of the opening prompt, when known. */
  opening(): { position: number; text: string } | undefined {
    this.catchUp();
    const pos = this.openingPos;
    if (pos === undefined) return undefined;
    const raw = this.openingRaw;
    if (this.prompt !== undefined) {
      const p = this.prompt.trim();
      if (raw === p || raw.endsWith("\n" + p)) return { position: pos, text: p };
    }
    if (this.openingText !== undefined) return { position: pos, text: this.openingText };
    return { position: pos, text: "[opening prompt: could not be separated from the agent's system prompt]" };
  }

  /** For runs started elsewhere: learn the user's opening prompt from the transcript
   * (the user segments of the run's first user_input row), so the system prompt that
   * loomcycle prepends to the replayed opening turn is never shown. */
  async resolveOpening(signal?: AbortSignal): Promise<void> {
    if (this.prompt !== undefined || this.openingText !== undefined || !this.sessionId || !this.runId) return;
    this.openingLookup ??= (async () => {
      try {
        const opts = signal ? { signal } : {};
        const { events } = await this.client.transcript(this.sessionId!, opts);
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
      const off = this.stream.onChange(() => {
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

export interface TrackerOptions {
  client: RunStreamClient;
  logger: Logger;
  backoffMs?: readonly number[];
  /** Where read positions and followed runs are kept across restarts (optional). */
  stateFile?: StateFile;
  /** Events kept in memory per run. */
  eventWindow?: number;
  /** A finished run nobody used for this long is dropped from memory (default 30 min);
   * reading it again re-attaches it, and its read position is in the state file. */
  retainFinishedMs?: number;
  /** A parked or asking run nobody needed for this long releases its upstream stream
   * (LOOMCYCLE_MCP_PARK_RELEASE_MS, default 120000; 0 never releases). */
  parkReleaseMs?: number;
}

export const DEFAULT_PARK_RELEASE_MS = 120_000;
/** A released run keeps a log of up to this many events in memory (re-fetching it would cost more than it holds). */
export const DROP_LOG_ABOVE = 512;

export class RunTracker {
  private readonly runs = new Map<string, TrackedRun>();
  /** Runs whose start has not produced a run_id yet, by the agent_id we chose. */
  private readonly startingRuns = new Map<string, TrackedRun>();

  private readonly sweeper: NodeJS.Timeout;
  /** Read positions of dropped finished runs, when there is no state file to keep them. */
  private readonly droppedPositions = new Map<string, { readPos: number; hostInputs: number[] }>();

  constructor(private readonly opts: TrackerOptions) {
    const retain = opts.retainFinishedMs ?? 30 * 60_000;
    const park = opts.parkReleaseMs ?? DEFAULT_PARK_RELEASE_MS;
    // A run releases between `park` and 1.25 × `park` after its last use.
    const every = Math.min(60_000, retain / 4, park > 0 ? park / 4 : Infinity);
    this.sweeper = setInterval(() => {
      this.sweep(retain);
      if (park > 0) this.releaseIdle(park);
    }, Math.max(50, every));
    this.sweeper.unref();
  }

  /** Release the streams of parked runs nobody needed for `afterMs` (see TrackedRun.releaseIfIdle). */
  releaseIdle(afterMs: number, now = Date.now()): number {
    let n = 0;
    for (const run of this.runs.values()) if (run.releaseIfIdle(afterMs, now)) n += 1;
    return n;
  }

  /**
   * Someone needs these runs now (list_runs, the runs resource): released ones re-attach.
   * Resolves when every one is confirmed, at `deadline`, or when `signal` aborts; a run
   * not confirmed by then shows its state as of its release (TrackedRun.stateAsOf).
   */
  async want(runs: readonly TrackedRun[], opts: { deadline: number; signal?: AbortSignal }): Promise<void> {
    for (const r of runs) r.touch();
    const waiting = runs.filter((r) => !r.confirmed);
    await Promise.all(waiting.map((r) => r.waitUntil(() => r.confirmed, opts)));
  }

  /** Drop finished runs nobody has used for `retainMs` (their logs are re-read on demand). */
  sweep(retainMs: number, now = Date.now()): number {
    let dropped = 0;
    for (const [id, run] of this.runs) {
      if (!run.terminal || now - run.lastUsedAt < retainMs) continue;
      this.noteRead(run);
      if (!this.opts.stateFile) {
        this.droppedPositions.set(id, { readPos: run.readPos, hostInputs: [...run.hostInputs] });
        if (this.droppedPositions.size > 10_000) this.droppedPositions.delete(this.droppedPositions.keys().next().value!);
      }
      run.stream.close();
      this.runs.delete(id);
      dropped += 1;
    }
    return dropped;
  }

  /** Remember where the host read to (and the run's ids and state) across restarts. */
  noteRead(run: TrackedRun): void {
    if (!this.opts.stateFile || !run.runId) return;
    const e: Parameters<StateFile["set"]>[1] = {
      read_pos: run.readPos,
      state: run.state,
      events: run.knownLength,
      last_activity_at: new Date(run.lastActivityAt).toISOString(),
      pending: run.pending.size,
    };
    if (run.hostInputs.size > 0) e.host_inputs = [...run.hostInputs].sort((a, b) => a - b).slice(-MAX_HOST_INPUTS);
    if (run.agentId) e.agent_id = run.agentId;
    if (run.sessionId) e.session_id = run.sessionId;
    if (run.agentName) e.agent = run.agentName;
    this.opts.stateFile.set(run.runId, e);
  }

  /** Save a run's entry whenever its state changes (a park is its last activity until the
   * next turn), so a restart after a crash still shows when it last did something. */
  private saveOnStateChange(run: TrackedRun): void {
    if (!this.opts.stateFile) return;
    let last: RunState | undefined;
    run.stream.onChange(() => {
      const st = run.state;
      if (st === last || !run.runId || !run.stream.created) return;
      last = st;
      this.noteRead(run);
    });
  }

  /** After a restart: follow again the runs the host was following that had not ended. */
  restore(max = 50): number {
    const sf = this.opts.stateFile;
    if (!sf) return 0;
    let n = 0;
    for (const [runId, e] of sf.entries()) {
      if (n >= max) break;
      if (e.state && TERMINAL_STATES.has(e.state as RunState)) continue;
      this.getOrAttach(runId);
      n += 1;
    }
    return n;
  }

  /** Runs the host followed in an earlier process, not attached in this one. */
  savedOnly(): Array<[string, NonNullable<ReturnType<StateFile["get"]>>]> {
    const sf = this.opts.stateFile;
    if (!sf) return [];
    return sf.entries().filter(([id]) => !this.runs.has(id));
  }

  flush(): void {
    this.opts.stateFile?.flush();
  }

  private streamOpts() {
    const o: { logger: Logger; backoffMs?: readonly number[]; window?: number } = { logger: this.opts.logger };
    if (this.opts.backoffMs) o.backoffMs = this.opts.backoffMs;
    if (this.opts.eventWindow) o.window = this.opts.eventWindow;
    return o;
  }

  /** Start an interactive run. Returns at once; ids arrive on the stream. */
  start(body: { agent: string; prompt: string; user_id?: string; session_id?: string; metadata?: Record<string, string> }): TrackedRun {
    const agentId = newAgentId();
    const stream = RunStream.start(this.opts.client, { ...body, agent_id: agentId }, this.streamOpts());
    const run = new TrackedRun(stream, this.opts.client, this.opts.logger);
    run.prompt = body.prompt;
    run.startedHere = true;
    run.onHostInput = () => this.noteRead(run);
    this.saveOnStateChange(run);
    run.agentName = body.agent;
    run.settled = true; // a new run has nothing to replay
    this.startingRuns.set(agentId, run);
    const off = stream.onChange(() => {
      if (stream.runId && !this.runs.has(stream.runId)) {
        this.runs.set(stream.runId, run);
        this.startingRuns.delete(agentId);
        this.noteRead(run);
        off();
      } else if (stream.fatal && !stream.created) {
        this.startingRuns.delete(agentId);
        off();
      }
    });
    return run;
  }

  get(runId: string): TrackedRun | undefined {
    return this.runs.get(runId);
  }

  /** The tracked run, attaching to it first when the bridge has never seen it. */
  getOrAttach(runId: string): TrackedRun {
    if (!isId(runId)) {
      throw new BadRequestError(`${mustMatch("run_id")} (got ${JSON.stringify(runId.slice(0, 40))})`);
    }
    let run = this.runs.get(runId);
    if (run && run.stream.fatal && !run.stream.terminal) {
      // A failed earlier attach (e.g. unknown run): try again rather than caching the failure.
      run.stream.close();
      this.runs.delete(runId);
      run = undefined;
    }
    if (run) {
      run.touch();
      return run;
    }
    const stream = RunStream.attach(this.opts.client, runId, this.streamOpts());
    const fresh = new TrackedRun(stream, this.opts.client, this.opts.logger);
    const saved = this.opts.stateFile?.get(runId);
    if (saved) {
      fresh.readPos = saved.read_pos;
      if (saved.agent) fresh.agentName = saved.agent;
      for (const p of saved.host_inputs ?? []) fresh.hostInputs.add(p);
      const at = saved.last_activity_at ? Date.parse(saved.last_activity_at) : NaN;
      if (saved.events !== undefined && Number.isFinite(at)) fresh.saved = { events: saved.events, lastActivityAt: at };
    } else if (this.droppedPositions.has(runId)) {
      const d = this.droppedPositions.get(runId)!;
      fresh.readPos = d.readPos;
      for (const p of d.hostInputs) fresh.hostInputs.add(p);
    }
    fresh.onHostInput = () => this.noteRead(fresh);
    this.saveOnStateChange(fresh);
    this.runs.set(runId, fresh);
    // A run loomcycle does not know (or this token may not see) is not kept: random
    // or mistyped ids must not grow memory. The caller still gets the failure.
    const off = stream.onChange(() => {
      if (stream.created) off();
      else if (stream.fatal) {
        off();
        if (this.runs.get(runId) === fresh) this.runs.delete(runId);
      }
    });
    return fresh;
  }

  list(): TrackedRun[] {
    return [...this.runs.values(), ...this.startingRuns.values()];
  }

  /** Stop following every run locally (shutdown). Remote runs are never cancelled. */
  closeAll(): void {
    clearInterval(this.sweeper);
    // What each run looks like now (last activity, length) is what a restart shows.
    for (const r of this.runs.values()) this.noteRead(r);
    this.flush();
    for (const r of this.list()) r.stream.close();
    this.runs.clear();
    this.startingRuns.clear();
  }
}
