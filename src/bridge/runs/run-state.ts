// A run's state as the bridge derives it from the run's events, and what a run is waiting for.
export type RunState =
  "starting" | "running" | "awaiting_input" | "awaiting_answer" | "completed" | "failed" | "cancelled" | "unreachable";

export const STOP_STATES: ReadonlySet<RunState> = new Set([
  "awaiting_input",
  "awaiting_answer",
  "completed",
  "failed",
  "cancelled",
]);
export const TERMINAL_STATES: ReadonlySet<RunState> = new Set(["completed", "failed", "cancelled"]);

export interface PendingInterrupt {
  interrupt_id: string;
  question: string;
  options?: string[];
  expires_at?: string;
}

export interface UsageTotals {
  input_tokens: number;
  output_tokens: number;
}
