// The run layer's read side: what tools and resources may ask of a followed run. Reads
// move the host's read position here and nowhere else (the run console's reads never do);
// nothing outside the bridge touches a run's stream.
import { setTimeout as sleep } from "node:timers/promises";
import { buildDigest, buildRaw, type DigestItem, type RawItem } from "./digest.js";
import { PatchedSource, type EventSource } from "./event-log.js";
import { LoomcycleError, ToolError } from "../loomcycle/errors.js";
import { STOP_STATES, type PendingInterrupt, type RunState } from "./run-state.js";
import type { TrackedRun } from "./tracked-run.js";
import type { Bridge } from "../bridge.js";
import { assessStuck, nextStep, nextStepFor, type StuckInfo } from "./run-info.js";
import type { Actor } from "./run-marks.js";

/** The longest a tool call may wait on a run: hosts cut tool calls off around 60 s. */
export const MAX_WAIT_MS = 55_000;
/** The echo of an input the host just sent (start, steer) is cut to this many characters. */
export const HOST_ECHO_CHARS = 200;
/** Most events re-read from loomcycle in one call when a read starts before what memory holds. */
const REFETCH_MAX_EVENTS = 20_000;

export interface WaitOptions {
  signal: AbortSignal;
  onTick?: () => void;
  tickMs?: number;
}

export const atStopPoint = (run: TrackedRun) => (): boolean => STOP_STATES.has(run.state);

/** A run the bridge knew that loomcycle has no record of any more (SPEC §2: shown as gone). */
export class RunGoneError extends ToolError {
  constructor(readonly runId: string) {
    super(
      `Run ${runId} is gone: loomcycle has no such run any more (it was deleted, or loomcycle now uses another database), so there is nothing to read or send. It has left list_runs; start a new run to go on.`,
    );
  }
}

/** For a run attached on this call: wait (bounded) until it is known and its replay settled. */
export async function waitAttached(run: TrackedRun, until: number, opts: WaitOptions): Promise<void> {
  if (run.gone) throw new RunGoneError(run.runId ?? "");
  // A released run re-attaches on use (tracker.getOrAttach): answer once it caught up.
  if (!run.confirmed) await run.waitUntil(() => run.confirmed, { deadline: until, ...opts });
  if (run.gone) throw new RunGoneError(run.runId ?? "");
  if (run.settled) return;
  const stream = run.stream;
  await run.waitUntil(() => run.known, { deadline: until, ...opts });
  if (run.gone) throw new RunGoneError(run.runId ?? "");
  const failed = run.attachFailure;
  if (failed) throw failed;
  // First contact: whether a loop still drives the run (asked when its ids came) decides
  // what the host is told it can do; wait for the answer within the same bound.
  const s = run.stream.state;
  if (s.loopCheck || (s.firstTranscript && !s.storedActivityKnown))
    await run.waitUntil(() => s.loopCheck === undefined && (!s.firstTranscript || s.storedActivityKnown), {
      deadline: until,
      ...opts,
    });
  // Let the replay of an existing run arrive before answering (frames come in bursts).
  while (Date.now() < until && !opts.signal.aborted && !stream.state.terminal) {
    const before = stream.state.frameCount;
    await sleep(stream.state.timings.replayQuietMs, undefined, { signal: opts.signal }).catch(() => undefined);
    if (stream.state.frameCount === before && stream.state.phase === "live") break;
  }
  // A read position kept from an earlier process: let the replay reach it (bounded), so
  // the next read neither repeats nor has to clamp.
  if (run.readPos > run.events.length && !stream.state.terminal) {
    await run.waitUntil(() => run.events.length >= run.readPos || stream.state.terminal !== undefined, {
      deadline: until,
      ...opts,
    });
  }
  // A call the host cancelled leaves the replay to settle for the next one.
  if (!opts.signal.aborted) run.settled = true;
}

export interface ReadOptions {
  from?: number;
  maxEvents?: number;
  maxChars?: number;
  format?: "digest" | "raw";
  /** The call just sent an input (start, steer): echo the host's own inputs shortened. */
  shortEcho?: boolean;
  /** Who reads: the host's model (default), whose read position the read moves, or the
   * run console (console_read), which reads from its own cursor: the read position stays,
   * and nothing counts as read by the host. */
  reader?: "host" | "console";
  /** What the host should do next instead of the state's own step (the call knows better). */
  then?: string;
}

