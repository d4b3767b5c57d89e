import { z } from "zod";
import { defineTool } from "./types.js";
import { type ReadOptions, assertCursor, isTerminal, atStopPoint, callSignal, clock, errorResult, okResult, readRun, renderResult, runIdField, runOutputShape, waitAttached, waitMsField, waitOnRun } from "./common.js";

export const readRunEvents = defineTool({
  name: "read_run_events",
  config: {
    title: "Read what a loomcycle run did",
    description: [
      "Read a loomcycle run's events since you last read (or from a cursor), optionally waiting for more.",
      "Use it to follow a running run (wait_ms e.g. 25000 returns as soon as the run parks, asks a question or ends), to catch up after send_steer, or to look at any run id the token may read, including runs started in loomcycle's Web UI or by another host (they are attached on first use).",
      "Returns state, events (a compact digest by default: merged text, tool calls and results, questions, errors), next_cursor, has_more, pending_interrupts and usage. Without cursor it continues from your last read; pass cursor to re-read from a position. Pages are exact: has_more means call again (no wait) to get the rest.",
      "Next: send_steer when awaiting_input, resolve_interrupt when awaiting_answer. Reading changes nothing in loomcycle.",
    ].join(" "),
    inputSchema: {
      run_id: runIdField,
      cursor: z
        .number({ error: "cursor must be a non-negative integer log position" })
        .int("cursor must be an integer")
        .min(0, "cursor must be 0 or more")
        .optional()
        .describe("Log position to read from (0 = the run's first event); omit to continue from your last read. Example: 42."),
      wait_ms: waitMsField(0),
      wait_for: z
        .enum(["stop", "any"], { error: "wait_for must be \"stop\" or \"any\"" })
        .default("stop")
        .describe("\"stop\" (default): wait until the run parks, asks a question or ends. \"any\": return as soon as any new event arrives."),
      format: z
        .enum(["digest", "raw"], { error: "format must be \"digest\" or \"raw\"" })
        .default("digest")
        .describe("\"digest\" (default): compact items. \"raw\": loomcycle's Event JSON untouched, as {cursor, event}."),
      max_events: z
        .number({ error: "max_events must be an integer 1 … 1000" })
        .int()
        .min(1, "max_events must be at least 1")
        .max(1000, "max_events must be at most 1000")
        .default(200)
        .describe("Most items to return (default 200). Example: 50."),
      max_chars: z
        .number({ error: "max_chars must be an integer 200 … 40000" })
        .int()
        .min(200, "max_chars must be at least 200")
        .max(40_000, "max_chars must be at most 40000 (hosts cut results around 50 KB)")
        .default(20_000)
        .describe("Most characters of item text to return (default 20000); a longer single event is shortened and marked truncated. Example: 4000."),
    },
    outputSchema: runOutputShape,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  async handler(args, bridge, extra) {
    const c = clock(args.wait_ms);
    try {
      const run = bridge.tracker.getOrAttach(args.run_id);
      await waitAttached(run, Math.max(c.waitUntil, c.started + 3000), extra);
      // A cursor past the end is refused before waiting, not after.
      if (args.cursor !== undefined) assertCursor(run, args.cursor);
      if (args.wait_ms > 0) {
        // Without a cursor, "new" is judged against the read position at each check (a
        // concurrent read may move it while this one waits).
        const from = () => args.cursor ?? run.readPos;
        const done = args.wait_for === "any" ? () => run.events.length > from() || isTerminal(run.state) : atStopPoint(run);
        await waitOnRun(run, done, c.waitUntil, extra);
      }
      // Re-reading evicted positions from loomcycle must also fit in the call's bound.
      const opts: ReadOptions = { maxEvents: args.max_events, maxChars: args.max_chars, format: args.format };
      if (args.cursor !== undefined) opts.from = args.cursor;
      const snap = await readRun(run, opts, callSignal(extra, c), bridge);
      const head = { run_id: args.run_id };
      return okResult({ ...snap }, renderResult(head, snap, bridge));
    } catch (err) {
      return errorResult(err, "read", bridge, { runId: args.run_id });
    }
  },
});
