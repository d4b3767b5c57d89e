// The text of a run list (list_runs, wait_for_runs, loomcycle://runs): grouped by state,
// the runs that wait for the host first.
import type { RunState } from "../bridge/runs/run-state.js";
import type { RunSummary } from "../bridge/runs/run-info.js";
import { REMOTE_RUNS_MAX } from "../bridge/runs/run-list.js";

const ORDER: RunState[] = [
  "awaiting_answer",
  "awaiting_input",
  "running",
  "loop_lost",
  "unreachable",
  "starting",
  "failed",
  "completed",
  "cancelled",
];

export function renderSummary(r: RunSummary): string {
  return `- ${r.run_id} agent_id=${r.agent_id} session_id=${r.session_id}${r.agent ? ` agent=${r.agent}` : ""} state=${r.state}${r.state_as_of ? ` (as of ${r.state_as_of})` : ""} followed=${r.followed} last_activity_at=${r.last_activity_at} events=${r.events} unread=${r.unread} pending_interrupts=${r.pending_interrupts}${r.cancelled_by ? ` cancelled_by=${r.cancelled_by}` : ""}${r.error ? ` error=${JSON.stringify(r.error)}` : ""}${r.stuck ? ` stuck=${r.stuck.verdict}(${r.stuck.idle_seconds}s idle${r.stuck.heartbeat_age_seconds !== undefined ? `, heartbeat ${r.stuck.heartbeat_age_seconds}s ago` : ""})` : ""}
  next: ${r.next_step}`;
}

/** The runs (only those in `state`, when given) grouped by state, the latest first in each, as the structured list and its text. */
export function runList(
  all: readonly RunSummary[],
  opts: { notes?: readonly string[]; hasMore: boolean; state?: RunState | undefined },
): { structured: { runs: RunSummary[]; count: number; has_more: boolean; notes?: string[] }; text: string } {
  const runs = (opts.state ? all.filter((r) => r.state === opts.state) : [...all]).sort(
    (a, b) => ORDER.indexOf(a.state) - ORDER.indexOf(b.state) || b.last_activity_at.localeCompare(a.last_activity_at),
  );
  const notes = [...(opts.notes ?? [])];
  if (opts.hasMore)
    notes.push(
      `loomcycle lists at most ${REMOTE_RUNS_MAX} of the user's running runs; more exist (filter with state, or find one in loomcycle's Web UI)`,
    );
  const structured: { runs: RunSummary[]; count: number; has_more: boolean; notes?: string[] } = {
    runs,
    count: runs.length,
    has_more: opts.hasMore,
  };
  if (notes.length > 0) structured.notes = notes;
  return { structured, text: renderRuns(runs, notes, opts.hasMore) };
}

function renderRuns(runs: RunSummary[], notes: readonly string[], hasMore: boolean): string {
  const lines: string[] = [`count=${runs.length} has_more=${hasMore}`];
  for (const st of ORDER) {
    const group = runs.filter((r) => r.state === st);
    if (group.length === 0) continue;
    lines.push(`${st} (${group.length}):`);
    for (const r of group) lines.push(renderSummary(r));
  }
  for (const n of notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}
