// The MCP channel over stdio, and every way it can fail. Each ends in an answer (a
// JSON-RPC error, and the server keeps serving) or a logged exit: never a silent hang.
//
// The SDK's StdioServerTransport (1.x) is kept: it hands messages to the server and
// writes its answers. What it does with a bad line is not reachable through its options:
// its ReadBuffer throws on a line over its 10 MiB buffer, and the transport then calls
// onerror, closes itself and pauses stdin (no answer, later calls dead, stdin's end never
// seen); a line that is not JSON, or JSON but not JSON-RPC, goes to onerror and is dropped
// with no answer. So a guard stands between stdin and the transport (whose constructor
// takes the stream to read): only whole lines that are JSON-RPC messages within the limit
// reach it, and every other line is answered here. A line over the limit is never held:
// it is skipped as it arrives, and its top-level "id" is found on the way so that the
// answer goes to the request that was too large.
import { Transform, type Readable, type TransformCallback, type Writable } from "node:stream";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { JSONRPCMessageSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../logger.js";

/** The largest message the bridge reads: the SDK's own stdio buffer size. */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

/** A line that was answered instead of passed on. */
export interface Rejected {
  /** The request's id when it could be found (JSON-RPC: null when it cannot). */
  id: string | number | null;
  code: number;
  message: string;
  bytes: number;
}

const LF = 0x0a;
const NEWLINE = Buffer.from("\n");

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A JSON-RPC id, if `v` is a value that may be one. */
function asId(v: unknown): string | number | null {
  return typeof v === "string" || (typeof v === "number" && Number.isInteger(v)) ? v : null;
}

/**
 * Reads a JSON text byte by byte, holding nothing but a few bytes, and finds the "id"
 * member of its top-level object wherever it is (the SDK's client writes it last, after
 * params). UTF-8 continuation bytes are never `"` or `\`, so bytes are enough.
 */
export class IdScanner {
  id: string | number | null = null;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** At depth 1: a key comes next, or a value. */
  private expect: "key" | "value" = "key";
  /** The top-level key whose value is being read. */
  private key: string | undefined;
  /** Bytes of the top-level key or id value being read; undefined when not capturing. */
  private tok: number[] | undefined;
  private done = false;

  feed(buf: Uint8Array): void {
    for (let i = 0; i < buf.length && !this.done; i++) this.byte(buf[i]!);
  }

  /** The line ended: an id that is a number ends here too. */
  end(): void {
    this.endNumber();
  }

  private byte(c: number): void {
    if (this.inString) {
      if (this.tok && this.tok.length <= 256) this.tok.push(c);
      if (this.escaped) this.escaped = false;
      else if (c === 0x5c) this.escaped = true;
      else if (c === 0x22) {
        this.inString = false;
        if (this.tok) this.endString();
      }
      return;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      this.endNumber();
      return;
    }
    if (this.depth === 0) {
      if (c === 0x7b) this.depth = 1;
      else this.done = true; // not an object: no id to find
      return;
    }
    if (c === 0x22) {
      this.inString = true;
      const capture = this.depth === 1 && (this.expect === "key" || this.key === "id");
      this.tok = capture ? [0x22] : undefined;
      return;
    }
    if (c === 0x7b || c === 0x5b) {
      this.depth += 1;
      return;
    }
    if (c === 0x7d || c === 0x5d) {
      this.endNumber();
      this.depth -= 1;
      if (this.depth === 0) this.done = true;
      return;
    }
    if (this.depth !== 1) return;
    if (c === 0x3a) {
      this.expect = "value";
      if (this.key === "id") this.tok = [];
    } else if (c === 0x2c) {
      this.endNumber();
      this.expect = "key";
      this.key = undefined;
    } else if (this.tok && this.tok.length <= 32) this.tok.push(c); // a number (or true/false/null)
  }

  private endString(): void {
    const raw = Buffer.from(this.tok!).toString("utf8");
    this.tok = undefined;
    let s: unknown;
    try {
      s = JSON.parse(raw);
    } catch {
      s = undefined; // longer than kept: neither "id" nor an id worth answering to
    }
    if (this.expect === "key") this.key = typeof s === "string" ? s : undefined;
    else if (this.key === "id") this.settle(typeof s === "string" ? s : null);
  }

  private endNumber(): void {
    if (!this.tok || this.inString || this.key !== "id" || this.expect !== "value" || this.tok.length === 0) return;
    const raw = Buffer.from(this.tok).toString("utf8");
    this.tok = undefined;
    this.settle(/^-?\d+$/.test(raw) ? asId(Number(raw)) : null);
  }

  private settle(id: string | number | null): void {
    this.id = id;
    this.done = true;
  }
}

/**
 * Splits stdin into lines and passes on, each followed by a newline, the ones that are
 * JSON-RPC messages of at most `maxBytes`; every other line goes to `reject` (blank lines
 * are skipped, as the SDK would have tried to parse them).
 */
export class StdinGuard extends Transform {
  private parts: Buffer[] = [];
  private held = 0;
  /** Set while skipping a line over the limit. */
  private over: { scanner: IdScanner; bytes: number } | undefined;

  constructor(
    private readonly reject: (r: Rejected) => void,
    private readonly maxBytes = MAX_MESSAGE_BYTES,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(LF, start);
      this.append(chunk.subarray(start, nl === -1 ? chunk.length : nl));
      if (nl === -1) break;
      this.endLine();
      start = nl + 1;
    }
    done();
  }

  /** stdin ended: a last line without its newline is not a message (MCP's stdio framing). */
  override _flush(done: TransformCallback): void {
    const bytes = this.over ? this.over.bytes : this.held;
    const blank = !this.over && Buffer.concat(this.parts).toString("utf8").trim() === "";
    this.parts = [];
    this.held = 0;
    this.over = undefined;
    if (bytes > 0 && !blank) this.emit("unterminated", bytes);
    done();
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.over) {
      this.over.scanner.feed(piece);
      this.over.bytes += piece.length;
      return;
    }
    if (this.held + piece.length <= this.maxBytes) {
      this.parts.push(piece);
      this.held += piece.length;
      return;
    }
    const scanner = new IdScanner();
    for (const p of this.parts) scanner.feed(p);
    scanner.feed(piece);
    this.over = { scanner, bytes: this.held + piece.length };
    this.parts = [];
    this.held = 0;
  }

  private endLine(): void {
    if (this.over) {
      const { scanner, bytes } = this.over;
      this.over = undefined;
      scanner.end();
      this.reject({
        id: scanner.id,
        code: INVALID_REQUEST,
        bytes,
        message: `Invalid Request: this message is ${mib(bytes)}, over the bridge's limit of ${mib(this.maxBytes)} for one message; nothing was done: send a smaller one (e.g. a shorter prompt or text)`,
      });
      return;
    }
    const line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.held);
    this.parts = [];
    this.held = 0;
    const text = line.toString("utf8");
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const why = err instanceof Error ? err.message.slice(0, 200) : "not JSON";
      this.reject({ id: null, code: PARSE_ERROR, bytes: line.length, message: `Parse error: the line is not JSON (${why})` });
      return;
    }
    if (!JSONRPCMessageSchema.safeParse(value).success) {
      const id =
        value !== null && typeof value === "object" && !Array.isArray(value) ? asId((value as { id?: unknown }).id) : null;
      this.reject({
        id,
        code: INVALID_REQUEST,
        bytes: line.length,
        message:
          'Invalid Request: not a JSON-RPC 2.0 message (one object with "jsonrpc": "2.0" and a "method", or a "result" or "error" with an "id")',
      });
      return;
    }
    this.push(line);
    this.push(NEWLINE);
  }
}

