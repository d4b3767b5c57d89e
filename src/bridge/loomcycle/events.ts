// Typed view of loomcycle's SSE frames. Every `data` payload is
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

// ---- the hot-path check --------------------------------------------------------------
//
// The SSE reader checks every frame of every run, so it does not run the zod schemas
// above (a zod parse copies the object and costs several times the JSON.parse itself).
// These hand-written checks accept exactly what the schemas accept (a test compares
// them on generated values) and return the parsed object itself, untouched: key order
// and unknown fields stay as loomcycle sent them.

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const optStr = (v: unknown): boolean => v === undefined || typeof v === "string";
const optNum = (v: unknown): boolean => v === undefined || typeof v === "number";

function usageIssue(u: Rec): string | undefined {
  if (!optNum(u["input_tokens"])) return "usage.input_tokens: expected number";
  if (!optNum(u["output_tokens"])) return "usage.output_tokens: expected number";
  if (!optNum(u["cache_creation_input_tokens"])) return "usage.cache_creation_input_tokens: expected number";
  if (!optNum(u["cache_read_input_tokens"])) return "usage.cache_read_input_tokens: expected number";
  if (!optStr(u["model"])) return "usage.model: expected string";
  if (!optStr(u["provider"])) return "usage.provider: expected string";
  if (!optNum(u["max_context_tokens"])) return "usage.max_context_tokens: expected number";
  return undefined;
}

function interruptionIssue(i: Rec): string | undefined {
  if (typeof i["interrupt_id"] !== "string") return "interruption.interrupt_id: expected string";
  if (!optStr(i["kind"])) return "interruption.kind: expected string";
  if (!optStr(i["question"])) return "interruption.question: expected string";
  const o = i["options"];
  if (o !== undefined && o !== null) {
    if (!Array.isArray(o)) return "interruption.options: expected array";
    for (let k = 0; k < o.length; k++) if (typeof o[k] !== "string") return `interruption.options.${k}: expected string`;
  }
  if (!optStr(i["priority"])) return "interruption.priority: expected string";
  if (!optStr(i["expires_at"])) return "interruption.expires_at: expected string";
  return undefined;
}

/** The check of one known field of a LoomEvent (`x` is its value, never undefined). */
function fieldIssue(key: string, x: unknown): string | undefined {
  switch (key) {
    case "text":
    case "error":
    case "stop_reason":
      return typeof x === "string" ? undefined : `${key}: expected string`;
    case "is_error":
      return typeof x === "boolean" ? undefined : "is_error: expected boolean";
    case "tool_use":
      if (!isRec(x)) return "tool_use: expected object";
      if (typeof x["id"] !== "string") return "tool_use.id: expected string";
      if (typeof x["name"] !== "string") return "tool_use.name: expected string";
      return undefined;
    case "usage":
      return isRec(x) ? usageIssue(x) : "usage: expected object";
    case "interruption":
      return isRec(x) ? interruptionIssue(x) : "interruption: expected object";
    case "user_input":
      if (!isRec(x)) return "user_input: expected object";
      if (typeof x["text"] !== "string") return "user_input.text: expected string";
      if (!optStr(x["source"])) return "user_input.source: expected string";
      if (!optStr(x["seen_at"])) return "user_input.seen_at: expected string";
      return undefined;
    case "awaiting_input":
      if (!isRec(x)) return "awaiting_input: expected object";
      return optNum(x["since_turn"]) ? undefined : "awaiting_input.since_turn: expected number";
    case "turn_cancelled":
      if (!isRec(x)) return "turn_cancelled: expected object";
      if (!optStr(x["reason"])) return "turn_cancelled.reason: expected string";
      return optNum(x["since_turn"]) ? undefined : "turn_cancelled.since_turn: expected number";
    case "context_compaction":
      if (!isRec(x)) return "context_compaction: expected object";
      if (!optStr(x["summary"])) return "context_compaction.summary: expected string";
      if (!optNum(x["before_tokens"])) return "context_compaction.before_tokens: expected number";
      return optNum(x["after_tokens"]) ? undefined : "context_compaction.after_tokens: expected number";
    default:
      return undefined; // unknown fields are kept as they are
  }
}

/** Why `v` is not a LoomEvent (the first problem found), or undefined when it is one.
 * Same acceptance as `LoomEvent.safeParse(v).success`. It walks the fields present
 * (a text delta has two) rather than probing every field the schema knows. */
export function loomEventIssue(v: unknown): string | undefined {
  if (!isRec(v)) return "(root): expected object";
  const type = v["type"];
  if (typeof type !== "string" || type.length === 0) return "type: expected a non-empty string";
  for (const key in v) {
    if (key === "type") continue;
    const x = v[key];
    if (x === undefined) continue;
    const issue = fieldIssue(key, x);
    if (issue !== undefined) return issue;
  }
  return undefined;
}

/** Why `v` is not an AgentFrame, or undefined. Same acceptance as `AgentFrame.safeParse(v).success`. */
export function agentFrameIssue(v: unknown): string | undefined {
  if (!isRec(v)) return "(root): expected object";
  if (typeof v["agent_id"] !== "string") return "agent_id: expected string";
  if (typeof v["run_id"] !== "string") return "run_id: expected string";
  if (typeof v["session_id"] !== "string") return "session_id: expected string";
  const p = v["parent_agent_id"];
  if (p !== undefined && p !== null && typeof p !== "string") return "parent_agent_id: expected string";
  return undefined;
}

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
