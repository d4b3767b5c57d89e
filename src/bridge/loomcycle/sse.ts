// SSE reader for loomcycle run streams: bytes in, validated StreamFrames out, as an
// abortable async iterator with generator semantics (and a `batches` view for consumers
// that can take every frame already parsed at once). Frame boundaries are found by
// sse-scanner.ts, frames validated by sse-frames.ts.
import { createFrameScanner } from "./sse-scanner.js";
import { frameValidator } from "./sse-frames.js";
import type { StreamFrame } from "./events.js";
import { TimeoutError, UnreachableError } from "./errors.js";
import { silentLogger, type Logger } from "../../logger.js";

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const DEFAULT_STREAM_IDLE_MS = 60_000;

export interface ReadSseOptions {
  /** Aborting stops the generator promptly (it throws the abort reason) and cancels the body. */
  signal?: AbortSignal;
  /** Largest frame (bytes since the previous blank line) that is parsed. Default 16 MiB. */
  maxFrameBytes?: number;
  /** No bytes at all (not even a keep-alive comment) for this long → TimeoutError. Default 60000; 0 disables. */
  idleTimeoutMs?: number;
  logger?: Logger;
  /** Called once when the iteration ends, with the error that ends it (undefined at EOF
   * or after return()). What it returns is what the consumer gets: undefined ends the
   * iteration normally, anything else is thrown. Lets a caller map errors and clean up
   * without wrapping the iterator in a generator of its own (a promise per frame more). */
  onEnd?: (err: unknown) => unknown;
  /** Strings (the bearer token) replaced by "[REDACTED]" in every frame's data before
   * it is parsed: an upstream that echoes request headers must not carry the token
   * into the event log, and from there into tool results. */
  secrets?: readonly string[];
}

/** Frames one at a time (`for await`), or — the same stream, for a consumer that can
 * take several at once — `batches`: every frame parsed and not yet taken, at
 * least one per step. Use one view or the other, not both. */
export type SseFrames = AsyncGenerator<StreamFrame, void, unknown> & { readonly batches: AsyncIterable<StreamFrame[]> };

/**
 * A body that pushes its bytes (src/bridge/loomcycle/stream-request.ts). `data` gets bytes that are
 * scanned during the call and not kept: a source may reuse the buffer for its next read.
 */
export interface PushBody {
  start(sink: PushSink): void;
  /** Stop delivering soon (backpressure); bytes of a read already under way still arrive. */
  pause(): void;
  resume(): void;
  /** Stop for good and close the connection. */
  release(): void;
}

export interface PushSink {
  data(bytes: Uint8Array): void;
  end(): void;
  error(err: unknown): void;
}

type Body = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | PushBody;

/** Frames parsed but not yet taken at which the source is paused, and resumed. */
const PAUSE_AT = 2048;
const RESUME_AT = 256;

/** The error to throw for an aborted signal: its reason when that is an Error (as fetch does), else an AbortError. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === "string" ? reason : "The operation was aborted", { cause: reason });
  err.name = "AbortError";
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
}

/**
 * Validated frames from an SSE body, as an async iterator with generator semantics:
 * `return()` (a consumer's `break`) and `throw()` release the body, an error ends it.
 * It is a hand-written iterator rather than an `async function*` because it sits on
 * every frame of every run: a frame already parsed is handed out with one resolved
 * promise, without a generator's suspend/resume machinery per frame.
 */
