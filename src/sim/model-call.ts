// One model call of a simulated run and the tools it asks for: text and tool_call deltas
// as the agent's script yields them, then each tool's result (Read, Interruption).
import type { Block, Json } from "./agents.js";
import { askInterruption } from "./interrupts.js";
import type { LiveRun } from "./live-run.js";
import { makeEvent } from "./store.js";
import { toolUseId } from "./util.js";

const README_TEXT = "# Simulator README\nThis file exists only inside the loomcycle simulator.\n";

export interface CallOutcome {
  kind: "ok" | "error" | "turn_cancelled";
  error?: string;
  stop: string;
  text: string;
  tools: Array<{ id: string; name: string; input: Json }>;
}

export async function modelCall(run: LiveRun, iter: number, signal: AbortSignal): Promise<CallOutcome> {
  const out: CallOutcome = { kind: "ok", stop: "", text: "", tools: [] };
  const stall = (): Promise<void> =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  const gen = run.agent.call({ iter, messages: run.messages, sleep: (ms) => run.sleep(ms, signal), stall, rng: run.engine.rng });
  for await (const ev of gen) {
    if (signal.aborted) break;
    if (ev.type === "text") {
      out.text += ev.text;
      run.emit(makeEvent({ type: "text", text: ev.text }));
    } else if (ev.type === "tool_call") {
      const tu = { id: toolUseId(run.engine.rng), name: ev.name, input: ev.input };
      out.tools.push(tu);
      run.emit(makeEvent({ type: "tool_call", tool_use: tu }));
    } else if (ev.type === "done") {
      out.stop = ev.stop_reason;
    } else {
      out.kind = "error";
      out.error = ev.error;
      break;
    }
  }
  if (out.kind === "ok" && signal.aborted) {
    if (run.runAbort.signal.aborted) {
      // The driver surfaces the dead context as an in-stream error.
      out.kind = "error";
      out.error = "context canceled";
    } else {
      out.kind = "turn_cancelled";
    }
  }
  return out;
}

export async function executeTools(
  run: LiveRun,
  tools: Array<{ id: string; name: string; input: Json }>,
  signal: AbortSignal,
): Promise<Block[]> {
  return Promise.all(
    tools.map(async (tu) => {
      const r = await runTool(run, tu, signal);
      run.emit(makeEvent({ type: "tool_result", text: r.text, tool_use: tu, is_error: r.isError }));
      return { type: "tool_result", tool_use_id: tu.id, name: tu.name, text: r.text, is_error: r.isError } as Block;
    }),
  );
}

async function runTool(
  run: LiveRun,
  tu: { name: string; input: Json },
  signal: AbortSignal,
): Promise<{ text: string; isError: boolean }> {
  if (tu.name === "Read") {
    await run.sleep(400, signal);
    if (signal.aborted) return { text: "context canceled", isError: true };
    return { text: README_TEXT, isError: false };
  }
  if (tu.name === "Interruption") return askInterruption(run, tu.input, signal);
  if (tu.name === "Context") {
    // Only op compact (self-compaction): the loop compacts at its next iteration.
    if (tu.input.op !== "compact") return { text: `unknown op ${JSON.stringify(tu.input.op ?? "")}`, isError: true };
    run.compactRequested = true;
    return { text: '{"applies_at":"the next step","compaction":"scheduled"}', isError: false };
  }
  return { text: `unknown tool "${tu.name}"`, isError: true };
}
