// Typed view of loomcycle's SSE frames (wire contract §2). Every `data` payload is
// validated here before it leaves src/bridge: known fields must have the right
// shape, unknown fields and unknown event names are kept untouched (raw format
// returns loomcycle's Event JSON as it came).
import { z } from "zod";

const Usage = z.looseObject({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  cache_creation_input_tokens: z.number().optional(),
  cache_read_input_tokens: z.number().optional(),
  model: z.string().optional(),
  provider: z.string().optional(),
  max_context_tokens: z.number().optional(),
});
export type Usage = z.infer<typeof Usage>;

const ToolUse = z.looseObject({
  id: z.string(),
  name: z.string(),
  input: z.unknown().optional(),
});

const Interruption = z.looseObject({
  interrupt_id: z.string(),
  kind: z.string().optional(),
  question: z.string().optional(),
  options: z.array(z.string()).nullish(),
  context: z.unknown().optional(),
  priority: z.string().optional(),
  expires_at: z.string().optional(),
});

/** A loop Event (every frame but `agent`). `type` equals the SSE event name. */
export const LoomEvent = z.looseObject({
  type: z.string().min(1),
  text: z.string().optional(),
  tool_use: ToolUse.optional(),
  usage: Usage.optional(),
  error: z.string().optional(),
  is_error: z.boolean().optional(),
  interruption: Interruption.optional(),
  user_input: z.looseObject({ text: z.string(), source: z.string().optional(), seen_at: z.string().optional() }).optional(),
  awaiting_input: z.looseObject({ since_turn: z.number().optional() }).optional(),
  turn_cancelled: z.looseObject({ reason: z.string().optional(), since_turn: z.number().optional() }).optional(),
  context_compaction: z
    .looseObject({ summary: z.string().optional(), before_tokens: z.number().optional(), after_tokens: z.number().optional() })
    .optional(),
  stop_reason: z.string().optional(),
});
export type LoomEvent = z.infer<typeof LoomEvent>;

/** The side-channel `agent` frame: no `type` field, the event name discriminates. */
export const AgentFrame = z.looseObject({
  agent_id: z.string(),
  run_id: z.string(),
  session_id: z.string(),
  parent_agent_id: z.string().nullish(),
  parent_context: z.unknown().optional(),
});
export type AgentFrame = z.infer<typeof AgentFrame>;

/** What the SSE reader yields after validation. */
export type StreamFrame =
  | { kind: "session"; sessionId: string; bytes: number }
  | { kind: "agent"; agent: AgentFrame; bytes: number }
  | { kind: "event"; event: LoomEvent; bytes: number }
  /** A frame that could not be used (malformed JSON, wrong shape, over the size bound).
   * It still counts as one frame of the run for resume purposes. */
  | { kind: "invalid"; name: string; reason: string; bytes: number };

export const TERMINAL_RUN_STATUSES = ["completed", "failed", "cancelled"] as const;
export type RunStatus = "running" | (typeof TERMINAL_RUN_STATUSES)[number];
