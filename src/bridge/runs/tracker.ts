// The run tracker: every run the bridge started or was asked about (a TrackedRun each),
// by run id; starting and attaching, the read positions kept across restarts, and the
// sweeper that drops finished runs and releases idle streams.
import { randomBytes } from "node:crypto";
import { RunStream, type RunStreamOptions } from "./run-stream.js";
import type { RunStreamClient } from "./run-stream-client.js";
import { BadRequestError } from "../loomcycle/errors.js";
import type { Logger } from "../../logger.js";
import { isId, mustMatch } from "../../ids.js";
import type { StateFile } from "./state-file.js";
import { TrackedRun } from "./tracked-run.js";
import { timings, type Timings } from "../timings.js";
import { isTerminal, type RunState } from "./run-state.js";
import type { SavedMarks } from "./run-marks.js";
import { ClusterWatch } from "./liveness.js";

export function newAgentId(): string {
  return "a_" + randomBytes(8).toString("hex");
}

export interface TrackerOptions {
  client: RunStreamClient;
  logger: Logger;
  /** Delays over their defaults (park release, retain finished, and the streams' backoff and confirms). */
  timings?: Partial<Timings>;
  /** Where read positions and followed runs are kept across restarts (optional). */
  stateFile?: StateFile;
  /** Events kept in memory per run. */
  eventWindow?: number;
}

export class RunTracker {
  private readonly runs = new Map<string, TrackedRun>();
  /** Runs whose start has not produced a run_id yet, by the agent_id we chose. */
  private readonly startingRuns = new Map<string, TrackedRun>();

  private readonly sweeper: NodeJS.Timeout;
  private readonly timings: Timings;
  /** loomcycle's view of its replicas (GET /healthz), shared by every run's liveness check. */
  readonly cluster: ClusterWatch | undefined;
  /** Runs loomcycle said it has no record of any more (gone), and those not yet told in a list. */
  private readonly goneIds = new Set<string>();
  private newlyGone: string[] = [];
  /** Read positions of dropped finished runs, when there is no state file to keep them. */
  private readonly droppedPositions = new Map<string, { readPos: number; marks: SavedMarks }>();

