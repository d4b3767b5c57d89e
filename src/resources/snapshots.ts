// loomcycle://snapshots: loomcycle's operator snapshots.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { both, deadline } from "./contents.js";

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
      const res = await bridge.client.listSnapshots({ limit: 200 }, { signal: deadline(8000) });
      const snapshots = res.entries.map((e) => ({
        id: e.id,
        label: e.label ?? "",
        created_at: e.created_at,
        byte_size: e.byte_size ?? 0,
        schema_version: e.schema_version ?? 0,
      }));
      // loomcycle returns at most 200; a full page may have been cut.
      const has_more = snapshots.length >= 200;
      const text = [
        `${snapshots.length} snapshots (newest first)${has_more ? "; loomcycle lists at most 200, more may exist (list_snapshots with label_contains narrows it)" : ""}:`,
        ...snapshots.map((s) => `- ${s.id} label=${JSON.stringify(s.label)} created_at=${s.created_at} byte_size=${s.byte_size}`),
      ].join("\n");
      return both(uri.href, text, { snapshots, count: snapshots.length, has_more });
    },
  );
}
