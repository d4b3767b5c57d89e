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
import type { LoomEvent } from "../loomcycle/events.js";
import { LoomcycleError, NotFoundError } from "../loomcycle/errors.js";
import { isTerminal } from "./run-state.js";
import { RunStreamState, type RunStreamOptions, type TerminalInfo } from "./run-stream-state.js";
export type { RunStreamOptions };
import { lastEventTime, replayRange, resumePoint } from "./replay.js";
import { Pause } from "./pause.js";
import { timings } from "../timings.js";
import type { Logger } from "../../logger.js";
import { judgeLoop, type ClusterWatch } from "./liveness.js";
import {
  asLoomError,
  errSummary,
  isFatalForStream,
  startNotCreated,
  type AgentStatusLike,
  type RunStreamClient,
  type SseStreamLike,
} from "./run-stream-client.js";

/** Above this many frames a re-attach replays from 0 instead of reading the transcript. */
const TRANSCRIPT_RESUME_MAX_FRAMES = 50_000;

type StartBody = Parameters<RunStreamClient["startInteractiveRun"]>[0];

export class RunStream {
  /** What is known of the run: ids, log, phase, outcome (read it; only this stream changes it). */
  readonly state: RunStreamState;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly useTranscript: boolean;
  private readonly abort = new AbortController();
  private current: SseStreamLike | undefined;
  /** The backoff before a re-attach (a waiting call cuts it short). */
  private readonly backoff = new Pause();
  /** release() closed the current stream on purpose: the loop parks instead of re-attaching. */
  private releaseRequested = false;
  /** release() asked to let go of the log too (see EventLog.dropHeld). */
  private dropLogOnRelease = false;
  /** Someone wants the stream (set by interest(), cleared by release()). */
  private wanted = true;
  /** Parked after a release, until someone wants the stream again. */
  private readonly parked = new Pause();
  /** loomcycle's view of its replicas (cluster liveness), shared by the tracker's runs. */
  private readonly cluster: ClusterWatch | undefined;

  private constructor(
    private readonly client: RunStreamClient,
    opts: RunStreamOptions,
  ) {
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    this.useTranscript = opts.useTranscriptResume ?? true;
    this.cluster = opts.cluster;
    this.state = new RunStreamState(opts.logger, timings(opts.timings), opts.window, this.now);
  }

  /** Start a new interactive run. `body.agent_id` should be set by the caller so a lost
   * start response can be looked up instead of re-posted. */
  static start(client: RunStreamClient, body: StartBody, opts: RunStreamOptions): RunStream {
    const rs = new RunStream(client, opts);
    rs.state.agentId = body.agent_id;
    // Its loop is the one just started: the first liveness reading is due a cache period from now.
    rs.state.loopCheckedAt = rs.now();
    void rs.run(() => client.startInteractiveRun(body, { signal: rs.abort.signal }), true);
    return rs;
  }

  /** Follow a run that already exists (started elsewhere, or by an earlier process). */
  static attach(client: RunStreamClient, runId: string, opts: RunStreamOptions): RunStream {
    const rs = new RunStream(client, opts);
    rs.state.runId = runId;
    // First contact: a stream replays whatever is stored, whether or not a loop still drives
    // the run. Ask loomcycle as soon as the run's ids are known (its `agent` frame).
    rs.state.onCreated = () => {
      rs.startLoopCheck();
      rs.readStoredActivity();
    };
    void rs.run(() => client.streamRun(runId, 0, { signal: rs.abort.signal }), false);
    return rs;
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  /** The state has been confirmed since the last release (see RunStreamState.confirmed), or the stream is closed. */
  get confirmed(): boolean {
    return this.state.confirmed || this.closed;
  }

  /** Stop following the run locally. Never affects the remote run. */
  close(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Error("run stream closed"));
    this.current?.close();
    this.state.stopQuietTimer();
    this.backoff.wake();
    this.parked.wake();
    if (this.state.phase !== "ended") this.state.setPhase("ended");
  }

  /** Ask a reconnecting stream to try again now (e.g. a tool call is waiting on it). */
  nudge(): void {
    if (this.state.phase === "reconnecting") this.backoff.wake();
  }

  /**
   * Close the upstream stream of a live run that nobody needs now (the caller decides
   * when: see TrackedRun.releaseIfIdle). The ids, frame count and log positions stay
   * (with `dropLog`, the events themselves are let go: a read re-fetches them); the next
   * interest() re-attaches after the last frame received. Never affects the remote run.
   * Returns whether a stream was released.
   */
  release(opts: { dropLog?: boolean } = {}): boolean {
    const s = this.state;
    if (this.closed || s.phase !== "live" || !this.current || !s.created || s.terminal || s.sawDone) return false;
    if (s.confirming) return false; // let a re-attach catch up first: its state is what the release keeps
    this.wanted = false;
    this.releaseRequested = true;
    this.dropLogOnRelease = opts.dropLog === true;
    this.current.close();
    return true;
  }

