// MCP resources: loomcycle://runs, loomcycle://runs/{run_id} (subscribable),
// loomcycle://snapshots, loomcycle://agents, one module each. Each is returned twice, as
// readable text and as JSON (contents.ts). Reading a resource never moves the host's read
// position.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { registerRunsResource } from "./runs.js";
import { registerRunResource } from "./run.js";
import { registerSnapshotsResource } from "./snapshots.js";
import { registerAgentsResource } from "./agents.js";
import { serveRunSubscriptions } from "./subscriptions.js";

export interface ResourceHandle {
  close(): void;
}

export function registerResources(server: McpServer, bridge: Bridge): ResourceHandle {
  registerRunsResource(server, bridge);
  registerRunResource(server, bridge);
  registerSnapshotsResource(server, bridge);
  registerAgentsResource(server, bridge);
  return { close: serveRunSubscriptions(server, bridge) };
}
