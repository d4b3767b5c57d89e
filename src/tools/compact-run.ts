import { z } from "zod";
import { ToolError } from "../bridge/loomcycle/errors.js";
import { defineTool, type ToolContext, type ToolReply } from "../tool-kit/define-tool.js";
import { waitOnRun } from "../tool-kit/call.js";
import { runIdField } from "../tool-kit/fields.js";

export const compactRun = defineTool({
  name: "compact_run",
  config: {
    title: "Compact a parked run's context",
    description: [
      "Summarize a parked run's conversation to free context; returns before_tokens, after_tokens, applied (live | marker | noop).",
      "Use it when usage grows and the run is awaiting_input.",
    ].join(" "),
    inputSchema: { run_id: runIdField },
    outputSchema: {
      run_id: z.string(),
      compacted: z.boolean(),
      before_tokens: z.number().optional(),
      after_tokens: z.number().optional(),
      applied: z.string().optional(),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  errors: {
    conflict: (e, { runId, tracked }) => {
      if (e.code !== "run_busy") return undefined;
      if (tracked?.state === "awaiting_answer")
        return `Run ${runId} is waiting for an answer to its question; it can only be compacted while parked. Answer it with resolve_interrupt first, then compact once it is awaiting_input.`;
      return `Run ${runId} is mid-turn; it can only be compacted while parked. Wait for awaiting_input (read_run_events with wait_ms) or cancel_turn first.`;
    },
  },
  waitMs: 30_000,
  attachBy: (c) => c.attachUntil,
  async logic(args, ctx) {
    // Before the request: in a cluster, loomcycle may deliver the summary as a message, and
    // the run layer marks it as the compaction's (never the host's) when it arrives.
    const stopAwaiting = ctx.run.expectCompaction();
    try {
      return await compact(args, ctx);
    } finally {
      stopAwaiting();
    }
  },
});

async function compact(args: { run_id: string }, { run, bridge, extra, clock, signal }: ToolContext): Promise<ToolReply> {
  const mark = run.events.length;
  const res = await bridge.client.compactRun(args.run_id, { signal: signal() });
  if (res.applied === "live") {
    // In a loomcycle v1.59 cluster, a replica that does not run the run answers "live" and
    // passes the compaction on to the owner as an ordinary steer whose text is the summary
    // (findings item 19): the owner runs a turn on it and compacts nothing. Only a
    // context_compaction frame proves a compaction; the summary arriving as a message instead
    // is marked by the run layer (expectCompaction, armed before the request).
    const outcome = (): "compacted" | { asMessage: number } | undefined => {
      for (let i = mark; i < run.events.length; i++) if (run.events.typeAt(i) === "context_compaction") return "compacted";
      for (const p of run.compactionInputs) if (p >= mark) return { asMessage: p };
      return undefined;
    };
    const seenMs = bridge.timings.compactionSeenMs;
    await waitOnRun(run, () => outcome() !== undefined, Math.min(clock.waitUntil, Date.now() + seenMs), extra, bridge);
    const got = outcome();
    if (got !== "compacted" && !extra.signal.aborted) {
      if (got)
        throw new ToolError(
          `loomcycle answered that run ${args.run_id} was compacted (applied: live), but the replica that took the request does not run the run and passed the summary on to it as an ordinary message (log position ${got.asMessage}): the run is running a turn on it, and its context was not compacted (the summary was added to it). read_run_events shows that message (source "compaction") and the reply. Call compact_run again once the run is parked: through a round-robin balancer the next request may reach the replica that runs it (or point LOOMCYCLE_BASE_URL at that replica).`,
        );
      throw new ToolError(
        `loomcycle answered that run ${args.run_id} was compacted, but no compaction reached the run's log within ${seenMs / 1000} s. In a loomcycle cluster this happens when the request lands on a replica that does not run the run. Call compact_run again (a second compaction only summarizes once more).`,
      );
    }
  }
  const out: Record<string, unknown> = { run_id: args.run_id, compacted: res.compacted };
  if (res.before_tokens !== undefined) out.before_tokens = res.before_tokens;
  if (res.after_tokens !== undefined) out.after_tokens = res.after_tokens;
  if (res.applied !== undefined) out.applied = res.applied;
  const text = [
    `run_id=${args.run_id} compacted=${res.compacted} before_tokens=${res.before_tokens ?? "?"} after_tokens=${res.after_tokens ?? "?"} applied=${res.applied ?? "?"}`,
    res.applied === "noop"
      ? "next: nothing to do; the conversation is too short to compact"
      : "next: send_steer as usual; the run continues from the summary",
  ].join("\n");
  return { structured: out, text };
}