export interface RunSnapshot {
  stuck?: StuckInfo;
  next_step?: string;
  run_id: string;
  state: RunState;
  events: Array<DigestItem | RawItem>;
  next_cursor: number;
  has_more: boolean;
  pending_interrupts: PendingInterrupt[];
  usage: { input_tokens: number; output_tokens: number };
  state_as_of?: string;
  /** The run was cancelled through this bridge, by the host's model or the person. */
  cancelled_by?: Actor;
  /** Why the run failed, as loomcycle recorded it (its `error` field). */
  error?: string;
}

/** A cursor past the end of the log (or from another run) is refused before anything
 * moves the read position there, which would hide every later event. */
export function assertCursor(run: TrackedRun, cursor: number): void {
  const length = run.events.length;
  if (cursor <= length) return;
  throw new ToolError(
    `cursor ${cursor} is past the end of run ${run.runId ?? "(starting)"}'s log, which holds ${length} event${length === 1 ? "" : "s"} (cursors 0 … ${Math.max(0, length - 1)}; ${length} is its end). Omit cursor to continue from your read position (${Math.min(run.readPos, length)}), or pass a cursor of ${length} or less.`,
  );
}

/** Positions evicted from memory are re-read from loomcycle (a replay of the run). */
async function sourceFrom(run: TrackedRun, from: number, signal: AbortSignal | undefined): Promise<EventSource> {
  const held = run.events.firstHeld;
  if (from >= held) return run.events;
  const count = Math.min(held - from, REFETCH_MAX_EVENTS);
  try {
    return new PatchedSource(run.events, from, await run.stream.fetchRange(from, count, signal));
  } catch (err) {
    if (err instanceof LoomcycleError && err.kind !== "timeout") throw err;
    throw new ToolError(
      `Positions before ${held} are no longer held in memory, and re-reading them from loomcycle did not finish within this call's bound. Call again with a larger wait_ms (up to ${MAX_WAIT_MS}) to give the re-read more time, or read from cursor ${held} or later.`,
    );
  }
}

/** Read the host's view of the log from `from` (default: the read position) and move the read position. */
export async function readRun(
  run: TrackedRun,
  opts: ReadOptions,
  signal: AbortSignal | undefined,
  bridge: Bridge,
): Promise<RunSnapshot> {
  if (run.gone) throw new RunGoneError(run.runId ?? "");
  const length = run.events.length;
  if (opts.from !== undefined) assertCursor(run, opts.from);
  // A position restored from an earlier process may lie past what has been replayed so
  // far: read from the end of what is here (at worst a repeat, never a gap).
  const from = opts.from ?? Math.min(run.readPos, length);
  // The state says what the host can do: a loop can be lost while the stream stays open.
  await run.refreshLiveness(signal);
  const state = run.state;
  const maxEvents = opts.maxEvents ?? 200;
  const maxChars = opts.maxChars ?? 20_000;
  const source = await sourceFrom(run, from, signal);
  const cut = source.length < run.events.length; // the view stops before the log's end
  let page: { items: Array<DigestItem | RawItem>; next: number; hasMore: boolean };
  if (opts.format === "raw") {
    page = buildRaw(source, { from, maxEvents, maxChars });
  } else {
    let opening = run.opening();
    if (opening && opening.position >= from && !run.openingResolved) {
      await run.resolveOpening(signal);
      opening = run.opening();
    }
    page = buildDigest(source, {
      from,
      maxEvents,
      maxChars,
      streaming: cut || state === "running" || state === "unreachable",
      marks: run.marks,
      ...(opts.shortEcho ? { hostEchoChars: HOST_ECHO_CHARS } : {}),
      ...(opening ? { opening } : {}),
    });
  }
  if (cut && page.next < run.events.length) page.hasMore = true;
  const host = opts.reader !== "console";
  const readPosBefore = run.readPos;
  if (host) {
    advanceReadPos(run, from, page.next);
    bridge.tracker.noteRead(run);
  }
  const snap: RunSnapshot = {
    run_id: run.runId ?? "",
    state,
    events: page.items,
    next_cursor: page.next,
    has_more: page.hasMore,
    pending_interrupts: run.openQuestions,
    usage: { ...run.usage },
  };
  const asOf = run.stateAsOf;
  if (asOf) snap.state_as_of = asOf;
  const by = cancelledBy(run, state);
  if (by) snap.cancelled_by = by;
  const detail = run.stateDetail;
  if (detail.error) snap.error = detail.error;
  const stuck = state === "running" ? await assessStuck(run, signal ? { signal } : {}) : undefined;
  if (stuck) snap.stuck = stuck;
  if (!host) return snap; // the console does not follow the host's next step
  // A read that started ahead of the read position left events before it unread.
  const skipped = run.readPos < from ? { readPos: run.readPos, count: from - run.readPos } : undefined;
  // A re-read that ended behind the read position: reading on without a cursor goes on
  // from the read position, not from this page's end.
  const reread = opts.from !== undefined && !skipped && page.next < readPosBefore ? { readPos: readPosBefore } : undefined;
  snap.next_step = nextStep(state, {
    hasMore: page.hasMore,
    ...(skipped ? { skipped } : {}),
    ...(reread ? { reread } : {}),
    ...(stuck ? { stuck } : {}),
    ...(opts.then ? { then: opts.then } : {}),
    ...detail,
  });
  return snap;
}

