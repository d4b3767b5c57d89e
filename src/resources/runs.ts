// loomcycle://runs: the runs the host can drive, as list_runs shows them.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { collectRuns } from "../bridge/runs/run-list.js";
import { runList } from "../render/run-list.js";
import { contents, RESOURCE_READ_MS } from "./contents.js";

export function registerRunsResource(server: McpServer, bridge: Bridge): void {
  server.registerResource(
    "runs",
    "loomcycle://runs",
    {
      title: "loomcycle runs",
      description:
        "The interactive runs this bridge follows plus the user's running interactive runs on loomcycle, grouped by state, with what to do next.",
      mimeType: "text/plain",
    },
    async (uri) => {
      const { runs, notes, hasMore } = await collectRuns(bridge, AbortSignal.timeout(RESOURCE_READ_MS));
      const { structured, text } = runList(runs, { notes, hasMore });
      return contents(uri.href, bridge, text, structured);
    },
  );
}
