// One run's background subscription and its append-only event log: across reconnects
// no event is lost and none is repeated.
//
// The log holds the run's frames in arrival order, `session`/`agent` excluded. Its
// positions are stable: loomcycle's tail streams replay a run's persisted rows in
// seq order, so position i is the i-th streamable row of the run whichever stream
// delivered it. When a stream drops before the run is terminal we re-attach with
// `GET /v1/runs/{id}/stream` and continue exactly after the last complete frame:
//  - fast path: map "frames we have" to a transcript `seq` and pass it as
//    `from_seq` (checked against the frame names we hold, because loomcycle
//    versions differ in which rows the tail streams);
//  - fallback: `from_seq=0` and skip the frames we already have.
// The POST that started the run is never repeated.
import type { LoomEvent, StreamFrame } from "../loomcycle/events.js";
import {
  LoomcycleError,
  NotFoundError,
  UnauthorizedError,
  ForbiddenError,
} from "../loomcycle/errors.js";
import type { Logger } from "../../logger.js";
import { EventLog } from "./event-log.js";

export interface SseStreamLike {
  frames: AsyncIterable<StreamFrame>;
  /** Optional: the same frames, grouped by the read that completed them (fewer wake-ups). */
  batches?: AsyncIterable<StreamFrame[]>;
  close(): void;
}

export interface AgentStatusLike {
  status: string;
  run_id?: string;
  session_id?: string;
  agent_id?: string;
  stop_reason?: string | undefined;
  error?: string | undefined;
  last_heartbeat_at?: string | undefined;
  /** Cancel handle registered on the answering replica (false for a run no loop drives there). */
  live?: boolean | undefined;
  /** Cluster mode: the replica that owns the run. */
  replica_id?: string | undefined;
}

/** A run loomcycle lists as `running` whose loop is gone (see RunStream.loopLost). */
export interface LoopLost {
  heartbeatAt?: string;
}

/** loomcycle refreshes a live run's heartbeat every 30 s, parked or not. */
export const HEARTBEAT_STALE_MS = 90_000;

/**
 * Whether a status says the run's loop is gone while its row still reads `running`: after
 * loomcycle restarts, a run that was mid-turn or parked is not resumed (its row stays
 * `running`, `live: false`, until the heartbeat sweeper fails it ~10 minutes later) and a
 * steer to it is refused with 404. Single node: `live: false` says it. Cluster (the status
 * names a replica, and `live` speaks only for the replica that answered): a heartbeat older
 * than three refresh periods says it.
 */
export function loopLostFrom(st: AgentStatusLike, now: number): LoopLost | undefined {
  if (st.status !== "running") return undefined;
  const hb = st.last_heartbeat_at ? Date.parse(st.last_heartbeat_at) : NaN;
  const stale = Number.isFinite(hb) && now - hb > HEARTBEAT_STALE_MS;
  const lost = st.replica_id ? stale : st.live === false;
  if (!lost) return undefined;
  return st.last_heartbeat_at ? { heartbeatAt: st.last_heartbeat_at } : {};
}

export interface TranscriptRowLike {
  seq: number;
  run_id: string;
  type: string;
  payload?: unknown;
}

/** The slice of LoomcycleClient a run stream needs (kept narrow so it is easy to fake). */
export interface RunStreamClient {
  startInteractiveRun(
    body: { agent: string; prompt: string; user_id?: string; agent_id?: string; session_id?: string; metadata?: Record<string, string> },
    opts?: { signal?: AbortSignal },
  ): Promise<SseStreamLike>;
  streamRun(runId: string, fromSeq: number, opts?: { signal?: AbortSignal }): Promise<SseStreamLike>;
  getAgent(agentId: string, opts?: { signal?: AbortSignal }): Promise<AgentStatusLike>;
  transcript(sessionId: string, opts?: { signal?: AbortSignal }): Promise<{ events: TranscriptRowLike[] }>;
}

/** `released`: the run was parked and nobody needed it, so its stream was closed to save
 * loomcycle a connection and its database polls; the log, state and position are kept,
 * and the next interest re-attaches exactly where the log ends. */
export type StreamPhase = "connecting" | "live" | "reconnecting" | "released" | "ended";

export interface TerminalInfo {
  status: "completed" | "failed" | "cancelled";
  stopReason?: string;
  error?: string;
}

export interface RunStreamOptions {
  logger: Logger;
  /** Delays before re-attach attempts; the last one repeats (default: at once, 0.5, 1, 2, 4 s, then every 4 s). */
  backoffMs?: readonly number[];
  /** Use the transcript to compute `from_seq` on re-attach (default true). */
  useTranscriptResume?: boolean;
  /** Events kept in memory per run (older ones are re-fetched on demand). */
  window?: number;
  now?: () => number;
}

