// The request machinery under LoomcycleClient: deadlines, safe retries, bounded bodies.
//
// - Every request has a deadline for its response headers, separate from the idle
//   limit of an SSE body; JSON bodies are bounded too. Nothing waits forever.
// - Retries only where they are safe: idempotent GETs (and /healthz), on transport
//   failures, timeouts, 429 and 502/503/504, honouring Retry-After. A POST — starting a
//   run, delivering a steer, resolving a question — is sent exactly once: a blind
//   repeat could start a second run or deliver a message twice.
// - Run streams do not go through fetch: see stream-request.ts for their transport.
// - The bearer token goes only into the Authorization header. Upstream text is
//   scrubbed of it before it reaches an error message or a log line.
import type { z } from "zod";
import { LoomcycleError, ProtocolError, TimeoutError } from "./errors.js";
import { abortError, DEFAULT_STREAM_IDLE_MS, readSseFrames } from "./sse.js";
import { openStreamRequest, type StreamRequestOptions, type StreamResponse, type StreamTransport } from "./stream-request.js";
import { Attempt, ATTEMPT_ABORTED } from "./attempt.js";
import { errorFromResponse, isRetryable, looksLikeHtml } from "./error-response.js";
import { networkError } from "./network-errors.js";
import { redactSecrets, secretsOf, silentLogger, type Logger } from "../../logger.js";
import { backoffSleep, retryDelay, type RetryOptions } from "./retry.js";
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_RUN_START_HEADERS_TIMEOUT_MS,
  type CallOptions,
  type LoomcycleClientOptions,
  type RequestSpec,
  type SseStream,
} from "./http-options.js";

/** Error bodies are read up to this size (the rest is dropped; only ~300 chars are shown). */
const ERROR_BODY_MAX_BYTES = 64 * 1024;
/** JSON bodies larger than this are refused (a transcript has no pagination). */
const JSON_BODY_MAX_BYTES = 64 * 1024 * 1024;

/** Config, request building and the send/retry loop; LoomcycleClient (http.ts) adds the endpoints. */
export class HttpCore {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly secrets: readonly string[];
  private readonly fetchImpl: typeof fetch;
  private readonly streamTransport: StreamTransport;
  private readonly log: Logger;
  private readonly headersTimeoutMs: number;
  protected readonly runStartHeadersTimeoutMs: number;
  private readonly streamIdleMs: number;
  private readonly maxFrameBytes: number | undefined;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: NonNullable<RetryOptions["sleep"]>;
  private readonly userAgent: string;
  /** loomcycle's clock minus ours, from the latest response's Date header (0 until one came). */
  private clockOffsetMs = 0;