/** How serving over stdio ended: 0 when the host closed stdin, 1 when the channel failed. */
export interface StdioEnd {
  code: 0 | 1;
  why: string;
}

export interface StdioOptions {
  log: Logger;
  /** Called once, when the channel ended or failed; the caller shuts down and exits with `code`. */
  onEnd: (end: StdioEnd) => void;
  /** True once the caller is shutting down on its own (a signal): the transport closing then is no failure. */
  stopping: () => boolean;
  stdin: Readable;
  stdout: Writable;
  maxMessageBytes?: number;
}

/**
 * Connect `server` to stdin/stdout. stdin's end (or close) ends serving with 0; a stdin
 * or stdout error (EPIPE: the host stopped reading), or the transport closing by itself,
 * with 1 and an error line in the log. Anything else the SDK reports is logged.
 */
export async function serveStdio(server: McpServer, opts: StdioOptions): Promise<void> {
  const { log } = opts;
  const { stdin, stdout } = opts;
  const maxBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  let ended = false;
  const end = (e: StdioEnd): void => {
    if (ended || opts.stopping()) return;
    ended = true;
    if (e.code !== 0) log.error({ why: e.why }, "the MCP channel failed; exiting");
    opts.onEnd(e);
  };

  const guard = new StdinGuard((r) => {
    log.warn(
      { id: r.id, code: r.code, bytes: r.bytes },
      `answered a line that is not a message the bridge can take: ${r.message}`,
    );
    // JSON-RPC: an error whose request id cannot be told is sent with id null.
    const answer = { jsonrpc: "2.0", id: r.id, error: { code: r.code, message: r.message } } as unknown as JSONRPCMessage;
    transport.send(answer).catch((err: unknown) => log.warn({ err: String(err) }, "could not send the answer"));
  }, maxBytes);
  guard.on("unterminated", (bytes: number) =>
    log.warn({ bytes }, "stdin ended inside a message (no newline after it): it was not read"),
  );
  // The guard hands on whole lines of at most maxBytes, each with its newline.
  const transport = new StdioServerTransport(guard, stdout, { maxBufferSize: maxBytes + 1 });
  // Set before connect(): the server chains its own handlers after these.
  transport.onclose = () => end({ code: 1, why: "the MCP transport closed" });
  transport.onerror = (err) => log.warn({ err: err.message }, "MCP transport error");
  server.server.onerror = (err) => log.warn({ err: err.message }, "MCP protocol error");

  stdin.on("end", () => end({ code: 0, why: "stdin ended" }));
  stdin.on("close", () => end({ code: 0, why: "stdin closed" }));
  stdin.on("error", (err: NodeJS.ErrnoException) => end({ code: 1, why: `stdin failed: ${err.code ?? err.message}` }));
  stdout.on("error", (err: NodeJS.ErrnoException) =>
    end({ code: 1, why: `stdout failed: ${err.code ?? err.message} (the host stopped reading)` }),
  );
  stdin.pipe(guard);
  await server.connect(transport);
}