  /** Someone needs this run now (a read, a wait, a steer, a list): a released stream re-attaches. */
  interest(): void {
    this.wanted = true;
    this.parked.wake();
  }

  /** Fold what the stream delivers into the state, a read of the body at a time. */
  private async consume(stream: SseStreamLike, skip: number): Promise<void> {
    const at = { index: 0, skip };
    if (stream.batches) {
      // One wake-up and one change notification per read of the body, not per frame.
      for await (const batch of stream.batches) {
        if (this.closed) break;
        this.state.fold(batch, at);
      }
      return;
    }
    for await (const f of stream.frames) {
      if (this.closed) break;
      this.state.fold([f], at);
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.closed ? Promise.resolve() : this.backoff.wait(ms);
  }

  private async run(open: () => Promise<SseStreamLike>, isStart: boolean): Promise<void> {
    let opener: () => Promise<{ stream: SseStreamLike; skip: number }> = async () => ({ stream: await open(), skip: 0 });
    try {
      while (!this.closed) {
        const connectedAt = this.now();
        const before = this.state.framesSeen;
        let failure: LoomcycleError | undefined;
        try {
          const { stream, skip } = await opener();
          if (this.closed) {
            stream.close();
            return;
          }
          this.current = stream;
          this.state.lastError = undefined;
          this.state.skipLeft = skip;
          if (this.state.confirming && this.state.catchUpTo !== undefined && this.state.framesSeen >= this.state.catchUpTo)
            this.state.confirm();
          this.state.setPhase("live");
          // A GET stream (re-attach) replays whatever is stored, whether or not a loop still
          // drives the run: ask loomcycle, without holding up the replay. (On first contact
          // the ids are not known yet: the `agent` frame starts the check, see attach.)
          if (!isStart && this.state.agentId) this.startLoopCheck();
          this.state.armQuietConfirm();
          await this.consume(stream, skip);
        } catch (err) {
          if (this.closed) return;
          failure = asLoomError(err);
          this.state.lastError = failure;
        } finally {
          this.current = undefined;
        }
        if (this.closed) return;
        if (this.releaseRequested) {
          // We closed the stream on purpose (release()): park until someone needs the
          // run, then re-attach exactly after the last frame held.
          this.releaseRequested = false;
          this.state.lastError = undefined;
          this.state.released(); // as of this release, or of an earlier one not confirmed since
          if (this.dropLogOnRelease) this.state.events.dropHeld(); // every frame is in: loomcycle keeps them, fetchRange re-reads them
          this.log.debug({ runId: this.state.runId, frames: this.state.framesSeen }, "released the run's stream");
          this.state.setPhase("released");
          if (!this.wanted && !this.closed) await this.parked.wait();
          if (this.closed) return;
          this.state.reconnectFailures = 0;
          isStart = false;
          opener = () => this.reattach();
          continue;
        }
        // A stream that failed (rather than ended) leaves the run unreachable until a
        // re-attach succeeds, including while its status is looked up.
        if (failure && this.state.created) this.state.setPhase("reconnecting");

        if (isStart && !this.state.created) {
          // The POST failed or dropped before the `agent` frame. Never re-post: unless
          // loomcycle refused it or never got it, find out whether it created the run
          // under the agent_id we chose.
          if ((failure && startNotCreated(failure)) || !(await this.findStartedRun())) {
            if (this.closed) return;
            this.state.fatal =
              failure ?? new LoomcycleError("protocol", "the start stream closed before loomcycle announced the run");
            this.state.setPhase("ended");
            return;
          }
        } else if (failure && isFatalForStream(failure, this.state.events.length)) {
          this.state.fatal = failure;
          this.state.setPhase("ended");
          return;
        }
        isStart = false;
        if (this.state.framesSeen > before || this.now() - connectedAt > 2000) this.state.reconnectFailures = 0;

        // The stream ended. Decide: finished, or re-attach.
        if (this.state.sawDone) {
          this.state.finish({ status: "completed", stopReason: this.state.lastStopReason() });
          return;
        }
        if ((await this.checkStatus()) === "terminal-drained" || this.closed) return;
        // Running, or unknown because loomcycle is unreachable: re-attach after backoff.
        // reconnectFailures counts attempts since the last one that made progress.
        this.state.setPhase("reconnecting");
        await this.sleep(
          this.state.timings.backoffMs[Math.min(this.state.reconnectFailures, this.state.timings.backoffMs.length - 1)] ?? 4000,
        );
        this.state.reconnectFailures += 1;
        opener = () => this.reattach();
      }
    } catch (err) {
      if (!this.closed) {
        this.log.error({ err: errSummary(err), runId: this.state.runId }, "run stream loop crashed");
        this.state.fatal = asLoomError(err);
        this.state.setPhase("ended");
      }
    }
  }

  /** After a lost start response: look the run up by the agent_id we chose. False only
   * when loomcycle says there is no such run; while it cannot say (unreachable, 5xx),
   * the run may exist, so keep asking (as for a lost stream) rather than give up on it. */
  private async findStartedRun(): Promise<boolean> {
    if (!this.state.agentId) return false;
    for (let i = 0; !this.closed; i++) {
      try {
        const st = await this.client.getAgent(this.state.agentId, { signal: this.abort.signal });
        if (st.run_id) {
          this.state.runId = st.run_id;
          if (st.session_id) this.state.sessionId = st.session_id;
          this.state.created = true;
          this.log.info(
            { runId: this.state.runId, agentId: this.state.agentId },
            "start response lost; found the run by agent_id",
          );
          this.state.emit();
          return true;
        }
        return false;
      } catch (err) {
        if (err instanceof NotFoundError || this.closed) return false;
        this.state.lastError = asLoomError(err);
        this.state.setPhase("reconnecting");
        if (i === 0)
          this.log.warn(
            { agentId: this.state.agentId, err: errSummary(err) },
            "start response lost and the run cannot be looked up yet; still looking by agent_id",
          );
        await this.sleep(this.state.timings.backoffMs[Math.min(i + 1, this.state.timings.backoffMs.length - 1)] ?? 4000);
      }
    }
    return false;
  }

  /** First contact with a run stored before: read its session transcript once, for when its
   * last event happened (and, for a run started elsewhere, its opening prompt). */
  private readStoredActivity(): void {
    const { sessionId, runId } = this.state;
    if (!sessionId || !runId) {
      this.state.storedActivityKnown = true;
      return;
    }
    this.state.firstTranscript = this.client.transcript(sessionId, { signal: this.abort.signal }).then(
      ({ events }) => {
        const t = lastEventTime(events, runId);
        if (t) this.state.noteStoredActivity(t.frames, t.at);
        return events;
      },
      (err: unknown) => {
        this.log.debug({ err: errSummary(err), runId }, "transcript unreadable: the last activity is the attach time");
        return undefined;
      },
    );
    void this.state.firstTranscript.finally(() => {
      this.state.storedActivityKnown = true;
      this.state.emit();
    });
  }

  /** Start a liveness lookup that readers can wait for (state.loopCheck), unless one is in flight. */
  startLoopCheck(signal?: AbortSignal): Promise<AgentStatusLike | undefined> {
    this.state.loopCheck ??= this.checkLoop(signal).finally(() => {
      this.state.loopCheck = undefined;
      this.state.emit(); // a wait for the answer re-checks now
    });
    return this.state.loopCheck;
  }

  /** Read the run's status again when the last reading is older than `maxAgeMs` (or wait for
   * the one in flight): a loop can be lost while the stream stays open (in a cluster, the
   * replica that ran it dies while the stream goes through another). */
  async checkLoopIfStale(maxAgeMs: number, signal?: AbortSignal): Promise<void> {
    const s = this.state;
    if (s.loopCheck) {
      await s.loopCheck;
      return;
    }
    if (!s.created || s.terminal || s.fatal || !s.agentId || this.closed) return;
    if (this.now() - s.loopCheckedAt <= maxAgeMs) return;
    await this.startLoopCheck(signal);
  }

  /** Ask loomcycle whether a loop still drives this run (sets loopLost); the status read, or
   * undefined when loomcycle cannot say. */
  async checkLoop(signal?: AbortSignal): Promise<AgentStatusLike | undefined> {
    if (!this.state.agentId) return undefined;
    const sig = signal ? AbortSignal.any([signal, this.abort.signal]) : this.abort.signal;
    try {
      const st = await this.client.getAgent(this.state.agentId, { signal: sig });
      await this.noteStatus(st, sig);
      return st;
    } catch (err) {
      this.log.debug({ err: errSummary(err), runId: this.state.runId }, "liveness lookup failed");
      return undefined;
    }
  }

  /** How long ago (by loomcycle's clock) a replica last reported to the cluster, when its view
   * of its replicas can be read and lists it. */
  async replicaReportAge(replica: string, signal?: AbortSignal): Promise<number | undefined> {
    const view = await this.cluster?.view(signal);
    const beat = view?.replicas.get(replica);
    return view && beat !== undefined ? Math.max(0, view.at - beat) : undefined;
  }

  /** Judge the run's loop from a status loomcycle gave (GET /v1/agents/{id}, or its user's list). */
  async noteStatus(st: AgentStatusLike, signal?: AbortSignal): Promise<void> {
    const s = this.state;
    // In a cluster `live` speaks only for the replica that answered: ask loomcycle's view of its replicas.
    const view = st.status === "running" && st.replica_id && st.live !== true ? await this.cluster?.view(signal) : undefined;
    const was = s.loopLost;
    s.loopLost = judgeLoop(st, this.client.serverNow?.() ?? this.now(), { idle: s.isIdle(), cluster: view });
    s.lastStatus = st;
    s.loopCheckedAt = this.now();
    if (s.loopLost && !was)
      this.log.info(
        { runId: s.runId, cause: s.loopLost.cause, replica: s.loopLost.replica, heartbeatAt: s.loopLost.heartbeatAt },
        "loomcycle lists the run as running but no loop drives it",
      );
    s.emit();
  }

  /** EOF without `done`: ask loomcycle whether the run ended. Returns "terminal-drained"
   * when the run is over and the log is complete. */
  private async checkStatus(): Promise<"running" | "unknown" | "terminal-drained"> {
    if (!this.state.agentId) return this.state.runId ? "running" : "unknown";
    let st: AgentStatusLike;
    try {
      st = await this.client.getAgent(this.state.agentId, { signal: this.abort.signal });
    } catch (err) {
      if (this.closed) return "unknown";
      this.state.lastError = asLoomError(err);
      this.log.debug({ err: errSummary(err), runId: this.state.runId }, "status lookup failed");
      return "unknown";
    }
    if (!isTerminal(st.status)) return "running";
    // Terminal: frames persisted before the end may not have reached us (the cut may
    // have come first). A re-attach of a terminal run replays and closes at once, so
    // drain it before declaring the log complete.
    try {
      const { stream, skip } = await this.reattach();
      this.current = stream;
      await this.consume(stream, skip);
    } catch (err) {
      if (this.closed) return "unknown";
      this.state.lastError = asLoomError(err);
      return "unknown";
    } finally {
      this.current = undefined;
    }
    const terminal: TerminalInfo = { status: st.status };
    if (st.stop_reason) terminal.stopReason = st.stop_reason;
    if (st.error) terminal.error = st.error;
    if (this.state.sawDone) terminal.status = "completed";
    this.state.finish(terminal);
    return "terminal-drained";
  }

  private async reattach(): Promise<{ stream: SseStreamLike; skip: number }> {
    const runId = this.state.runId;
    if (!runId) throw new NotFoundError("run id unknown; cannot re-attach");
    let fromSeq = 0;
    let skip = this.state.framesSeen;
    // The transcript is one unpaginated document: worth it for ordinary runs, not for
    // huge ones, which replay from 0 (streamed, bounded memory) instead.
    if (
      this.useTranscript &&
      this.state.sessionId &&
      this.state.framesSeen > 0 &&
      this.state.framesSeen <= TRANSCRIPT_RESUME_MAX_FRAMES
    ) {
      const point = await this.resumeSeq(runId, this.state.sessionId).catch((err: unknown) => {
        this.log.debug({ err: errSummary(err) }, "transcript resume point unavailable; replaying from 0");
        return undefined;
      });
      if (point !== undefined) {
        fromSeq = point.seq;
        skip = 0;
        // What loomcycle held when we asked: once that many frames are in, we are caught up.
        this.state.catchUpTo = point.frames;
      } else this.state.catchUpTo = undefined;
    } else this.state.catchUpTo = undefined;
    const stream = await this.client.streamRun(runId, fromSeq, { signal: this.abort.signal });
    this.state.reattaches += 1;
    if (fromSeq > 0) this.state.reattachesFromSeq += 1;
    this.log.debug({ runId, fromSeq, skip }, "re-attached");
    return { stream, skip };
  }

  /** The transcript `seq` of the last frame we hold (see resumePoint), or undefined. */
  private async resumeSeq(runId: string, sessionId: string): Promise<{ seq: number; frames: number } | undefined> {
    const { events: rows } = await this.client.transcript(sessionId, { signal: this.abort.signal });
    return resumePoint(rows, runId, this.state);
  }

  /** Re-read log positions [from, from + count) from loomcycle (see replayRange). Bounded by `signal`. */
  async fetchRange(from: number, count: number, signal?: AbortSignal): Promise<LoomEvent[]> {
    const runId = this.state.runId;
    if (!runId) throw new NotFoundError("run id unknown; cannot re-read");
    return replayRange(
      this.client,
      runId,
      from,
      count,
      signal ? AbortSignal.any([signal, this.abort.signal]) : this.abort.signal,
    );
  }
}
