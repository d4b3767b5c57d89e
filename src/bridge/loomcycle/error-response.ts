// Non-2xx response → typed error: the one place that maps a status to an error class.
// Reads both body formats loomcycle uses (plain text and `{code, error}` JSON) and HTML
// pages from a proxy in front of it; the token is scrubbed from whatever is kept.
import { STATUS_CODES } from "node:http";
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
import { redactSecrets } from "../../logger.js";

const MESSAGE_MAX_CHARS = 300;

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
export function errorFromResponse(
  res: ResponseLike,
  bodyText: string,
  secrets: readonly string[],
  endpoint?: string,
): LoomcycleError {
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
    return new ProtocolError(
      `${message}${loc ? ` (redirect to ${truncate(redactSecrets(loc, secrets), 200)})` : ""}; check the loomcycle base URL`,
      init,
    );
  }
  switch (status) {
    case 400:
      return new BadRequestError(message, init);
    case 401:
      return new UnauthorizedError(message, init);
    case 403: {
      const scope = requiredScope(res.headers.get("www-authenticate"));
      return new ForbiddenError(
        scope ? `${message} (required scope: ${scope})` : message,
        scope ? { ...init, requiredScope: scope } : init,
      );
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

export function looksLikeHtml(contentType: string, text: string): boolean {
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

function oneLine(s: string): string {
  return s.replace(/\s*\r?\n\s*/g, " ").trim();
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
