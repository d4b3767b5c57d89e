// One HTTP attempt's lifetime: its AbortController, the link to the caller's signal, and
// the one timer (header or body deadline) that may abort it.
export type AbortCause = "caller" | "headers_timeout" | "body_timeout" | "closed";

/** Raised inside an attempt when its controller aborted; mapped by cause afterwards. */
export const ATTEMPT_ABORTED = Symbol("attempt aborted");

/** One HTTP attempt: its AbortController, the link to the caller's signal, one timer. */
export class Attempt {
  readonly controller = new AbortController();
  cause: AbortCause | undefined;
  kept = false;
  readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private unlink: (() => void) | undefined;

  constructor(readonly callerSignal: AbortSignal | undefined) {
    if (callerSignal) {
      const onAbort = (): void => this.abort("caller", callerSignal.reason);
      callerSignal.addEventListener("abort", onAbort, { once: true });
      this.unlink = () => callerSignal.removeEventListener("abort", onAbort);
      if (callerSignal.aborted) onAbort();
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(cause: AbortCause, reason?: unknown): void {
    if (this.controller.signal.aborted) return;
    this.cause = cause;
    this.disarm();
    const r = reason instanceof Error ? reason : Object.assign(new Error(`request aborted: ${cause}`), { name: "AbortError" });
    this.controller.abort(r);
  }

  arm(cause: AbortCause, ms: number): void {
    this.disarm();
    this.timer = setTimeout(() => this.abort(cause), Math.max(0, ms));
  }

  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.disarm();
    this.unlink?.();
    this.unlink = undefined;
  }

  /** `p`, or a rejection with ATTEMPT_ABORTED as soon as this attempt aborts (even if `p`
   * ignores the signal, e.g. an injected fetch). `late` disposes of a value that arrives after. */
  race<T>(p: Promise<T>, late?: (v: T) => void): Promise<T> {
    const s = this.controller.signal;
    const orphan = (): void => {
      p.then(
        (v) => late?.(v),
        () => undefined,
      );
    };
    if (s.aborted) {
      orphan();
      return Promise.reject(ATTEMPT_ABORTED);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        orphan();
        reject(ATTEMPT_ABORTED);
      };
      s.addEventListener("abort", onAbort, { once: true });
      p.then(
        (v) => {
          s.removeEventListener("abort", onAbort);
          resolve(v);
        },
        (e: unknown) => {
          s.removeEventListener("abort", onAbort);
          reject(s.aborted ? ATTEMPT_ABORTED : e);
        },
      );
    });
  }
}
