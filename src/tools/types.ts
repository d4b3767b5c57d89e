// The shape every tool module exports (one module per tool, registered from index.ts).
import type { z } from "zod";
import type { CallToolResult, ServerNotification, ServerRequest, ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Bridge } from "../bridge/bridge.js";

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification> & {
  /** The host declared form elicitation (set by the tool registry). */
  canElicit?: () => boolean;
};

export interface ToolDef<In extends z.ZodRawShape = z.ZodRawShape, Out extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  config: {
    title: string;
    description: string;
    inputSchema: In;
    outputSchema: Out;
    annotations: Required<Pick<ToolAnnotations, "readOnlyHint" | "destructiveHint" | "idempotentHint" | "openWorldHint">> & ToolAnnotations;
  };
  handler: (args: z.infer<z.ZodObject<In>>, bridge: Bridge, extra: Extra) => Promise<CallToolResult>;
}

export function defineTool<In extends z.ZodRawShape, Out extends z.ZodRawShape>(def: ToolDef<In, Out>): ToolDef<In, Out> {
  return def;
}
