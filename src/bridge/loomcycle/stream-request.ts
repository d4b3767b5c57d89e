// The transport for run streams: one request per stream through Node's own HTTP client
// (node:http / node:https, whose llhttp parser does the framing), its body handed to the
// SSE reader as a push source with backpressure.
//
// Why not fetch: a run stream is a long-lived response whose consumer needs pause and
// resume on the socket and an abort that tears the connection down at once; IncomingMessage
// gives both without a WHATWG stream per connection. Streams are few: a parked run nobody
// needs releases its stream (tracked-run.ts, LOOMCYCLE_MCP_PARK_RELEASE_MS), so the per-stream
// cost of Node's client no longer needs a hand-written HTTP/1.1 parser to save memory.
//
// Each stream has a connection of its own (`agent: false`, `Connection: close`): a parked
// stream holds its socket for as long as the run is followed, so pooling would gain nothing.
// TLS for https base URLs uses Node's trust store plus NODE_EXTRA_CA_CERTS, as fetch does;
// the handshake completes before node:http writes the request on that socket.
// No redirects are followed (a 3xx becomes an error naming the location, in error-response.ts).
import http from "node:http";
import net from "node:net";
import tls from "node:tls";
import type { IncomingMessage } from "node:http";
import type { PushBody, PushSink } from "./sse.js";

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

/** TCP keep-alive probes on a stream's socket: a parked stream may carry nothing but keep-alive comments for hours (undici does the same). */
const KEEPALIVE_PROBE_MS = 60_000;

/** Send the request and resolve with the response once its head has arrived. */
export async function openStreamRequest(url: URL, opts: StreamRequestOptions): Promise<StreamResponse> {
  if (opts.signal.aborted) throw opts.signal.reason;
  // Over TLS the handshake comes first, on its own: nothing is written before it has
  // succeeded, and a refused certificate or a plain-HTTP port fails with OpenSSL's own code
  // (https.request would write at once and report a bare EPROTO from that write).
  const socket = url.protocol === "https:" ? await connectTls(url, opts.signal) : undefined;
  return request(url, opts, socket);
}

function connectTls(url: URL, signal: AbortSignal): Promise<tls.TLSSocket> {
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const host = hostOf(url);
    // Node's trust store plus NODE_EXTRA_CA_CERTS, and the usual identity check, as https.request does.
    const socket = tls.connect({
      host,
      port: Number(url.port) || 443,
      servername: net.isIP(host) ? undefined : host,
      ALPNProtocols: ["http/1.1"],
    });
    const settle = (): void => {
      signal.removeEventListener("abort", onAbort);
      socket.off("error", onError);
    };
    const onAbort = (): void => {
      settle();
      socket.destroy();
      reject(signal.reason);
    };
    const onError = (err: Error): void => {
      settle();
      socket.destroy();
      reject(err);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      settle();
      resolve(socket);
    });
  });
}

function hostOf(url: URL): string {
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

function request(url: URL, opts: StreamRequestOptions, tlsSocket: tls.TLSSocket | undefined): Promise<StreamResponse> {
  return new Promise<StreamResponse>((resolve, reject) => {
    const { signal } = opts;
    if (signal.aborted) {
      tlsSocket?.destroy();
      reject(signal.reason);
      return;
    }
    const payload = opts.body === undefined ? undefined : Buffer.from(opts.body, "utf8");
    // Host as the URL spells it (no default port), also over the TLS socket we hand to node:http.
    const headers: Record<string, string> = { Host: url.host, ...opts.headers, Connection: "close" };
    if (payload) headers["Content-Length"] = String(payload.length);

    let req: http.ClientRequest;
    try {
      const base = {
        host: hostOf(url),
        port: Number(url.port) || (tlsSocket ? 443 : 80),
        path: `${url.pathname || "/"}${url.search}`,
        method: opts.method ?? "GET",
        headers,
      };
      req = tlsSocket ? http.request({ ...base, createConnection: () => tlsSocket }) : http.request({ ...base, agent: false });
    } catch (err) {
      // Node validates header names and values before sending anything (ERR_INVALID_CHAR, …).
      tlsSocket?.destroy();
      reject(err);
      return;
    }

    let res: IncomingMessage | undefined;
    let sink: PushSink | undefined;
    let done = false; // end, error or release delivered: nothing more goes to the sink
    let pendingError: { err: unknown } | undefined; // a failure before start()

    const destroy = (): void => {
      signal.removeEventListener("abort", onAbort);
      req.destroy();
      res?.destroy();
      tlsSocket?.destroy();
    };
    /** Any failure: before the head it rejects the open; after, it errors the body. */
    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      destroy();
      if (!res) reject(err);
      else if (sink) sink.error(err);
      else pendingError = { err };
    };
    const onAbort = (): void => fail(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });

    req.on("socket", (socket) => {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, KEEPALIVE_PROBE_MS);
    });
    req.on("error", fail);
    req.on("response", (r) => {
      res = r;
      r.on("error", fail);
      // `close` without `complete`: the connection ended inside the body (Node 20 does not
      // always emit an error for it on a close-delimited or chunked body cut by a reset).
      r.on("close", () => {
        if (!r.complete)
          fail(
            Object.assign(new Error("loomcycle closed the connection before the end of the response"), {
              code: "ERR_STREAM_PREMATURE_CLOSE",
            }),
          );
      });
      resolve(response(r));
    });
    req.end(payload);

    const release = (): void => {
      done = true;
      destroy();
    };

    const response = (r: IncomingMessage): StreamResponse => {
      let used = false;
      const body: PushBody = {
        start(s) {
          if (used) throw new Error("response body already used");
          used = true;
          sink = s;
          if (pendingError) {
            s.error(pendingError.err);
            return;
          }
          if (done) return;
          r.on("data", (chunk: Buffer) => {
            if (!done) s.data(chunk);
          });
          r.on("end", () => {
            if (done) return;
            done = true;
            destroy();
            s.end();
          });
        },
        pause() {
          r.pause();
        },
        resume() {
          if (!done) r.resume();
        },
        release,
      };
      return {
        status: r.statusCode ?? 0,
        statusText: r.statusMessage ?? "",
        url: url.toString(),
        ok: (r.statusCode ?? 0) >= 200 && (r.statusCode ?? 0) < 300,
        headers: {
          get(name) {
            const v = r.headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
          },
        },
        body,
        text(max) {
          return new Promise<string>((settle) => {
            const parts: Buffer[] = [];
            let total = 0;
            const finish = (): void => settle(Buffer.concat(parts, total).toString("utf8"));
            body.start({
              data(bytes) {
                if (total >= max) return;
                const take = bytes.subarray(0, Math.min(bytes.length, max - total));
                parts.push(Buffer.from(take));
                total += take.length;
                if (total >= max) {
                  release();
                  finish();
                }
              },
              end: finish,
              error: finish, // what arrived is what there is: an error body is best effort
            });
          });
        },
        close: release,
      };
    };
  });
}
