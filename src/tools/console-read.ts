// The run console's reader (an app-only tool: listed only to clients that declare MCP Apps).
// It follows the run from the console's own cursor and never moves the model's read
// position: what the person watched is still unread for the model.
import { z } from "zod";
import { ToolError } from "../bridge/loomcycle/errors.js";
import { readRun } from "../bridge/runs/run-reader.js";
import { RUN_STATES } from "../bridge/runs/run-list.js";
import { isTerminal } from "../bridge/runs/run-state.js";
import { renderResult } from "../render/run-result.js";
import { ATTACH_WITHIN_WAIT, defineTool } from "../tool-kit/define-tool.js";
import { waitOnRun } from "../tool-kit/call.js";
import { given, intField, runIdField, waitMsField } from "../tool-kit/fields.js";
import { runOutputShape } from "../tool-kit/schemas.js";

export const consoleRead = defineTool({
  name: "console_read",
  config: {
    title: "Run console: follow a run",
    description: [
      "For the run console app only: a run's events from the console's own cursor, waiting up to wait_ms for a new event or a change of state.",
      "Never moves the model's read position.",
    ].join(" "),
    inputSchema: {
      run_id: runIdField,
      cursor: intField("cursor", "a non-negative integer log position", 0)
        .default(0)
        .describe("The console's own position in the run's log (default 0): next_cursor of its last read."),
      wait_ms: waitMsField(0),
      since_state: z
        .enum(RUN_STATES, { error: given("since_state", RUN_STATES.map((s) => `"${s}"`).join(", ")) })
        .optional()
        .describe('The state the console shows now, e.g. "running": a different state ends the wait.'),
      max_chars: intField("max_chars", "an integer 200 … 40000", 200, 40_000)
        .default(20_000)
        .describe("Most characters of item text (default 20000); a longer event comes truncated."),
    },
    outputSchema: {
      run_id: runOutputShape.run_id,
      agent_id: z.string(),
      session_id: z.string(),
      agent: z.string().optional().describe("The agent's name, when known"),
      state: runOutputShape.state,
      stuck: runOutputShape.stuck,
      state_as_of: runOutputShape.state_as_of,
      cancelled_by: runOutputShape.cancelled_by,
      events: runOutputShape.events,
      next_cursor: runOutputShape.next_cursor,
      has_more: runOutputShape.has_more,
      pending_interrupts: runOutputShape.pending_interrupts,
      usage: runOutputShape.usage,
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  attachBy: ATTACH_WITHIN_WAIT,
  async logic(args, { run, bridge, extra, clock, signal }) {
    const length = run.events.length;
    if (args.cursor > length) {
      throw new ToolError(
        `cursor ${args.cursor} is past the end of run ${args.run_id}'s log, which holds ${length} event${length === 1 ? "" : "s"}: read from a cursor of ${length} or less (0 reads it from the start).`,
      );
    }
    if (args.wait_ms > 0) {
      const since = args.since_state;
      await waitOnRun(
        run,
        () => run.events.length > args.cursor || isTerminal(run.state) || (since !== undefined && run.state !== since),
        clock.waitUntil,
        extra,
        bridge,
      );
    }
    const snap = await readRun(run, { from: args.cursor, maxChars: args.max_chars, reader: "console" }, signal(), bridge);
    const head: Record<string, string> = { run_id: args.run_id, agent_id: run.agentId ?? "", session_id: run.sessionId ?? "" };
    if (run.agentName) head.agent = run.agentName;
    return { structured: { ...head, ...snap }, text: renderResult(head, snap) };
  },
});
