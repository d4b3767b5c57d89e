import { z } from "zod";
import { given } from "../tool-kit/fields.js";
import { collectRuns, RUN_STATES } from "../bridge/runs/run-list.js";
import { runList } from "../render/run-list.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { runSummarySchema } from "../tool-kit/schemas.js";

export const listRuns = defineTool({
  name: "list_runs",
  config: {
    title: "List loomcycle runs",
    description: [
      "List the runs you can drive (followed here, or the user's running interactive runs on loomcycle), grouped by state, with unread count and next step.",
      "Use it to find a run_id or what waits for you.",
    ].join(" "),
    inputSchema: {
      state: z
        .enum(RUN_STATES, { error: given("state", `one of ${RUN_STATES.join(", ")}`) })
        .optional()
        .describe('Only this state. Example: "awaiting_input".'),
    },
    outputSchema: {
      runs: z.array(runSummarySchema),
      count: z.number().int(),
      has_more: z.boolean().describe("loomcycle's list of the user's running runs was cut at its cap: more exist than shown"),
      notes: z
        .array(z.string())
        .optional()
        .describe("What the list cannot show by itself (the text's note lines): loomcycle's list unreadable or cut, runs gone"),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  async logic(args, { bridge, signal }) {
    const { runs, notes, hasMore } = await collectRuns(bridge, signal());
    return runList(runs, { notes, hasMore, state: args.state });
  },
});
