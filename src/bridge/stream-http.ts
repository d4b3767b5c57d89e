// The transport for run streams: one HTTP/1.1 request per stream on its own connection,
// its response read with one read buffer shared by every connection.
//
// Why not fetch: a bridge follows hundreds of parked runs, each holding an SSE response
// open for hours. Through fetch every connection carries undici's request/response,
// WHATWG stream and signal machinery, and every socket read allocates a fresh native
// buffer. After a burst of replays (500 runs attaching at once, 60 MB of frames) those
// buffers leave glibc's heap fragmented: measured 75 MB more resident memory than the
// same bytes read through one reused buffer (docs/benchmarks.md, RSS). Here a socket
// read lands in READ_BUFFER and is consumed before the callback returns: HTTP framing
// is decoded in place and the body bytes go straight to the SSE scanner (a PushSink),
// which turns them into strings and frames. Nothing per read outlives the read.
//
// Scope: what loomcycle (Go net/http) and proxies in front of it answer to the stream
// requests (GET /v1/runs/{id}/stream, and POST /v1/runs with interactive: true): a
// status line, headers, and a body that is chunked, Content-Length delimited or runs to
// the close; 1xx interim responses are skipped. TLS for https base URLs (Node's trust
// store and NODE_EXTRA_CA_CERTS, as with fetch). No redirects are followed (fetch ran
// with redirect: "manual" too: a 3xx becomes an error naming the location).
import net from "node:net";
import tls from "node:tls";
import type { PushBody, PushSink } from "./sse.js";

/** Every connection's reads land here; each read is consumed before its callback returns. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/** A response head larger than this is refused (Node's own limit is 16 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line (hex size and extensions) longer than this is refused. */
const MAX_CHUNK_LINE = 4096;

export interface StreamRequestOptions {
  method?: "GET" | "POST";
  headers: Record<string, string>;
  /** A request body (POST /v1/runs); sent with its Content-Length. */
  body?: string;
  /** Aborting destroys the connection: a pending open rejects, a started body errors, with the signal's reason. */
  signal: AbortSignal;
}

export interface ResponseHeaders {
  get(name: string): string | null;
}

export interface StreamResponse {
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly ok: boolean;
  readonly headers: ResponseHeaders;
  /** The body as a push source (for readSseFrames). Use it or text(), once. */
  readonly body: PushBody;
  /** The body as text, at most `max` bytes (the rest is dropped); closes the connection. */
  text(max: number): Promise<string>;
  /** Close the connection (idempotent). */
  close(): void;
}

export type StreamTransport = (url: URL, opts: StreamRequestOptions) => Promise<StreamResponse>;

/** An HTTP framing error from the upstream (malformed status line, headers or chunking). */
export class HttpFramingError extends Error {
  readonly code = "HPE_INVALID_RESPONSE";
  constructor(message: string) {
    super(message);
    this.name = "HttpFramingError";
  }
}

type BodyMode = "chunked" | "length" | "close" | "none";

/** Chunked decoding states. */
const enum Ck {
  Size, // reading the chunk-size line
  Data, // inside chunk data
  DataEnd, // the CRLF after chunk data
  Trailers, // after the last chunk: trailer lines up to a blank line
}

