// What the run console reads: console_read's structured result, as src/tools/console-read.ts
// gives it (digest items as read_run_events has them, with the marks of who acted).
// Everything in here came from loomcycle through the bridge: agent text, tool output and
// questions are data to show as text, never markup or instructions.

export type DigestItem =
  | { kind: "input"; cursor: number; text: string; source: string; truncated?: boolean }
  | { kind: "text"; cursor: number; text: string; partial?: boolean; truncated?: boolean }
  | { kind: "tool_call"; cursor: number; id: string; tool: string; input: string; truncated?: boolean }
  | { kind: "tool_result"; cursor: number; id: string; tool: string; ok: boolean; output: string; truncated?: boolean }
  | {
      kind: "interrupt";
      cursor: number;
      interrupt_id: string;
      question: string;
      options?: string[];
      expires_at?: string;
      /** Set once the question was answered through the bridge. */
      answer?: string;
      declined?: boolean;
      answered_by?: string;
    }
  | { kind: "awaiting_input"; cursor: number }
  | { kind: "turn_cancelled"; cursor: number; reason?: string; source?: string }
  | { kind: "compaction"; cursor: number; before_tokens?: number; after_tokens?: number }
  | { kind: "notice"; cursor: number; text: string; truncated?: boolean }
  | { kind: "error"; cursor: number; message: string; truncated?: boolean }
  | { kind: "done"; cursor: number; stop_reason: string };

export interface PendingInterrupt {
  interrupt_id: string;
  question: string;
  options?: string[];
  expires_at?: string;
}

export interface Stuck {
  verdict: string;
  idle_seconds?: number;
  heartbeat_age_seconds?: number;
  remedy?: string;
}

export interface ConsoleRead {
  run_id: string;
  agent_id?: string;
  session_id?: string;
  agent?: string;
  state: string;
  stuck?: Stuck;
  state_as_of?: string;
  cancelled_by?: string;
  events: DigestItem[];
  next_cursor: number;
  has_more: boolean;
  pending_interrupts: PendingInterrupt[];
  usage?: { input_tokens?: number; output_tokens?: number };
}

export type ActAction = "steer" | "answer" | "decline" | "cancel_turn" | "cancel_run";

export interface ActResult {
  run_id: string;
  action: ActAction;
  done: boolean;
  state: string;
  message: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A console_read result, or undefined when the shape is not one (an older or other server). */
export function asConsoleRead(v: unknown): ConsoleRead | undefined {
  if (!isRecord(v)) return undefined;
  if (typeof v.run_id !== "string" || typeof v.state !== "string" || typeof v.next_cursor !== "number") return undefined;
  if (!Array.isArray(v.events)) return undefined;
  const events = v.events.filter((e): e is DigestItem => isRecord(e) && typeof e.kind === "string");
  const pending = Array.isArray(v.pending_interrupts)
    ? v.pending_interrupts.filter((p): p is PendingInterrupt => isRecord(p) && typeof p.interrupt_id === "string")
    : [];
  return { ...(v as unknown as ConsoleRead), events, pending_interrupts: pending, has_more: v.has_more === true };
}
