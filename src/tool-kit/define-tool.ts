// The tool wrapper: a tool declares whether it works on a run and how it words its own
// errors; the wrapper owns the call's clock, attaching to the run and waiting for it, the
// error mapping, and the sandbox banner on both the text and the structured result.
import type { z } from "zod";
import type { CallToolResult, ServerNotification, ServerRequest, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Bridge } from "../bridge/bridge.js";
import type { TrackedRun } from "../bridge/runs/tracked-run.js";
import { waitAttached } from "../bridge/runs/run-reader.js";
import { SANDBOX_BANNER } from "../render/run-result.js";
import { visible } from "../render/visible.js";
import { callSignal, clock, waitOptions, type CallClock } from "./call.js";
import { errorResult, type ErrorContext, type ToolErrors } from "./errors.js";
import { renderAsked, type PersonQuestion } from "./asked.js";

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification> & {
  /** The host declared form elicitation (set by the tool registry). */
  canElicit?: () => boolean;
};

/** What a tool's logic returns: the structured result, its text, and what the person was asked. */
export interface ToolReply {
  structured: Record<string, unknown>;
  text: string;
  asked?: readonly PersonQuestion[];
}

export interface ToolContext {
  bridge: Bridge;
  extra: Extra;
  clock: CallClock;
  /** The run named by run_id, attached and settled (tools declared with `attachBy`). */
  run: TrackedRun;
  /** A signal for loomcycle requests: ends on the host's cancel or the call's hard deadline. */
  signal(): AbortSignal;
  /** Appended to the error text when the call fails (e.g. that no run was created). */
  errorNote?: string;
}

interface ToolConfig<In extends z.ZodRawShape, Out extends z.ZodRawShape> {
  title: string;
  description: string;
  inputSchema: In;
  outputSchema: Out;
  annotations: Required<Pick<ToolAnnotations, "readOnlyHint" | "destructiveHint" | "idempotentHint" | "openWorldHint">> &
    ToolAnnotations;
}

export interface ToolSpec<In extends z.ZodRawShape, Out extends z.ZodRawShape> {
  name: string;
  config: ToolConfig<In, Out>;
  /** The tool's own wording of its failures, consulted before the shared wording (errors.ts). */
  errors?: ToolErrors;
  /** The call's wait when the tool takes no wait_ms (its whole bound is this + a few seconds). */
  waitMs?: number;
  /** The call works on args.run_id (when given): attach to it and let it settle by this deadline. */
  attachBy?: (c: CallClock) => number;
  /** Checks of the arguments that the schema cannot say, before anything is attached or sent. */
  check?: (args: z.infer<z.ZodObject<In>>) => void;
  logic: (args: z.infer<z.ZodObject<In>>, ctx: ToolContext) => Promise<ToolReply>;
}

export interface ToolDef<In extends z.ZodRawShape = z.ZodRawShape, Out extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  config: ToolConfig<In, Out>;
  errors: ToolErrors;
  handler: (args: z.infer<z.ZodObject<In>>, bridge: Bridge, extra: Extra) => Promise<CallToolResult>;
}

/** A run is attached within the call's wait, and at least the bridge's attach bound (3 s). */
export const ATTACH_WITHIN_WAIT = (c: CallClock): number => Math.max(c.waitUntil, c.attachUntil);

export function defineTool<In extends z.ZodRawShape, Out extends z.ZodRawShape>(spec: ToolSpec<In, Out>): ToolDef<In, Out> {
  const handler = async (args: z.infer<z.ZodObject<In>>, bridge: Bridge, extra: Extra): Promise<CallToolResult> => {
    const a = args as Record<string, unknown>;
    const c = clock(typeof a.wait_ms === "number" ? a.wait_ms : (spec.waitMs ?? 0), bridge.timings.attachWithinMs);
    let run: TrackedRun | undefined;
    const ctx: ToolContext = {
      bridge,
      extra,
      clock: c,
      get run(): TrackedRun {
        if (!run) throw new Error(`${spec.name} declared no attachBy`);
        return run;
      },
      signal: () => callSignal(extra, c),
    };
    let res: CallToolResult;
    // A failure while attaching (no such run, loomcycle unreachable) is the run's, not the
    // tool's: every tool words it the same (issue 19 item 7), never with its own map, whose
    // sentences are about its own request (a steer's 404 is not an unknown run).
    let attaching = false;
    try {
      spec.check?.(args);
      if (spec.attachBy && typeof a.run_id === "string") {
        attaching = true;
        run = bridge.tracker.getOrAttach(a.run_id);
        await waitAttached(run, spec.attachBy(c), waitOptions(run, extra, bridge));
        attaching = false;
      }
      const reply = await spec.logic(args, ctx);
      const asked = reply.asked ?? [];
      const structured =
        asked.length > 0 ? { ...reply.structured, questions_to_person: asked.map((q) => ({ ...q })) } : reply.structured;
      const text = asked.length > 0 ? [reply.text, ...renderAsked(asked)].join("\n") : reply.text;
      res = {
        structuredContent: bridge.sandbox ? { ...structured, sandbox: true } : structured,
        // Agent output in the text is data: no control character reaches the host raw.
        content: [{ type: "text", text: visible(bridge.sandbox ? `${SANDBOX_BANNER}\n${text}` : text) }],
      };
    } catch (err) {
      const about: ErrorContext = {};
      if (typeof a.run_id === "string") about.runId = a.run_id;
      if (typeof a.session_id === "string") about.sessionId = a.session_id;
      if (run) about.tracked = run;
      res = errorResult(err, bridge, about, attaching ? {} : spec.errors, spec.name);
      const first = res.content[0];
      if (first?.type === "text") {
        if (ctx.errorNote) first.text += ctx.errorNote;
        if (bridge.sandbox) first.text = `[sandbox] ${first.text}`;
        // An error may quote loomcycle or the agent (a question's options, loomcycle's words).
        first.text = visible(first.text);
      }
    }
    return res;
  };
  return { name: spec.name, config: spec.config, errors: spec.errors ?? {}, handler };
}
