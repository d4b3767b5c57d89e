// A followed run's state: ids, the event log and the frames folded into it, its phase,
// listeners, and the release/confirm logic of a parked run's stream. The connection loop
// that feeds it (attach, re-attach, resume, status checks) is RunStream (run-stream.ts).
import type { LoomEvent, StreamFrame } from "../loomcycle/events.js";
import type { LoomcycleError } from "../loomcycle/errors.js";
import type { Logger } from "../../logger.js";
import { EventLog } from "./event-log.js";
import type { TerminalStatus } from "./run-state.js";
import { timings, type Timings } from "../timings.js";
import type { AgentStatusLike, LoopLost, RunStreamClient, SseStreamLike } from "./run-stream-client.js";

/** `released`: the run was parked and nobody needed it, so its stream was closed to save
 * loomcycle a connection and its database polls; the log, state and position are kept,
 * and the next interest re-attaches exactly where the log ends. */
export type StreamPhase = "connecting" | "live" | "reconnecting" | "released" | "ended";

export interface TerminalInfo {
  status: TerminalStatus;
  stopReason?: string;
  error?: string;
}

export interface RunStreamOptions {
  logger: Logger;
  /** Re-attach backoff and the quiet periods that confirm a re-attach (default: DEFAULT_TIMINGS). */
  timings?: Partial<Timings>;
  /** Use the transcript to compute `from_seq` on re-attach (default true). */
  useTranscriptResume?: boolean;
  /** Events kept in memory per run (older ones are re-fetched on demand). */
  window?: number;
  now?: () => number;
}

/** How many recent frame names we keep to check a transcript-based resume point. */
export const NAME_RING = 64;

export abstract class RunStreamState {
  runId: string | undefined;
  agentId: string | undefined;
  sessionId: string | undefined;
  /** The event log. Position = index; old positions may be evicted (see fetchRange). */
  readonly events: EventLog;
  phase: StreamPhase = "connecting";
  terminal: TerminalInfo | undefined;
  /** Set when the stream cannot go on (unknown run, start failed, auth refused). */
  fatal: LoomcycleError | undefined;
  /** Last transport/upstream problem while (re)connecting; cleared when a stream is live. */
  lastError: LoomcycleError | undefined;
  /** Consecutive failed re-attach attempts. */
  reconnectFailures = 0;
  /** Total re-attaches that succeeded (for diagnostics and tests). */
  reattaches = 0;
  /** Of those, how many resumed with a transcript `from_seq` (the rest replayed from 0). */
  reattachesFromSeq = 0;
  lastActivityAt: number;
  /** loomcycle announced the run (its `agent` frame arrived, or a lost start was found by agent_id). */
  created = false;
  /** Set when loomcycle reports the run `running` but no loop drives it (loopLostFrom);
   * checked each time a GET stream goes live, and again when a steer is refused. */
  loopLost: LoopLost | undefined;
  /** The liveness lookup in flight, if any (a read waits for it before judging the run). */
  loopCheck: Promise<AgentStatusLike | undefined> | undefined;

  /** When the stream was last released; kept until a re-attach has caught up again. */
  releasedAt: number | undefined;
  /** Streams released so far (diagnostics, tests, the benchmark). */
  releases = 0;

