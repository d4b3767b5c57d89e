import { z } from "zod";
import { defineTool } from "./types.js";
import { askedOutputShape, waitAsking, withAsked, type PersonQuestion } from "./questions.js";
import { RateLimitedError } from "../bridge/errors.js";
import { STOP_STATES } from "../bridge/tracker.js";
import {
  ToolError,
  callSignal,
  clock,
  errorResult,
  isTerminal,
  pause,
  readRun,
  renderResult,
  runIdField,
  runOutputShape,
  waitAttached,
  waitMsField,
} from "./common.js";

export const sendSteer = defineTool({
  name: "send_steer",
  config: {
    title: "Send a message to a running loomcycle run",
    description: [
      "Send a run its next message and return the events up to the next stop point, with the message's echo.",
      "Use it when the run is awaiting_input (mid-turn, the message is queued).",
      "Next: act on state; after a timeout, read_run_events before resending.",
    ].join(" "),
    inputSchema: {
      run_id: runIdField,
      text: z
        .string({ error: "text must be a string" })
        .refine((s) => s.trim().length > 0, "text must not be empty")
        .describe('The message. Example: "Now add a test."'),
      wait_ms: waitMsField(25_000),
    },
    outputSchema: { ...runOutputShape, ...askedOutputShape, delivered: z.boolean().describe("loomcycle accepted the message into the run's queue") },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  async handler(args, bridge, extra) {
    const c = clock(args.wait_ms);
    try {
      const run = bridge.tracker.getOrAttach(args.run_id);
      await waitAttached(run, c.hardUntil - 2000, extra);
      const before = run.state;
      if (isTerminal(before)) {
        throw new ToolError(`Run ${args.run_id} has ended (state ${before}); it cannot take more input. Start a new run with start_interactive_run.`);
      }
      const mark = run.events.length;
      const text = args.text.trim();
      let delivered = false;
      for (let attempt = 0; !delivered; attempt++) {
        try {
          const res = await bridge.client.sendInput(args.run_id, text, { signal: callSignal(extra, c) });
          delivered = res.delivered;
          if (!delivered) throw new ToolError(`loomcycle did not accept the message for run ${args.run_id} (delivered: false). Call read_run_events to check the run's state.`);
        } catch (err) {
          // 429 means "not queued": one retry after the stated delay is safe, if it fits.
          const wait = err instanceof RateLimitedError ? (err.retryAfterMs ?? 1000) : undefined;
          if (attempt === 0 && wait !== undefined && Date.now() + wait < c.hardUntil - 1500) {
            await pause(wait, extra.signal);
            if (extra.signal.aborted) throw new ToolError("Cancelled by the host before the retry: the message was NOT delivered.");
            continue;
          }
          throw err;
        }
      }
      // Wait for the next stop point after loomcycle echoes this message.
      const echoed = () => {
        const ev = run.events;
        for (let i = mark; i < ev.length; i++) {
          const e = ev.at(i);
          if (e?.type === "steer" && (e.user_input?.text ?? "").trim() === text) return i;
        }
        return -1;
      };
      const asked: PersonQuestion[] = [];
      await waitAsking(run, () => isTerminal(run.state) || (echoed() >= 0 && STOP_STATES.has(run.state)), c.waitUntil, extra, bridge, asked);
      const snap = await readRun(run, {}, extra.signal, bridge);
      const head = { run_id: args.run_id, delivered };
      return withAsked({ ...head, ...snap }, renderResult(head, snap, bridge), asked);
    } catch (err) {
      return errorResult(err, "steer", bridge, { runId: args.run_id });
    }
  },
});