/** Who cancelled the run through this bridge, once it is cancelled. */
export function cancelledBy(run: TrackedRun, state: RunState = run.state): Actor | undefined {
  return state === "cancelled" ? run.marks.cancelledBy : undefined;
}

/**
 * The run as a read of its latest `count` events would show it — the same fields, digest and
 * next step as a tool's result — without moving the read position (resources). `from_cursor`
 * says where the events start, `unread` how many events lie after the read position.
 */
export async function peekRun(
  run: TrackedRun,
  count: number,
  signal: AbortSignal | undefined,
): Promise<RunSnapshot & { from_cursor: number; unread: number }> {
  if (run.gone) throw new RunGoneError(run.runId ?? "");
  await run.refreshLiveness(signal);
  const state = run.state;
  // A released run may hold none of its events: read_run_events re-fetches them, this view does not.
  const from = Math.max(run.events.firstHeld, run.events.length - count);
  let opening = run.opening();
  if (opening && opening.position >= from && !run.openingResolved) {
    await run.resolveOpening(signal);
    opening = run.opening();
  }
  const page = buildDigest(run.events, {
    from,
    maxEvents: 200,
    maxChars: 20_000,
    streaming: state === "running" || state === "unreachable",
    marks: run.marks,
    ...(opening ? { opening } : {}),
  });
  const unread = Math.max(0, run.knownLength - run.readPos);
  const snap: RunSnapshot & { from_cursor: number; unread: number } = {
    run_id: run.runId ?? "",
    state,
    events: page.items,
    from_cursor: from,
    next_cursor: page.next,
    has_more: page.hasMore,
    unread,
    pending_interrupts: run.openQuestions,
    usage: { ...run.usage },
  };
  const asOf = run.stateAsOf;
  if (asOf) snap.state_as_of = asOf;
  const by = cancelledBy(run, state);
  if (by) snap.cancelled_by = by;
  const detail = run.stateDetail;
  if (detail.error) snap.error = detail.error;
  const stuck = state === "running" ? await assessStuck(run, signal ? { signal } : {}) : undefined;
  if (stuck) snap.stuck = stuck;
  snap.next_step = nextStepFor(state, stuck, unread, detail);
  return snap;
}

/**
 * Move the read position after the host was given [from, next). It only ever moves
 * forward: only a read that starts at or before it and ends past it moves it, to where
 * that read ended. A re-read of earlier positions (a cursor behind it) leaves it where it
 * is, so the next read without a cursor never gives the host again what it already has;
 * a read that starts ahead of it leaves it too, so it never passes positions the host was
 * never given. Checked at the moment of the move, so concurrent reads cannot skip or
 * repeat anything either.
 */
export function advanceReadPos(run: TrackedRun, from: number, next: number): void {
  const to = Math.min(next, run.events.length);
  if (from <= run.readPos && to > run.readPos) run.readPos = to;
}
