// What the bridge knows of a followed run: ids, the event log and the frames folded into
// it, its phase and outcome, the confirm logic after a release, and the listeners told
// of every change. RunStream (run-stream.ts) holds one and feeds it from its connection
// loop (attach, re-attach, resume, status checks); readers see it as `stream.state`.
import type { LoomEvent, StreamFrame } from "../loomcycle/events.js";
import type { LoomcycleError } from "../loomcycle/errors.js";
import type { Logger } from "../../logger.js";
import { EventLog } from "./event-log.js";
import type { TerminalStatus } from "./run-state.js";
import type { Timings } from "../timings.js";
import type { AgentStatusLike, TranscriptRowLike } from "./run-stream-client.js";
import type { ClusterWatch, LoopLost } from "./liveness.js";

/** `released`: the run was parked and nobody needed it, so its stream was closed to save
 * loomcycle a connection and its database polls; the log, state and position are kept,
 * and the next interest re-attaches exactly where the log ends. */
export type StreamPhase = "connecting" | "live" | "reconnecting" | "released" | "ended";

export interface TerminalInfo {
  status: TerminalStatus;
  stopReason?: string;
  error?: string;
}

/** How RunStream (run-stream.ts) is made; its state takes the timings, window and clock. */
export interface RunStreamOptions {
  logger: Logger;
  /** Re-attach backoff and the quiet periods that confirm a re-attach (default: DEFAULT_TIMINGS). */
  timings?: Partial<Timings>;
  /** Use the transcript to compute `from_seq` on re-attach (default true). */
  useTranscriptResume?: boolean;
  /** Events kept in memory per run (older ones are re-fetched on demand). */
  window?: number;
  now?: () => number;
  /** loomcycle's view of its replicas, shared by every run (cluster liveness; liveness.ts). */
  cluster?: ClusterWatch;
}

/** How many recent frame names we keep to check a transcript-based resume point. */
export const NAME_RING = 64;

/** Where a stream's frames are while they are folded in: frames read so far, and how many
 * of them a from-zero replay already delivered (skipped). */
export interface FoldPosition {
  index: number;
  skip: number;
}

export class RunStreamState {
  runId: string | undefined;
  agentId: string | undefined;
  sessionId: string | undefined;
  /** The event log. Position = index; old positions may be evicted (see RunStream.fetchRange). */
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
  /** Set when loomcycle reports the run `running` but no loop drives it (liveness.ts judgeLoop):
   * checked on first contact, each time a GET stream goes live, when a read finds the last
   * check older than the heartbeat cache, and when a steer is refused. */
  loopLost: LoopLost | undefined;
  /** The liveness lookup in flight, if any (a read waits for it before judging the run). */
  loopCheck: Promise<AgentStatusLike | undefined> | undefined;
  /** When loomcycle's status of the run was last read (0: never), and what it said. */
  loopCheckedAt = 0;
  lastStatus: AgentStatusLike | undefined;
  /** Whether the run is parked or asking as the bridge sees it (set by its TrackedRun): a
   * parked loop's heartbeat is refreshed every 30 s, a working one's is not. */
  isIdle: () => boolean = () => false;
  /** Called once, when loomcycle announces the run (its `agent` frame), before listeners hear of it. */
  onCreated: (() => void) | undefined;
  /** First contact: the session transcript read once (the time of the stored events, and the
   * opening prompt of a run started elsewhere); undefined when it could not be read. */
  firstTranscript: Promise<readonly TranscriptRowLike[] | undefined> | undefined;
  /** The first transcript has been read (or could not be): the last activity time is as known as it gets. */
  storedActivityKnown = false;

  /** When the stream was last released; kept until a re-attach has caught up again. */
  releasedAt: number | undefined;
  /** Streams released so far (diagnostics, tests, the benchmark). */
  releases = 0;
  /** When a re-attach last caught up: the use it served counts from then (see TrackedRun.releaseIfIdle). */
  confirmedAt = 0;

  /** Frames received after the `agent` frame, usable or not: the resume skip count. */
  framesSeen = 0;
  /** The names of the last NAME_RING frames, to check a resume point against. */
  readonly names: string[] = new Array<string>(NAME_RING);
  /** A `done` frame arrived: the run completed. */
  sawDone = false;
  /** After a release: re-attached, but the frames that arrived meanwhile are not all in yet. */
  confirming = false;
  /** Frame count at which a re-attach has caught up (from the transcript), when known. */
  catchUpTo: number | undefined;
  /** Replayed frames still to skip on the current stream (a from-zero re-attach). */
  skipLeft = 0;

