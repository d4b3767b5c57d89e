import { z } from "zod";
import { defineTool } from "./types.js";
import { clock, callSignal, errorResult, okResult, sandboxLines } from "./common.js";

export const listSnapshots = defineTool({
  name: "list_snapshots",
  config: {
    title: "List loomcycle snapshots",
    description: [
      "List loomcycle's operator snapshots (saved agents, memory, paused runs), newest first.",
      "Use it to see restore points; needs an admin token (scope substrate:admin).",
    ].join(" "),
    inputSchema: {
      limit: z
        .number({ error: "limit must be an integer 1 … 200" })
        .int("limit must be an integer")
        .min(1, "limit must be at least 1")
        .max(200, "limit must be at most 200")
        .default(50)
        .describe("Most snapshots to return (default 50)."),
      label_contains: z
        .string({ error: "label_contains must be a string" })
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
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  async handler(args, bridge, extra) {
    const c = clock(0);
    try {
      const q: { limit: number; label_contains?: string } = { limit: args.limit };
      if (args.label_contains) q.label_contains = args.label_contains;
      const res = await bridge.client.listSnapshots(q, { signal: callSignal(extra, c) });
      const snapshots = res.entries.slice(0, args.limit).map((e) => ({
        id: e.id,
        label: e.label ?? "",
        created_at: e.created_at,
        byte_size: e.byte_size ?? 0,
        schema_version: e.schema_version ?? 0,
      }));
      const lines = [
        ...sandboxLines(bridge),
        `count=${snapshots.length}`,
        ...snapshots.map((s) => `- ${s.id} label=${JSON.stringify(s.label)} created_at=${s.created_at} byte_size=${s.byte_size} schema_version=${s.schema_version}`),
      ];
      return okResult({ snapshots, count: snapshots.length }, lines.join("\n"));
    } catch (err) {
      return errorResult(err, "snapshots", bridge);
    }
  },
});
