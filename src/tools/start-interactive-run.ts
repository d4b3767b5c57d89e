import { z } from "zod";
import { ToolError } from "../bridge/loomcycle/errors.js";
import { atStopPoint, readRun } from "../bridge/runs/run-reader.js";
import { renderResult } from "../render/run-result.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { askedOutputShape } from "../tool-kit/asked.js";
import { questionsField, waitAsking, type PersonQuestion } from "../tool-kit/questions.js";
import { userIdField, waitMsField, given } from "../tool-kit/fields.js";
import { waitOnRun } from "../tool-kit/call.js";
import { runOutputShape } from "../tool-kit/schemas.js";
import { retryAfterSeconds, type ErrorScene } from "../tool-kit/errors.js";
import type { LoomcycleError } from "../bridge/loomcycle/errors.js";

function unknownAgent(e: LoomcycleError, { said }: ErrorScene): string | undefined {
  if (!/unknown agent/i.test(e.detail)) return undefined;
  return `loomcycle has no agent by that name.${said} Call list_agents for the names this token can run, and start one of those.`;
}

export const startInteractiveRun = defineTool({
  name: "start_interactive_run",
  config: {
    title: "Start an interactive loomcycle run",
    description: [
      "Start an interactive agent run; returns its ids and first events at the first stop point.",
      "Use it to begin a conversation you steer turn by turn.",
      "Next: act on state; never call it again to retry a timeout (that starts a second run).",
    ].join(" "),
    inputSchema: {
      agent: z
        .string({ error: given("agent", 'the name of a loomcycle agent, e.g. "helper"') })
        .min(1, "agent must not be empty")
        .refine((s) => s.length <= 256, "agent must be at most 256 characters")
        .describe('Agent name (list_agents). Example: "helper".'),
      prompt: z
        .string({ error: given("prompt", "a string") })
        .refine((s) => s.trim().length > 0, "prompt must not be empty")
        .describe('Opening instruction. Example: "Summarize README.md".'),
      user_id: userIdField.optional().describe("User to run as (default LOOMCYCLE_USER_ID)."),
      session_id: z
        .string({ error: given("session_id", "a string") })
        .refine((s) => s.length >= 1 && s.length <= 256, "session_id must be 1 … 256 characters")
        .optional()
        .describe("Existing session to add the run to, without its history (default: a new one)."),
      metadata: z
        .record(z.string(), z.string({ error: given("each metadata value", "a string") }), {
          error: given("metadata", 'an object of strings, e.g. {"repo": "acme/w"}'),
        })
        .optional()
        .describe('Non-secret run metadata. Example: {"repo": "acme/w"}.'),
      wait_ms: waitMsField(25_000),
      questions: questionsField,
    },
    outputSchema: {
      ...runOutputShape,
      ...askedOutputShape,
      agent_id: z.string(),
      session_id: z.string(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  errors: {
    not_found: (_e, { said, sessionId, bridge }) =>
      sessionId !== undefined
        ? `loomcycle could not find something the start needs.${said} Check session_id ${JSON.stringify(sessionId)} (omit it to start a fresh session).`
        : `loomcycle answered "not found" to the start request (POST ${bridge.config.baseUrl}/v1/runs).${said} LOOMCYCLE_BASE_URL (or --base-url) must be loomcycle's root URL, without /v1 or another path; \`loomcycle-mcp-bridge doctor\` checks it.`,
    conflict: (_e, { said }) =>
      `loomcycle refused the start because of a conflict.${said} If the session is busy, wait for its current run to finish or start without session_id.`,
    rate_limited: (e, { said }) => {
      const s = retryAfterSeconds(e);
      return `loomcycle is at capacity and did not start the run.${said} Retry${s ? ` in about ${s} s` : " in a few seconds"}.`;
    },
    bad_request: unknownAgent,
    unprocessable: unknownAgent,
  },
  async logic(args, ctx) {
    const { bridge, extra, clock: c } = ctx;
    const body: Parameters<typeof bridge.tracker.start>[0] = { agent: args.agent, prompt: args.prompt };
    const userId = args.user_id ?? bridge.config.userId;
    if (userId) body.user_id = userId;
    if (args.session_id) body.session_id = args.session_id;
    if (args.metadata) body.metadata = args.metadata;
    const run = bridge.tracker.start(body);
    if (args.questions) run.questions = args.questions;
    // The ids come with loomcycle's `agent` frame; wait for them within the call's bound
    // even when wait_ms is 0.
    await waitOnRun(run, () => run.known, c.hardUntil - 500, extra, bridge);
    const refused = run.attachFailure;
    if (refused) {
      ctx.errorNote = " No run was created.";
      throw refused;
    }
    if (!run.runId) {
      if (extra.signal.aborted)
        throw new ToolError(
          "Cancelled by the host before loomcycle announced the run. The run may still be created; it is not tracked under a run_id yet.",
        );
      const secs = Math.round((c.hardUntil - c.started) / 1000);
      const lost = run.lastFailure;
      throw new ToolError(
        lost
          ? `The start request was sent, but its answer was lost and loomcycle could not be asked about the run within ${secs} s (last error: ${lost.detail}). The run MAY STILL BE CREATED: the bridge keeps looking it up by agent_id ${run.agentId} and follows it once found. Do not start it again; once loomcycle answers, list_runs shows it with agent_id ${run.agentId}.`
          : `loomcycle has not announced the run within ${secs} s (it may be queueing it). The run MAY STILL BE CREATED: the bridge keeps listening for it under agent_id ${run.agentId}. Do not start it again; check loomcycle's run list for agent_id ${run.agentId} later.`,
      );
    }
    const asked: PersonQuestion[] = [];
    await waitAsking(run, atStopPoint(run), c.waitUntil, extra, bridge, asked);
    const snap = await readRun(run, { from: 0, shortEcho: true }, extra.signal, bridge);
    const head = { run_id: snap.run_id, agent_id: run.agentId ?? "", session_id: run.sessionId ?? "" };
    return { structured: { ...head, ...snap }, text: renderResult(head, snap), asked };
  },
});