/** Send the request and resolve with the response once its head has arrived. */
export function openStreamRequest(url: URL, opts: StreamRequestOptions): Promise<StreamResponse> {
  return new Promise<StreamResponse>((resolve, reject) => {
    const { signal } = opts;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const secure = url.protocol === "https:";
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port) || (secure ? 443 : 80);

    // ---- state ----------------------------------------------------------------------
    let phase: "head" | "body" | "done" = "head";
    let partialHead: Buffer | undefined; // the start of a head that spans reads
    let status = 0;
    let statusText = "";
    const headers = new Map<string, string>();
    let mode: BodyMode = "close";
    let remaining = 0; // length mode: body bytes still to come; chunked: bytes left in this chunk
    let ck = Ck.Size;
    let line = ""; // partial chunk-size / trailer line
    let sawCR = false; // chunked DataEnd: the CR of the CRLF after data has been read
    let sink: PushSink | undefined;
    let pending: Buffer | undefined; // body bytes that arrived with the head, before start()
    let pendingEnd = false;
    let pendingError: unknown;
    let settled = false;
    let closed = false;
    let paused = false; // the consumer asked for a pause (backpressure)

    const onAbort = (): void => fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });

    const close = (): void => {
      if (closed) return;
      closed = true;
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
    };

    /** The consumer is done with the response: no further data, end or error. */
    const release = (): void => {
      phase = "done";
      close();
    };

    /** End of the body (clean). */
    const finishBody = (): void => {
      if (phase === "done") return;
      phase = "done";
      close();
      if (sink) sink.end();
      else pendingEnd = true;
    };

    /** Any failure: before the head it rejects the open; after, it errors the body. */
    const fail = (err: unknown): void => {
      if (phase === "done") {
        close();
        return;
      }
      const wasHead = phase === "head";
      phase = "done";
      close();
      if (wasHead) {
        settled = true;
        reject(err);
      } else if (sink) {
        sink.error(err);
      } else {
        pendingError = err;
      }
    };

    const deliver = (bytes: Uint8Array): void => {
      if (bytes.length === 0 || phase !== "body") return;
      if (sink) sink.data(bytes);
      else pending = pending ? Buffer.concat([pending, bytes]) : Buffer.from(bytes); // a copy: the read buffer is reused
    };

    // ---- body decoding (in place, on the shared buffer) -----------------------------
    const onBody = (buf: Buffer, from: number, to: number): void => {
      if (mode === "length") {
        const take = Math.min(remaining, to - from);
        remaining -= take;
        deliver(buf.subarray(from, from + take));
        if (remaining === 0) finishBody(); // (a no-op if the consumer released the body in deliver)
        return;
      }
      if (mode === "close") {
        deliver(buf.subarray(from, to));
        return;
      }
      let i = from;
      while (i < to && phase === "body") {
        switch (ck) {
          case Ck.Data: {
            const take = Math.min(remaining, to - i);
            deliver(buf.subarray(i, i + take));
            remaining -= take;
            i += take;
            if (remaining === 0) {
              ck = Ck.DataEnd;
              sawCR = false;
            }
            break;
          }
          case Ck.DataEnd: {
            const c = buf[i++];
            if (c === 13 && !sawCR) {
              sawCR = true;
            } else if (c === 10) {
              ck = Ck.Size;
              line = "";
            } else {
              fail(new HttpFramingError("malformed chunked body: chunk data not followed by CRLF"));
              return;
            }
            break;
          }
          case Ck.Size:
          case Ck.Trailers: {
            const nl = buf.indexOf(10, i);
            const end = nl === -1 || nl >= to ? to : nl;
            line += buf.toString("latin1", i, end);
            i = end;
            if (line.length > MAX_CHUNK_LINE) {
              fail(new HttpFramingError(`malformed chunked body: a chunk-size or trailer line over ${MAX_CHUNK_LINE} bytes`));
              return;
            }
            if (end === to) break; // the line continues in the next read
            i += 1; // the LF
            const text = line.endsWith("\r") ? line.slice(0, -1) : line;
            line = "";
            if (ck === Ck.Trailers) {
              if (text === "") finishBody();
              break;
            }
            const m = /^\s*([0-9a-fA-F]{1,15})\s*(?:;.*)?$/.exec(text);
            if (!m) {
              fail(new HttpFramingError(`malformed chunked body: bad chunk-size line ${JSON.stringify(text.slice(0, 40))}`));
              return;
            }
            remaining = parseInt(m[1]!, 16);
            ck = remaining === 0 ? Ck.Trailers : Ck.Data;
            break;
          }
        }
      }
    };

    // ---- head parsing ---------------------------------------------------------------
    /** Parse a complete head. Returns false if it was an interim (1xx) response. */
    const parseHead = (text: string): boolean => {
      const lines = text.split(/\r?\n/);
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
      if (!m) throw new HttpFramingError(`not an HTTP/1.x response: ${JSON.stringify((lines[0] ?? "").slice(0, 60))}`);
      const code = Number(m[1]);
      if (code >= 100 && code < 200 && code !== 101) return false;
      status = code;
      statusText = (m[2] ?? "").trim();
      for (const l of lines.slice(1)) {
        if (l === "") continue;
        const colon = l.indexOf(":");
        if (colon <= 0) throw new HttpFramingError(`malformed response header line ${JSON.stringify(l.slice(0, 60))}`);
        const name = l.slice(0, colon).trim().toLowerCase();
        const value = l.slice(colon + 1).trim();
        const prev = headers.get(name);
        headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
      }
      const te = headers.get("transfer-encoding");
      const cl = headers.get("content-length");
      if (status === 204 || status === 304) mode = "none";
      else if (te !== undefined && /(?:^|,)\s*chunked\s*$/i.test(te)) mode = "chunked";
      else if (te === undefined && cl !== undefined) {
        if (!/^\d{1,15}$/.test(cl)) throw new HttpFramingError(`bad Content-Length ${JSON.stringify(cl.slice(0, 30))}`);
        remaining = Number(cl);
        mode = remaining === 0 ? "none" : "length";
      } else mode = "close";
      return true;
    };

    /** Find the end of the head in this read (and the part carried from earlier reads);
     * returns where the body starts in `buf`, or `to` when the head goes on. Only the head
     * is decoded, into a string of its own: header values slice it, so it must not
     * share a string with the body bytes that follow in the same read. */
    const onHead = (buf: Buffer, from: number, to: number): number => {
      const here = buf.subarray(from, to);
      const joined = partialHead ? Buffer.concat([partialHead, here]) : here;
      const carried = partialHead ? partialHead.length : 0;
      const crlf = joined.indexOf("\r\n\r\n", Math.max(0, carried - 3), "latin1");
      const lf = joined.indexOf("\n\n", Math.max(0, carried - 1), "latin1");
      let end: number;
      let sep: number;
      if (crlf !== -1 && (lf === -1 || crlf < lf)) {
        end = crlf;
        sep = 4;
      } else if (lf !== -1) {
        end = lf;
        sep = 2;
      } else {
        if (joined.length > MAX_HEAD_BYTES) throw new HttpFramingError(`response head over ${MAX_HEAD_BYTES} bytes`);
        partialHead = Buffer.from(joined); // a copy: the read buffer is reused
        return to;
      }
      if (end > MAX_HEAD_BYTES) throw new HttpFramingError(`response head over ${MAX_HEAD_BYTES} bytes`);
      partialHead = undefined;
      const consumed = from + end + sep - carried;
      if (!parseHead(joined.toString("latin1", 0, end))) return consumed; // 1xx: keep reading heads
      phase = "body";
      return consumed;
    };

    // ---- the socket -----------------------------------------------------------------
    const onRead = (nread: number, buf: Buffer): boolean => {
      if (closed) return false;
      try {
        let i = 0;
        while (i < nread && phase === "head") i = onHead(buf, i, nread);
        if (phase === "body" && !settled) {
          settled = true;
          if (mode === "none") finishBody();
          resolve(response);
          if (i < nread && phase === "body") onBody(buf, i, nread);
          // Hold further reads until the consumer attaches (start() resumes).
          if (!sink && !closed) return false;
          return true;
        }
        if (i < nread && phase === "body") onBody(buf, i, nread);
      } catch (err) {
        fail(err);
        return false;
      }
      return !paused;
    };

    const onread = { buffer: READ_BUFFER, callback: onRead };
    const socket: net.Socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ["http/1.1"], onread } as tls.ConnectionOptions)
      : net.connect({ host, port, onread });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000); // as undici does: a parked stream may carry nothing but keep-alive comments for hours
    socket.on("error", (err) => fail(err));
    socket.on("end", () => {
      if (phase === "head") fail(Object.assign(new Error("loomcycle closed the connection before sending response headers"), { code: "ECONNRESET" }));
      else if (phase === "body" && mode === "close") finishBody();
      else if (phase === "body") fail(Object.assign(new Error("loomcycle closed the connection before the end of the response"), { code: "ERR_STREAM_PREMATURE_CLOSE" }));
    });
    socket.on("close", () => {
      if (phase !== "done" && !closed) fail(Object.assign(new Error("connection closed"), { code: "ECONNRESET" }));
    });

    let path = url.pathname + url.search;
    if (path === "") path = "/";
    const method = opts.method ?? "GET";
    const payload = opts.body === undefined ? undefined : Buffer.from(opts.body, "utf8");
    let req = `${method} ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n`;
    if (payload) req += `Content-Length: ${payload.length}\r\n`;
    for (const [k, v] of Object.entries(opts.headers)) {
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) {
        fail(new TypeError(`invalid header ${k}: contains a line break`));
        return;
      }
      req += `${k}: ${v}\r\n`;
    }
    const request = payload ? Buffer.concat([Buffer.from(`${req}\r\n`, "latin1"), payload]) : `${req}\r\n`;
    // Over TLS, nothing is written before the handshake has succeeded: a refused
    // certificate then fails with its own code (http.ts reports it as "did not reach").
    if (secure) socket.once("secureConnect", () => socket.write(request));
    else socket.write(request);

    const headerView: ResponseHeaders = { get: (name) => headers.get(name.toLowerCase()) ?? null };
    let used = false;
    const body: PushBody = {
      start(s) {
        if (used) throw new Error("response body already used");
        used = true;
        sink = s;
        if (pending) {
          const p = pending;
          pending = undefined;
          s.data(p);
        }
        if (pendingError !== undefined) s.error(pendingError);
        else if (pendingEnd) s.end();
        else if (!closed && !paused) socket.resume();
      },
      pause() {
        paused = true;
      },
      resume() {
        if (!paused) return;
        paused = false;
        if (!closed) socket.resume();
      },
      release,
    };
    const response: StreamResponse = {
      get status() {
        return status;
      },
      get statusText() {
        return statusText;
      },
      url: url.toString(),
      get ok() {
        return status >= 200 && status < 300;
      },
      headers: headerView,
      body,
      text(max) {
        return new Promise<string>((res) => {
          const parts: Buffer[] = [];
          let total = 0;
          const done = (): void => res(Buffer.concat(parts, total).toString("utf8"));
          body.start({
            data(bytes) {
              if (total >= max) return;
              const take = bytes.subarray(0, Math.min(bytes.length, max - total));
              parts.push(Buffer.from(take));
              total += take.length;
              if (total >= max) {
                release();
                done();
              }
            },
            end: done,
            error: done, // what arrived is what there is: an error body is best effort
          });
        });
      },
      close: release,
    };
  });
}
