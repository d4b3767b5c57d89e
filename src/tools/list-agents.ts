import { z } from "zod";
import { defineTool } from "../tool-kit/define-tool.js";
import { agentList } from "../render/agents.js";

export const listAgents = defineTool({
  name: "list_agents",
  config: {
    title: "List runnable loomcycle agents",
    description: [
      "List the loomcycle agents this token may start (name, source).",
      "Use it before start_interactive_run to pick a valid agent name.",
    ].join(" "),
    inputSchema: {},
    outputSchema: {
      agents: z.array(z.object({ name: z.string(), source: z.string() })),
      count: z.number().int(),
      has_more: z.boolean().describe("Always false: every runnable agent is listed"),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  },
  async logic(_args, { bridge, signal }) {
    const res = await bridge.client.runnableAgents({ signal: signal() });
    return agentList(res.agents);
  },
});