  constructor(private readonly opts: TrackerOptions) {
    // A finished run is dropped `retain` after its last use (reading it again re-attaches
    // it; its read position is in the state file); a parked one releases its stream after `park`.
    this.timings = timings(opts.timings);
    const health = opts.client.healthz?.bind(opts.client);
    const serverNow = opts.client.serverNow?.bind(opts.client);
    this.cluster = health
      ? new ClusterWatch({ healthz: health, ...(serverNow ? { serverNow } : {}) }, this.timings.heartbeatCacheMs)
      : undefined;
    const { retainFinishedMs: retain, parkReleaseMs: park } = this.timings;
    // A run releases between `park` and 1.25 × `park` after its last use.
    const every = Math.min(60_000, retain / 4, park > 0 ? park / 4 : Infinity);
    this.sweeper = setInterval(
      () => {
        this.sweep(retain);
        if (park > 0) this.releaseIdle(park);
      },
      Math.max(50, every),
    );
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
        this.droppedPositions.set(id, { readPos: run.readPos, marks: run.marks.toSaved() });
        if (this.droppedPositions.size > 10_000) this.droppedPositions.delete(this.droppedPositions.keys().next().value!);
      }
      run.stream.close();
      this.runs.delete(id);
      dropped += 1;
    }
    return dropped;
  }

  /** Remember where the host read to (and the run's ids, state and marks) across restarts. */
  noteRead(run: TrackedRun): void {
    if (!this.opts.stateFile || !run.runId || run.gone) return;
    const e: Parameters<StateFile["set"]>[1] = {
      read_pos: run.readPos,
      state: run.state,
      events: run.knownLength,
      last_activity_at: new Date(run.lastActivityAt).toISOString(),
      pending: run.openQuestions.length,
    };
    Object.assign(e, run.marks.toSaved());
    if (run.agentId) e.agent_id = run.agentId;
    if (run.sessionId) e.session_id = run.sessionId;
    if (run.agentName) e.agent = run.agentName;
    if (run.questions) e.questions = run.questions;
    const error = run.stateDetail.error;
    if (error) e.error = error;
    this.opts.stateFile.set(run.runId, e);
  }

  /** The runs found gone since the last call (a list says so once: they have left it). */
  takeGone(): string[] {
    const out = this.newlyGone;
    this.newlyGone = [];
    return out;
  }

  /** loomcycle has no such run any more (SPEC §2: shown as gone, it leaves the lists): forget it here and in the state file. */
  forgetGone(run: TrackedRun | undefined, runId: string): void {
    if (run && this.runs.get(runId) === run) this.runs.delete(runId);
    this.opts.stateFile?.delete(runId);
    this.droppedPositions.delete(runId);
    if (!this.goneIds.has(runId)) {
      this.goneIds.add(runId);
      if (this.goneIds.size > 1000) this.goneIds.delete(this.goneIds.values().next().value!);
      this.newlyGone.push(runId);
      this.opts.logger.info({ runId }, "loomcycle has no such run any more: it is gone");
    }
  }

  /** Forget a run as soon as it turns out gone (its re-attach, or its first attach, finds no such run). */
  private watchGone(run: TrackedRun): void {
    const off = run.stream.state.onChange(() => {
      if (!run.stream.state.fatal) return;
      off();
      const id = run.runId;
      if (id && run.gone) this.forgetGone(run, id);
    });
  }

  /** Save a run's entry whenever its state changes (a park is its last activity until the
   * next turn), so a restart after a crash still shows when it last did something. */
  private saveOnStateChange(run: TrackedRun): void {
    if (!this.opts.stateFile) return;
    let last: RunState | undefined;
    run.stream.state.onChange(() => {
      const st = run.state;
      if (st === last || !run.runId || !run.stream.state.created) return;
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
      if (e.state && isTerminal(e.state)) continue;
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

  private streamOpts(): RunStreamOptions {
    const o: RunStreamOptions = { logger: this.opts.logger, timings: this.timings };
    if (this.cluster) o.cluster = this.cluster;
    if (this.opts.eventWindow) o.window = this.opts.eventWindow;
    return o;
  }

  /** Start an interactive run. Returns at once; ids arrive on the stream. */
  start(body: {
    agent: string;
    prompt: string;
    user_id?: string;
    session_id?: string;
    metadata?: Record<string, string>;
  }): TrackedRun {
    const agentId = newAgentId();
    const stream = RunStream.start(this.opts.client, { ...body, agent_id: agentId }, this.streamOpts());
    const run = new TrackedRun(stream, this.opts.client, this.opts.logger);
    run.prompt = body.prompt;
    run.startedHere = true;
    run.marks.onChange = () => this.noteRead(run);
    this.saveOnStateChange(run);
    this.watchGone(run);
    run.agentName = body.agent;
    run.settled = true; // a new run has nothing to replay
    this.startingRuns.set(agentId, run);
    const off = stream.state.onChange(() => {
      if (stream.state.runId && !this.runs.has(stream.state.runId)) {
        this.runs.set(stream.state.runId, run);
        this.startingRuns.delete(agentId);
        this.noteRead(run);
        off();
      } else if (stream.state.fatal && !stream.state.created) {
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
    if (run && run.stream.state.fatal && !run.stream.state.terminal) {
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
    fresh.knownBefore = saved !== undefined || this.goneIds.has(runId) || this.droppedPositions.has(runId);
    if (saved) {
      fresh.readPos = saved.read_pos;
      if (saved.agent) fresh.agentName = saved.agent;
      if (saved.questions) fresh.questions = saved.questions;
      fresh.marks.load(saved);
      const at = saved.last_activity_at ? Date.parse(saved.last_activity_at) : NaN;
      if (saved.events !== undefined && Number.isFinite(at)) fresh.saved = { events: saved.events, lastActivityAt: at };
    } else if (this.droppedPositions.has(runId)) {
      const d = this.droppedPositions.get(runId)!;
      fresh.readPos = d.readPos;
      fresh.marks.load(d.marks);
    }
    fresh.marks.onChange = () => this.noteRead(fresh);
    this.saveOnStateChange(fresh);
    this.watchGone(fresh);
    this.runs.set(runId, fresh);
    // A run loomcycle does not know (or this token may not see) is not kept: random
    // or mistyped ids must not grow memory. The caller still gets the failure.
    const off = stream.state.onChange(() => {
      if (stream.state.created) off();
      else if (stream.state.fatal) {
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
