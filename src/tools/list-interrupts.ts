import { z } from "zod";
import { ToolError } from "../bridge/loomcycle/errors.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { interruptList } from "../render/interrupts.js";
import { listedUserNote } from "../bridge/identity.js";
import { runIdField, userIdField, given } from "../tool-kit/fields.js";

/** loomcycle returns at most this many interrupts. */
const INTERRUPTS_MAX = 200;

const INTERRUPT_STATUSES = ["pending", "resolved", "declined", "timed_out", "cancelled", "all"] as const;

export const listInterrupts = defineTool({
  name: "list_interrupts",
  config: {
    title: "List questions agents asked",
    description: [
      "List agents' questions, newest first, for one run or a user.",
      "Use it to find questions waiting across runs; answer them with resolve_interrupt.",
    ].join(" "),
    inputSchema: {
      run_id: runIdField.optional(),
      user_id: userIdField.optional().describe("Whose questions, without run_id (default LOOMCYCLE_USER_ID)."),
      status: z
        .enum(INTERRUPT_STATUSES, { error: given("status", `one of ${INTERRUPT_STATUSES.join(", ")}`) })
        .default("pending")
        .describe('Which questions (default "pending").'),
    },
    outputSchema: {
      interrupts: z.array(
        z.object({
          interrupt_id: z.string(),
          run_id: z.string(),
          status: z.string(),
          question: z.string(),
          options: z.array(z.string()).optional(),
          created_at: z.string().optional(),
          expires_at: z.string().optional(),
          answer: z.string().optional(),
        }),
      ),
      count: z.number().int(),
      has_more: z.boolean().describe("loomcycle returned only part of the matching questions (narrow with status or run_id)"),
      notes: z
        .array(z.string())
        .optional()
        .describe("What the list cannot show by itself (the text's note lines): cut, or questions this token cannot answer"),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  // loomcycle answers an unknown run's list with 200 [] (it is no existence oracle): the
  // run is attached first, so an unknown one gets the answer every tool gives.
  attachBy: (c) => c.attachUntil,
  async logic(args, { bridge, signal: callSignal }) {
    const signal = callSignal();
    let res;
    const notes: string[] = [];
    if (args.run_id) res = await bridge.client.listRunInterrupts(args.run_id, { status: args.status }, { signal });
    else {
      const userId = args.user_id ?? bridge.config.userId;
      if (!userId)
        throw new ToolError("Give run_id or user_id (or set LOOMCYCLE_USER_ID for the bridge) to say whose questions to list.");
      const whose = listedUserNote(bridge, userId, "questions", signal);
      res = await bridge.client.listUserInterrupts(userId, { status: args.status }, { signal });
      const note = await whose;
      if (note) notes.push(note);
    }
    const hasMore = res.total > res.interrupts.length || res.interrupts.length >= INTERRUPTS_MAX;
    return interruptList(res.interrupts, { total: res.total, hasMore, status: args.status, notes });
  },
});
