// The tool registry: one module per tool, registered here in one place.
import { z } from "zod";
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import type { Extra, ToolDef } from "../tool-kit/define-tool.js";
import { hostCanElicitForm } from "../tool-kit/questions.js";
import { startInteractiveRun } from "./start-interactive-run.js";
import { sendSteer } from "./send-steer.js";
import { readRunEvents } from "./read-run-events.js";
import { resolveInterrupt } from "./resolve-interrupt.js";
import { listSnapshots } from "./list-snapshots.js";
import { listRuns } from "./list-runs.js";
import { attachRun } from "./attach-run.js";
import { cancelTurn } from "./cancel-turn.js";
import { cancelRun } from "./cancel-run.js";
import { listInterrupts } from "./list-interrupts.js";
import { compactRun } from "./compact-run.js";
import { listAgents } from "./list-agents.js";
import { waitForRuns } from "./wait-for-runs.js";
import { consoleRead } from "./console-read.js";
import { consoleAct } from "./console-act.js";
import { toolArguments } from "../tool-kit/arguments.js";
import { APP_ONLY, CONSOLE_LINK, declaresApps } from "../tool-kit/mcp-apps.js";
import { visible } from "../render/visible.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- heterogeneous registry; each def is checked where it is defined
export const TOOLS: ReadonlyArray<ToolDef<any, any>> = [
  startInteractiveRun,
  sendSteer,
  readRunEvents,
  resolveInterrupt,
  listSnapshots,
  listRuns,
  attachRun,
  cancelTurn,
  cancelRun,
  listInterrupts,
  compactRun,
  listAgents,
  waitForRuns,
];

/** The run console's own tools: only the app calls them, and only clients that declare
 * MCP Apps (io.modelcontextprotocol/ui) see them (src/tool-kit/mcp-apps.ts). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as TOOLS
export const APP_TOOLS: ReadonlyArray<ToolDef<any, any>> = [consoleRead, consoleAct];

/** The tools whose results the run console shows. */
const CONSOLE_LINKED = new Set(["start_interactive_run", "attach_run"]);

/** Present in every structured result when serving against the built-in simulator. */
const sandboxField = z
  .boolean()
  .optional()
  .describe("true: this result comes from the built-in loomcycle simulator (--sandbox), not a real loomcycle");

export function registerTools(server: McpServer, bridge: Bridge): void {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as TOOLS
  const register = (t: ToolDef<any, any>, meta?: Record<string, unknown>): RegisteredTool => {
    const args = toolArguments(t.name, t.config.inputSchema);
    const config = {
      ...t.config,
      inputSchema: args.listed,
      outputSchema: { ...t.config.outputSchema, sandbox: sandboxField },
      ...(meta ? { _meta: meta } : {}),
    };
    return server.registerTool(t.name, config, (given: unknown, extra: Extra) => {
      const checked = args.check(given);
      if (!checked.ok) {
        const first = checked.error.content[0];
        // The lines quote what was given: no control character in it reaches the host raw.
        if (first?.type === "text") first.text = visible(bridge.sandbox ? `[sandbox] ${first.text}` : first.text);
        return checked.error;
      }
      return t.handler(checked.args as never, bridge, {
        ...extra,
        canElicit: () => hostCanElicitForm(server.server.getClientCapabilities()),
      });
    });
  };
  for (const t of TOOLS) register(t, CONSOLE_LINKED.has(t.name) ? CONSOLE_LINK : undefined);
  // The console's tools start disabled: neither listed nor callable. Once the client has
  // initialized and declared MCP Apps, they are enabled for it (without a list_changed
  // notification: the client has not been entitled to a tool list before `initialized`).
  // A client that did not declare it lists exactly the tools above, and a call of an
  // app-only tool is refused by the SDK ("Tool console_read disabled").
  const appOnly = APP_TOOLS.map((t) => register(t, APP_ONLY));
  for (const t of appOnly) t.enabled = false;
  const previous = server.server.oninitialized;
  server.server.oninitialized = () => {
    if (declaresApps(server.server.getClientCapabilities())) for (const t of appOnly) t.enabled = true;
    previous?.();
  };
}
