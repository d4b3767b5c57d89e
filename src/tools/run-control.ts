// Run control beyond the five: attach_run, cancel_turn, cancel_run, compact_run.
import { z } from "zod";
import { defineTool } from "./types.js";
import { askedOutputShape, questionsField, waitAsking, withAsked, type PersonQuestion } from "./questions.js";
import { ConflictError, NotFoundError } from "../bridge/errors.js";
import { STOP_STATES, TERMINAL_STATES } from "../bridge/tracker.js";
import {
  ToolError,
  callSignal,
  clock,
  errorResult,
  okResult,
  readRun,
  renderResult,
  runIdField,
  runOutputShape,
  stateSchema,
  waitAttached,
  waitMsField,
  waitOnRun,
  sandboxLines,
} from "./common.js";

const reasonField = z
  .string({ error: "reason must be a string" })
  .max(500, "reason must be at most 500 characters")
  .optional()
  .describe('Why, for loomcycle\'s record. Example: "wrong direction".');

export const attachRun = defineTool({
  name: "attach_run",
  config: {
    title: "Follow a loomcycle run started elsewhere",
    description: [
      "Follow a run started elsewhere and return its state and last 30 events.",
      "Use it with a run_id from list_runs or a person; read_run_events then goes on from the first event you were not given.",
    ].join(" "),
    inputSchema: { run_id: runIdField, wait_ms: waitMsField(0), questions: questionsField },
    outputSchema: { ...runOutputShape, ...askedOutputShape, agent_id: z.string(), session_id: z.string() },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  async handler(args, bridge, extra) {
    const c = clock(args.wait_ms);
    try {
      const run = bridge.tracker.getOrAttach(args.run_id);
      if (args.questions) run.questions = args.questions;
      const asked: PersonQuestion[] = [];
      await waitAttached(run, Math.max(c.waitUntil, c.started + 3000), extra);
      if (args.wait_ms > 0) await waitAsking(run, () => STOP_STATES.has(run.state), c.waitUntil, extra, bridge, asked);
      const from = Math.max(0, run.events.length - 30);
      const snap = await readRun(run, { from }, extra.signal, bridge);
      const head = { run_id: args.run_id, agent_id: run.agentId ?? "", session_id: run.sessionId ?? "" };
      return withAsked({ ...head, ...snap }, renderResult(head, snap, bridge), asked);
    } catch (err) {
      return errorResult(err, "attach", bridge, { runId: args.run_id });
    }
  },
});

export const cancelTurn = defineTool({
  name: "cancel_turn",
  config: {
    title: "Stop a run's current turn",
    description: [
      "Stop a run's current turn and park the run again, keeping it.",
      "Use it when a turn goes wrong or runs long; then send_steer a better instruction.",
    ].join(" "),
    inputSchema: { run_id: runIdField, reason: reasonField },
    outputSchema: { ...runOutputShape, stopped: z.boolean() },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  async handler(args, bridge, extra) {
    const c = clock(10_000);
    try {
      const run = bridge.tracker.getOrAttach(args.run_id);
      await waitAttached(run, c.started + 3000, extra);
      if (TERMINAL_STATES.has(run.state)) throw new ToolError(`Run ${args.run_id} has ended (state ${run.state}); there is no turn to stop.`);
      const mark = run.events.length;
      try {
        await bridge.client.cancelTurn(args.run_id, args.reason, { signal: callSignal(extra, c) });
      } catch (err) {
        if (err instanceof ConflictError && err.code === "not_mid_turn") {
          throw new ToolError(`Run ${args.run_id} is not mid-turn (it is parked or between turns); nothing to stop. send_steer gives it its next instruction.`);
        }
        if (err instanceof ConflictError && err.code === "not_interactive") {
          throw new ToolError(`Run ${args.run_id} is not interactive, so its turn cannot be stopped on its own; cancel_run ends the whole run.`);
        }
        throw err;
      }
      const parkedAfter = () => run.events.slice(mark).some((e) => e.type === "awaiting_input") || TERMINAL_STATES.has(run.state);
      await waitOnRun(run, parkedAfter, c.waitUntil, extra);
      const snap = await readRun(run, {}, extra.signal, bridge);
      const head = { run_id: args.run_id, stopped: true };
      return okResult({ ...head, ...snap }, renderResult(head, snap, bridge));
    } catch (err) {
      return errorResult(err, "control", bridge, { runId: args.run_id });
    }
  },
});

export const cancelRun = defineTool({
  name: "cancel_run",
  config: {
    title: "End a loomcycle run",
    description: [
      "End a whole run for good (it cannot be resumed); returns the confirmed final state.",
      "Use it when the run is no longer wanted; cancel_turn stops only the turn.",
    ].join(" "),
    inputSchema: { run_id: runIdField, reason: reasonField },
    outputSchema: { ...runOutputShape, cancelled: z.boolean(), final_state: stateSchema.describe("The state loomcycle confirmed") },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  },
  async handler(args, bridge, extra) {
    const c = clock(10_000);
    try {
      const run = bridge.tracker.getOrAttach(args.run_id);
      await waitAttached(run, c.started + 3000, extra);
      if (!run.agentId) throw new ToolError(`loomcycle has not told the bridge run ${args.run_id}'s agent_id yet; try again in a moment.`);
      let res;
      try {
        res = await bridge.client.cancelAgent(run.agentId, args.reason ?? "cancelled via loomcycle-mcp-bridge", { signal: callSignal(extra, c) });
      } catch (err) {
        if (err instanceof NotFoundError) throw new ToolError(`loomcycle has no run for agent_id ${run.agentId} any more; nothing to cancel.`);
        throw err;
      }
      // The stream ends with a bare EOF; the bridge confirms the outcome with a status lookup.
      run.stream.nudge();
      await waitOnRun(run, () => TERMINAL_STATES.has(run.state), c.waitUntil, extra);
      const snap = await readRun(run, {}, extra.signal, bridge);
      const head = { run_id: args.run_id, cancelled: res.cancelled, final_state: snap.state };
      return okResult({ ...head, ...snap }, renderResult(head, snap, bridge));
    } catch (err) {
      return errorResult(err, "control", bridge, { runId: args.run_id });
    }
  },
});

/** How long compact_run waits for a live compaction to show on the run's log. */
const COMPACTION_SEEN_MS = 8_000;

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
  async handler(args, bridge, extra) {
    const c = clock(30_000);
    try {
      const run = bridge.tracker.getOrAttach(args.run_id);
      await waitAttached(run, c.started + 3000, extra);
      const mark = run.events.length;
      const res = await bridge.client.compactRun(args.run_id, { signal: callSignal(extra, c) });
      if (res.applied === "live") {
        // A live compaction shows on the run's log as a context_compaction frame. In a loomcycle
        // v1.59 cluster, a replica that does not run the run answers "live" without passing the
        // request on: nothing changes. Say so rather than report a compaction that did not happen.
        const seen = () => {
          for (let i = mark; i < run.events.length; i++) if (run.events.at(i)?.type === "context_compaction") return true;
          return false;
        };
        await waitOnRun(run, seen, Math.min(c.waitUntil, Date.now() + COMPACTION_SEEN_MS), extra);
        if (!seen() && !extra.signal.aborted) {
          throw new ToolError(
            `loomcycle answered that run ${args.run_id} was compacted, but no compaction reached the run's log within ${COMPACTION_SEEN_MS / 1000} s. In a loomcycle cluster this happens when the request lands on a replica that does not run the run. Call compact_run again (a second compaction only summarizes once more).`,
          );
        }
      }
      const out: Record<string, unknown> = { run_id: args.run_id, compacted: res.compacted };
      if (res.before_tokens !== undefined) out.before_tokens = res.before_tokens;
      if (res.after_tokens !== undefined) out.after_tokens = res.after_tokens;
      if (res.applied !== undefined) out.applied = res.applied;
      const text = [
        ...sandboxLines(bridge),
        `run_id=${args.run_id} compacted=${res.compacted} before_tokens=${res.before_tokens ?? "?"} after_tokens=${res.after_tokens ?? "?"} applied=${res.applied ?? "?"}`,
        res.applied === "noop" ? "next: nothing to do; the conversation is too short to compact" : "next: send_steer as usual; the run continues from the summary",
      ].join("\n");
      return okResult(out, text);
    } catch (err) {
      if (err instanceof ConflictError && err.code === "run_busy") {
        return errorResult(new ToolError(`Run ${args.run_id} is mid-turn; it can only be compacted while parked. Wait for awaiting_input (read_run_events with wait_ms) or cancel_turn first.`), "control", bridge);
      }
      return errorResult(err, "control", bridge, { runId: args.run_id });
    }
  },
});
