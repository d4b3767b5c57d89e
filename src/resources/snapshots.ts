// loomcycle://snapshots: loomcycle's operator snapshots, as list_snapshots shows them.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { snapshotList } from "../render/snapshots.js";
import { contents, RESOURCE_READ_MS } from "./contents.js";

/** loomcycle returns at most this many snapshots: a full page may have been cut. */
const SERVER_MAX = 200;

export function registerSnapshotsResource(server: McpServer, bridge: Bridge): void {
  server.registerResource(
    "snapshots",
    "loomcycle://snapshots",
    {
      title: "loomcycle snapshots",
      description: "loomcycle's operator snapshots, newest first (admin token needed).",
      mimeType: "text/plain",
    },
    async (uri) => {
      const res = await bridge.client.listSnapshots({ limit: SERVER_MAX }, { signal: AbortSignal.timeout(RESOURCE_READ_MS) });
      const { structured, text } = snapshotList(res.entries, res.entries.length >= SERVER_MAX);
      return contents(uri.href, bridge, text, structured);
    },
  );
}
