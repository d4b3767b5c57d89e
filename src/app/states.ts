// SPEC's run states (and the verdicts of a silent run) as the six words the console shows.
// States the bridge may add later are mapped by what they mean for the person: a run whose
// loop loomcycle lost, or one loomcycle no longer has, takes no input again (ended); a state
// this app does not know is shown under its own name with the "unreachable" look.

export type Badge = "working" | "parked" | "asking" | "ended" | "stuck" | "unreachable";

export interface BadgeView {
  badge: Badge;
  /** Shown after the word, e.g. "ended · failed". */
  detail?: string;
  /** The run will not change any more: stop following it. */
  over: boolean;
}

const ENDED = new Set(["completed", "failed", "cancelled"]);

export function badgeFor(state: string, stuck?: { verdict: string }): BadgeView {
  if (ENDED.has(state)) return { badge: "ended", detail: state, over: true };
  // loomcycle no longer runs the loop: no input is taken again, but loomcycle fails the run later
  // with its reason (heartbeat timeout, owner replica died), so the console keeps following it.
  if (state === "loop_lost") return { badge: "ended", detail: "loomcycle lost its loop", over: false };
  if (/lost|gone|dead|orphan/.test(state)) return { badge: "ended", detail: state.replace(/_/g, " "), over: true };
  if (stuck)
    return { badge: "stuck", ...(stuck.verdict !== "stuck" ? { detail: stuck.verdict.replace(/_/g, " ") } : {}), over: false };
  switch (state) {
    case "starting":
    case "running":
      return { badge: "working", over: false };
    case "awaiting_input":
      return { badge: "parked", over: false };
    case "awaiting_answer":
      return { badge: "asking", over: false };
    case "unreachable":
      return { badge: "unreachable", over: false };
    default:
      return { badge: "unreachable", detail: state, over: false };
  }
}

/** One sentence for screen readers when the badge changes. */
export function announce(b: BadgeView, agent: string): string {
  switch (b.badge) {
    case "working":
      return `${agent} is working.`;
    case "parked":
      return `${agent} is waiting for your message.`;
    case "asking":
      return `${agent} asks you a question.`;
    case "ended":
      return `The run has ended${b.detail ? ` (${b.detail})` : ""}.`;
    case "stuck":
      return `${agent} has gone silent.`;
    case "unreachable":
      return `The bridge cannot reach loomcycle right now.`;
  }
}
