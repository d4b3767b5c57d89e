// loomcycle://runs: the runs the host can drive.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { collectRuns } from "../bridge/runs/run-list.js";
import { renderRuns } from "../render/run-list.js";
import { banner, both, deadline } from "./contents.js";

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
      const { runs, remoteError, hasMore } = await collectRuns(bridge, deadline(8000));
      return both(uri.href, banner(bridge) + renderRuns(runs, remoteError, hasMore), {
        runs,
        count: runs.length,
        has_more: hasMore,
      });
    },
  );
}
