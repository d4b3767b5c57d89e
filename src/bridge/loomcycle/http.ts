// Typed HTTP client for loomcycle's run API (wire contract §1–§9).
//
// - One place turns a non-2xx response into a typed error (`errorFromResponse`), for
//   both body formats loomcycle uses (plain text and `{code, error}` JSON) and for HTML
//   pages from a proxy in front of it.
// - Every request has a deadline for its response headers, separate from the idle
//   limit of an SSE body; JSON bodies are bounded too. Nothing waits forever.
// - Retries only where they are safe: idempotent GETs (and /healthz), on transport
//   failures, timeouts, 429 and 502/503/504, honouring Retry-After. A POST — starting a
//   run, delivering a steer, resolving a question — is sent exactly once: a blind
//   repeat could start a second run or deliver a message twice.
// - Run streams do not go through fetch: see stream-request.ts for their transport.
// - The bearer token goes only into the Authorization header. Upstream text is
//   scrubbed of it before it reaches an error message or a log line.
import { STATUS_CODES } from "node:http";
import type { z } from "zod";
import {
  AgentStatus,
  CancelAgentResult,
  CancelTurnResult,
  CompactResult,
  Health,
  InputResult,
  InterruptList,
  Me,
  ResolveResult,
  RunnableAgents,
  SnapshotList,
  Transcript,
  UserAgents,
} from "./api-types.js";
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  GoneError,
  LoomcycleError,
  NotFoundError,
  PayloadTooLargeError,
  ProtocolError,
  RateLimitedError,
  TimeoutError,
  UnauthorizedError,
  UnavailableError,
  UnprocessableError,
  UnreachableError,
  UnsupportedMediaTypeError,
  UpstreamError,
  type LoomErrorInit,
} from "./errors.js";
import type { StreamFrame } from "./events.js";
import { abortError, DEFAULT_STREAM_IDLE_MS, describeError, readSseFrames } from "./sse.js";
import { openStreamRequest, type StreamRequestOptions, type StreamResponse, type StreamTransport } from "./stream-request.js";
import { redactSecrets, silentLogger, type Logger } from "../../logger.js";

export interface RetryOptions {
  /** Total attempts for retryable requests, first one included. Default 3. */
  attempts?: number;
  /** Backoff base: base·2^n, capped, jittered. Default 250. */
  baseDelayMs?: number;
  /** Cap for one backoff delay, and for an honoured Retry-After. Default 5000. */
  maxDelayMs?: number;
}

export interface LoomcycleClientOptions {
  baseUrl: string;
  token?: string;
  /** For JSON requests (tests inject one). Run streams use `streamTransport`. */
  fetch?: typeof fetch;
  /** Opens run streams. Default: openStreamRequest (src/bridge/loomcycle/stream-request.ts, node:http); the ingest benchmark injects one. */
  streamTransport?: StreamTransport;
  logger?: Logger;
  /** Deadline for response headers. Default 15000. */
  headersTimeoutMs?: number;
  /** Deadline for the headers of POST /v1/runs: a queued run start can wait 30 s before any header. Default 35000. */
  runStartHeadersTimeoutMs?: number;
  /** SSE: no bytes (not even a keep-alive) for this long → TimeoutError. Default 60000; 0 disables. */
  streamIdleMs?: number;
  /** SSE: largest frame parsed; bigger ones become `invalid` frames. Default 16 MiB. */
  maxFrameBytes?: number;
  retry?: RetryOptions;
  userAgent?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's header deadline for this call. */
  headersTimeoutMs?: number;
}

export interface SseStream {
  /** Validated frames until EOF. Throws UnreachableError on a reset, TimeoutError when idle,
   * the abort reason when the caller's signal aborts; returns normally after `close()`. */
  frames: AsyncGenerator<StreamFrame>;
  /** The same frames, every frame one read of the body completed at a time (use one view, not both). */
  batches: AsyncIterable<StreamFrame[]>;
  /** Abort the request (idempotent). Closing never affects the run itself (interactive runs are detached). */
  close(): void;
  status: number;
}

export interface StartRunBody {
  agent: string;
  prompt: string;
  user_id?: string;
  agent_id?: string;
  session_id?: string;
  metadata?: Record<string, string>;
}

