// One class per meaning. The HTTP client turns every non-2xx response and every
// transport failure into one of these (src/bridge/loomcycle/error-response.ts `errorFromResponse`), and
// the tool layer turns any of them into an `isError` result that says how to recover.
// Messages never contain the bearer token: upstream bodies are scrubbed before they
// are stored here.

export type LoomErrorKind =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "gone"
  | "too_large"
  | "unsupported_media_type"
  | "unprocessable"
  | "rate_limited"
  | "upstream"
  | "unavailable"
  | "unreachable"
  | "timeout"
  | "protocol";

export interface LoomErrorInit {
  status?: number;
  code?: string;
  /** Upstream message (already scrubbed of secrets), or our own description. */
  detail?: string;
  retryAfterMs?: number;
  /** Extra JSON fields of the upstream envelope (e.g. `cap`, `user_id`). */
  extra?: Record<string, unknown>;
  cause?: unknown;
}

export class LoomcycleError extends Error {
  readonly kind: LoomErrorKind;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly detail: string;
  readonly retryAfterMs: number | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(kind: LoomErrorKind, message: string, init: LoomErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail ?? message;
    this.retryAfterMs = init.retryAfterMs;
    this.extra = init.extra;
  }
}

export class BadRequestError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("bad_request", m, i);
  }
}
export class UnauthorizedError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("unauthorized", m, i);
  }
}
export class ForbiddenError extends LoomcycleError {
  /** Scope named by `WWW-Authenticate: Bearer scope="…"`, when loomcycle sent one. */
  readonly requiredScope: string | undefined;
  constructor(m: string, i?: LoomErrorInit & { requiredScope?: string }) {
    super("forbidden", m, i);
    this.requiredScope = i?.requiredScope;
  }
}
export class NotFoundError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("not_found", m, i);
  }
}
export class ConflictError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("conflict", m, i);
  }
}
export class GoneError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("gone", m, i);
  }
}
export class PayloadTooLargeError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("too_large", m, i);
  }
}
export class UnsupportedMediaTypeError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("unsupported_media_type", m, i);
  }
}
export class UnprocessableError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("unprocessable", m, i);
  }
}
export class RateLimitedError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("rate_limited", m, i);
  }
}
/** 500/502/504 and anything else 5xx that is not 503; includes HTML proxy pages. */
export class UpstreamError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("upstream", m, i);
  }
}
export class UnavailableError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("unavailable", m, i);
  }
}
/** Connection refused / reset / DNS failure: the request may not have reached loomcycle. */
export class UnreachableError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("unreachable", m, i);
  }
}
/** A deadline passed (response headers, or a whole call). */
export class TimeoutError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("timeout", m, i);
  }
}
/** loomcycle answered something the bridge cannot understand (e.g. 200 with a non-JSON body). */
export class ProtocolError extends LoomcycleError {
  constructor(m: string, i?: LoomErrorInit) {
    super("protocol", m, i);
  }
}

/** A refusal whose message is already the sentence the host gets (bad input, wrong state). */
export class ToolError extends Error {}
