// SSE reader for loomcycle run streams (wire contract §2): bytes in, validated
// StreamFrames out, as an abortable async generator.
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
// one means the connection was cut, and a re-attach replays it.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { AgentFrame, LoomEvent, type StreamFrame } from "./events.js";
import { TimeoutError, UnreachableError } from "./errors.js";
import { silentLogger, type Logger } from "../logger.js";

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
}

type Body = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

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

export async function* readSseFrames(body: Body, opts: ReadSseOptions = {}): AsyncGenerator<StreamFrame> {
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

  const toFrame = (m: EventSourceMessage): StreamFrame => {
    const name = m.event ?? "message";
    const bytes = wireBytes(m);
    let data: unknown;
    try {
      data = JSON.parse(m.data);
    } catch (err) {
      return invalid(name, "malformed_json", bytes, err instanceof Error ? err.message : String(err));
    }
    if (name === "agent") {
      const r = AgentFrame.safeParse(data);
      return r.success ? { kind: "agent", agent: r.data, bytes } : invalid(name, "schema_mismatch", bytes, issues(r.error));
    }
    // Every frame but `agent` carries `type` = event name; back-fill it if missing.
    if (isRecord(data) && data["type"] === undefined) data = { type: name, ...data };
    const r = LoomEvent.safeParse(data);
    if (!r.success) return invalid(name, "schema_mismatch", bytes, issues(r.error));
    if (name === "session") {
      const id = r.data.text;
      if (typeof id !== "string" || id === "") return invalid(name, "schema_mismatch", bytes, "session frame without a session id in `text`");
      return { kind: "session", sessionId: id, bytes };
    }
    return { kind: "event", event: r.data, bytes };
  };

  const parser = createParser({
    onEvent: (m) => ready.push(toFrame(m)),
    onError: (err) => log.debug({ err: err.message }, "ignored an SSE line"),
  });

  // Scanner state. A "block" is everything since the previous blank line.
  let decoder = new TextDecoder();
  let blockBytes = 0;
  let lineHasContent = false;
  let afterCR = false; // the previous byte was a CR line end: a following LF belongs to it
  let skipLF = false; // ...and that LF must not reach the parser (it got a synthetic one)
  let discarding = false;
  const head = new Uint8Array(HEAD_BYTES);
  let headLen = 0;

  const count = (chunk: Uint8Array, from: number, to: number): void => {
    blockBytes += to - from;
    if (headLen < HEAD_BYTES && to > from) {
      const take = Math.min(HEAD_BYTES - headLen, to - from);
      head.set(chunk.subarray(from, from + take), headLen);
      headLen += take;
    }
  };

  const feed = (seg: Uint8Array): void => {
    if (seg.length === 0) return;
    parser.feed(decoder.decode(seg, { stream: true }));
    if (seg[seg.length - 1] === CR) {
      // CR ends a line on its own; don't let the parser wait to see whether LF follows.
      parser.feed("\n");
      skipLF = true;
    } else {
      skipLF = false;
    }
  };

  const startDiscard = (): void => {
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

  const scan = (chunk: Uint8Array): void => {
    const n = chunk.length;
    let i = 0;
    let segStart = 0;
    let nextCR = -2; // -2: not searched yet; -1: none left in this chunk
    let nextLF = -2;
    while (i < n) {
      if (afterCR) {
        afterCR = false;
        if (chunk[i] === LF) {
          count(chunk, i, i + 1);
          if (skipLF && segStart === i) segStart = i + 1;
          skipLF = false;
          i += 1;
          continue;
        }
      }
      if (nextCR !== -1 && nextCR < i) nextCR = chunk.indexOf(CR, i);
      if (nextLF !== -1 && nextLF < i) nextLF = chunk.indexOf(LF, i);
      const t = nextCR === -1 ? nextLF : nextLF === -1 ? nextCR : Math.min(nextCR, nextLF);
      if (t === -1) {
        count(chunk, i, n);
        lineHasContent = true;
        i = n;
        if (!discarding && blockBytes > maxFrameBytes) startDiscard();
        break;
      }
      const blank = !lineHasContent && t === i;
      count(chunk, i, t + 1);
      lineHasContent = false;
      afterCR = chunk[t] === CR;
      i = t + 1;
      if (blank) {
        if (!discarding && blockBytes > maxFrameBytes) startDiscard();
        if (discarding) {
          endDiscard();
          skipLF = afterCR;
        } else {
          feed(chunk.subarray(segStart, i));
        }
        segStart = i;
        blockBytes = 0;
        headLen = 0;
      } else if (!discarding && blockBytes > maxFrameBytes) {
        startDiscard();
      }
    }
    if (!discarding && segStart < n) feed(chunk.subarray(segStart, n));
  };

  const nextChunk = (): Promise<{ done?: boolean; value?: Uint8Array }> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        settle();
        if (signal) reject(abortError(signal));
      };
      const settle = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (idleMs > 0) {
        timer = setTimeout(() => {
          settle();
          reject(
            new TimeoutError(`loomcycle stream idle: no bytes for ${idleMs} ms (not even a keep-alive comment); the connection looks dead`, {
              code: "stream_idle",
            }),
          );
        }, idleMs);
      }
      source.next().then(
        (r) => {
          settle();
          resolve(r);
        },
        (err: unknown) => {
          settle();
          reject(signal?.aborted ? abortError(signal) : interrupted(err));
        },
      );
    });

  try {
    for (;;) {
      const r = await nextChunk();
      if (r.done) break;
      if (r.value && r.value.length > 0) scan(r.value);
      for (const frame of ready.splice(0)) {
        if (signal?.aborted) throw abortError(signal);
        yield frame;
      }
    }
    if (blockBytes > 1 || lineHasContent) {
      log.debug({ bytes: blockBytes }, "SSE stream ended inside a frame; the partial frame is discarded");
    }
  } finally {
    source.release();
  }
}

interface ChunkSource {
  next(): Promise<{ done?: boolean; value?: Uint8Array }>;
  /** Stop the source: cancels the body (which closes the connection) and frees the reader. */
  release(): void;
}

function openSource(body: Body): ChunkSource {
  if (typeof (body as ReadableStream<Uint8Array>).getReader === "function") {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    return {
      next: () => reader.read(),
      release: () => {
        // Not awaited: a stuck cancel must not hold up return(). cancel() settles any
        // pending read at once, so releaseLock() is safe right after.
        reader.cancel().catch(() => undefined);
        try {
          reader.releaseLock();
        } catch {
          // already released
        }
      },
    };
  }
  const it = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  return {
    next: () => it.next(),
    release: () => {
      it.return?.()?.catch(() => undefined);
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function issues(err: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