export function readSseFrames(body: Body, opts: ReadSseOptions = {}): SseFrames {
  const { signal } = opts;
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_STREAM_IDLE_MS;
  const log = opts.logger ?? silentLogger();
  const source = openSource(body);

  const ready: StreamFrame[] = [];
  const { invalid, toFrame } = frameValidator(log, opts.secrets);
  const scanner = createFrameScanner(maxFrameBytes, log, {
    message: (m, ascii) => ready.push(toFrame(m, ascii)),
    oversized: (name, bytes) =>
      ready.push(invalid(name, "oversized", bytes, `frame of ${bytes} bytes exceeds maxFrameBytes ${maxFrameBytes}`)),
  });

  // ---- the iterator ----------------------------------------------------------------
  const DONE: IteratorReturnResult<void> = { value: undefined, done: true };
  let readPos = 0; // next frame of `ready` to hand out
  let finished = false;
  let busy: Promise<IteratorResult<StreamFrame, void>> | undefined;

  // The source pushes bytes; they are scanned at once (they may live in a buffer the
  // source reuses), and the frames wait in `ready` for the consumer. Past PAUSE_AT
  // frames not yet taken the source is paused, and resumed below RESUME_AT.
  let ended = false;
  let failure: { err: unknown } | undefined;
  let lastByteAt = Date.now();
  let paused = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const backlog = (): number => ready.length - readPos;
  source.start({
    data: (bytes) => {
      if (finished || ended || failure) return;
      lastByteAt = Date.now();
      try {
        scanner.scan(bytes);
      } catch (err) {
        failure = { err };
      }
      if (!paused && backlog() >= PAUSE_AT) {
        paused = true;
        source.pause();
      }
      if (backlog() > 0 || failure) notify();
    },
    end: () => {
      ended = true;
      notify();
    },
    error: (err) => {
      failure ??= { err };
      notify();
    },
  });

  /** Wait until the source pushes a frame, ends or fails; or the signal aborts; or no byte comes for idleMs. */
  const waitForSource = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        wake = undefined;
      };
      const onAbort = (): void => {
        settle();
        if (signal) reject(abortError(signal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (idleMs > 0) {
        // Quiet since the last byte or since this wait began, whichever is later.
        const since = Date.now();
        const check = (): void => {
          const quiet = Date.now() - Math.max(lastByteAt, since);
          if (quiet < idleMs) {
            timer = setTimeout(check, idleMs - quiet);
            return;
          }
          settle();
          reject(
            new TimeoutError(
              `loomcycle stream idle: no bytes for ${idleMs} ms (not even a keep-alive comment); the connection looks dead`,
              {
                code: "stream_idle",
              },
            ),
          );
        };
        timer = setTimeout(check, idleMs);
      }
      wake = () => {
        settle();
        resolve();
      };
    });

  /** End the iteration (idempotent); returns what the consumer should see for `err`. */
  const finish = (err?: unknown): unknown => {
    if (finished) return err;
    finished = true;
    ready.length = 0;
    source.release();
    return opts.onEnd ? opts.onEnd(err) : err;
  };

  const take = (): IteratorResult<StreamFrame, void> => {
    if (signal?.aborted) throw abortError(signal);
    const value = ready[readPos++]!;
    if (readPos === ready.length) {
      ready.length = 0;
      readPos = 0;
    }
    if (paused && backlog() <= RESUME_AT) {
      paused = false;
      source.resume();
    }
    return { value, done: false };
  };

  /** At EOF inside a frame: keep it if it is whole but for its blank line (see the scanner). */
  const flushAtEof = (): boolean => {
    const before = ready.length;
    scanner.flushAtEof();
    return ready.length > before;
  };

  /** Nothing is buffered: wait for the source until a frame is complete or the body ends. */
  const pull = async (): Promise<IteratorResult<StreamFrame, void>> => {
    for (;;) {
      if (finished) return DONE;
      if (readPos < ready.length) return take();
      if (failure) throw signal?.aborted ? abortError(signal) : interrupted(failure.err);
      if (ended) {
        if (scanner.hasOpenFrame() && flushAtEof()) return take();
        finish();
        return DONE;
      }
      await waitForSource();
    }
  };

  const next = (): Promise<IteratorResult<StreamFrame, void>> => {
    if (finished) return Promise.resolve(DONE);
    if (busy) return busy.then(next, next); // one step at a time, like a generator
    if (readPos < ready.length) {
      try {
        return Promise.resolve(take());
      } catch (err) {
        const out = finish(err);
        return out === undefined ? Promise.resolve(DONE) : Promise.reject(out as Error);
      }
    }
    const step = pull().then(
      (r) => {
        busy = undefined;
        return r;
      },
      (err: unknown) => {
        busy = undefined;
        const out = finish(err);
        if (out === undefined) return DONE;
        throw out;
      },
    );
    busy = step;
    return step;
  };

  /** The next frame and every other one already complete. */
  const nextBatch = async (): Promise<IteratorResult<StreamFrame[], void>> => {
    const first = await next();
    if (first.done) return DONE;
    const batch = [first.value];
    try {
      while (readPos < ready.length) batch.push(take().value as StreamFrame);
    } catch (err) {
      const out = finish(err);
      if (out !== undefined) throw out;
    }
    return { value: batch, done: false };
  };

  const it: SseFrames = {
    next,
    return: () => {
      finish();
      return Promise.resolve(DONE);
    },
    throw: (err: unknown) => {
      const out = finish(err);
      return out === undefined ? Promise.resolve(DONE) : Promise.reject(out instanceof Error ? out : new Error(String(out)));
    },
    [Symbol.asyncIterator]() {
      return it;
    },
    batches: {
      [Symbol.asyncIterator]: () => ({
        next: nextBatch,
        return: () => {
          finish();
          return Promise.resolve(DONE);
        },
      }),
    },
  };
  return it;
}

/** Adapt a pulled body (a fetch body, an async iterable) to the push interface. */
function openSource(body: Body): PushBody {
  if (typeof (body as PushBody).start === "function") return body as PushBody;
  let next: () => Promise<{ done?: boolean; value?: Uint8Array }>;
  let cancel: () => void;
  if (typeof (body as ReadableStream<Uint8Array>).getReader === "function") {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    next = () => reader.read();
    cancel = () => {
      // Not awaited: a stuck cancel must not hold up return(). cancel() settles any
      // pending read at once, so releaseLock() is safe right after.
      reader.cancel().catch(() => undefined);
      try {
        reader.releaseLock();
      } catch {
        // already released
      }
    };
  } else {
    const it = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    next = () => it.next();
    cancel = () => {
      it.return?.()?.catch(() => undefined);
    };
  }
  let released = false;
  let gate: (() => void) | undefined;
  let paused = false;
  const open = (): void => {
    paused = false;
    const g = gate;
    gate = undefined;
    g?.();
  };
  return {
    start(sink) {
      void (async () => {
        try {
          for (;;) {
            if (paused) await new Promise<void>((resolve) => (gate = resolve));
            if (released) return;
            const r = await next();
            if (released) return;
            if (r.done) {
              sink.end();
              return;
            }
            if (r.value && r.value.length > 0) sink.data(r.value);
          }
        } catch (err) {
          if (!released) sink.error(err);
        }
      })();
    },
    pause() {
      paused = true;
    },
    resume: open,
    release() {
      if (released) return;
      released = true;
      open();
      cancel();
    },
  };
}

function interrupted(err: unknown): UnreachableError {
  return new UnreachableError(
    `loomcycle stream interrupted (${describeError(err)}); frames received so far are complete, re-attach to continue`,
    {
      code: "stream_interrupted",
      cause: err,
    },
  );
}

/** "terminated: other side closed (UND_ERR_SOCKET)" from undici's nested errors. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== undefined && e !== null; depth++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      parts.push(typeof code === "string" ? `${e.message} (${code})` : e.message);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return truncate(parts.filter((p) => p !== "").join(": ") || "unknown error", 300);
}
function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