  /** Frames received after the `agent` frame, usable or not: the resume skip count. */
  protected framesSeen = 0;
  protected readonly names: string[] = new Array<string>(NAME_RING);
  private readonly listeners = new Set<() => void>();
  private eventSink: ((e: LoomEvent, position: number) => void) | undefined;
  protected readonly abort = new AbortController();
  protected current: SseStreamLike | undefined;
  protected sawDone = false;
  /** The bridge's delays: re-attach backoff, confirm quiets, the replay quiet waitAttached uses. */
  readonly timings: Timings;
  protected readonly log: Logger;
  protected readonly now: () => number;
  protected readonly useTranscript: boolean;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wakeSleep: (() => void) | undefined;
  /** release() closed the current stream on purpose: the loop parks instead of re-attaching. */
  protected releaseRequested = false;
  /** release() asked to let go of the log too (see EventLog.dropHeld). */
  protected dropLogOnRelease = false;
  /** Someone wants the stream (set by interest(), cleared by release()). */
  private wanted = true;
  private wakeReleased: (() => void) | undefined;
  /** After a release: re-attached, but the frames that arrived meanwhile are not all in yet. */
  protected confirming = false;
  /** Frame count at which a re-attach has caught up (from the transcript), when known. */
  protected catchUpTo: number | undefined;
  /** Replayed frames still to skip on the current stream (a from-zero re-attach). */
  protected skipLeft = 0;
  private quietTimer: NodeJS.Timeout | undefined;

  protected constructor(
    protected readonly client: RunStreamClient,
    opts: RunStreamOptions,
  ) {
    this.timings = timings(opts.timings);
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    this.useTranscript = opts.useTranscriptResume ?? true;
    this.events = new EventLog(opts.window);
    this.lastActivityAt = this.now();
  }

  /** Number of frames received after the agent frame (log entries plus unusable frames). */
  get frameCount(): number {
    return this.framesSeen;
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called with every new log entry as it is appended (before onChange fires), so a
   * consumer can fold it without reading it back from the compact log. One consumer. */
  onEvent(fn: ((e: LoomEvent, position: number) => void) | undefined): void {
    this.eventSink = fn;
  }

  /** Stop following the run locally. Never affects the remote run. */
  close(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Error("run stream closed"));
    this.current?.close();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.wakeSleep?.();
    this.wakeReleased?.();
    if (this.phase !== "ended") this.setPhase("ended");
  }

  /** Ask a reconnecting stream to try again now (e.g. a tool call is waiting on it). */
  nudge(): void {
    if (this.phase === "reconnecting") this.wakeSleep?.();
  }

  /**
   * Close the upstream stream of a live run that nobody needs now (the caller decides
   * when: see TrackedRun.releaseIfIdle). The ids, frame count and log positions stay
   * (with `dropLog`, the events themselves are let go: a read re-fetches them); the next
   * interest() re-attaches after the last frame received. Never affects the remote run.
   * Returns whether a stream was released.
   */
  release(opts: { dropLog?: boolean } = {}): boolean {
    if (this.closed || this.phase !== "live" || !this.current || !this.created || this.terminal || this.sawDone) return false;
    if (this.confirming) return false; // let a re-attach catch up first: its state is what the release keeps
    this.wanted = false;
    this.releaseRequested = true;
    this.dropLogOnRelease = opts.dropLog === true;
    this.current.close();
    return true;
  }

  /** Someone needs this run now (a read, a wait, a steer, a list): a released stream re-attaches. */
  interest(): void {
    this.wanted = true;
    this.wakeReleased?.();
  }

  /**
   * False from a release until a re-attach has caught up with what loomcycle holds
   * (the frame count its transcript gave, or the replay reached what we held and went
   * quiet): until then the derived state is the one seen at the release.
   */
  /** When a re-attach last caught up: the use it served counts from then (see releaseIfIdle). */
  confirmedAt = 0;

  get confirmed(): boolean {
    return !this.confirming || this.terminal !== undefined || this.fatal !== undefined || this.closed;
  }

  protected confirm(): void {
    if (!this.confirming) return;
    this.confirming = false;
    this.confirmedAt = this.now();
    this.catchUpTo = undefined;
    this.releasedAt = undefined;
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    this.emit();
  }

  /** Without a known catch-up count: confirmed once the replay reached what we held and no
   * frame came for a moment. With one, the same after a longer quiet, in case a row the
   * transcript counted never streams (loomcycle versions differ in which rows do). */
  protected armQuietConfirm(): void {
    if (!this.confirming) return;
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(
      () => {
        this.quietTimer = undefined;
        if (this.phase === "live" && this.skipLeft === 0) this.confirm();
        else this.armQuietConfirm();
      },
      this.catchUpTo === undefined ? this.timings.quietConfirmMs : this.timings.quietConfirmCountedMs,
    );
    this.quietTimer.unref?.();
  }

