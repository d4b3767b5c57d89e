import { z } from "zod";
import { ToolError } from "../bridge/loomcycle/errors.js";
import { readRun } from "../bridge/runs/run-reader.js";
import { isFinal, STOP_STATES } from "../bridge/runs/run-state.js";
import { renderResult } from "../render/run-result.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { askedOutputShape } from "../tool-kit/asked.js";
import { waitAsking, type PersonQuestion } from "../tool-kit/questions.js";
import { idField, runIdField, waitMsField, given } from "../tool-kit/fields.js";
import { runOutputShape } from "../tool-kit/schemas.js";
import { answerQuestion } from "../tool-kit/run-actions.js";

export const resolveInterrupt = defineTool({
  name: "resolve_interrupt",
  config: {
    title: "Answer a loomcycle agent's question",
    description: [
      "Answer or decline an agent's question and return the events up to the next stop point.",
      "Use it when state is awaiting_answer, with interrupt_id and options from pending_interrupts.",
      "Next: act on state.",
    ].join(" "),
    inputSchema: {
      run_id: runIdField,
      interrupt_id: idField("interrupt_id", "intr_18a2b3c4d5e6f708a1b2c3d4").describe(
        'From pending_interrupts. Example: "intr_18a2b3c4".',
      ),
      answer: z
        .string({ error: given("answer", "a string") })
        .optional()
        .describe('The answer; one of the options when listed. Example: "yes".'),
      decline: z
        .boolean({ error: given("decline", "true or false") })
        .default(false)
        .describe("true: decline instead of answering (default false)."),
      wait_ms: waitMsField(25_000),
    },
    outputSchema: {
      ...runOutputShape,
      ...askedOutputShape,
      interrupt_id: z.string(),
      status: z.enum(["resolved", "declined"]),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  errors: {
    not_found: (_e, { run, said }) =>
      `That interrupt was not found on ${run}.${said} Call read_run_events to see pending_interrupts, and use one of those ids.`,
    conflict: (_e, { said }) =>
      `The interrupt can no longer be answered.${said} Call read_run_events to see the run's current state and pending_interrupts.`,
    upstream: (_e, { said }) =>
      `loomcycle (or a proxy in front of it) failed.${said} The answer may or may not have been recorded: call read_run_events to check pending_interrupts before answering again.`,
  },
  attachBy: (c) => c.hardUntil - 2000,
  check(args) {
    const answer = args.answer?.trim() ?? "";
    if (args.decline && answer !== "") throw new ToolError("Give either answer or decline: true, not both.");
    if (!args.decline && answer === "") throw new ToolError("Give a non-empty answer, or decline: true to decline the question.");
  },
  async logic(args, ctx) {
    const { run, bridge, extra, clock: c } = ctx;
    const answer = args.answer?.trim() ?? "";
    const status = await answerQuestion(
      ctx,
      run,
      args.run_id,
      { interruptId: args.interrupt_id, answer, decline: args.decline },
      "host",
    );
    const asked: PersonQuestion[] = [];
    await waitAsking(
      run,
      () => isFinal(run.state) || (!run.pending.has(args.interrupt_id) && STOP_STATES.has(run.state)),
      c.waitUntil,
      extra,
      bridge,
      asked,
    );
    const snap = await readRun(run, {}, extra.signal, bridge);
    const head = { run_id: args.run_id, interrupt_id: args.interrupt_id, status };
    return { structured: { ...head, ...snap }, text: renderResult(head, snap), asked };
  },
});
