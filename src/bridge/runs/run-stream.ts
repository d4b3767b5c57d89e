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
import type { EventLog } from "./event-log.js";
import { isTerminal } from "./run-state.js";
import { NAME_RING, RunStreamState, type RunStreamOptions, type TerminalInfo } from "./run-stream-state.js";
import {
  asLoomError,
  errSummary,
  isFatalForStream,
  loopLostFrom,
  startNotCreated,
  type AgentStatusLike,
  type RunStreamClient,
  type SseStreamLike,
} from "./run-stream-client.js";

/** Above this many frames a re-attach replays from 0 instead of reading the transcript. */
const TRANSCRIPT_RESUME_MAX_FRAMES = 50_000;

type StartBody = Parameters<RunStreamClient["startInteractiveRun"]>[0];

export class RunStream extends RunStreamState {
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
        await this.sleep(this.timings.backoffMs[Math.min(this.reconnectFailures, this.timings.backoffMs.length - 1)] ?? 4000);
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
        if (i === 0)
          this.log.warn(
            { agentId: this.agentId, err: errSummary(err) },
            "start response lost and the run cannot be looked up yet; still looking by agent_id",
          );
        await this.sleep(this.timings.backoffMs[Math.min(i + 1, this.timings.backoffMs.length - 1)] ?? 4000);
      }
    }
    return false;
  }

  /** Ask loomcycle whether a loop still drives this run (sets loopLost); the status read, or
   * undefined when loomcycle cannot say. */
  async checkLoop(signal?: AbortSignal): Promise<AgentStatusLike | undefined> {
    if (!this.agentId) return undefined;
    try {
      const st = await this.client.getAgent(this.agentId, {
        signal: signal ? AbortSignal.any([signal, this.abort.signal]) : this.abort.signal,
      });
      this.loopLost = loopLostFrom(st, this.now());
      if (this.loopLost)
        this.log.info(
          { runId: this.runId, heartbeatAt: this.loopLost.heartbeatAt },
          "loomcycle lists the run as running but no loop drives it",
        );
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
      this.lastError = asLoomError(err);
      return "unknown";
    } finally {
      this.current = undefined;
    }
    const terminal: TerminalInfo = { status: st.status };
    if (st.stop_reason) terminal.stopReason = st.stop_reason;
    if (st.error) terminal.error = st.error;
    if (this.sawDone) terminal.status = "completed";
    this.finish(terminal);
    return "terminal-drained";
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
