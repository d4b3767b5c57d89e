// SSE frame boundaries. Field parsing is eventsource-parser's; around it, this small byte
// scanner finds frame boundaries (blank lines, with LF, CRLF or CR endings) so that we can
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
import type { Logger } from "../../logger.js";

const LF = 10;
const CR = 13;
/** Bytes kept from the start of each frame, to name an oversized frame by its `event:` line. */
const HEAD_BYTES = 256;

export interface ScannerSink {
  /** A whole frame parsed; `ascii`: every byte of it was ASCII. */
  message(m: EventSourceMessage, ascii: boolean): void;
  /** A frame over maxFrameBytes was skipped (reported at its end, never when cut by EOF). */
  oversized(event: string, bytes: number): void;
}

export interface FrameScanner {
  /** Scan a chunk now (its buffer may be reused after) and hand its complete frames to the sink. */
  scan(chunk: Uint8Array): void;
  /** At EOF: a frame was begun since the last blank line (and is not being skipped). */
  hasOpenFrame(): boolean;
  flushAtEof(): void;
}

export function createFrameScanner(maxFrameBytes: number, log: Logger, sink: ScannerSink): FrameScanner {
  let atEof = false; // the parser is being flushed at EOF (see flushAtEof)
  const parser = createParser({
    onEvent: (m) => {
      if (atEof && !isJson(m.data)) {
        log.debug({ event: m.event ?? "message" }, "SSE stream ended inside a frame; the partial frame is discarded");
        return;
      }
      sink.message(m, feedAscii);
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
    sink.oversized(headEventName(head, headLen), blockBytes);
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

  /**
   * At EOF inside a block: a last frame that lacks only its terminating blank line (or
   * its final newline) is whole when its data line is complete JSON, so it is kept, as
   * the blank line would have completed it. A frame cut anywhere earlier never parses
   * (loomcycle's data is one JSON object, and no proper prefix of an object is valid
   * JSON), so a cut frame is still discarded, and a re-attach replays it.
   */
  const flushAtEof = (): void => {
    blockBytes = 0;
    lineHasContent = false;
    atEof = true;
    try {
      parser.feed(decoder.decode() + "\n\n");
    } finally {
      atEof = false;
    }
  };

  return { scan, hasOpenFrame: () => !discarding && (blockBytes > 1 || lineHasContent), flushAtEof };
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