export interface ResolveInterruptBody {
  answer?: string;
  disposition?: "answer" | "declined";
  kind?: "question";
  resolved_by?: string;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 15_000;
export const DEFAULT_RUN_START_HEADERS_TIMEOUT_MS = 35_000;
/** Error bodies are read up to this size (the rest is dropped; only ~300 chars are shown). */
const ERROR_BODY_MAX_BYTES = 64 * 1024;
/** JSON bodies larger than this are refused (a transcript has no pagination). */
const JSON_BODY_MAX_BYTES = 64 * 1024 * 1024;
const MESSAGE_MAX_CHARS = 300;

type Method = "GET" | "POST";

interface RequestSpec {
  method: Method;
  /** Path with segments already encoded. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Safe to repeat: retried on transport failures, timeouts, 429, 502/503/504. */
  idempotent: boolean;
  stream: boolean;
  headersTimeoutMs: number;
  /** What a lost response may mean for this call, appended to transport/timeout errors. */
  effect?: string;
}

type AbortCause = "caller" | "headers_timeout" | "body_timeout" | "closed";

/** Raised inside an attempt when its controller aborted; mapped by cause afterwards. */
const ATTEMPT_ABORTED = Symbol("attempt aborted");

/** One HTTP attempt: its AbortController, the link to the caller's signal, one timer. */
class Attempt {
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
      p.then((v) => late?.(v), () => undefined);
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

export class LoomcycleClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly secrets: readonly string[];
  private readonly fetchImpl: typeof fetch;
  private readonly streamTransport: StreamTransport;
  private readonly log: Logger;
  private readonly headersTimeoutMs: number;
  private readonly runStartHeadersTimeoutMs: number;
  private readonly streamIdleMs: number;
  private readonly maxFrameBytes: number | undefined;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly userAgent: string;

  constructor(opts: LoomcycleClientOptions) {
    const u = new URL(opts.baseUrl); // throws on a malformed base URL: a config error, fail early
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new TypeError(`baseUrl must be http(s): ${u.protocol}`);
    this.baseUrl = u.toString().replace(/\/+$/, "");
    this.token = opts.token === "" ? undefined : opts.token;
    this.secrets = this.token ? [this.token] : [];
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
    this.userAgent = opts.userAgent ?? "loomcycle-mcp-bridge";
  }

  // ---- run streams -------------------------------------------------------------------

  /** POST /v1/runs with `interactive: true`. Never retried. Resolves when 200 headers arrive. */
  startInteractiveRun(body: StartRunBody, opts: CallOptions = {}): Promise<SseStream> {
    const payload: Record<string, unknown> = { agent: body.agent, prompt: body.prompt, interactive: true };
    if (body.user_id !== undefined) payload["user_id"] = body.user_id;
    if (body.agent_id !== undefined) payload["agent_id"] = body.agent_id;
    if (body.session_id !== undefined) payload["session_id"] = body.session_id;
    if (body.metadata !== undefined) payload["metadata"] = body.metadata;
    return this.openStream(
      {
        method: "POST",
        path: "/v1/runs",
        body: payload,
        idempotent: false,
        stream: true,
        headersTimeoutMs: opts.headersTimeoutMs ?? this.runStartHeadersTimeoutMs,
        effect: "the run may have been created; look it up by agent_id before starting another",
      },
      opts,
    );
  }

  /** GET /v1/runs/{id}/stream?from_seq=N: replays events with seq > N, then tails. */
  streamRun(runId: string, fromSeq: number, opts: CallOptions = {}): Promise<SseStream> {
    return this.openStream(
      this.get(`/v1/runs/${seg(runId)}/stream`, opts, { from_seq: Math.max(0, Math.trunc(fromSeq)) }, true),
      opts,
    );
  }

  // ---- run control (POSTs: never retried) -----------------------------------------------

  /** POST /v1/runs/{id}/input. `delivered: true` = queued, not yet seen by the model. A 429 carries `retryAfterMs`. */
  sendInput(runId: string, text: string, opts: CallOptions = {}): Promise<InputResult> {
    return this.json(this.post(`/v1/runs/${seg(runId)}/input`, opts, { text }, "the message may have been delivered"), InputResult, opts);
  }

  /** POST /v1/runs/{id}/cancel: stop the current turn and park the run. */
  cancelTurn(runId: string, reason?: string, opts: CallOptions = {}): Promise<CancelTurnResult> {
    return this.json(
      this.post(`/v1/runs/${seg(runId)}/cancel`, opts, reason === undefined ? undefined : { reason }, "the turn may have been cancelled"),
      CancelTurnResult,
      opts,
    );
  }

