import { z } from "zod";
import { given, intField } from "../tool-kit/fields.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { snapshotList } from "../render/snapshots.js";

/** loomcycle's own cap on one snapshot list. */
const SERVER_MAX = 200;

export const listSnapshots = defineTool({
  name: "list_snapshots",
  config: {
    title: "List loomcycle snapshots",
    description: [
      "List loomcycle's operator snapshots (saved agents, memory, paused runs), newest first.",
      "Use it to see restore points; needs an admin token (scope substrate:admin).",
    ].join(" "),
    inputSchema: {
      limit: intField("limit", "an integer 1 … 200", 1, 200).default(50).describe("Most snapshots to return (default 50)."),
      label_contains: z
        .string({ error: given("label_contains", "a string") })
        .max(256, "label_contains must be at most 256 characters")
        .optional()
        .describe('Only labels containing this (any case). Example: "deploy".'),
    },
    outputSchema: {
      snapshots: z.array(
        z.object({
          id: z.string(),
          label: z.string(),
          created_at: z.string(),
          byte_size: z.number(),
          schema_version: z.number(),
        }),
      ),
      count: z.number().int(),
      has_more: z
        .boolean()
        .describe("More snapshots match than were returned (raise limit, up to 200, or narrow label_contains)"),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  errors: {
    forbidden: (_e, { said }) =>
      `Listing snapshots needs an admin token (scope substrate:admin); this token does not have it.${said} Use an operator/admin token, or skip snapshots.`,
  },
  async logic(args, { bridge, signal }) {
    // One more than asked shows whether the list was cut (loomcycle returns at most 200).
    const q: { limit: number; label_contains?: string } = { limit: Math.min(args.limit + 1, SERVER_MAX) };
    if (args.label_contains) q.label_contains = args.label_contains;
    const res = await bridge.client.listSnapshots(q, { signal: signal() });
    const has_more = res.entries.length > args.limit || (args.limit >= SERVER_MAX && res.entries.length >= SERVER_MAX);
    return snapshotList(res.entries.slice(0, args.limit), has_more);
  },
});
