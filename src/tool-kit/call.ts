// One tool call's bounds: its deadline, the signal that ends it (host cancel or the hard
// deadline), and the progress notifications it sends while it waits.
import { TimeoutError } from "../bridge/loomcycle/errors.js";
import type { TrackedRun } from "../bridge/runs/tracked-run.js";
import type { WaitOptions } from "../bridge/runs/run-reader.js";
import type { Extra } from "./define-tool.js";
import type { Bridge } from "../bridge/bridge.js";

/** Everything a call does beyond its wait fits in this, so it returns within wait_ms + 5 s. */
export const SLACK_MS = 4_000;

export interface CallClock {
  started: number;
  /** Waiting for a stop point ends here. */
  waitUntil: number;
  /** Nothing in the call may run past this. */
  hardUntil: number;
  /** Attaching to a run (or re-attaching a released one) may take until here, whatever the wait. */
  attachUntil: number;
}

export function clock(waitMs: number, attachWithinMs: number): CallClock {
  const started = Date.now();
  return { started, waitUntil: started + waitMs, hardUntil: started + waitMs + SLACK_MS, attachUntil: started + attachWithinMs };
}

/**
 * A signal that aborts when the host cancels, or with a TimeoutError once the call's hard
 * deadline passes. One controller holds its own timer: Node 20's `AbortSignal.any` with
 * `AbortSignal.timeout` loses the timeout once the timeout signal is garbage-collected.
 */
export function callSignal(extra: Extra, c: Pick<CallClock, "started" | "hardUntil">): AbortSignal {
  const ctrl = new AbortController();
  if (extra.signal.aborted) {
    ctrl.abort(extra.signal.reason);
    return ctrl.signal;
  }
  const onHostCancel = (): void => {
    clearTimeout(timer);
    ctrl.abort(extra.signal.reason);
  };
  extra.signal.addEventListener("abort", onHostCancel, { once: true });
  const limitS = Math.round((c.hardUntil - c.started) / 1000);
  const timer = setTimeout(
    () => {
      extra.signal.removeEventListener("abort", onHostCancel);
      ctrl.abort(
        new TimeoutError(`loomcycle did not answer within this call's ${limitS} s limit`, {
          code: "call_deadline",
          detail: `no answer within this call's ${limitS} s limit`,
        }),
      );
    },
    Math.max(1, c.hardUntil - Date.now()),
  );
  timer.unref?.();
  return ctrl.signal;
}

/** Progress sender: a no-op unless the host sent a progressToken. */
export function progressReporter(extra: Extra, describe: () => string): () => void {
  const token = extra._meta?.progressToken;
  if (token === undefined) return () => {};
  let n = 0;
  return () => {
    n += 1;
    extra
      .sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: n, message: describe() } })
      .catch(() => {});
  };
}

function stateLine(run: TrackedRun): string {
  return `run ${run.runId ?? "(starting)"}: ${run.state}, ${run.events.length} events`;
}

/** How a call waits on a run: stopped by the host's cancel, with progress while it waits. */
export function waitOptions(run: TrackedRun, extra: Extra, bridge: Bridge): WaitOptions {
  return {
    signal: extra.signal,
    onTick: progressReporter(extra, () => stateLine(run)),
    tickMs: bridge.timings.progressEveryMs,
  };
}

/** Wait on a run until `done()`, the deadline, or the host cancels; with progress. */
export function waitOnRun(
  run: TrackedRun,
  done: () => boolean,
  until: number,
  extra: Extra,
  bridge: Bridge,
): Promise<"done" | "timeout" | "aborted"> {
  return run.waitUntil(done, { deadline: until, ...waitOptions(run, extra, bridge) });
}
