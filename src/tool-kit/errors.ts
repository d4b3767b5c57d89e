// The one error mapper: any failure of a tool call becomes an isError result whose one
// line says what happened and what to do next, phrased for what the tool was doing.
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { LoomcycleError, ToolError } from "../bridge/loomcycle/errors.js";
import { tlsFailure } from "../bridge/loomcycle/network-errors.js";
import { isAbortError } from "../bridge/loomcycle/sse.js";
import type { Bridge } from "../bridge/bridge.js";
import { redactSecrets } from "../logger.js";

export { ToolError };

/** What the tool was doing, to phrase the recovery step. */
export type Action = "start" | "steer" | "read" | "resolve" | "snapshots" | "attach" | "control" | "list";

/** The one mapper: any failure → an isError result that says what to do next. */
export function errorResult(
  err: unknown,
  action: Action,
  bridge: Bridge,
  ctx: { runId?: string; sessionId?: string } = {},
): CallToolResult {
  const secrets = bridge.config.token ? [bridge.config.token] : [];
  const text = redactSecrets(errorText(err, action, bridge, ctx), secrets);
  if (!(err instanceof ToolError) && !(err instanceof LoomcycleError) && !isAbortError(err)) {
    bridge.logger.error({ err: err instanceof Error ? err.stack : String(err), action }, "unexpected tool failure");
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

function errorText(err: unknown, action: Action, bridge: Bridge, ctx: { runId?: string; sessionId?: string }): string {
  if (err instanceof ToolError) return err.message;
  // The host cancelled the call (its request to loomcycle was aborted): not a failure.
  if (isAbortError(err)) {
    if (action === "steer")
      return "Cancelled by the host while the message was being sent: it may or may not have been delivered. Call read_run_events to check before sending it again.";
    return "Cancelled by the host before the call finished.";
  }
  if (!(err instanceof LoomcycleError))
    return `Internal error in the bridge (${err instanceof Error ? err.message : String(err)}). Retry once; if it persists, check the bridge's stderr log.`;
  const run = ctx.runId ? `run ${ctx.runId}` : "the run";
  const up = saidSentence(err.detail);
  switch (err.kind) {
    case "unauthorized":
      if (!bridge.config.token)
        return `loomcycle requires a token and the bridge has none (401).${up} Set LOOMCYCLE_AUTH_TOKEN (or LOOMCYCLE_AUTH_TOKEN_FILE) in this server's entry of the MCP host's config and restart it; \`loomcycle-mcp-bridge doctor\` checks it.`;
      return `loomcycle refused the bearer token${bridge.config.tokenSource ? ` from ${bridge.config.tokenSource}` : ""} (401: unknown, expired or revoked).${up} Put a valid token there and restart the bridge; \`loomcycle-mcp-bridge doctor\` checks it.`;
    case "forbidden": {
      const scope = (err as { requiredScope?: string }).requiredScope;
      if (action === "snapshots")
        return `Listing snapshots needs an admin token (scope substrate:admin); this token does not have it.${up} Use an operator/admin token, or skip snapshots.`;
      return `The token is not allowed to do this${scope ? ` (it needs scope ${scope})` : ""}.${up} Use a token with that scope.`;
    }
    case "not_found":
      if (action === "steer")
        return `${run} is not live on loomcycle: it has ended, or it is not visible to this token.${up} Start a new run with start_interactive_run, or read its log with read_run_events.`;
      if (action === "resolve")
        return `That interrupt was not found on ${run}.${up} Call read_run_events to see pending_interrupts, and use one of those ids.`;
      if (action === "start" && ctx.sessionId !== undefined)
        return `loomcycle could not find something the start needs.${up} Check session_id ${JSON.stringify(ctx.sessionId)} (omit it to start a fresh session).`;
      if (action === "start")
        return `loomcycle answered "not found" to the start request (POST ${bridge.config.baseUrl}/v1/runs).${up} LOOMCYCLE_BASE_URL (or --base-url) must be loomcycle's root URL, without /v1 or another path; \`loomcycle-mcp-bridge doctor\` checks it.`;
      return `loomcycle has no ${run} visible to this token.${up} Check the run_id (runs of another tenant look the same as unknown ones).`;
    case "conflict":
      if (action === "resolve")
        return `The interrupt can no longer be answered.${up} Call read_run_events to see the run's current state and pending_interrupts.`;
      if (action === "start")
        return `loomcycle refused the start because of a conflict.${up} If the session is busy, wait for its current run to finish or start without session_id.`;
      return `loomcycle refused this because of a conflict.${up} Call read_run_events to see the run's current state.`;
    case "gone":
      return `The interrupt has expired.${up} The agent was told it timed out; call read_run_events to see what it did next.`;
    case "rate_limited": {
      const s = err.retryAfterMs !== undefined ? Math.max(1, Math.round(err.retryAfterMs / 1000)) : undefined;
      if (action === "steer")
        return `The run's input queue is full (loomcycle holds 16 queued messages). The message was NOT delivered. Wait${s ? ` about ${s} s` : " a moment"} for the agent to catch up, then send it again.`;
      if (action === "start")
        return `loomcycle is at capacity and did not start the run.${up} Retry${s ? ` in about ${s} s` : " in a few seconds"}.`;
      return `loomcycle asked the bridge to slow down.${up} Retry${s ? ` in about ${s} s` : " in a few seconds"}.`;
    }
    case "bad_request":
    case "unprocessable":
      if (action === "start" && /unknown agent/i.test(err.detail))
        return `loomcycle has no agent by that name.${up} Call list_agents for the names this token can run, and start one of those.`;
      if (!up)
        return `loomcycle rejected the request without saying why (HTTP ${err.status ?? 400}). Check the arguments against this tool's description and call again.`;
      return `loomcycle rejected the request.${up} Correct what that message points at and call again.`;
    case "too_large":
      return `The request is too large for loomcycle.${up} Send a shorter text.`;
    case "unavailable":
      return `loomcycle is temporarily unable to do this.${up} Retry in a few seconds; if it persists, check loomcycle's status.`;
    case "upstream":
      // A 5xx (or a proxy's 502/504) may come after the request reached loomcycle: never advise a blind resend.
      if (action === "steer")
        return `loomcycle (or a proxy in front of it) failed.${up} The message may or may not have been delivered: call read_run_events to check before sending it again.`;
      if (action === "resolve")
        return `loomcycle (or a proxy in front of it) failed.${up} The answer may or may not have been recorded: call read_run_events to check pending_interrupts before answering again.`;
      return `loomcycle (or a proxy in front of it) failed.${up} Retry in a few seconds.`;
    case "unreachable":
      if (err.code === "tls_failed")
        return `Cannot reach loomcycle at ${bridge.config.baseUrl}: the TLS handshake failed (${tlsFailure(err.cause) ?? err.detail}), so nothing was sent. If loomcycle's certificate comes from a private CA, set NODE_EXTRA_CA_CERTS to that CA's PEM file in the bridge's environment; if the base URL should be http, fix it. \`loomcycle-mcp-bridge doctor\` checks the connection.`;
      if (action === "steer")
        return `Cannot reach loomcycle at ${bridge.config.baseUrl} (${err.detail}). The message may not have been delivered: call read_run_events to check before sending it again.`;
      return `Cannot reach loomcycle at ${bridge.config.baseUrl} (${err.detail}). Check that it is running (\`loomcycle-mcp-bridge doctor\`), then retry.`;
    case "timeout":
      if (action === "steer")
        return `loomcycle did not answer in time (${err.detail}). The message may or may not have been delivered: call read_run_events to check before sending it again.`;
      return `loomcycle did not answer in time (${err.detail}). It may be overloaded; retry shortly.`;
    default:
      return `Unexpected answer from loomcycle.${up} Retry; if it persists, check loomcycle's version against the bridge's README.`;
  }
}
