// SSE reader for loomcycle run streams (wire contract §2): bytes in, validated
// StreamFrames out, as an abortable async iterator with generator semantics (and a
// `batches` view for consumers that can take every frame already parsed at once).
//
// Field parsing is eventsource-parser's. Around it, a small byte scanner finds frame
// boundaries (blank lines, with LF, CRLF or CR endings) so that we can
//  - bound memory: a frame larger than `maxFrameBytes` is dropped while it streams
//    (the parser is reset and the bytes are skipped up to the next blank line), then
//    reported once as `{kind:"invalid", reason:"oversized"}`. It is reported at its
//    end, not when it crosses the limit, so that a frame cut by EOF is never reported:
//    consumers count frames to resume, and a cut frame is replayed after a re-attach.
//  - never wait for a byte that may not come: a CR at the end of what we fed is
//    completed with a synthetic LF at once (and a real LF that follows is skipped), so
//    a frame ending in CR is dispatched without waiting for the next chunk.
// A frame not finished at EOF is discarded: loomcycle writes whole frames, so a partial
// one means the connection was cut, and a re-attach replays it. (A last frame missing
// only its blank line, with complete JSON data, is whole and kept: see flushAtEof.)
import { isAscii } from "node:buffer";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { agentFrameIssue, loomEventIssue, type AgentFrame, type LoomEvent, type StreamFrame } from "./events.js";
import { TimeoutError, UnreachableError } from "./errors.js";
import { redactSecrets, silentLogger, type Logger } from "../../logger.js";

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const DEFAULT_STREAM_IDLE_MS = 60_000;

/** Values of `reason` on `{kind:"invalid"}` frames. */
export type InvalidFrameReason = "malformed_json" | "schema_mismatch" | "oversized";

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

