// Network failures (no HTTP response): node and undici error codes → what happened, in words.
import { UnreachableError } from "./errors.js";
import { describeError } from "./sse.js";
import { redactSecrets } from "../../logger.js";

/** A failed request that got no HTTP response → UnreachableError, saying whether the request can have reached loomcycle. */
export function networkError(
  raw: unknown,
  endpoint: string,
  effect: string,
  baseUrl: string,
  secrets: readonly string[],
): UnreachableError {
  const codes = errorCodes(raw);
  const origin = new URL(baseUrl).origin;
  const detail = redactSecrets(describeError(raw), secrets);
  const notReached = (code: string, what: string): UnreachableError =>
    new UnreachableError(`${endpoint}: cannot reach loomcycle at ${origin} (${what}); the request did not reach loomcycle`, {
      code,
      detail,
      cause: raw,
    });
  if (codes.has("ECONNREFUSED")) return notReached("connect_refused", "connection refused");
  if (codes.has("ENOTFOUND") || codes.has("EAI_AGAIN") || codes.has("EAI_NONAME"))
    return notReached("dns_failed", "DNS lookup failed");
  if (codes.has("UND_ERR_CONNECT_TIMEOUT")) return notReached("connect_timeout", "connect timed out");
  if (codes.has("EHOSTUNREACH") || codes.has("ENETUNREACH") || codes.has("EADDRNOTAVAIL"))
    return notReached("host_unreachable", "host unreachable");
  const tls = tlsFailure(raw);
  if (tls !== undefined) {
    // The handshake failed, so no request byte was sent. Say what to do about it.
    const fix = tls.startsWith("the server")
      ? "check http vs https in the base URL"
      : "for a private CA set NODE_EXTRA_CA_CERTS to its PEM file";
    return notReached("tls_failed", `TLS handshake failed: ${tls}; ${fix}`);
  }
  const reset = codes.has("ECONNRESET") || codes.has("EPIPE") || codes.has("UND_ERR_SOCKET") || codes.has("UND_ERR_CLOSED");
  return new UnreachableError(
    `${endpoint}: the connection to loomcycle at ${origin} failed (${reset ? "connection reset or closed" : detail}); the request may have reached loomcycle${effect}`,
    { code: reset ? "connection_reset" : "network_error", detail, cause: raw },
  );
}

/** What went wrong in a failed TLS handshake, in a few words (undefined: not a handshake failure).
 * The one place that reads TLS codes: networkError, the tools' messages and doctor use it. */
export function tlsFailure(err: unknown): string | undefined {
  const code = [...errorCodes(err)].find(isTlsHandshakeCode);
  if (code === undefined) return undefined;
  return code === "ERR_SSL_WRONG_VERSION_NUMBER"
    ? "the server does not speak TLS at that address"
    : `certificate not accepted (${code})`;
}

/** Codes of a failed TLS handshake (certificate checks by OpenSSL and Node, or not TLS at all). */
function isTlsHandshakeCode(code: string): boolean {
  return (
    code === "ERR_TLS_CERT_ALTNAME_INVALID" ||
    code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
    /^(?:CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(?:GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE|DECRYPT_CERT_SIGNATURE|DECODE_ISSUER_PUBLIC_KEY)|HOSTNAME_MISMATCH|INVALID_CA|PATH_LENGTH_EXCEEDED)/.test(
      code,
    )
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
