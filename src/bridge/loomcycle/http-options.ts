// What the HTTP client is made with, what one call may say, and a request as the client
// builds it (http-core.ts sends it).
import type { StreamFrame } from "./events.js";
import type { StreamTransport } from "./stream-request.js";
import type { Logger } from "../../logger.js";
import type { RetryOptions } from "./retry.js";

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

export const DEFAULT_HEADERS_TIMEOUT_MS = 15_000;
export const DEFAULT_RUN_START_HEADERS_TIMEOUT_MS = 35_000;
export type Method = "GET" | "POST";

export interface RequestSpec {
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
