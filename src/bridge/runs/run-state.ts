// A run's state as the bridge derives it from the run's events, and what a run is waiting for.
import { TERMINAL_RUN_STATUSES, type RunStatus } from "../loomcycle/events.js";
import { isZeroTime } from "../loomcycle/api-types.js";

export type RunState =
  "starting" | "running" | "awaiting_input" | "awaiting_answer" | "completed" | "failed" | "cancelled" | "unreachable";

export const STOP_STATES: ReadonlySet<RunState> = new Set([
  "awaiting_input",
  "awaiting_answer",
  "completed",
  "failed",
  "cancelled",
]);
/** The states a run ends in: loomcycle's terminal run statuses, the one list of them. */
export const TERMINAL_STATES: ReadonlySet<RunState> = new Set(TERMINAL_RUN_STATUSES);

export type TerminalStatus = Exclude<RunStatus, "running">;

/** A state, or a status loomcycle reported, that a run ends in. */
export function isTerminal(state: string): state is TerminalStatus {
  return TERMINAL_STATES.has(state as RunState);
}

export interface PendingInterrupt {
  interrupt_id: string;
  question: string;
  options?: string[];
  expires_at?: string;
}

/** A question as the bridge shows it, from loomcycle's interruption (zero times and empty options dropped). */
export function pendingInterrupt(i: {
  interrupt_id: string;
  question?: string | undefined;
  options?: readonly string[] | null | undefined;
  expires_at?: string | null | undefined;
}): PendingInterrupt {
  const p: PendingInterrupt = { interrupt_id: i.interrupt_id, question: i.question ?? "" };
  if (i.options && i.options.length > 0) p.options = [...i.options];
  if (i.expires_at && !isZeroTime(i.expires_at)) p.expires_at = i.expires_at;
  return p;
}

export interface UsageTotals {
  input_tokens: number;
  output_tokens: number;
}
