// Every delay and bound of the bridge that is a choice rather than a contract, with its
// default and why. The Bridge takes `timings?: Partial<Timings>` once (tests shorten some);
// the run layer and the tools read them from there. Fixed by SPEC, and so not here: a
// call's longest wait (MAX_WAIT_MS, run-reader.ts) and its slack past it (SLACK_MS, call.ts).

export interface Timings {
  /** A call waits at least this long for a run to attach, or a released one to catch up, before answering with what it has. */
  attachWithinMs: number;
  /** A waiting call sends progress this often: OpenCode aborts a call after 60 s without any. */
  progressEveryMs: number;
  /** A running run silent this long is checked against loomcycle's heartbeat (stuck or likely_dead). */
  stuckAfterMs: number;
  /** A heartbeat read serves the stuck check this long (at most stuckAfterMs), sparing loomcycle a lookup per read. */
  heartbeatCacheMs: number;
  /** A parked run nobody needed this long closes its stream (LOOMCYCLE_MCP_PARK_RELEASE_MS); 0 never. */
  parkReleaseMs: number;
  /** A finished run nobody used this long is dropped from memory; a read re-attaches it. */
  retainFinishedMs: number;
  /** compact_run waits this long for a live compaction to reach the log: a cluster replica may answer "live" without doing it. */
  compactionSeenMs: number;
  /** Delays before re-attach attempts, the last one repeating: at once, then backing off to every 4 s. */
  backoffMs: readonly number[];
  /** A GET that failed in a way worth trying again waits base·2^n (jittered, at most 5 s) before the next of its 3 attempts: a loomcycle restarting or briefly overloaded gets a moment, a call its answer soon. */
  retryBaseMs: number;
  /** A replay after attaching counts as settled once no frame came for this long (frames come in bursts). */
  replayQuietMs: number;
  /** A re-attach after a release, without a catch-up count, is confirmed after this long without a frame. */
  quietConfirmMs: number;
  /** …and one whose count (from the transcript) was not reached, after this long: a counted row may never stream. */
  quietConfirmCountedMs: number;
}

export const DEFAULT_TIMINGS: Readonly<Timings> = Object.freeze({
  attachWithinMs: 3_000,
  progressEveryMs: 5_000,
  stuckAfterMs: 120_000,
  heartbeatCacheMs: 10_000,
  parkReleaseMs: 120_000,
  retainFinishedMs: 30 * 60_000,
  compactionSeenMs: 8_000,
  backoffMs: [0, 500, 1000, 2000, 4000],
  retryBaseMs: 250,
  replayQuietMs: 120,
  quietConfirmMs: 150,
  quietConfirmCountedMs: 1_000,
});

/** The defaults with `given` laid over them. */
export function timings(given: Partial<Timings> = {}): Timings {
  return { ...DEFAULT_TIMINGS, ...given };
}

// loomcycle's own clocks (v1.59), which the bridge's judgements follow.

/** loomcycle refreshes a live run's heartbeat every 30 s; three missed refreshes mean its loop is gone. */
export const HEARTBEAT_STALE_MS = 90_000;
/** loomcycle's sweeper fails a run whose heartbeat is older than this. */
export const REAPER_WINDOW_MS = 10 * 60_000;
