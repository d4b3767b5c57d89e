import { z } from "zod";
import { ToolError } from "../bridge/loomcycle/errors.js";
import { assessStuck, summarize } from "../bridge/runs/run-info.js";
import { waitAttached } from "../bridge/runs/run-reader.js";
import { isFinal, STOP_STATES } from "../bridge/runs/run-state.js";
import type { TrackedRun } from "../bridge/runs/tracked-run.js";
import type { Bridge } from "../bridge/bridge.js";
import { renderSummary } from "../render/run-list.js";
import { defineTool, type Extra } from "../tool-kit/define-tool.js";
import { askedOutputShape } from "../tool-kit/asked.js";
import { PersonAsker } from "../tool-kit/questions.js";
import { progressReporter, waitOptions } from "../tool-kit/call.js";
import { idField, waitMsField, given } from "../tool-kit/fields.js";
import { runSummarySchema } from "../tool-kit/schemas.js";

/** A run is "ready" for the host: at a stop point with something unread, asking, or ended —
 * or one whose loop loomcycle lost (loop_lost), which will never move again (start a new one):
 * like an ended run, it stays ready. */
function isReady(run: TrackedRun): boolean {
  const st = run.state;
  if (!STOP_STATES.has(st)) return false;
  return run.events.length > run.readPos || isFinal(st) || st === "awaiting_answer";
}

async function waitAny(
  runs: TrackedRun[],
  until: number,
  extra: Extra,
  bridge: Bridge,
  ready: (r: TrackedRun) => boolean,
): Promise<void> {
  if (runs.some(ready)) return;
  const ac = new AbortController();
  const signal = AbortSignal.any([ac.signal, extra.signal]);
  const tick = progressReporter(
    extra,
    () => `waiting on ${runs.length} runs: ${runs.map((r) => `${r.runId}=${r.state}`).join(", ")}`,
  );
  try {
    await Promise.race(
      runs.map((r) =>
        r.waitUntil(() => ready(r), {
          deadline: until,
          signal,
          onTick: r === runs[0] ? tick : undefined,
          tickMs: bridge.timings.progressEveryMs,
        }),
      ),
    );
  } finally {
    ac.abort();
  }
}

export const waitForRuns = defineTool({
  name: "wait_for_runs",
  config: {
    title: "Wait for any of several runs",
    description: [
      "Wait until any of up to 20 runs needs you (parked with unread events, asking, or ended); returns the ready run_ids.",
      "Use it to supervise several runs; next, read_run_events a ready one.",
    ].join(" "),
    inputSchema: {
      run_ids: z
        .array(idField("run_id", "r_0b1c2d3e4f5a6b7c"), { error: given("run_ids", "a list of run ids") })
        .min(1, "run_ids needs at least 1 run id")
        .max(20, "run_ids takes at most 20 run ids")
        .describe('Runs to watch. Example: ["r_0b1c", "r_1a2b"].'),
      wait_ms: waitMsField(25_000),
    },
    outputSchema: { ready: z.array(z.string()), runs: z.array(runSummarySchema), timed_out: z.boolean(), ...askedOutputShape },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  async logic(args, { bridge, extra, clock: c }) {
    const ids = [...new Set(args.run_ids)];
    const runs = ids.map((id) => bridge.tracker.getOrAttach(id));
    await Promise.all(runs.map((r) => waitAttached(r, c.attachUntil, waitOptions(r, extra, bridge)).catch(() => undefined)));
    const unknown = () => runs.filter((r) => r.attachFailure !== undefined && !r.gone).map((r) => r.runId);
    const gone = () => runs.filter((r) => r.gone).map((r) => r.runId);
    const refuse = (): void => {
      const [u, g] = [unknown(), gone()];
      if (u.length === 0 && g.length === 0) return;
      const parts: string[] = [];
      if (u.length > 0)
        parts.push(
          `loomcycle has no run ${u.join(", ")} visible to this token. Check the run_id (runs of another tenant look the same as unknown ones), or remove ${u.length === 1 ? "it" : "them"} from run_ids.`,
        );
      if (g.length > 0)
        parts.push(
          `${g.join(", ")} ${g.length === 1 ? "is" : "are"} gone: loomcycle has no such run any more (it was deleted, or loomcycle now uses another database). Remove ${g.length === 1 ? "it" : "them"} from run_ids.`,
        );
      throw new ToolError(parts.join(" "));
    };
    refuse();
    // Whether each followed run's loop is still there (a reading older than the heartbeat cache is renewed).
    const bound = AbortSignal.any([extra.signal, AbortSignal.timeout(Math.max(0, c.attachUntil - Date.now()))]);
    await Promise.all(runs.map((r) => r.refreshLiveness(bound)));
    // Runs in questions: "human" mode have their questions put to the person here; a
    // question the person answered does not make its run ready.
    const asker = new PersonAsker(extra, bridge);
    const isReadyNow = (r: TrackedRun): boolean => r.gone || (isReady(r) && !asker.answeredAll(r));
    for (;;) {
      await waitAny(runs, c.waitUntil, extra, bridge, isReadyNow);
      const toAsk = runs.find((r) => isReadyNow(r) && asker.hasOpen(r));
      if (!toAsk || (await asker.askNext(toAsk, c.waitUntil)) === "stop") break;
    }
    refuse(); // a run that turned out gone while the call waited ends the wait
    const ready = runs.filter(isReadyNow).map((r) => r.runId ?? "");
    // As list_runs: a silent running run says so, with its remedy (a lost loop is its state).
    const summaries = await Promise.all(runs.map(async (r) => summarize(r, await assessStuck(r, { signal: extra.signal }))));
    const text = [
      ready.length ? `ready=${ready.join(",")}` : "ready=none (wait_ms ran out)",
      ...summaries.map(renderSummary),
    ].join("\n");
    return { structured: { ready, runs: summaries, timed_out: ready.length === 0 }, text, asked: asker.asked };
  },
});