  constructor(opts: LoomcycleClientOptions) {
    const u = new URL(opts.baseUrl); // throws on a malformed base URL: a config error, fail early
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`baseUrl must be http(s): ${u.protocol}`);
    this.baseUrl = u.toString().replace(/\/+$/, "");
    this.token = opts.token === "" ? undefined : opts.token;
    this.secrets = secretsOf(this.token);
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.streamTransport = opts.streamTransport ?? openStreamRequest;
    this.log = opts.logger ?? silentLogger();
    this.headersTimeoutMs = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
    this.runStartHeadersTimeoutMs = opts.runStartHeadersTimeoutMs ?? DEFAULT_RUN_START_HEADERS_TIMEOUT_MS;
    this.streamIdleMs = opts.streamIdleMs ?? DEFAULT_STREAM_IDLE_MS;
    this.maxFrameBytes = opts.maxFrameBytes;
    this.attempts = Math.max(1, opts.retry?.attempts ?? 3);
    this.baseDelayMs = opts.retry?.baseDelayMs ?? 250;
    this.maxDelayMs = opts.retry?.maxDelayMs ?? 5000;
    this.sleep = opts.retry?.sleep ?? backoffSleep;
    this.userAgent = opts.userAgent ?? "loomcycle-mcp-bridge";
  }

  protected get(path: string, opts: CallOptions, query?: RequestSpec["query"], stream = false): RequestSpec {
    const spec: RequestSpec = {
      method: "GET",
      path,
      idempotent: true,
      stream,
      headersTimeoutMs: opts.headersTimeoutMs ?? this.headersTimeoutMs,
    };
    if (query) spec.query = query;
    return spec;
  }

  protected post(path: string, opts: CallOptions, body: unknown, effect: string): RequestSpec {
    return {
      method: "POST",
      path,
      body,
      idempotent: false,
      stream: false,
      headersTimeoutMs: opts.headersTimeoutMs ?? this.headersTimeoutMs,
      effect,
    };
  }

  private url(spec: RequestSpec): string {
    let url = this.baseUrl + spec.path;
    if (spec.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(spec.query)) if (v !== undefined) q.set(k, String(v));
      const s = q.toString();
      if (s) url += `?${s}`;
    }
    return url;
  }

  protected async json<S extends z.ZodType>(spec: RequestSpec, schema: S, opts: CallOptions): Promise<z.output<S>> {
    const endpoint = `${spec.method} ${spec.path}`;
    return this.withRetry(spec, opts, async (attempt) => {
      const res = await this.send(spec, attempt);
      // Bound the body too: twice the header deadline from the start, and at least one header deadline after the headers.
      const bodyMs = Math.max(spec.headersTimeoutMs, attempt.startedAt + 2 * spec.headersTimeoutMs - Date.now());
      attempt.arm("body_timeout", bodyMs);
      if (!res.ok) {
        const text = await this.readText(res, attempt, ERROR_BODY_MAX_BYTES, endpoint, "cut");
        throw errorFromResponse(res, text, this.secrets, endpoint);
      }
      // Scrubbed like error bodies: a status or transcript echoing the token must not carry it on.
      const text = redactSecrets(await this.readText(res, attempt, JSON_BODY_MAX_BYTES, endpoint, "refuse"), this.secrets);
      attempt.disarm();
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        const ct = res.headers.get("content-type") ?? "none";
        const what = looksLikeHtml(ct, text) ? "an HTML page" : `a non-JSON body (content-type ${ct}, ${text.length} chars)`;
        throw new ProtocolError(`${endpoint}: loomcycle (or a proxy in front of it) answered ${res.status} with ${what}`, {
          status: res.status,
        });
      }
      const parsed = schema.safeParse(data);
      if (!parsed.success) {
        const detail = parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
          .join("; ");
        throw new ProtocolError(`${endpoint}: unexpected response shape from loomcycle (${detail})`, {
          status: res.status,
          detail,
        });
      }
      return parsed.data;
    });
  }

  protected async openStream(spec: RequestSpec, opts: CallOptions): Promise<SseStream> {
    const endpoint = `${spec.method} ${spec.path}`;
    return this.withRetry(spec, opts, async (attempt) => {
      const res = await this.sendStream(spec, attempt);
      if (!res.ok) {
        attempt.arm("body_timeout", Math.max(5000, spec.headersTimeoutMs));
        const text = await attempt.race(res.text(ERROR_BODY_MAX_BYTES));
        throw errorFromResponse(res, text, this.secrets, endpoint);
      }
      const ct = res.headers.get("content-type") ?? "";
      if (ct !== "" && !ct.toLowerCase().includes("text/event-stream")) {
        res.close();
        throw new ProtocolError(
          `${endpoint}: expected an event stream, loomcycle answered ${res.status} with content-type ${ct}`,
          {
            status: res.status,
          },
        );
      }
      const ce = (res.headers.get("content-encoding") ?? "").trim().toLowerCase();
      if (ce !== "" && ce !== "identity") {
        res.close();
        throw new ProtocolError(
          `${endpoint}: the event stream came compressed (content-encoding ${ce}) though the bridge asked for none; turn compression off for text/event-stream in the proxy in front of loomcycle`,
          { status: res.status },
        );
      }
      attempt.kept = true; // the attempt (controller, caller link) now lives as long as the stream
      return this.makeStream(res, attempt);
    });
  }

  private makeStream(res: StreamResponse, attempt: Attempt): SseStream {
    const close = (): void => {
      attempt.abort("closed");
      attempt.dispose();
    };
    const inner = readSseFrames(res.body, {
      signal: attempt.signal,
      idleTimeoutMs: this.streamIdleMs,
      ...(this.maxFrameBytes === undefined ? {} : { maxFrameBytes: this.maxFrameBytes }),
      logger: this.log,
      secrets: this.secrets,
      // Map how the stream ended without wrapping every frame in a generator of ours.
      onEnd: (err: unknown) => {
        let out: unknown = err;
        if (err === undefined || attempt.cause === "closed")
          out = undefined; // close() is a normal end for the consumer
        else if (attempt.cause === "caller" && attempt.callerSignal) out = abortError(attempt.callerSignal);
        close(); // after reading attempt.cause: closing sets it
        return out;
      },
    });
    return { frames: inner, batches: inner.batches, close, status: res.status };
  }

  private headersFor(spec: RequestSpec): Record<string, string> {
    const headers: Record<string, string> = {
      Accept: spec.stream ? "text/event-stream" : "application/json",
      "User-Agent": this.userAgent,
    };
    if (spec.stream) headers["Accept-Encoding"] = "identity"; // the stream transport does not decompress
    if (this.token) headers["Authorization"] = `Bearer ${this.token}`;
    return headers;
  }

  /** Open a run stream (stream-request.ts: node:http, a connection of its own) and wait for its response head. */
  private async sendStream(spec: RequestSpec, attempt: Attempt): Promise<StreamResponse> {
    attempt.arm("headers_timeout", spec.headersTimeoutMs);
    const headers = this.headersFor(spec);
    const req: StreamRequestOptions = { method: spec.method, headers, signal: attempt.signal };
    if (spec.body !== undefined) {
      headers["Content-Type"] = "application/json";
      req.body = JSON.stringify(spec.body);
    }
    const res = await attempt.race(this.streamTransport(new URL(this.url(spec)), req), (late) => late.close());
    attempt.disarm();
    this.log.debug(
      { method: spec.method, path: spec.path, status: res.status, ms: Date.now() - attempt.startedAt },
      "loomcycle request",
    );
    return res;
  }

  /** Send the request and wait for response headers (bounded by the header deadline). */
  private async send(spec: RequestSpec, attempt: Attempt): Promise<Response> {
    const headers = this.headersFor(spec);
    const init: RequestInit = { method: spec.method, headers, signal: attempt.signal, redirect: "manual" };
    if (spec.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(spec.body);
    }
    attempt.arm("headers_timeout", spec.headersTimeoutMs);
    const res = await attempt.race(this.fetchImpl(this.url(spec), init), (late) => {
      late.body?.cancel().catch(() => undefined);
    });
    attempt.disarm();
    this.noteDate(res.headers.get("date"));
    this.log.debug(
      { method: spec.method, path: spec.path, status: res.status, ms: Date.now() - attempt.startedAt },
      "loomcycle request",
    );
    return res;
  }

  /**
   * loomcycle's clock now, as its last Date header put it (whole seconds, so within about half
   * a second). Ages of the times loomcycle reports (heartbeats) are judged against its clock,
   * not ours, which may be set differently.
   */
  serverNow(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private noteDate(date: string | null): void {
    const t = date ? Date.parse(date) : NaN;
    // The header drops the fraction of a second: the middle of that second is the best guess.
    if (Number.isFinite(t)) this.clockOffsetMs = t + 500 - Date.now();
  }

  /** Read a body as text, at most `max` bytes: beyond that an error body is cut ("cut"), a JSON body refused ("refuse"). */
  private async readText(
    res: Response,
    attempt: Attempt,
    max: number,
    endpoint: string,
    over: "cut" | "refuse",
  ): Promise<string> {
    if (!res.body) return "";
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await attempt.race(reader.read());
        if (done) break;
        if (total + value.length > max) {
          if (over === "cut") {
            chunks.push(value.subarray(0, max - total));
            total = max;
            break;
          }
          throw new ProtocolError(`${endpoint}: response body exceeds ${max} bytes`, { status: res.status });
        }
        chunks.push(value);
        total += value.length;
      }
    } finally {
      reader.cancel().catch(() => undefined);
      try {
        reader.releaseLock();
      } catch {
        // already released
      }
    }
    return new TextDecoder().decode(Buffer.concat(chunks, total));
  }

  private async withRetry<T>(spec: RequestSpec, opts: CallOptions, fn: (attempt: Attempt) => Promise<T>): Promise<T> {
    const max = spec.idempotent ? this.attempts : 1;
    for (let n = 1; ; n++) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const attempt = new Attempt(opts.signal);
      let err: unknown;
      try {
        return await fn(attempt);
      } catch (raw) {
        err = this.mapFailure(raw, attempt, spec);
      } finally {
        if (!attempt.kept) attempt.dispose();
      }
      const ms = Date.now() - attempt.startedAt;
      if (!(err instanceof LoomcycleError)) {
        this.log.debug({ method: spec.method, path: spec.path, ms, aborted: true }, "loomcycle request aborted by the caller");
        throw err;
      }
      // A caller whose signal aborted (its own deadline, as a TimeoutError) wants no retry.
      const retry = n < max && isRetryable(err) && !opts.signal?.aborted;
      this.log.debug(
        { method: spec.method, path: spec.path, status: err.status, ms, error: err.kind, code: err.code, attempt: n, retry },
        "loomcycle request failed",
      );
      if (!retry) throw err;
      await this.sleep(retryDelay(n, err, this.baseDelayMs, this.maxDelayMs), opts.signal);
    }
  }

  /** Turn whatever an attempt threw into a LoomcycleError, or the caller's abort error. */
  private mapFailure(raw: unknown, attempt: Attempt, spec: RequestSpec): unknown {
    const endpoint = `${spec.method} ${spec.path}`;
    const effect = spec.effect ? `; ${spec.effect}` : "";
    switch (attempt.cause) {
      case "caller":
        return attempt.callerSignal ? abortError(attempt.callerSignal) : raw;
      case "closed":
        return Object.assign(new Error("request closed"), { name: "AbortError" });
      case "headers_timeout":
        return new TimeoutError(
          `${endpoint}: no response headers from loomcycle within ${spec.headersTimeoutMs} ms; the request may have reached loomcycle${effect}`,
          { code: "headers_timeout", cause: raw === ATTEMPT_ABORTED ? undefined : raw },
        );
      case "body_timeout":
        return new TimeoutError(`${endpoint}: loomcycle sent headers but the response body did not finish in time${effect}`, {
          code: "body_timeout",
        });
      case undefined:
        break;
    }
    if (raw instanceof LoomcycleError) return raw;
    return networkError(raw, endpoint, effect, this.baseUrl, this.secrets);
  }
}