  /** POST /v1/agents/{id}/cancel: end the whole run (keyed by agent_id). */
  cancelAgent(agentId: string, reason?: string, opts: CallOptions = {}): Promise<CancelAgentResult> {
    return this.json(
      this.post(`/v1/agents/${seg(agentId)}/cancel`, opts, reason === undefined ? undefined : { reason }, "the run may have been cancelled"),
      CancelAgentResult,
      opts,
    );
  }

  /** POST /v1/runs/{run}/interrupts/{id}/resolve. */
  resolveInterrupt(runId: string, interruptId: string, body: ResolveInterruptBody, opts: CallOptions = {}): Promise<ResolveResult> {
    const payload: Record<string, unknown> = {};
    if (body.kind !== undefined) payload["kind"] = body.kind;
    if (body.answer !== undefined) payload["answer"] = body.answer;
    if (body.disposition !== undefined) payload["disposition"] = body.disposition;
    if (body.resolved_by !== undefined) payload["resolved_by"] = body.resolved_by;
    return this.json(
      this.post(`/v1/runs/${seg(runId)}/interrupts/${seg(interruptId)}/resolve`, opts, payload, "the question may have been resolved"),
      ResolveResult,
      opts,
    );
  }

  /** POST /v1/runs/{id}/compact (no body is read by loomcycle; `{}` is sent like the Web UI does). */
  compactRun(runId: string, opts: CallOptions = {}): Promise<CompactResult> {
    return this.json(this.post(`/v1/runs/${seg(runId)}/compact`, opts, {}, "the run may have been compacted"), CompactResult, opts);
  }

  // ---- reads (GETs: retried) --------------------------------------------------------------

  /** GET /v1/agents/{id}: the latest run with that agent_id. A parked run reads `running`. */
  getAgent(agentId: string, opts: CallOptions = {}): Promise<AgentStatus> {
    return this.json(this.get(`/v1/agents/${seg(agentId)}`, opts), AgentStatus, opts);
  }

  /** GET /v1/users/{id}/agents; `status` defaults to `running` on loomcycle's side, `all` for any. */
  listUserAgents(userId: string, filter: { status?: string } = {}, opts: CallOptions = {}): Promise<UserAgents> {
    return this.json(this.get(`/v1/users/${seg(userId)}/agents`, opts, { status: filter.status }), UserAgents, opts);
  }

  /** GET /v1/sessions/{id}/transcript (whole session, all runs, ordered by seq). */
  transcript(sessionId: string, opts: CallOptions = {}): Promise<Transcript> {
    return this.json(this.get(`/v1/sessions/${seg(sessionId)}/transcript`, opts), Transcript, opts);
  }

  /** GET /v1/runs/{id}/interrupts; no `status` = all statuses (unlike the user-scoped list). */
  listRunInterrupts(runId: string, filter: { status?: string } = {}, opts: CallOptions = {}): Promise<InterruptList> {
    return this.json(this.get(`/v1/runs/${seg(runId)}/interrupts`, opts, { status: filter.status }), InterruptList, opts);
  }

  /** GET /v1/users/{id}/interrupts; no `status` = pending only. */
  listUserInterrupts(userId: string, filter: { status?: string } = {}, opts: CallOptions = {}): Promise<InterruptList> {
    return this.json(this.get(`/v1/users/${seg(userId)}/interrupts`, opts, { status: filter.status }), InterruptList, opts);
  }

  /** GET /v1/_snapshots (admin scope). */
  listSnapshots(filter: { limit?: number; label_contains?: string } = {}, opts: CallOptions = {}): Promise<SnapshotList> {
    return this.json(this.get("/v1/_snapshots", opts, { limit: filter.limit, label_contains: filter.label_contains }), SnapshotList, opts);
  }

  healthz(opts: CallOptions = {}): Promise<Health> {
    return this.json(this.get("/healthz", opts), Health, opts);
  }

  me(opts: CallOptions = {}): Promise<Me> {
    return this.json(this.get("/v1/_me", opts), Me, opts);
  }

  runnableAgents(opts: CallOptions = {}): Promise<RunnableAgents> {
    return this.json(this.get("/v1/_runnable-agents", opts), RunnableAgents, opts);
  }