export const DEFAULT_BACKOFF_MS = [0, 500, 1000, 2000, 4000] as const;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
/** Above this many frames a re-attach replays from 0 instead of reading the transcript. */
const TRANSCRIPT_RESUME_MAX_FRAMES = 50_000;
/** A re-attach without a known catch-up count is confirmed after this long without a frame. */
const QUIET_CONFIRM_MS = 150;
/** …and one whose count (from the transcript) has not been reached, after this long. */
const QUIET_CONFIRM_COUNTED_MS = 1000;
/** How many recent frame names we keep to check a transcript-based resume point. */
const NAME_RING = 64;

type StartBody = Parameters<RunStreamClient["startInteractiveRun"]>[0];

export class RunStream {
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
  private framesSeen = 0;
  private readonly names: string[] = new Array<string>(NAME_RING);
  private readonly listeners = new Set<() => void>();
  private eventSink: ((e: LoomEvent, position: number) => void) | undefined;
  private readonly abort = new AbortController();
  private current: SseStreamLike | undefined;
  private sawDone = false;
  private readonly backoff: readonly number[];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly useTranscript: boolean;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wakeSleep: (() => void) | undefined;
  /** release() closed the current stream on purpose: the loop parks instead of re-attaching. */
  private releaseRequested = false;
  /** release() asked to let go of the log too (see EventLog.dropHeld). */
  private dropLogOnRelease = false;
  /** Someone wants the stream (set by interest(), cleared by release()). */
  private wanted = true;
  private wakeReleased: (() => void) | undefined;
  /** After a release: re-attached, but the frames that arrived meanwhile are not all in yet. */
  private confirming = false;
  /** Frame count at which a re-attach has caught up (from the transcript), when known. */
  private catchUpTo: number | undefined;
  /** Replayed frames still to skip on the current stream (a from-zero re-attach). */
  private skipLeft = 0;
  private quietTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly client: RunStreamClient,
    opts: RunStreamOptions,
  ) {
    this.backoff = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    this.useTranscript = opts.useTranscriptResume ?? true;
    this.events = new EventLog(opts.window);
    this.lastActivityAt = this.now();
  }

  /** Start a new interactive run. `body.agent_id` should be set by the caller so a lost
   * start response can be looked up instead of re-posted. */
  static start(client: RunStreamClient, body: StartBody, opts: RunStreamOptions): RunStream {
    const rs = new RunStream(client, opts);
    rs.agentId = body.agent_id;
    void rs.run(() => client.startInteractiveRun(body, { signal: rs.abort.signal }), true);
    return rs;
  }

  /** Follow a run that already exists (started elsewhere, or by an earlier process). */
  static attach(client: RunStreamClient, runId: string, opts: RunStreamOptions): RunStream {
    const rs = new RunStream(client, opts);
    rs.runId = runId;
    void rs.run(() => client.streamRun(runId, 0, { signal: rs.abort.signal }), false);
    return rs;
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
  get confirmed(): boolean {
    return !this.confirming || this.terminal !== undefined || this.fatal !== undefined || this.closed;
  }

  private confirm(): void {
    if (!this.confirming) return;
    this.confirming = false;
    this.catchUpTo = undefined;
    this.releasedAt = undefined;
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    this.emit();
  }

  /** Without a known catch-up count: confirmed once the replay reached what we held and no
   * frame came for a moment. With one, the same after a longer quiet, in case a row the
   * transcript counted never streams (loomcycle versions differ in which rows do). */
  private armQuietConfirm(): void {
    if (!this.confirming) return;
    if (this.quietTimer) clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(
      () => {
        this.quietTimer = undefined;
        if (this.phase === "live" && this.skipLeft === 0) this.confirm();
        else this.armQuietConfirm();
      },
      this.catchUpTo === undefined ? QUIET_CONFIRM_MS : QUIET_CONFIRM_COUNTED_MS,
    );
    this.quietTimer.unref?.();
  }

  /** Parked after a release: wait until someone wants the stream again (or close()). */
  private waitForInterest(): Promise<void> {
    if (this.wanted || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeReleased = () => {
        this.wakeReleased = undefined;
        resolve();
      };
    });
  }

  private emit(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (err) {
        this.log.error({ err }, "run stream listener failed");
      }
    }
  }

  private setPhase(p: StreamPhase): void {
    if (this.phase === p) return;
    this.phase = p;
    this.emit();
  }

  private async run(open: () => Promise<SseStreamLike>, isStart: boolean): Promise<void> {
    let opener: () => Promise<{ stream: SseStreamLike; skip: number }> = async () => ({ stream: await open(), skip: 0 });
    try {
      while (!this.closed) {
        const connectedAt = this.now();
        const before = this.framesSeen;
        let failure: LoomcycleError | undefined;
        try {
          const { stream, skip } = await opener();
          if (this.closed) {
            stream.close();
            return;
          }
          this.current = stream;
          this.lastError = undefined;
          this.skipLeft = skip;
          if (this.confirming && this.catchUpTo !== undefined && this.framesSeen >= this.catchUpTo) this.confirm();
          this.setPhase("live");
          // A GET stream (attach or re-attach) replays whatever is stored, whether or not a
          // loop still drives the run: ask loomcycle, without holding up the replay.
          if (!isStart) this.loopCheck = this.checkLoop().finally(() => (this.loopCheck = undefined));
          this.armQuietConfirm();
          await this.consume(stream, skip);
        } catch (err) {
          if (this.closed) return;
          failure = asLoomError(err);
          this.lastError = failure;
        } finally {
          this.current = undefined;
        }
        if (this.closed) return;
        if (this.releaseRequested) {
          // We closed the stream on purpose (release()): park until someone needs the
          // run, then re-attach exactly after the last frame held.
          this.releaseRequested = false;
          this.lastError = undefined;
          this.releasedAt ??= this.now(); // unconfirmed since an earlier release: still as of that one
          if (this.dropLogOnRelease) this.events.dropHeld(); // every frame is in: loomcycle keeps them, fetchRange re-reads them
          this.releases += 1;
          this.confirming = true;
          this.catchUpTo = undefined;
          this.log.debug({ runId: this.runId, frames: this.framesSeen }, "released the run's stream");
          this.setPhase("released");
          await this.waitForInterest();
          if (this.closed) return;
          this.reconnectFailures = 0;
          isStart = false;
          opener = () => this.reattach();
          continue;
        }
        // A stream that failed (rather than ended) leaves the run unreachable until a
        // re-attach succeeds, including while its status is looked up.
        if (failure && this.created) this.setPhase("reconnecting");

        if (isStart && !this.created) {
          // The POST failed or dropped before the `agent` frame. Never re-post: unless
          // loomcycle refused it or never got it, find out whether it created the run
          // under the agent_id we chose.
          if ((failure && startNotCreated(failure)) || !(await this.findStartedRun())) {
            if (this.closed) return;
            this.fatal = failure ?? new LoomcycleError("protocol", "the start stream closed before loomcycle announced the run");
            this.setPhase("ended");
            return;
          }
        } else if (failure && isFatalForStream(failure, this.events.length)) {
          this.fatal = failure;
          this.setPhase("ended");
          return;
        }
        isStart = false;
        if (this.framesSeen > before || this.now() - connectedAt > 2000) this.reconnectFailures = 0;

        // The stream ended. Decide: finished, or re-attach.
        if (this.sawDone) {
          this.finish({ status: "completed", stopReason: lastStopReason(this.events) });
          return;
        }
        if ((await this.checkStatus()) === "terminal-drained" || this.closed) return;
        // Running, or unknown because loomcycle is unreachable: re-attach after backoff.
        // reconnectFailures counts attempts since the last one that made progress.
        this.setPhase("reconnecting");
        await this.sleep(this.backoff[Math.min(this.reconnectFailures, this.backoff.length - 1)] ?? 4000);
        this.reconnectFailures += 1;
        opener = () => this.reattach();
      }
    } catch (err) {
      if (!this.closed) {
        this.log.error({ err: errSummary(err), runId: this.runId }, "run stream loop crashed");
        this.fatal = asLoomError(err);
        this.setPhase("ended");
      }
    }
  }

  /** After a lost start response: look the run up by the agent_id we chose. False only
   * when loomcycle says there is no such run; while it cannot say (unreachable, 5xx),
   * the run may exist, so keep asking (as for a lost stream) rather than give up on it. */
  private async findStartedRun(): Promise<boolean> {
    if (!this.agentId) return false;
    for (let i = 0; !this.closed; i++) {
      try {
        const st = await this.client.getAgent(this.agentId, { signal: this.abort.signal });
        if (st.run_id) {
          this.runId = st.run_id;
          if (st.session_id) this.sessionId = st.session_id;
          this.created = true;
          this.log.info({ runId: this.runId, agentId: this.agentId }, "start response lost; found the run by agent_id");
          this.emit();
          return true;
        }
        return false;
      } catch (err) {
        if (err instanceof NotFoundError || this.closed) return false;
        this.lastError = asLoomError(err);
        this.setPhase("reconnecting");
        if (i === 0) this.log.warn({ agentId: this.agentId, err: errSummary(err) }, "start response lost and the run cannot be looked up yet; still looking by agent_id");
        await this.sleep(this.backoff[Math.min(i + 1, this.backoff.length - 1)] ?? 4000);
      }
    }
    return false;
  }

  /** Ask loomcycle whether a loop still drives this run (sets loopLost); the status read, or
   * undefined when loomcycle cannot say. */
  async checkLoop(signal?: AbortSignal): Promise<AgentStatusLike | undefined> {
    if (!this.agentId) return undefined;
    try {
      const st = await this.client.getAgent(this.agentId, { signal: signal ? AbortSignal.any([signal, this.abort.signal]) : this.abort.signal });
      this.loopLost = loopLostFrom(st, this.now());
      if (this.loopLost) this.log.info({ runId: this.runId, heartbeatAt: this.loopLost.heartbeatAt }, "loomcycle lists the run as running but no loop drives it");
      this.emit();
      return st;
    } catch (err) {
      this.log.debug({ err: errSummary(err), runId: this.runId }, "liveness lookup failed");
      return undefined;
    }
  }

  /** EOF without `done`: ask loomcycle whether the run ended. Returns "terminal-drained"
   * when the run is over and the log is complete. */
  private async checkStatus(): Promise<"running" | "unknown" | "terminal-drained"> {
    if (!this.agentId) return this.runId ? "running" : "unknown";
    let st: AgentStatusLike;
    try {
      st = await this.client.getAgent(this.agentId, { signal: this.abort.signal });
    } catch (err) {
      if (this.closed) return "unknown";
      this.lastError = asLoomError(err);
      this.log.debug({ err: errSummary(err), runId: this.runId }, "status lookup failed");
      return "unknown";
    }
    if (!TERMINAL.has(st.status)) return "running";
    // Terminal: frames persisted before the end may not have reached us (the cut may
    // have come first). A re-attach of a terminal run replays and closes at once, so
    // drain it before declaring the log complete.
    try {
      const { stream, skip } = await this.reattach();
      this.current = stream;
      await this.consume(stream, skip);
    } catch (err) {
      if (this.closed) return "unknown";
      this.lastError = asLoomError(err);
      return "unknown";
    } finally {
      this.current = undefined;
    }
    const terminal: TerminalInfo = { status: st.status as TerminalInfo["status"] };
    if (st.stop_reason) terminal.stopReason = st.stop_reason;
    if (st.error) terminal.error = st.error;
    if (this.sawDone) terminal.status = "completed";
    this.finish(terminal);
    return "terminal-drained";
  }

  private finish(t: TerminalInfo): void {
    this.terminal = t;
    this.lastError = undefined;
    this.confirming = false;
    this.releasedAt = undefined;
    this.log.debug({ runId: this.runId, status: t.status, frames: this.framesSeen }, "run ended");
    this.setPhase("ended");
    this.emit();
  }

  private async reattach(): Promise<{ stream: SseStreamLike; skip: number }> {
    const runId = this.runId;
    if (!runId) throw new NotFoundError("run id unknown; cannot re-attach");
    let fromSeq = 0;
    let skip = this.framesSeen;
    // The transcript is one unpaginated document: worth it for ordinary runs, not for
    // huge ones, which replay from 0 (streamed, bounded memory) instead.
    if (this.useTranscript && this.sessionId && this.framesSeen > 0 && this.framesSeen <= TRANSCRIPT_RESUME_MAX_FRAMES) {
      const point = await this.resumeSeq(runId, this.sessionId).catch((err: unknown) => {
        this.log.debug({ err: errSummary(err) }, "transcript resume point unavailable; replaying from 0");
        return undefined;
      });
      if (point !== undefined) {
        fromSeq = point.seq;
        skip = 0;
        // What loomcycle held when we asked: once that many frames are in, we are caught up.
        this.catchUpTo = point.frames;
      } else this.catchUpTo = undefined;
    } else this.catchUpTo = undefined;
    const stream = await this.client.streamRun(runId, fromSeq, { signal: this.abort.signal });
    this.reattaches += 1;
    if (fromSeq > 0) this.reattachesFromSeq += 1;
    this.log.debug({ runId, fromSeq, skip }, "re-attached");
    return { stream, skip };
  }

  /**
   * The transcript `seq` of the last frame we hold, or undefined when it cannot be
   * established with certainty. Streamable rows of this run, in seq order, map 1:1 to
   * frames; which rows stream differs across loomcycle versions (some turn user_input
   * rows into `steer` frames, some skip them), so the mapping is checked against the
   * names of the last frames we received before it is trusted.
   */
  private async resumeSeq(runId: string, sessionId: string): Promise<{ seq: number; frames: number } | undefined> {
    const { events: rows } = await this.client.transcript(sessionId, { signal: this.abort.signal });
    const mine = rows.filter((r) => r.run_id === runId);
    for (const userInputAsSteer of [true, false]) {
      const streamable: Array<{ seq: number; name: string }> = [];
      for (const r of mine) {
        if (r.type === "system_prompt") continue;
        if (r.type === "user_input") {
          if (userInputAsSteer && segmentsText(r.payload) !== "") streamable.push({ seq: r.seq, name: "steer" });
          continue;
        }
        streamable.push({ seq: r.seq, name: r.type });
      }
      const n = this.framesSeen;
      if (streamable.length < n) continue;
      let ok = true;
      for (let i = Math.max(0, n - NAME_RING); i < n; i++) {
        const have = this.names[i % NAME_RING];
        if (have !== streamable[i]?.name) {
          ok = false;
          break;
        }
      }
      const seq = streamable[n - 1]?.seq;
      if (ok && seq !== undefined) return { seq, frames: streamable.length };
    }
    return undefined;
  }

  /**
   * Re-read log positions [from, from + count) from loomcycle (for positions evicted
   * from memory): a replay of the run, counting positions exactly as the live log
   * does, closed as soon as the range is read. Bounded by `signal`.
   */
  async fetchRange(from: number, count: number, signal?: AbortSignal): Promise<LoomEvent[]> {
    const runId = this.runId;
    if (!runId) throw new NotFoundError("run id unknown; cannot re-read");
    const sig = signal ? AbortSignal.any([signal, this.abort.signal]) : this.abort.signal;
    const stream = await this.client.streamRun(runId, 0, { signal: sig });
    const out: LoomEvent[] = [];
    let pos = 0;
    try {
      for await (const f of stream.frames) {
        if (f.kind !== "event") continue;
        if (pos >= from) {
          out.push(f.event);
          if (out.length >= count) break;
        }
        pos += 1;
      }
    } finally {
      stream.close();
    }
    return out;
  }

  private async consume(stream: SseStreamLike, skip: number): Promise<void> {
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

  private sleep(ms: number): Promise<void> {
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

/** Transport failures that mean the request never reached loomcycle (see http.ts networkError). */
const NOT_REACHED = new Set(["connect_refused", "dns_failed", "connect_timeout", "host_unreachable", "tls_failed"]);

/** A failed start that certainly created no run: loomcycle (or a proxy) refused it with a
 * 4xx, or it never reached loomcycle. 5xx, resets and timeouts leave it open. */
function startNotCreated(e: LoomcycleError): boolean {
  if (e.code !== undefined && NOT_REACHED.has(e.code)) return true;
  return e.status !== undefined && e.status >= 400 && e.status < 500;
}

/** Errors after which re-attaching cannot help: the run is unknown to loomcycle (or to
 * this token), or the token is refused before we ever read the run. */
function isFatalForStream(e: LoomcycleError, eventsHeld: number): boolean {
  if (e instanceof NotFoundError) return true;
  return (e instanceof UnauthorizedError || e instanceof ForbiddenError) && eventsHeld === 0;
}

function lastStopReason(events: EventLog): string | undefined {
  for (let i = events.length - 1; i >= Math.max(0, events.length - 64); i--) {
    const e = events.at(i);
    if (e?.type === "done") return e.stop_reason;
  }
  return undefined;
}

/** Text of a user_input payload as the tail joins it: every segment's text blocks, joined by "\n". */
export function segmentsText(payload: unknown): string {
  if (!Array.isArray(payload)) return "";
  const parts: string[] = [];
  for (const seg of payload) {
    const content = (seg as { content?: unknown })?.content;
    if (!Array.isArray(content)) continue;
    for (const b of content) {
      const t = (b as { text?: unknown })?.text;
      if (typeof t === "string" && t !== "") parts.push(t);
    }
  }
  return parts.join("\n");
}

export function asLoomError(err: unknown): LoomcycleError {
  if (err instanceof LoomcycleError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new LoomcycleError("unreachable", msg, { cause: err });
}

function errSummary(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