  private readonly listeners = new Set<() => void>();
  private eventSink: ((e: LoomEvent, position: number) => void) | undefined;
  private quietTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    readonly timings: Timings,
    window: number | undefined,
    private readonly now: () => number,
  ) {
    this.events = new EventLog(window);
    this.lastActivityAt = now();
  }

  /** Number of frames received after the agent frame (log entries plus unusable frames). */
  get frameCount(): number {
    return this.framesSeen;
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

  emit(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (err) {
        this.log.error({ err }, "run stream listener failed");
      }
    }
  }

  setPhase(p: StreamPhase): void {
    if (this.phase === p) return;
    this.phase = p;
    this.emit();
  }

  finish(t: TerminalInfo): void {
    this.terminal = t;
    this.lastError = undefined;
    this.confirming = false;
    this.releasedAt = undefined;
    this.log.debug({ runId: this.runId, status: t.status, frames: this.framesSeen }, "run ended");
    this.setPhase("ended");
    this.emit();
  }

  /** The stream was released: until a re-attach catches up, the state is as of now (or of
   * an earlier release not confirmed since). */
  released(): void {
    this.releasedAt ??= this.now();
    this.releases += 1;
    this.confirming = true;
    this.catchUpTo = undefined;
  }

  /**
   * False from a release until a re-attach has caught up with what loomcycle holds (the
   * frame count its transcript gave, or the replay reached what we held and went quiet):
   * until then the derived state is the one seen at the release.
   */
  get confirmed(): boolean {
    return !this.confirming || this.terminal !== undefined || this.fatal !== undefined;
  }

  confirm(): void {
    if (!this.confirming) return;
    this.confirming = false;
    this.confirmedAt = this.now();
    this.catchUpTo = undefined;
    this.releasedAt = undefined;
    this.stopQuietTimer();
    this.emit();
  }

  /** Without a known catch-up count: confirmed once the replay reached what we held and no
   * frame came for a moment. With one, the same after a longer quiet, in case a row the
   * transcript counted never streams (loomcycle versions differ in which rows do). */
  armQuietConfirm(): void {
    if (!this.confirming) return;
    this.stopQuietTimer();
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

  stopQuietTimer(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
  }

  /** The stop reason of the last `done` among the latest events, if any. */
  lastStopReason(): string | undefined {
    const events = this.events;
    for (let i = events.length - 1; i >= Math.max(0, events.length - 64); i--) {
      const e = events.at(i);
      if (e?.type === "done") return e.stop_reason;
    }
    return undefined;
  }

  /** Frames a first replay holds (from the transcript, see noteStoredActivity): their
   * arrival is not activity of the run. */
  private storedFrames = 0;
  /** The time of the last stored event when the bridge first met the run (the transcript's). */
  storedAt: number | undefined;

  /**
   * What loomcycle stored before the bridge first met the run: `frames` replayed frames, the
   * last of them at `at` (the transcript's `ts_ns`). While no newer frame has come, that is
   * the run's last activity, not the time the bridge happened to replay it.
   */
  noteStoredActivity(frames: number, at: number): void {
    this.storedFrames = frames;
    this.storedAt = at;
    if (this.framesSeen <= frames) {
      this.lastActivityAt = at;
      this.emit();
    }
  }

  /** Fold frames read together into the run; one change notification for all of them. */
  fold(frames: Iterable<StreamFrame>, at: FoldPosition): void {
    let changed = false;
    for (const f of frames) if (this.take(f, at)) changed = true;
    this.skipLeft = Math.max(0, at.skip - at.index);
    if (changed) {
      if (this.framesSeen > this.storedFrames) this.lastActivityAt = this.now();
      this.armQuietConfirm();
      this.emit();
    }
  }

  /** Fold one frame into the run: ids, or the next log entry. Returns whether anything changed. */
  private take(f: StreamFrame, at: FoldPosition): boolean {
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
      this.onCreated?.();
      return true;
    }
    at.index += 1;
    const name = f.kind === "event" ? f.event.type : f.name;
    if (at.index <= at.skip) {
      // Already in the log: a from-zero replay. Check it is the frame we hold.
      const have = this.names[(at.index - 1) % NAME_RING];
      if (at.index > this.framesSeen - NAME_RING && have !== undefined && have !== name) {
        this.log.warn({ runId: this.runId, position: at.index - 1, have, got: name }, "replayed frame differs from the one held");
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
}
