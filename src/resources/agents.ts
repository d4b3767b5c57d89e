// loomcycle://agents: the agents this token may start.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { both, deadline } from "./contents.js";

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
      const res = await bridge.client.runnableAgents({ signal: deadline(8000) });
      const agents = res.agents.map((a) => ({ name: a.name, source: a.source ?? "" }));
      const text = [
        `${agents.length} runnable agents (use the name with start_interactive_run):`,
        ...agents.map((a) => `- ${a.name} (${a.source})`),
      ].join("\n");
      return both(uri.href, text, { agents, count: agents.length, has_more: false });
    },
  );
}
