import { z } from "zod";
import { assertCursor, atStopPoint, readRun, type ReadOptions } from "../bridge/runs/run-reader.js";
import { isTerminal } from "../bridge/runs/run-state.js";
import { renderResult } from "../render/run-result.js";
import { ATTACH_WITHIN_WAIT, defineTool } from "../tool-kit/define-tool.js";
import { askedOutputShape } from "../tool-kit/asked.js";
import { waitAsking, type PersonQuestion } from "../tool-kit/questions.js";
import { runIdField, waitMsField, given, intField } from "../tool-kit/fields.js";
import { runOutputShape } from "../tool-kit/schemas.js";

export const readRunEvents = defineTool({
  name: "read_run_events",
  config: {
    title: "Read what a loomcycle run did",
    description: [
      "Read a run's events after your last read (or cursor), waiting up to wait_ms for a stop point.",
      "Use it to follow any run, also one started elsewhere; read again at once when has_more.",
      "Next: act on state.",
    ].join(" "),
    inputSchema: {
      run_id: runIdField,
      cursor: intField("cursor", "a non-negative integer log position", 0) // no maximum: zod's safe-integer bound says nothing a model needs
        .optional()
        .describe("Position to read from (default: your last read)."),
      wait_ms: waitMsField(0),
      wait_for: z
        .enum(["stop", "any"], { error: given("wait_for", '"stop" or "any"') })
        .default("stop")
        .describe('"stop" (default): wait for a stop point; "any": for any new event.'),
      format: z
        .enum(["digest", "raw"], { error: given("format", '"digest" or "raw"') })
        .default("digest")
        .describe('"digest" (default): compact items; "raw": loomcycle\'s events as {cursor, event}.'),
      max_events: intField("max_events", "an integer 1 … 1000", 1, 1000)
        .default(200)
        .describe("Most items to return (default 200)."),
      max_chars: intField("max_chars", "an integer 200 … 40000", 200, 40_000, " (hosts cut results around 50 KB)")
        .default(20_000)
        .describe("Most characters of item text (default 20000); a longer event comes truncated."),
    },
    outputSchema: { ...runOutputShape, ...askedOutputShape },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  attachBy: ATTACH_WITHIN_WAIT,
  async logic(args, { run, bridge, extra, clock, signal }) {
    // A cursor past the end is refused before waiting, not after.
    if (args.cursor !== undefined) assertCursor(run, args.cursor);
    const asked: PersonQuestion[] = [];
    if (args.wait_ms > 0) {
      // Without a cursor, "new" is judged against the read position at each check (a
      // concurrent read may move it while this one waits).
      const from = () => args.cursor ?? run.readPos;
      const done = args.wait_for === "any" ? () => run.events.length > from() || isTerminal(run.state) : atStopPoint(run);
      await waitAsking(run, done, clock.waitUntil, extra, bridge, asked);
    }
    // Re-reading evicted positions from loomcycle must also fit in the call's bound.
    const opts: ReadOptions = { maxEvents: args.max_events, maxChars: args.max_chars, format: args.format };
    if (args.cursor !== undefined) opts.from = args.cursor;
    const snap = await readRun(run, opts, signal(), bridge);
    return { structured: { ...snap }, text: renderResult({ run_id: args.run_id }, snap), asked };
  },
});
