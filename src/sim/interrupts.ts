// The Interruption tool of a simulated run: a question row, an interruption_pending frame,
// and a wait until it is answered, declined, cancelled or expires.
import type { Json } from "./agents.js";
import type { LiveRun } from "./live-run.js";
import { makeEvent, type InterruptRec } from "./store.js";
import { goJSON, nowNs, rfc3339Nano } from "./util.js";

/** The Interruption tool's `ask`: create the row, emit, block until resolved/cancelled/expired. */
export async function askInterruption(
  live: LiveRun,
  input: Json,
  signal: AbortSignal,
): Promise<{ text: string; isError: boolean }> {
  const question = typeof input.question === "string" ? input.question : "";
  if (!question) return { text: "ask: missing required field: question", isError: true };
  const options = Array.isArray(input.options) ? input.options.filter((o): o is string => typeof o === "string") : undefined;
  const priority = input.priority === "low" || input.priority === "high" ? input.priority : "normal";
  const timeoutMs = live.engine.opts.interruptTimeoutMs;
  const created = nowNs();
  const rec = live.store.createInterrupt({
    run_id: live.run.id,
    question,
    options: options && options.length > 0 ? options : undefined,
    context_data: typeof input.context === "string" ? input.context : "",
    priority,
    expires_ns: timeoutMs > 0 ? created + BigInt(Math.round(timeoutMs)) * 1_000_000n : undefined,
    user_id: live.run.user_id,
    agent_id: live.run.agent_id,
  });
  live.emit(
    makeEvent({
      type: "interruption_pending",
      interruption: {
        interrupt_id: rec.interrupt_id,
        kind: "question",
        question,
        ...(rec.options ? { options: rec.options } : {}),
        ...(rec.context_data ? { context: rec.context_data } : {}),
        priority,
        ...(rec.expires_ns !== undefined ? { expires_at: rfc3339Nano(rec.expires_ns) } : {}),
      },
    }),
  );
  live.phase = "interrupt";
  live.engine.changed(live.run.id);
  const outcome = await live.engine.waitInterrupt(rec, signal, timeoutMs);
  // A crash (restart) writes nothing: the question stays pending, and loomcycle still takes
  // an answer to it that no loop will read (checked against v1.59, docs/conformance.md).
  if (rec.status === "pending" && live.cause?.kind !== "crash") {
    if (outcome === "timeout") live.store.finishInterrupt(rec.interrupt_id, "timed_out", "timeout");
    else live.store.finishInterrupt(rec.interrupt_id, "cancelled", "agent_cancel");
  }
  live.phase = "turn";
  return toolResultForInterrupt(rec);
}

/** The Interruption tool result for the row's final status (toolResultForStatus). */
export function toolResultForInterrupt(row: InterruptRec): { text: string; isError: boolean } {
  switch (row.status) {
    case "resolved":
      return {
        text: goJSON({
          answer: row.answer,
          interrupt_id: row.interrupt_id,
          resolved_at: row.resolved_ns !== undefined ? rfc3339Nano(row.resolved_ns) : "",
          resolved_by: row.resolved_by,
        }),
        isError: false,
      };
    case "declined":
      return {
        text: goJSON({
          declined: true,
          interrupt_id: row.interrupt_id,
          note: "The operator declined to answer; proceed without this input.",
          resolved_by: row.resolved_by,
        }),
        isError: false,
      };
    case "timed_out":
      return {
        text: `interruption timed_out (id=${row.interrupt_id}) — no answer received in the allotted window`,
        isError: true,
      };
    case "cancelled":
      return { text: `interruption cancelled (id=${row.interrupt_id}, resolved_by=${row.resolved_by})`, isError: true };
    default:
      return { text: `interruption in unexpected state "${row.status}" after block (id=${row.interrupt_id})`, isError: true };
  }
}
