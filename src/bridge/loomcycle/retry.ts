// When the HTTP client tries a request again: how many attempts, how long it waits between
// them (exponential, jittered, or loomcycle's Retry-After), and the pause itself.
import { setTimeout as sleep } from "node:timers/promises";
import type { LoomcycleError } from "./errors.js";
import { abortError } from "./sse.js";

export interface RetryOptions {
  /** Total attempts for retryable requests, first one included. Default 3. */
  attempts?: number;
  /** Backoff base: base·2^n, capped, jittered. Default 250. */
  baseDelayMs?: number;
  /** Cap for one backoff delay, and for an honoured Retry-After. Default 5000. */
  maxDelayMs?: number;
  /** The pause between attempts; rejects with the caller's abort (tests record the delays). */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

/** A backoff pause that ends early with the caller's abort reason. */
export function backoffSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (ms <= 0) return Promise.resolve();
  return sleep(ms, undefined, signal ? { signal } : {}).catch((err: unknown) => {
    throw signal?.aborted ? abortError(signal) : err;
  });
}

/** The pause before attempt n + 1: loomcycle's Retry-After (capped), else base·2^(n−1), capped, jittered. */
export function retryDelay(n: number, err: LoomcycleError, baseDelayMs: number, maxDelayMs: number): number {
  if (err.retryAfterMs !== undefined) return Math.min(err.retryAfterMs, maxDelayMs);
  const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** (n - 1));
  return exp / 2 + Math.random() * (exp / 2);
}
