import { z } from "zod";
import { readRun } from "../bridge/runs/run-reader.js";
import { STOP_STATES } from "../bridge/runs/run-state.js";
import { renderResult } from "../render/run-result.js";
import { ATTACH_WITHIN_WAIT, defineTool } from "../tool-kit/define-tool.js";
import { askedOutputShape } from "../tool-kit/asked.js";
import { questionsField, waitAsking, type PersonQuestion } from "../tool-kit/questions.js";
import { runIdField, waitMsField } from "../tool-kit/fields.js";
import { runOutputShape } from "../tool-kit/schemas.js";

/** How many of the run's latest events attaching returns. */
const LAST_EVENTS = 30;

export const attachRun = defineTool({
  name: "attach_run",
  config: {
    title: "Follow a loomcycle run started elsewhere",
    description: [
      "Follow a run started elsewhere and return its state and last 30 events.",
      "Use it with a run_id from list_runs or a person; read_run_events then goes on from the first event you were not given.",
    ].join(" "),
    inputSchema: { run_id: runIdField, wait_ms: waitMsField(0), questions: questionsField },
    outputSchema: { ...runOutputShape, ...askedOutputShape, agent_id: z.string(), session_id: z.string() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  attachBy: ATTACH_WITHIN_WAIT,
  async logic(args, { run, bridge, extra, clock }) {
    if (args.questions) {
      run.questions = args.questions;
      bridge.tracker.noteRead(run); // kept across a restart of the bridge
    }
    const asked: PersonQuestion[] = [];
    if (args.wait_ms > 0) await waitAsking(run, () => STOP_STATES.has(run.state), clock.waitUntil, extra, bridge, asked);
    const from = Math.max(0, run.events.length - LAST_EVENTS);
    const snap = await readRun(run, { from }, extra.signal, bridge);
    const head = { run_id: args.run_id, agent_id: run.agentId ?? "", session_id: run.sessionId ?? "" };
    return { structured: { ...head, ...snap }, text: renderResult(head, snap), asked };
  },
});
