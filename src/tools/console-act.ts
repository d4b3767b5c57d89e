// What the person does from the run console (an app-only tool: listed only to clients that
// declare MCP Apps): steer, answer or decline a question, stop the turn, end the run. Each
// goes through the same code as the model's tool for it (src/tool-kit/run-actions.ts), is
// recorded as the person's, so the model's next read shows it marked "person", and returns
// as soon as loomcycle accepted it: the console's long-poll (console_read) shows what follows.
// It reads nothing, so the model's read position stays where it was.
import { z } from "zod";
import { ToolError } from "../bridge/loomcycle/errors.js";
import type { Bridge } from "../bridge/bridge.js";
import type { TrackedRun } from "../bridge/runs/tracked-run.js";
import { answerQuestion, deliverSteer, endRun, stopTurn } from "../tool-kit/run-actions.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { errorResult, type ToolErrors } from "../tool-kit/errors.js";
import { given, idField, reasonField, runIdField } from "../tool-kit/fields.js";
import { runOutputShape } from "../tool-kit/schemas.js";
import { sendSteer } from "./send-steer.js";
import { resolveInterrupt } from "./resolve-interrupt.js";
import { cancelTurn } from "./cancel-turn.js";
import { cancelRun } from "./cancel-run.js";

const ACTIONS = ["steer", "answer", "decline", "cancel_turn", "cancel_run"] as const;
type ConsoleAction = (typeof ACTIONS)[number];

/** The arguments each action takes besides run_id (reason is optional where it appears). */
const TAKES: Record<ConsoleAction, ReadonlyArray<"text" | "interrupt_id" | "answer" | "reason">> = {
  steer: ["text"],
  answer: ["interrupt_id", "answer"],
  decline: ["interrupt_id"],
  cancel_turn: ["reason"],
  cancel_run: ["reason"],
};

/** The model's tool for the same action, whose wording of loomcycle's refusals the person gets too. */
const ERRORS_AS: Record<ConsoleAction, ToolErrors> = {
  steer: sendSteer.errors,
  answer: resolveInterrupt.errors,
  decline: resolveInterrupt.errors,
  cancel_turn: cancelTurn.errors,
  cancel_run: cancelRun.errors,
};

/** The line an action's failure shows the person: the same as the model's tool would say. */
function refusal(err: unknown, action: ConsoleAction, bridge: Bridge, run: TrackedRun, runId: string): ToolError {
  if (err instanceof ToolError) return err;
  const first = errorResult(err, bridge, { runId, tracked: run }, ERRORS_AS[action], "console_act").content[0];
  return new ToolError(first?.type === "text" ? first.text : String(err));
}

function shortQuote(s: string): string {
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}

export const consoleAct = defineTool({
  name: "console_act",
  config: {
    title: "Run console: act on a run",
    description: [
      "For the run console app only: the person steers the run, answers or declines its question, stops its turn or ends it.",
      "Returns once loomcycle accepted it; the model's next read shows it as the person's.",
    ].join(" "),
    inputSchema: {
      run_id: runIdField,
      action: z
        .enum(ACTIONS, { error: given("action", '"steer", "answer", "decline", "cancel_turn" or "cancel_run"') })
        .describe(
          'What to do: "steer" (text), "answer" (interrupt_id, answer), "decline" (interrupt_id), "cancel_turn", "cancel_run".',
        ),
      text: z
        .string({ error: given("text", "a string") })
        .optional()
        .describe('steer: the message. Example: "Use the staging database."'),
      interrupt_id: idField("interrupt_id", "intr_18a2b3c4d5e6f708a1b2c3d4")
        .optional()
        .describe('answer, decline: the question, from pending_interrupts. Example: "intr_18a2b3c4".'),
      answer: z
        .string({ error: given("answer", "a string") })
        .optional()
        .describe('answer: one of the question\'s options when it lists some. Example: "yes".'),
      reason: reasonField,
    },
    outputSchema: {
      run_id: z.string(),
      action: z.enum(ACTIONS),
      done: z.literal(true).describe("loomcycle accepted it"),
      state: runOutputShape.state,
      message: z.string().describe('One short line for the person, e.g. "Sent."'),
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  },
  waitMs: 10_000,
  attachBy: (c) => c.attachUntil,
  check(args) {
    const takes = TAKES[args.action];
    for (const f of ["text", "interrupt_id", "answer", "reason"] as const) {
      if (args[f] !== undefined && !takes.includes(f)) {
        const which = ACTIONS.filter((a) => TAKES[a].includes(f)).map((a) => `"${a}"`);
        throw new ToolError(`${f} does not go with action "${args.action}" (it is for ${which.join(" and ")})`);
      }
    }
    if (args.action === "steer" && (args.text ?? "").trim() === "")
      throw new ToolError(`text is ${args.text === undefined ? "missing" : "empty"}: action "steer" sends it to the run`);
    if ((args.action === "answer" || args.action === "decline") && args.interrupt_id === undefined)
      throw new ToolError(`interrupt_id is missing: action "${args.action}" needs the question's id, from pending_interrupts`);
    if (args.action === "answer" && (args.answer ?? "").trim() === "")
      throw new ToolError(
        `answer is ${args.answer === undefined ? "missing" : "empty"}: action "answer" sends it (or use action "decline")`,
      );
  },
  async logic(args, ctx) {
    const { run, bridge } = ctx;
    const id = args.run_id;
    let message: string;
    try {
      switch (args.action) {
        case "steer":
          await deliverSteer(ctx, run, id, args.text!.trim(), "person");
          message = "Sent.";
          break;
        case "answer": {
          const answer = args.answer!.trim();
          await answerQuestion(ctx, run, id, { interruptId: args.interrupt_id!, answer, decline: false }, "person");
          message = `Answered ${shortQuote(answer)}.`;
          break;
        }
        case "decline":
          await answerQuestion(ctx, run, id, { interruptId: args.interrupt_id!, answer: "", decline: true }, "person");
          message = "Declined.";
          break;
        case "cancel_turn":
          await stopTurn(ctx, run, id, args.reason, "person");
          message = "Turn cancelled.";
          break;
        case "cancel_run": {
          const res = await endRun(ctx, run, id, args.reason, "person");
          if (!res.cancelled) {
            const why = res.status
              ? `it had already ended (${res.status})`
              : res.reason
                ? res.reason
                : "loomcycle gave no reason";
            throw new ToolError(`loomcycle did not cancel run ${id}: ${why}.`);
          }
          message = "Run cancelled.";
          break;
        }
      }
    } catch (err) {
      throw refusal(err, args.action, bridge, run, id);
    }
    const structured = { run_id: id, action: args.action, done: true as const, state: run.state, message };
    return { structured, text: `${message}\nrun_id=${id} action=${args.action} done=true state=${structured.state}` };
  },
});