  /** Parked after a release: wait until someone wants the stream again (or close()). */
  protected waitForInterest(): Promise<void> {
    if (this.wanted || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeReleased = () => {
        this.wakeReleased = undefined;
        resolve();
      };
    });
  }

  protected emit(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (err) {
        this.log.error({ err }, "run stream listener failed");
      }
    }
  }

  protected setPhase(p: StreamPhase): void {
    if (this.phase === p) return;
    this.phase = p;
    this.emit();
  }

  protected finish(t: TerminalInfo): void {
    this.terminal = t;
    this.lastError = undefined;
    this.confirming = false;
    this.releasedAt = undefined;
    this.log.debug({ runId: this.runId, status: t.status, frames: this.framesSeen }, "run ended");
    this.setPhase("ended");
    this.emit();
  }

  protected async consume(stream: SseStreamLike, skip: number): Promise<void> {
    const state = { index: 0, skip };
    if (stream.batches) {
      // One wake-up and one change notification per read of the body, not per frame.
      for await (const batch of stream.batches) {
        if (this.closed) break;
        let changed = false;
        for (const f of batch) if (this.take(f, state)) changed = true;
        this.skipLeft = Math.max(0, state.skip - state.index);
        if (changed) {
          this.lastActivityAt = this.now();
          this.armQuietConfirm();
          this.emit();
        }
      }
      return;
    }
    for await (const f of stream.frames) {
      if (this.closed) break;
      const changed = this.take(f, state);
      this.skipLeft = Math.max(0, state.skip - state.index);
      if (changed) {
        this.lastActivityAt = this.now();
        this.armQuietConfirm();
        this.emit();
      }
    }
  }

  /** Fold one frame into the run: ids, or the next log entry. Returns whether anything changed. */
  private take(f: StreamFrame, st: { index: number; skip: number }): boolean {
    if (f.kind === "session") {
      if (!this.sessionId) this.sessionId = f.sessionId;
      return false;
    }
    if (f.kind === "agent") {
      this.runId ??= f.agent.run_id;
      this.agentId ??= f.agent.agent_id;
      this.sessionId ??= f.agent.session_id;
      if (this.created) return false;
      this.created = true;
      return true;
    }
    st.index += 1;
    const name = f.kind === "event" ? f.event.type : f.name;
    if (st.index <= st.skip) {
      // Already in the log: a from-zero replay. Check it is the frame we hold.
      const have = this.names[(st.index - 1) % NAME_RING];
      if (st.index > this.framesSeen - NAME_RING && have !== undefined && have !== name) {
        this.log.warn({ runId: this.runId, position: st.index - 1, have, got: name }, "replayed frame differs from the one held");
      }
      return false;
    }
    this.names[this.framesSeen % NAME_RING] = name;
    this.framesSeen += 1;
    if (this.confirming && this.catchUpTo !== undefined && this.framesSeen >= this.catchUpTo) {
      this.confirming = false; // confirm() without a second emit: the caller emits for this frame
      this.catchUpTo = undefined;
      this.releasedAt = undefined;
    }
    if (f.kind === "event") {
      const position = this.events.length;
      this.events.push(f.event);
      if (f.event.type === "done") this.sawDone = true;
      this.eventSink?.(f.event, position);
    }
    return true;
  }

  protected sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.sleepTimer) clearTimeout(this.sleepTimer);
        this.sleepTimer = undefined;
        this.wakeSleep = undefined;
        resolve();
      };
      this.wakeSleep = done;
      this.sleepTimer = setTimeout(done, ms);
      this.sleepTimer.unref?.();
    });
  }
}