  // ---- machinery --------------------------------------------------------------------------

  private get(path: string, opts: CallOptions, query?: RequestSpec["query"], stream = false): RequestSpec {
    const spec: RequestSpec = { method: "GET", path, idempotent: true, stream, headersTimeoutMs: opts.headersTimeoutMs ?? this.headersTimeoutMs };
    if (query) spec.query = query;
    return spec;
  }

  private post(path: string, opts: CallOptions, body: unknown, effect: string): RequestSpec {
    return { method: "POST", path, body, idempotent: false, stream: false, headersTimeoutMs: opts.headersTimeoutMs ?? this.headersTimeoutMs, effect };
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

  private async json<S extends z.ZodType>(spec: RequestSpec, schema: S, opts: CallOptions): Promise<z.output<S>> {
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
        throw new ProtocolError(`${endpoint}: loomcycle (or a proxy in front of it) answered ${res.status} with ${what}`, { status: res.status });
      }
      const parsed = schema.safeParse(data);
      if (!parsed.success) {
        const detail = parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
          .join("; ");
        throw new ProtocolError(`${endpoint}: unexpected response shape from loomcycle (${detail})`, { status: res.status, detail });
      }
      return parsed.data;
    });
  }

  private async openStream(spec: RequestSpec, opts: CallOptions): Promise<SseStream> {
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
        throw new ProtocolError(`${endpoint}: expected an event stream, loomcycle answered ${res.status} with content-type ${ct}`, {
          status: res.status,
        });
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
        if (err === undefined || attempt.cause === "closed") out = undefined; // close() is a normal end for the consumer
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
    this.log.debug({ method: spec.method, path: spec.path, status: res.status, ms: Date.now() - attempt.startedAt }, "loomcycle request");
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
    this.log.debug({ method: spec.method, path: spec.path, status: res.status, ms: Date.now() - attempt.startedAt }, "loomcycle request");
    return res;
  }

  /** Read a body as text, at most `max` bytes: beyond that an error body is cut ("cut"), a JSON body refused ("refuse"). */
  private async readText(res: Response, attempt: Attempt, max: number, endpoint: string, over: "cut" | "refuse"): Promise<string> {
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
      await sleep(this.delayFor(n, err), opts.signal);
    }
  }

  private delayFor(n: number, err: LoomcycleError): number {
    if (err.retryAfterMs !== undefined) return Math.min(err.retryAfterMs, this.maxDelayMs);
    const exp = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1));
    return exp / 2 + Math.random() * (exp / 2);
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
    return this.networkError(raw, endpoint, effect);
  }

  private networkError(raw: unknown, endpoint: string, effect: string): UnreachableError {
    const codes = errorCodes(raw);
    const origin = new URL(this.baseUrl).origin;
    const detail = redactSecrets(describeError(raw), this.secrets);
    const notReached = (code: string, what: string): UnreachableError =>
      new UnreachableError(`${endpoint}: cannot reach loomcycle at ${origin} (${what}); the request did not reach loomcycle`, {
        code,
        detail,
        cause: raw,
      });
    if (codes.has("ECONNREFUSED")) return notReached("connect_refused", "connection refused");
    if (codes.has("ENOTFOUND") || codes.has("EAI_AGAIN") || codes.has("EAI_NONAME")) return notReached("dns_failed", "DNS lookup failed");
    if (codes.has("UND_ERR_CONNECT_TIMEOUT")) return notReached("connect_timeout", "connect timed out");
    if (codes.has("EHOSTUNREACH") || codes.has("ENETUNREACH") || codes.has("EADDRNOTAVAIL")) return notReached("host_unreachable", "host unreachable");
    const tls = tlsFailure(raw);
    if (tls !== undefined) {
      // The handshake failed, so no request byte was sent. Say what to do about it.
      const fix = tls.startsWith("the server") ? "check http vs https in the base URL" : "for a private CA set NODE_EXTRA_CA_CERTS to its PEM file";
      return notReached("tls_failed", `TLS handshake failed: ${tls}; ${fix}`);
    }
    const reset = codes.has("ECONNRESET") || codes.has("EPIPE") || codes.has("UND_ERR_SOCKET") || codes.has("UND_ERR_CLOSED");
    return new UnreachableError(
      `${endpoint}: the connection to loomcycle at ${origin} failed (${reset ? "connection reset or closed" : detail}); the request may have reached loomcycle${effect}`,
      { code: reset ? "connection_reset" : "network_error", detail, cause: raw },
    );
  }
}

