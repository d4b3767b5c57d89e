import { z } from "zod";
import { readRun } from "../bridge/runs/run-reader.js";
import { isTerminal } from "../bridge/runs/run-state.js";
import { renderResult } from "../render/run-result.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { waitOnRun } from "../tool-kit/call.js";
import { reasonField, runIdField } from "../tool-kit/fields.js";
import { runOutputShape, stateSchema } from "../tool-kit/schemas.js";
import { endRun } from "../tool-kit/run-actions.js";

export const cancelRun = defineTool({
  name: "cancel_run",
  config: {
    title: "End a loomcycle run",
    description: [
      "End a whole run for good (it cannot be resumed); returns the confirmed final state.",
      "Use it when the run is no longer wanted; cancel_turn stops only the turn.",
    ].join(" "),
    inputSchema: { run_id: runIdField, reason: reasonField },
    outputSchema: {
      ...runOutputShape,
      cancelled: z.boolean(),
      final_state: stateSchema.describe("The state loomcycle confirmed"),
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  },
  errors: {
    // Once the bridge knows the run's agent_id, a 404 can only come from the cancel itself.
    not_found: (_e, { tracked }) =>
      tracked?.agentId ? `loomcycle has no run for agent_id ${tracked.agentId} any more; nothing to cancel.` : undefined,
  },
  waitMs: 10_000,
  attachBy: (c) => c.attachUntil,
  async logic(args, ctx) {
    const { run, bridge, extra, clock } = ctx;
    const res = await endRun(ctx, run, args.run_id, args.reason, "host");
    // loomcycle found no loop to cancel and the run has not ended: nobody runs it any more
    // (a restart; in a cluster, an owner it cannot reach, with a reason), so waiting for its
    // end would wait out the call.
    const notEnding = !res.cancelled && res.status !== undefined && !isTerminal(res.status);
    if (!notEnding) await waitOnRun(run, () => isTerminal(run.state), clock.waitUntil, extra, bridge);
    const then = notEnding
      ? `loomcycle did not cancel it${res.reason ? ` (${res.reason})` : ""}: no loomcycle replica runs its loop any more, so there was nothing to stop. loomcycle marks it failed about 10 minutes after its last heartbeat; start a new run to go on`
      : undefined;
    const snap = await readRun(run, then ? { then } : {}, extra.signal, bridge);
    const head = { run_id: args.run_id, cancelled: res.cancelled, final_state: snap.state };
    return { structured: { ...head, ...snap }, text: renderResult(head, snap) };
  },
});
