// Subscriptions: loomcycle://runs/{run_id} tells the host when the run's state changes
// (or it reaches a new stop point). A subscribed run keeps its stream open.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Bridge } from "../bridge/bridge.js";
import { isId, mustMatch } from "../ids.js";
import { badResourceUri } from "./errors.js";

/** Events that mark a stop point (the run parked, asked, or ended). */
const STOP_EVENTS = new Set(["awaiting_input", "interruption_pending", "done"]);
const RUN_URI = /^loomcycle:\/\/runs\/([^/?#]+)$/;

/** Handles subscribe/unsubscribe; returns what ends every subscription (the server closing). */
export function serveRunSubscriptions(server: McpServer, bridge: Bridge): () => void {
  const subs = new Map<string, () => void>();
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    const uri = req.params.uri;
    const m = RUN_URI.exec(uri);
    if (!m) return {}; // other resources change too often or never; nothing to notify
    const runId = decodeURIComponent(m[1]!);
    if (!isId(runId)) throw badResourceUri(uri, mustMatch("run_id"));
    if (subs.has(uri)) return {};
    const run = bridge.tracker.getOrAttach(runId);
    const unhold = run.hold(); // a subscribed run keeps its stream: the host wants to hear of changes
    let last = run.state;
    let seen = run.events.length;
    const off = run.onChange(() => {
      // Frames arrive in batches: a whole turn (steer, reply, park) can land at once and
      // leave the state as it was. A new stop point counts as a change too.
      const now = run.state;
      let stopped = false;
      for (let i = seen; i < run.events.length && !stopped; i++) stopped = STOP_EVENTS.has(run.events.typeAt(i) ?? "");
      seen = run.events.length;
      if (now === last && !stopped) return;
      last = now;
      server.server.sendResourceUpdated({ uri }).catch(() => {});
    });
    subs.set(uri, () => {
      off();
      unhold();
    });
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subs.get(req.params.uri)?.();
    subs.delete(req.params.uri);
    return {};
  });
  return () => {
    for (const off of subs.values()) off();
    subs.clear();
  };
}
