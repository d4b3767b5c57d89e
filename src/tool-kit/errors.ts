// The one error mapper: any failure of a tool call becomes an isError result whose one
// line says what happened and what to do next. A tool words its own cases in its
// `errors` map (define-tool.ts), consulted first; this file words what every tool shares,
// and redacts the token from whatever is said.
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { LoomcycleError, ToolError, type LoomErrorKind } from "../bridge/loomcycle/errors.js";
import { tlsFailure } from "../bridge/loomcycle/network-errors.js";
import { isAbortError } from "../bridge/loomcycle/sse.js";
import type { Bridge } from "../bridge/bridge.js";
import type { TrackedRun } from "../bridge/runs/tracked-run.js";
import { redactSecrets } from "../logger.js";

export { ToolError };

/** What a tool's own wording may use: the call's ids, loomcycle's words, the bridge's config. */
export interface ErrorScene {
  /** "run r_…" when the call named a run, else "the run". */
  run: string;
  /** loomcycle's own words as one quoted sentence, or "" (see saidSentence). */
  said: string;
  bridge: Bridge;
  runId?: string;
  sessionId?: string;
  /** The run the call attached to, when it declared attachBy. */
  tracked?: TrackedRun;
}

/**
 * A tool's own wording of its failures, by kind: a function returns the sentence, or
 * undefined to leave the case to the shared wording. `cancelled` is the host cancelling
 * the call while loomcycle was being asked.
 */
export type ToolErrors = { [K in LoomErrorKind]?: (err: LoomcycleError, s: ErrorScene) => string | undefined } & {
  cancelled?: string;
};

/** The ids and the run a failed call was about. */
export type ErrorContext = Pick<ErrorScene, "runId" | "sessionId" | "tracked">;

/** The one mapper: any failure → an isError result that says what to do next. */
export function errorResult(
  err: unknown,
  bridge: Bridge,
  ctx: ErrorContext = {},
  errors: ToolErrors = {},
  tool?: string,
): CallToolResult {
  const text = redactSecrets(errorText(err, bridge, ctx, errors), bridge.secrets);
  if (!(err instanceof ToolError) && !(err instanceof LoomcycleError) && !isAbortError(err)) {
    bridge.logger.error({ err: err instanceof Error ? err.stack : String(err), tool }, "unexpected tool failure");
  }
  return { isError: true, content: [{ type: "text", text }] };
}

/** loomcycle's own words as one quoted sentence (so the advice after it reads as a new one). */
export function saidSentence(detail: string | undefined): string {
  const d = (detail ?? "").trim().replace(/\s+/g, " ");
  if (!d) return "";
  return ` loomcycle said: "${shortenDetail(d)}".`;
}

function shortenDetail(d: string): string {
  return d.length > 300 ? d.slice(0, 299) + "…" : d;
}

/** The Retry-After of a 429 in whole seconds (at least 1), when loomcycle gave one. */
export function retryAfterSeconds(err: LoomcycleError): number | undefined {
  return err.retryAfterMs !== undefined ? Math.max(1, Math.round(err.retryAfterMs / 1000)) : undefined;
}

function errorText(err: unknown, bridge: Bridge, ctx: ErrorContext, errors: ToolErrors): string {
  if (err instanceof ToolError) return err.message;
  // The host cancelled the call (its request to loomcycle was aborted): not a failure.
  if (isAbortError(err)) return errors.cancelled ?? "Cancelled by the host before the call finished.";
  if (!(err instanceof LoomcycleError))
    return `Internal error in the bridge (${err instanceof Error ? err.message : String(err)}). Retry once; if it persists, check the bridge's stderr log.`;
  const scene: ErrorScene = { ...ctx, run: ctx.runId ? `run ${ctx.runId}` : "the run", said: saidSentence(err.detail), bridge };
  return errors[err.kind]?.(err, scene) ?? sharedText(err, scene);
}

/** What every tool says of a loomcycle failure. */
function sharedText(err: LoomcycleError, { run, said: up, bridge }: ErrorScene): string {
  switch (err.kind) {
    case "unauthorized":
      if (!bridge.config.token)
        return `loomcycle requires a token and the bridge has none (401).${up} Set LOOMCYCLE_AUTH_TOKEN (or LOOMCYCLE_AUTH_TOKEN_FILE) in this server's entry of the MCP host's config and restart it; \`loomcycle-mcp-bridge doctor\` checks it.`;
      return `loomcycle refused the bearer token${bridge.config.tokenSource ? ` from ${bridge.config.tokenSource}` : ""} (401: unknown, expired or revoked).${up} Put a valid token there and restart the bridge; \`loomcycle-mcp-bridge doctor\` checks it.`;
    case "forbidden": {
      const scope = (err as { requiredScope?: string }).requiredScope;
      return `The token is not allowed to do this${scope ? ` (it needs scope ${scope})` : ""}.${up} Use a token with that scope.`;
    }
    case "not_found":
      return `loomcycle has no ${run} visible to this token.${up} Check the run_id (runs of another tenant look the same as unknown ones).`;
    case "conflict":
      return `loomcycle refused this because of a conflict.${up} Call read_run_events to see the run's current state.`;
    case "gone":
      return `The interrupt has expired.${up} The agent was told it timed out; call read_run_events to see what it did next.`;
    case "rate_limited": {
      const s = retryAfterSeconds(err);
      return `loomcycle asked the bridge to slow down.${up} Retry${s ? ` in about ${s} s` : " in a few seconds"}.`;
    }
    case "bad_request":
    case "unprocessable":
      if (!up)
        return `loomcycle rejected the request without saying why (HTTP ${err.status ?? 400}). Check the arguments against this tool's description and call again.`;
      return `loomcycle rejected the request.${up} Correct what that message points at and call again.`;
    case "too_large":
      return `The request is too large for loomcycle.${up} Send a shorter text.`;
    case "unavailable":
      return `loomcycle is temporarily unable to do this.${up} Retry in a few seconds; if it persists, check loomcycle's status.`;
    case "upstream":
      // A 5xx (or a proxy's 502/504) may come after the request reached loomcycle: never advise a blind resend.
      return `loomcycle (or a proxy in front of it) failed.${up} Retry in a few seconds.`;
    case "unreachable":
      if (err.code === "tls_failed")
        return `Cannot reach loomcycle at ${bridge.config.baseUrl}: the TLS handshake failed (${tlsFailure(err.cause) ?? err.detail}), so nothing was sent. If loomcycle's certificate comes from a private CA, set NODE_EXTRA_CA_CERTS to that CA's PEM file in the bridge's environment; if the base URL should be http, fix it. \`loomcycle-mcp-bridge doctor\` checks the connection.`;
      return `Cannot reach loomcycle at ${bridge.config.baseUrl} (${err.detail}). Check that it is running (\`loomcycle-mcp-bridge doctor\`), then retry.`;
    case "timeout":
      return `loomcycle did not answer in time (${err.detail}). It may be overloaded; retry shortly.`;
    default:
      return `Unexpected answer from loomcycle.${up} Retry; if it persists, check loomcycle's version against the bridge's README.`;
  }
}