// ---- status → error (the one place) ---------------------------------------------------

/** What errorFromResponse reads of a response (a fetch Response or a StreamResponse). */
export interface ResponseLike {
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly headers: { get(name: string): string | null };
}

/**
 * Map a non-2xx response to a typed error. `bodyText` is the (possibly cut) response body;
 * `secrets` are scrubbed from it before anything is kept. Reads plain-text bodies
 * (`http.Error`, trailing newline trimmed), JSON `{code, error, ...extra}` envelopes, and
 * HTML pages from proxies (summarised, never dumped). `endpoint` (e.g. "POST /v1/runs")
 * names the call in the message; it defaults to the path of `res.url`.
 */
export function errorFromResponse(res: ResponseLike, bodyText: string, secrets: readonly string[], endpoint?: string): LoomcycleError {
  const status = res.status;
  const statusLine = `${status} ${res.statusText || STATUS_CODES[status] || ""}`.trim();
  const where = endpoint ?? endpointFromUrl(res.url);
  const body = parseErrorBody(res.headers.get("content-type") ?? "", bodyText, secrets);
  const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));

  let message: string;
  if (body.html) {
    message = `${where}: loomcycle (or a proxy in front of it) answered ${statusLine} with an HTML page`;
    if (body.title && body.title.toLowerCase() !== statusLine.toLowerCase()) message += ` titled "${body.title}"`;
  } else {
    message = `${where}: loomcycle answered ${statusLine}`;
    if (body.code) message += ` (${body.code})`;
    if (body.message) message += `: ${body.message}`;
  }
  const init: LoomErrorInit = { status, detail: body.message || statusLine };
  if (body.code !== undefined) init.code = body.code;
  if (body.extra !== undefined) init.extra = body.extra;
  if (retryAfterMs !== undefined) init.retryAfterMs = retryAfterMs;

  if (status >= 300 && status < 400) {
    const loc = res.headers.get("location");
    return new ProtocolError(`${message}${loc ? ` (redirect to ${truncate(redactSecrets(loc, secrets), 200)})` : ""}; check the loomcycle base URL`, init);
  }
  switch (status) {
    case 400:
      return new BadRequestError(message, init);
    case 401:
      return new UnauthorizedError(message, init);
    case 403: {
      const scope = requiredScope(res.headers.get("www-authenticate"));
      return new ForbiddenError(scope ? `${message} (required scope: ${scope})` : message, scope ? { ...init, requiredScope: scope } : init);
    }
    case 404:
      return new NotFoundError(message, init);
    case 408:
      return new TimeoutError(message, init);
    case 409:
      return new ConflictError(message, init);
    case 410:
      return new GoneError(message, init);
    case 413:
      return new PayloadTooLargeError(message, init);
    case 415:
      return new UnsupportedMediaTypeError(message, init);
    case 422:
      return new UnprocessableError(message, init);
    case 429:
      return new RateLimitedError(message, init);
    case 503:
      return new UnavailableError(message, init);
  }
  if (status >= 500) return new UpstreamError(message, init);
  if (status >= 400) return new BadRequestError(message, init);
  return new ProtocolError(message, init);
}

interface ParsedErrorBody {
  message: string;
  code?: string;
  extra?: Record<string, unknown>;
  html: boolean;
  title?: string;
}

