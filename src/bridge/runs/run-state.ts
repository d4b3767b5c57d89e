// A run's state as the bridge derives it from the run's events, and what a run is waiting for.
import { TERMINAL_RUN_STATUSES, type RunStatus } from "../loomcycle/events.js";
import { isZeroTime } from "../loomcycle/api-types.js";

export type RunState =
  | "starting"
  | "running"
  | "awaiting_input"
  | "awaiting_answer"
  | "completed"
  | "failed"
  | "cancelled"
  | "unreachable"
  /** loomcycle lists the run as running, but no loop drives it any more (it restarted, or the
   * replica that ran it died): it cannot take input, and a sweeper of loomcycle's fails it later
   * (liveness.ts). SPEC §2 leaves this state's name to the project. */
  | "loop_lost";

/** Where a wait ends: the run parked, asks, ended, or can no longer go on (loop_lost: waiting
 * would only wait for loomcycle's sweeper). */
export const STOP_STATES: ReadonlySet<RunState> = new Set([
  "awaiting_input",
  "awaiting_answer",
  "completed",
  "failed",
  "cancelled",
  "loop_lost",
]);
/** The states a run ends in: loomcycle's terminal run statuses, the one list of them. */
export const TERMINAL_STATES: ReadonlySet<RunState> = new Set(TERMINAL_RUN_STATUSES);

export type TerminalStatus = Exclude<RunStatus, "running">;

/** A state, or a status loomcycle reported, that a run ends in. */
export function isTerminal(state: string): state is TerminalStatus {
  return TERMINAL_STATES.has(state as RunState);
}

/** Nothing more will come of the run that the host can act on: it ended, or loomcycle no
 * longer runs its loop (only loomcycle's sweeper will still fail it). A wait for more ends here. */
export function isFinal(state: RunState): boolean {
  return state === "loop_lost" || TERMINAL_STATES.has(state);
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