const LF = 10;
const CR = 13;
/** Bytes kept from the start of each frame, to name an oversized frame by its `event:` line. */
const HEAD_BYTES = 256;

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
  const warned = new Set<InvalidFrameReason>();

  const invalid = (name: string, reason: InvalidFrameReason, bytes: number, detail: string): StreamFrame => {
    const fields = { event: name, reason, bytes, detail: truncate(detail, 200) };
    if (warned.has(reason)) {
      log.debug(fields, "skipped an unusable SSE frame");
    } else {
      warned.add(reason);
      log.warn(fields, "skipped an unusable SSE frame (further ones of this kind on this stream are logged at debug)");
    }
    return { kind: "invalid", name, reason, bytes };
  };

  const secrets = (opts.secrets ?? []).filter((x) => x.length >= 4);
  const toFrame = (m: EventSourceMessage): StreamFrame => {
    const name = m.event ?? "message";
    const bytes = feedAscii ? asciiWireBytes(m) : wireBytes(m);
    let data: unknown;
    try {
      // (JSON.parse copies the strings it returns: a kept event does not pin the text
      // decoded from its whole read, which `m.data` is a slice of.)
      data = JSON.parse(secrets.length === 0 || !secrets.some((x) => m.data.includes(x)) ? m.data : redactSecrets(m.data, secrets));
    } catch (err) {
      return invalid(name, "malformed_json", bytes, err instanceof Error ? err.message : String(err));
    }
    if (name === "agent") {
      const issue = agentFrameIssue(data);
      return issue === undefined ? { kind: "agent", agent: data as AgentFrame, bytes } : invalid(name, "schema_mismatch", bytes, issue);
    }
    // Every frame but `agent` carries `type` = event name; back-fill it if missing.
    if (isRecord(data) && data["type"] === undefined) data = { type: name, ...data };
    const issue = loomEventIssue(data);
    if (issue !== undefined) return invalid(name, "schema_mismatch", bytes, issue);
    const event = data as LoomEvent;
    if (name === "session") {
      const id = event.text;
      if (typeof id !== "string" || id === "") return invalid(name, "schema_mismatch", bytes, "session frame without a session id in `text`");
      return { kind: "session", sessionId: id, bytes };
    }
    return { kind: "event", event, bytes };
  };

  let atEof = false; // the parser is being flushed at EOF (see flushAtEof)
  const parser = createParser({
    onEvent: (m) => {
      if (atEof && !isJson(m.data)) {
        log.debug({ event: m.event ?? "message" }, "SSE stream ended inside a frame; the partial frame is discarded");
        return;
      }
      ready.push(toFrame(m));
    },
    onError: (err) => log.debug({ err: err.message }, "ignored an SSE line"),
  });

  // Scanner state. A "block" is everything since the previous blank line. The scanner
  // only tracks block sizes and line ends; the parser is fed whole chunks (one decode
  // and one feed per chunk, not per frame), split only around a frame being discarded.
  let decoder = new TextDecoder();
  let blockBytes = 0;
  let lineHasContent = false;
  let afterCR = false; // the previous byte was a CR line end: a following LF belongs to it
  let skipLF = false; // ...and that LF must not reach the parser (it got a synthetic one)
  let discarding = false;
  // The first bytes of the current block (to name an oversized frame), copied only when
  // the block outlives a chunk or turns out oversized.
  const head = new Uint8Array(HEAD_BYTES);
  let headLen = 0;
  let blockStart = 0; // where the current block starts in the chunk being scanned (0: in an earlier one)

  const captureHead = (chunk: Uint8Array, from: number, to: number): void => {
    if (headLen >= HEAD_BYTES || to <= from) return;
    const take = Math.min(HEAD_BYTES - headLen, to - from);
    head.set(chunk.subarray(from, from + take), headLen);
    headLen += take;
  };

  // Frame sizes: every byte of the frames the parser completes during a feed is ASCII
  // when the fed bytes and the block carried into them are (then size = length).
  let carryAscii = true;
  let feedAscii = false;

  /** Feed bytes to the parser. `tailFrom`: where the block still open after them starts
   * in `seg` (-1: the whole of `seg` continues the block carried in). */
  const feed = (seg: Uint8Array, tailFrom: number): void => {
    if (seg.length === 0) return;
    const segAscii = isAscii(seg);
    feedAscii = segAscii && carryAscii;
    carryAscii = tailFrom < 0 ? feedAscii : segAscii;
    parser.feed(decoder.decode(seg, { stream: true }));
    if (seg[seg.length - 1] === CR) {
      // CR ends a line on its own; don't let the parser wait to see whether LF follows.
      parser.feed("\n");
      skipLF = true;
    } else {
      skipLF = false;
    }
  };

  /** The block being scanned (from `blockStart`, up to `at`) is over the bound: hand the
   * complete frames before it to the parser, then drop the block's bytes until its end. */
  const startDiscard = (chunk: Uint8Array, segStart: number, at: number): void => {
    if (blockStart > segStart) feed(chunk.subarray(segStart, blockStart), blockStart - segStart);
    captureHead(chunk, blockStart, at);
    carryAscii = true; // what follows the discarded frame starts a new block
    discarding = true;
    parser.reset();
    decoder = new TextDecoder();
    skipLF = false;
    log.debug({ maxFrameBytes, event: headEventName(head, headLen) }, "SSE frame exceeds maxFrameBytes; skipping it");
  };

  const endDiscard = (): void => {
    discarding = false;
    ready.push(invalid(headEventName(head, headLen), "oversized", blockBytes, `frame of ${blockBytes} bytes exceeds maxFrameBytes ${maxFrameBytes}`));
  };

  /** Common case: LF line ends only, and no block in the chunk can reach the bound. Then
   * only the chunk's last blank line matters for the state carried to the next chunk. */
  const scanFast = (chunk: Uint8Array): boolean => {
    const n = chunk.length;
    if (discarding || afterCR || blockBytes + n > maxFrameBytes || chunk.indexOf(CR) !== -1) return false;
    // End of the last blank line: the last LF that follows an LF (or the chunk's first
    // byte when the previous chunk ended at the start of a line).
    let lastBlankEnd = -1;
    for (let k = chunk.lastIndexOf(LF); k >= 0; k = k > 0 ? chunk.lastIndexOf(LF, k - 1) : -1) {
      if (k > 0 ? chunk[k - 1] === LF : !lineHasContent) {
        lastBlankEnd = k + 1;
        break;
      }
    }
    if (lastBlankEnd >= 0) {
      blockBytes = n - lastBlankEnd;
      headLen = 0;
      blockStart = lastBlankEnd;
    } else {
      blockBytes += n;
      blockStart = 0;
    }
    lineHasContent = chunk[n - 1] !== LF;
    feed(chunk, lastBlankEnd);
    captureHead(chunk, blockStart, n);
    return true;
  };

  const scan = (chunk: Uint8Array): void => {
    if (scanFast(chunk)) return;
    const n = chunk.length;
    let i = 0;
    let segStart = 0;
    blockStart = 0;
    let nextCR = -2; // -2: not searched yet; -1: none left in this chunk
    let nextLF = -2;
    while (i < n) {
      if (afterCR) {
        afterCR = false;
        if (chunk[i] === LF) {
          blockBytes += 1;
          if (skipLF && segStart === i) segStart = i + 1;
          if (blockStart === i) blockStart = i + 1;
          skipLF = false;
          i += 1;
          continue;
        }
      }
      if (nextCR !== -1 && nextCR < i) nextCR = chunk.indexOf(CR, i);
      if (nextLF !== -1 && nextLF < i) nextLF = chunk.indexOf(LF, i);
      const t = nextCR === -1 ? nextLF : nextLF === -1 ? nextCR : Math.min(nextCR, nextLF);
      if (t === -1) {
        blockBytes += n - i;
        lineHasContent = true;
        i = n;
        if (!discarding && blockBytes > maxFrameBytes) startDiscard(chunk, segStart, n);
        break;
      }
      const blank = !lineHasContent && t === i;
      blockBytes += t + 1 - i;
      lineHasContent = false;
      afterCR = chunk[t] === CR;
      i = t + 1;
      if (blank) {
        if (!discarding && blockBytes > maxFrameBytes) startDiscard(chunk, segStart, i);
        if (discarding) {
          endDiscard();
          skipLF = afterCR;
          segStart = i;
        }
        blockStart = i;
        blockBytes = 0;
        headLen = 0;
      } else if (!discarding && blockBytes > maxFrameBytes) {
        startDiscard(chunk, segStart, i);
      }
    }
    if (!discarding) {
      if (segStart < n) feed(chunk.subarray(segStart, n), blockStart >= segStart && blockStart > 0 ? blockStart - segStart : -1);
      captureHead(chunk, blockStart, n);
    }
  };

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
        scan(bytes);
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
            new TimeoutError(`loomcycle stream idle: no bytes for ${idleMs} ms (not even a keep-alive comment); the connection looks dead`, {
              code: "stream_idle",
            }),
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

  /**
   * At EOF inside a block: a last frame that lacks only its terminating blank line (or
   * its final newline) is whole when its data line is complete JSON, so it is kept, as
   * the blank line would have completed it. A frame cut anywhere earlier never parses
   * (loomcycle's data is one JSON object, and no proper prefix of an object is valid
   * JSON), so a cut frame is still discarded, and a re-attach replays it.
   */
  const flushAtEof = (): boolean => {
    blockBytes = 0;
    lineHasContent = false;
    const before = ready.length;
    atEof = true;
    try {
      parser.feed(decoder.decode() + "\n\n");
    } finally {
      atEof = false;
    }
    return ready.length > before;
  };

  /** Nothing is buffered: wait for the source until a frame is complete or the body ends. */
  const pull = async (): Promise<IteratorResult<StreamFrame, void>> => {
    for (;;) {
      if (finished) return DONE;
      if (readPos < ready.length) return take();
      if (failure) throw signal?.aborted ? abortError(signal) : interrupted(failure.err);
      if (ended) {
        if (!discarding && (blockBytes > 1 || lineHasContent) && flushAtEof()) return take();
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
  return new UnreachableError(`loomcycle stream interrupted (${describeError(err)}); frames received so far are complete, re-attach to continue`, {
    code: "stream_interrupted",
    cause: err,
  });
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

function asciiWireBytes(m: EventSourceMessage): number {
  return m.data.length + 8 + (m.event === undefined ? 0 : m.event.length + 8);
}

function wireBytes(m: EventSourceMessage): number {
  // "event: <name>\n" + "data: <data>\n" + "\n": exact for loomcycle's one-data-line frames.
  let n = Buffer.byteLength(m.data, "utf8") + 8;
  if (m.event !== undefined) n += Buffer.byteLength(m.event, "utf8") + 8;
  return n;
}

function headEventName(head: Uint8Array, len: number): string {
  const text = new TextDecoder().decode(head.subarray(0, len));
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line.startsWith("event:")) {
      const v = line.slice(line.startsWith("event: ") ? 7 : 6);
      if (v !== "") return v;
    }
  }
  return "unknown";
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