function parseErrorBody(contentType: string, raw: string, secrets: readonly string[]): ParsedErrorBody {
  const text = redactSecrets(raw, secrets);
  const ct = contentType.toLowerCase();
  if (looksLikeHtml(ct, text)) {
    const m = /<title[^>]*>([^<]*)<\/title>/i.exec(text);
    const title = m?.[1]?.replace(/\s+/g, " ").trim();
    return title ? { message: "", html: true, title: truncate(title, 100) } : { message: "", html: true };
  }
  const trimmed = text.trim();
  if (ct.includes("json") || trimmed.startsWith("{")) {
    try {
      const data: unknown = JSON.parse(trimmed);
      if (typeof data === "object" && data !== null && !Array.isArray(data)) {
        const obj = scrubDeep(data, secrets) as Record<string, unknown>;
        const { code, error, ...rest } = obj;
        const msg = typeof error === "string" ? error : typeof rest["message"] === "string" ? rest["message"] : "";
        const out: ParsedErrorBody = { message: truncate(oneLine(msg), MESSAGE_MAX_CHARS), html: false };
        if (typeof code === "string" && code !== "") out.code = code;
        if (Object.keys(rest).length > 0) out.extra = rest;
        return out;
      }
    } catch {
      // loomcycle writes some envelopes with fmt's %q inside a JSON string
      // (`{"code":"unknown_agent_id","error":"no run found for agent_id "a_x""}`), which
      // is not valid JSON: recover the code and the message by their position.
      const code = /^\{\s*"code"\s*:\s*"([A-Za-z0-9_.-]+)"/.exec(trimmed)?.[1];
      if (code) {
        const err = /"error"\s*:\s*"([\s\S]*)"\s*\}\s*$/.exec(trimmed)?.[1] ?? "";
        return { message: truncate(oneLine(err), MESSAGE_MAX_CHARS), code, html: false };
      }
    }
  }
  return { message: truncate(oneLine(trimmed), MESSAGE_MAX_CHARS), html: false };
}

function looksLikeHtml(contentType: string, text: string): boolean {
  if (contentType.toLowerCase().includes("html")) return true;
  const head = text.trimStart().slice(0, 512).toLowerCase();
  return head.startsWith("<") && /<(!doctype|html|head|body|title|center|h1)[\s>]/.test(head);
}

function scrubDeep(v: unknown, secrets: readonly string[]): unknown {
  if (typeof v === "string") return redactSecrets(v, secrets);
  if (Array.isArray(v)) return v.map((x) => scrubDeep(x, secrets));
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[redactSecrets(k, secrets)] = scrubDeep(x, secrets);
    return out;
  }
  return v;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (past dates → 0). */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** `WWW-Authenticate: Bearer scope="runs:create"` → `runs:create`. */
function requiredScope(header: string | null): string | undefined {
  if (!header) return undefined;
  const m = /\bscope="([^"]*)"/i.exec(header) ?? /\bscope=([^\s,]+)/i.exec(header);
  const s = m?.[1]?.trim();
  return s ? s : undefined;
}

/** Is a request that failed this way worth repeating (for idempotent requests only)? */
export function isRetryable(err: LoomcycleError): boolean {
  if (err instanceof UnreachableError) return err.code !== "tls_failed"; // a refused certificate is refused again
  if (err instanceof TimeoutError || err instanceof RateLimitedError) return true;
  return err.status === 502 || err.status === 503 || err.status === 504;
}

function endpointFromUrl(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "loomcycle request";
  }
}

/** What went wrong in a failed TLS handshake, in a few words (undefined: not a handshake failure).
 * The one place that reads TLS codes: networkError, the tools' messages and doctor use it. */
export function tlsFailure(err: unknown): string | undefined {
  const code = [...errorCodes(err)].find(isTlsHandshakeCode);
  if (code === undefined) return undefined;
  return code === "ERR_SSL_WRONG_VERSION_NUMBER" ? "the server does not speak TLS at that address" : `certificate not accepted (${code})`;
}

/** Codes of a failed TLS handshake (certificate checks by OpenSSL and Node, or not TLS at all). */
function isTlsHandshakeCode(code: string): boolean {
  return (
    code === "ERR_TLS_CERT_ALTNAME_INVALID" ||
    code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    /^(?:CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(?:GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE|DECRYPT_CERT_SIGNATURE|DECODE_ISSUER_PUBLIC_KEY)|HOSTNAME_MISMATCH|INVALID_CA|PATH_LENGTH_EXCEEDED)/.test(code)
  );
}

/** Every `code` in an error's cause chain (undici nests them; happy-eyeballs uses AggregateError). */
function errorCodes(err: unknown): Set<string> {
  const codes = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number): void => {
    if (depth > 5 || e === null || typeof e !== "object" || seen.has(e)) return;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.add(code);
    walk((e as { cause?: unknown }).cause, depth + 1);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const x of errors) walk(x, depth + 1);
  };
  walk(err, 0);
  return codes;
}

function seg(s: string): string {
  return encodeURIComponent(s);
}

function oneLine(s: string): string {
  return s.replace(/\s*\r?\n\s*/g, " ").trim();
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      if (signal) reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
