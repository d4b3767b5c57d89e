// MCP resources: loomcycle://runs, loomcycle://runs/{run_id} (subscribable),
// loomcycle://snapshots, loomcycle://agents, one module each. Each is returned twice, as
// readable text and as JSON (contents.ts). Reading a resource never moves the host's read
// position.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError, ReadResourceRequestSchema, type ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import type { Bridge } from "../bridge/bridge.js";
import { registerRunsResource } from "./runs.js";
import { registerRunResource } from "./run.js";
import { registerSnapshotsResource } from "./snapshots.js";
import { registerAgentsResource } from "./agents.js";
import { serveRunSubscriptions } from "./subscriptions.js";
import { badResourceUri, resourceNotFound } from "./errors.js";

export interface ResourceHandle {
  close(): void;
}

export function registerResources(server: McpServer, bridge: Bridge): ResourceHandle {
  registerRunsResource(server, bridge);
  registerRunResource(server, bridge);
  registerSnapshotsResource(server, bridge);
  registerAgentsResource(server, bridge);
  answerReadsWithResourceCodes(server);
  return { close: serveRunSubscriptions(server, bridge) };
}

type ReadHandler = (req: { params: { uri: string } }, extra: unknown) => Promise<ReadResourceResult>;

/**
 * The SDK's resources/read answers a URI it cannot parse with -32603 and one no resource
 * matches with -32602 "Resource … not found"; MCP says -32602 for the first and -32002
 * "Resource not found" for the second. Its handler is wrapped (McpServer keeps it in the
 * protocol's handler map, which has no public getter), so every registered resource is still
 * found exactly as the SDK finds it; tests/tools/resources.test.ts checks both codes.
 */
function answerReadsWithResourceCodes(server: McpServer): void {
  const handlers = (server.server as unknown as { _requestHandlers?: Map<string, ReadHandler> })._requestHandlers;
  const sdkRead = handlers?.get("resources/read");
  if (!sdkRead) return;
  server.server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
    const uri = req.params.uri;
    if (!URL.canParse(uri)) throw badResourceUri(uri, `${JSON.stringify(uri.slice(0, 80))} is not a URI`);
    try {
      return await sdkRead(req, extra);
    } catch (err) {
      if (err instanceof McpError && err.code === ErrorCode.InvalidParams && / not found$/.test(err.message))
        throw resourceNotFound(
          uri,
          "no resource of this bridge has this URI (loomcycle://runs, loomcycle://runs/{run_id}, loomcycle://snapshots, loomcycle://agents)",
        );
      throw err;
    }
  });
}
