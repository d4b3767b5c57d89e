// Output schema pieces shared by the tools that return a run (and by the run lists).
import { z } from "zod";
import { RUN_STATES } from "../bridge/runs/run-list.js";

export const eventItemSchema = z
  .looseObject({
    kind: z
      .string()
      .optional()
      .describe(
        "input | text | tool_call | tool_result | interrupt | awaiting_input | turn_cancelled | compaction | notice | error | done (digest); absent in raw format",
      ),
    cursor: z.number().int().describe("Log position of the item's first frame"),
  })
  // Each kind has its own fields (README, "Event items"): any further property is allowed,
  // said as `true` rather than the `{}` zod writes, which schema checkers flag as unintended.
  .meta({ additionalProperties: true, description: "An event item (digest) or {cursor, event} (raw)" });

export const pendingInterruptSchema = z.object({
  interrupt_id: z.string(),
  question: z.string(),
  options: z.array(z.string()).optional(),
  expires_at: z.string().optional(),
});

export const usageSchema = z
  .object({ input_tokens: z.number().int(), output_tokens: z.number().int() })
  .describe("Tokens summed over the run's model calls so far");

export const stateSchema = z.enum(RUN_STATES).describe("Run state; see the server instructions for what to do next in each");

export const stuckSchema = z
  .object({
    verdict: z.enum(["stuck", "likely_dead"]),
    idle_seconds: z.number(),
    heartbeat_age_seconds: z.number().optional(),
    remedy: z.string(),
  })
  .describe(
    "Present when a running run has been silent for a long time: stuck (alive, silent) or likely_dead (no heartbeat for 10+ minutes)",
  );

export const stateAsOfSchema = z
  .string()
  .optional()
  .describe(
    "Present when the state could not be confirmed in this call: it is the state seen at this time (ISO 8601), when the bridge closed the idle run's stream; the next call re-checks it",
  );

export const cancelledBySchema = z
  .enum(["host", "person"])
  .optional()
  .describe("The run was cancelled through this bridge: by you (host) or by the person from the run console (person)");
export const errorSchema = z
  .string()
  .optional()
  .describe(
    "Why the run failed, as loomcycle recorded it (e.g. heartbeat timeout: its sweeper ended the run, with no error event)",
  );

export const runOutputShape = {
  run_id: z.string(),
  state: stateSchema,
  events: z.array(eventItemSchema),
  next_cursor: z.number().int().describe("Pass as cursor to continue exactly after the last event returned"),
  has_more: z.boolean().optional().describe("More events are already buffered after next_cursor"),
  pending_interrupts: z.array(pendingInterruptSchema),
  usage: usageSchema.optional(),
  stuck: stuckSchema.optional(),
  state_as_of: stateAsOfSchema,
  cancelled_by: cancelledBySchema,
  error: errorSchema,
  next_step: z.string().optional().describe("What to do next, given the state (the text block says the same)"),
};

export const runSummarySchema = z.object({
  run_id: z.string(),
  agent_id: z.string(),
  session_id: z.string(),
  agent: z.string().optional(),
  state: stateSchema,
  followed: z
    .boolean()
    .describe(
      "true: this bridge follows the run's events; false: known from loomcycle's list only (attach_run or read_run_events follows it)",
    ),
  last_activity_at: z.string(),
  events: z.number().int(),
  unread: z.number().int().describe("Events after your read position"),
  pending_interrupts: z.number().int(),
  next_step: z.string(),
  stuck: stuckSchema.optional(),
  state_as_of: stateAsOfSchema,
  cancelled_by: cancelledBySchema,
  error: errorSchema,
});
