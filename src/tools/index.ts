// The tool registry: one module per tool, registered here in one place.
import { z } from "zod";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
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
import { toolArguments } from "../tool-kit/arguments.js";

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

/** Present in every structured result when serving against the built-in simulator. */
const sandboxField = z
  .boolean()
  .optional()
  .describe("true: this result comes from the built-in loomcycle simulator (--sandbox), not a real loomcycle");

export function registerTools(server: McpServer, bridge: Bridge): void {
  for (const t of TOOLS) {
    const args = toolArguments(t.name, t.config.inputSchema);
    const config = { ...t.config, inputSchema: args.listed, outputSchema: { ...t.config.outputSchema, sandbox: sandboxField } };
    server.registerTool(t.name, config, (given: unknown, extra: Extra) => {
      const checked = args.check(given);
      if (!checked.ok) {
        const first = checked.error.content[0];
        if (bridge.sandbox && first?.type === "text") first.text = `[sandbox] ${first.text}`;
        return checked.error;
      }
      return t.handler(checked.args as never, bridge, {
        ...extra,
        canElicit: () => hostCanElicitForm(server.server.getClientCapabilities()),
      });
    });
  }
}
