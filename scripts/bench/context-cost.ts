// Context cost: how many bytes a host puts into the model's context to show it a
// whole longtalk reply (~3,000 words streamed in ~1,000 deltas), read from cursor 0
// page by page with read_run_events' defaults, against the information itself (the
// assistant's text plus the operator's input text).
//
// A host shows the model one of the two forms of a result: Claude Code shows
// structuredContent (as JSON), OpenCode the text block. Both are measured; the goal
// applies to the larger. `format: "raw"` (loomcycle's Event JSON, one item per
// frame) is shown for comparison.
import { ok, type Peer } from "./lib/peer.js";
import { bridgeAgainstSim } from "./lib/session.js";
import { fmt, fmtInt, median, spread } from "./lib/stats.js";
import type { BenchContext, Figure, FigureResult } from "./lib/types.js";

const GOAL = 1.15;

interface Cost {
  structured: number;
  text: number;
  pages: number;
}

async function readAll(bridge: Peer, runId: string, format: "digest" | "raw"): Promise<Cost> {
  const cost: Cost = { structured: 0, text: 0, pages: 0 };
  let cursor = 0;
  for (;;) {
    const r = ok(await bridge.callTool("read_run_events", { run_id: runId, cursor, format, wait_ms: 30_000 }), "read_run_events");
    cost.structured += Buffer.byteLength(JSON.stringify(r.structured), "utf8");
    cost.text += Buffer.byteLength(r.text, "utf8");
    cost.pages += 1;
    if (r.structured.state !== "awaiting_input")
      throw new Error(`context cost: the run is ${String(r.structured.state)}, not parked`);
    if (r.structured.has_more !== true) return cost;
    cursor = r.structured.next_cursor as number;
  }
}

export const contextCostFigure: Figure = {
  key: "context_cost",
  title: "context cost",
  async measure(ctx: BenchContext): Promise<FigureResult> {
    const session = await bridgeAgainstSim({ tailPollMs: 5, speed: 0, seed: 3 });
    try {
      const perRun: Array<{ ref: number; words: number; deltas: number; digest: Cost; raw: Cost; ratio: number }> = [];
      for (let run = 0; run < ctx.runs; run++) {
        const prompt = `Tell me, at length, everything about weaving (take ${run + 1}).`;
        const start = ok(
          await session.bridge.callTool("start_interactive_run", { agent: "longtalk", prompt, wait_ms: 0 }),
          "start_interactive_run",
        );
        const runId = start.structured.run_id as string;
        await session.sim.waitForStopPoint(runId, 60_000);
        const texts = session.sim
          .expectedTailFrames(runId)
          .filter(([name]) => name === "text")
          .map(([, data]) => String(data.text ?? ""));
        const reply = texts.join("");
        const ref = Buffer.byteLength(reply, "utf8") + Buffer.byteLength(prompt, "utf8");
        const digest = await readAll(session.bridge, runId, "digest");
        const raw = await readAll(session.bridge, runId, "raw");
        const r = {
          ref,
          words: reply.split(/\s+/).filter(Boolean).length,
          deltas: texts.length,
          digest,
          raw,
          ratio: Math.max(digest.structured, digest.text) / ref,
        };
        perRun.push(r);
        ctx.log(
          `  run ${run + 1}: ${r.words} words in ${r.deltas} deltas, ${fmtInt(ref)} bytes → digest ${fmtInt(digest.structured)} (structured) / ${fmtInt(digest.text)} (text) bytes, raw ${fmtInt(raw.structured)} / ${fmtInt(raw.text)} bytes`,
        );
      }
      const ratio = median(perRun.map((r) => r.ratio));
      const sRatio = median(perRun.map((r) => r.digest.structured / r.ref));
      const tRatio = median(perRun.map((r) => r.digest.text / r.ref));
      const rawS = median(perRun.map((r) => r.raw.structured / r.ref));
      const rawT = median(perRun.map((r) => r.raw.text / r.ref));
      const ref = median(perRun.map((r) => r.ref));
      return {
        key: "context_cost",
        figure: "context cost of a 3,000-word reply streamed in ~1,000 deltas",
        baseline: "assistant text + input text bytes",
        measured:
          `digest: structuredContent ${fmt(sRatio)}×, text block ${fmt(tRatio)}× of ${fmtInt(ref)} bytes; ` +
          `raw for comparison: ${fmt(rawS)}× / ${fmt(rawT)}×`,
        ratio: `${fmt(ratio)}×`,
        goal: `digest ≤ ${GOAL}×`,
        pass: ratio <= GOAL,
        limits:
          `Consecutive deltas merge into one text item per page, so the overhead is per page and per item, not per frame: the ` +
          `result's fields (state, cursors, usage), JSON string escaping, the items' cursors, and in the text block the ` +
          `"data, not instructions" line and the next-step hint. The pages come from read_run_events' default max_chars (20,000), ` +
          `${median(perRun.map((r) => r.digest.pages))} per reply. Raw pays a JSON object per frame.`,
        details: [
          `${ctx.runs} runs (different replies); each read from cursor 0 to the end with the default limits; bytes of JSON.stringify(structuredContent) and of the text block, UTF-8.`,
          `per-run ratio (larger of the two forms): ${spread(
            perRun.map((r) => r.ratio),
            3,
          )}.`,
          `a host shows the model one form: Claude Code structuredContent, OpenCode the text block; the goal applies to the larger of the two.`,
        ],
      };
    } finally {
      await session.close();
    }
  },
};
