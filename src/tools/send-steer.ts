import { z } from "zod";
import { readRun } from "../bridge/runs/run-reader.js";
import { isFinal, STOP_STATES, type PendingInterrupt } from "../bridge/runs/run-state.js";
import { renderResult } from "../render/run-result.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { askedOutputShape } from "../tool-kit/asked.js";
import { waitAsking, type PersonQuestion } from "../tool-kit/questions.js";
import { runIdField, waitMsField, given } from "../tool-kit/fields.js";
import { runOutputShape } from "../tool-kit/schemas.js";
import { retryAfterSeconds } from "../tool-kit/errors.js";
import { deliverSteer } from "../tool-kit/run-actions.js";

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
        .string({ error: given("text", "a string") })
        .refine((s) => s.trim().length > 0, "text must not be empty")
        .describe('The message. Example: "Now add a test."'),
      wait_ms: waitMsField(25_000),
    },
    outputSchema: {
      ...runOutputShape,
      ...askedOutputShape,
      delivered: z.boolean().describe("loomcycle accepted the message into the run's queue"),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  errors: {
    cancelled:
      "Cancelled by the host while the message was being sent: it may or may not have been delivered. Call read_run_events to check before sending it again.",
    not_found: (_e, { run, said }) =>
      `${run} is not live on loomcycle: it has ended, or it is not visible to this token.${said} Start a new run with start_interactive_run, or read its log with read_run_events.`,
    rate_limited: (e) => {
      const s = retryAfterSeconds(e);
      return `The run's input queue is full (loomcycle holds 16 queued messages). The message was NOT delivered. Wait${s ? ` about ${s} s` : " a moment"} for the agent to catch up, then send it again.`;
    },
    upstream: (_e, { said }) =>
      `loomcycle (or a proxy in front of it) failed.${said} The message may or may not have been delivered: call read_run_events to check before sending it again.`,
    unreachable: (e, { bridge }) =>
      e.code === "tls_failed"
        ? undefined
        : `Cannot reach loomcycle at ${bridge.config.baseUrl} (${e.detail}). The message may not have been delivered: call read_run_events to check before sending it again.`,
    timeout: (e) =>
      `loomcycle did not answer in time (${e.detail}). The message may or may not have been delivered: call read_run_events to check before sending it again.`,
  },
  attachBy: (c) => c.hardUntil - 2000,
  async logic(args, ctx) {
    const { run, bridge, extra, clock: c } = ctx;
    const mark = run.events.length;
    const text = args.text.trim();
    await deliverSteer(ctx, run, args.run_id, text, "host");
    const delivered = true;
    // Wait for the next stop point after loomcycle echoes this message.
    const echoed = () => {
      const ev = run.events;
      for (let i = mark; i < ev.length; i++) {
        const e = ev.at(i);
        if (e?.type === "steer" && (e.user_input?.text ?? "").trim() === text) return i;
      }
      return -1;
    };
    // A run that asks a question is at a stop point too, with the message still queued:
    // loomcycle reads it only after the question is answered (it takes a queued message at
    // the top of its next turn, never inside the Interruption tool), so waiting for its
    // echo would wait out the whole call (issue 19 item 3).
    const asked: PersonQuestion[] = [];
    await waitAsking(
      run,
      () => isFinal(run.state) || run.state === "awaiting_answer" || (echoed() >= 0 && STOP_STATES.has(run.state)),
      c.waitUntil,
      extra,
      bridge,
      asked,
    );
    const queued = echoed() < 0 && run.state === "awaiting_answer";
    const snap = await readRun(
      run,
      { shortEcho: true, ...(queued ? { then: queuedBehindQuestion([...run.pending.values()]) } : {}) },
      extra.signal,
      bridge,
    );
    const head = { run_id: args.run_id, delivered };
    return { structured: { ...head, ...snap }, text: renderResult(head, snap), asked };
  },
});

/** The next step after a message that waits in the queue behind the agent's question. */
function queuedBehindQuestion(pending: readonly PendingInterrupt[]): string {
  const ids = pending.map((p) => p.interrupt_id).join(", ");
  return `the run is waiting for an answer to its question (${ids}): your message is queued and the agent reads it only after the question is answered or declined. Answer it with resolve_interrupt (from pending_interrupts); the message follows, and that call returns its reply`;
}
