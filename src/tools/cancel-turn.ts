import { z } from "zod";
import { readRun } from "../bridge/runs/run-reader.js";
import { isTerminal } from "../bridge/runs/run-state.js";
import { renderResult } from "../render/run-result.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { waitOnRun } from "../tool-kit/call.js";
import { reasonField, runIdField } from "../tool-kit/fields.js";
import { runOutputShape } from "../tool-kit/schemas.js";
import { stopTurn } from "../tool-kit/run-actions.js";

export const cancelTurn = defineTool({
  name: "cancel_turn",
  config: {
    title: "Stop a run's current turn",
    description: [
      "Stop a run's current turn and park the run again, keeping it.",
      "Use it when a turn goes wrong or runs long; then send_steer a better instruction.",
    ].join(" "),
    inputSchema: { run_id: runIdField, reason: reasonField },
    outputSchema: { ...runOutputShape, stopped: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  errors: {
    conflict: (e, { runId }) => {
      if (e.code === "not_mid_turn")
        return `Run ${runId} is not mid-turn (it is parked or between turns); nothing to stop. send_steer gives it its next instruction.`;
      if (e.code === "not_interactive")
        return `Run ${runId} is not interactive, so its turn cannot be stopped on its own; cancel_run ends the whole run.`;
      return undefined;
    },
  },
  waitMs: 10_000,
  attachBy: (c) => c.attachUntil,
  async logic(args, ctx) {
    const { run, bridge, extra, clock } = ctx;
    const mark = await stopTurn(ctx, run, args.run_id, args.reason, "host");
    const parkedAfter = () => run.events.slice(mark).some((e) => e.type === "awaiting_input") || isTerminal(run.state);
    await waitOnRun(run, parkedAfter, clock.waitUntil, extra, bridge);
    const snap = await readRun(run, {}, extra.signal, bridge);
    const head = { run_id: args.run_id, stopped: true };
    return { structured: { ...head, ...snap }, text: renderResult(head, snap) };
  },
});
