// loomcycle://agents: the agents this token may start, as list_agents shows them.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { agentList } from "../render/agents.js";
import { contents, RESOURCE_READ_MS } from "./contents.js";

export function registerAgentsResource(server: McpServer, bridge: Bridge): void {
  server.registerResource(
    "agents",
    "loomcycle://agents",
    {
      title: "loomcycle agents",
      description: "The loomcycle agents this token may start (names for start_interactive_run).",
      mimeType: "text/plain",
    },
    async (uri) => {
      const res = await bridge.client.runnableAgents({ signal: AbortSignal.timeout(RESOURCE_READ_MS) });
      const { structured, text } = agentList(res.agents);
      return contents(uri.href, bridge, text, structured);
    },
  );
}
