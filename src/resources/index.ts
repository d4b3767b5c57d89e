// MCP resources: loomcycle://runs, loomcycle://runs/{run_id} (subscribable),
// loomcycle://snapshots, loomcycle://agents. Each is returned twice, as readable text
// and as JSON, because OpenCode and Claude Code let models read resources directly.
// Reading a resource never moves the host's read position.
import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema, type ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import type { Bridge } from "../bridge/bridge.js";
import { assessStuck, summarize } from "../bridge/runs/run-info.js";
import { collectRuns } from "../bridge/runs/run-list.js";
import { attachFailure, isShowable, onRunChange, recentEvents } from "../bridge/runs/run-reader.js";
import type { RunState } from "../bridge/runs/run-state.js";
import { isId, mustMatch } from "../ids.js";
import { renderRuns } from "../render/run-list.js";
import { renderResult, SANDBOX_BANNER } from "../render/run-result.js";

const RECENT_EVENTS = 50;
/** Events that mark a stop point (the run parked, asked, or ended). */
const STOP_EVENTS = new Set(["awaiting_input", "interruption_pending", "done"]);
const RUN_URI = /^loomcycle:\/\/runs\/([^/?#]+)$/;

function both(uri: string, text: string, json: unknown): ReadResourceResult {
  return {
    contents: [
      { uri, mimeType: "text/plain", text },
      { uri, mimeType: "application/json", text: JSON.stringify(json) },
    ],
  };
}

/** In --sandbox, the text opens with the same banner as every tool result. */
function banner(bridge: Bridge): string {
  return bridge.sandbox ? `${SANDBOX_BANNER}\n` : "";
}

function deadline(ms: number): AbortSignal {
  return AbortSignal.timeout(ms);
}

export interface ResourceHandle {
  close(): void;
}

export function registerResources(server: McpServer, bridge: Bridge): ResourceHandle {
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

  server.registerResource(
    "run",
    new ResourceTemplate("loomcycle://runs/{run_id}", {
      list: async () => ({
        resources: bridge.tracker
          .list()
          .filter((r) => r.runId)
          .map((r) => ({
            uri: `loomcycle://runs/${r.runId}`,
            name: `run ${r.runId}`,
            description: `${r.agentName ?? "run"}: ${r.state}`,
            mimeType: "text/plain",
          })),
      }),
      complete: {
        run_id: (value) =>
          bridge.tracker
            .list()
            .map((r) => r.runId ?? "")
            .filter((id) => id && id.startsWith(value))
            .slice(0, 100),
      },
    }),
    {
      title: "loomcycle run",
      description:
        "One run: its ids, state, next step and its most recent events (digest). Subscribe to be told when its state changes.",
      mimeType: "text/plain",
    },
    async (uri, vars) => {
      const runId = String(vars.run_id ?? "");
      if (!isId(runId)) throw new Error(`${mustMatch("run_id")} (got ${JSON.stringify(runId.slice(0, 40))})`);
      const run = bridge.tracker.getOrAttach(runId);
      await run.waitUntil(() => isShowable(run), { deadline: Date.now() + 5000 });
      if (attachFailure(run)) throw new Error(`loomcycle has no run ${runId} visible to this token`);
      const state: RunState = run.state;
      const page = recentEvents(run, RECENT_EVENTS);
      const from = page.from;
      const stuck = await assessStuck(run, bridge.client, { signal: deadline(5000) });
      const summary = summarize(run, stuck);
      const snap = {
        state,
        events: page.items,
        next_cursor: page.next,
        has_more: page.hasMore,
        pending_interrupts: [...run.pending.values()],
        usage: { ...run.usage },
        ...(stuck ? { stuck } : {}),
        next_step: summary.next_step,
        ...(summary.state_as_of ? { state_as_of: summary.state_as_of } : {}),
      };
      const head = {
        run_id: runId,
        agent_id: summary.agent_id,
        session_id: summary.session_id,
        last_activity_at: summary.last_activity_at,
        read_position: run.readPos,
      };
      const text =
        `Run ${runId} — the last ${page.items.length} events (from cursor ${from}); read_run_events reads more.\n` +
        banner(bridge) +
        renderResult(head, snap);
      return both(uri.href, text, {
        ...summary,
        recent_events: page.items,
        from_cursor: from,
        next_cursor: page.next,
        pending: snap.pending_interrupts,
        usage: snap.usage,
        next: summary.next_step,
      });
    },
  );

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

  // Subscriptions: loomcycle://runs/{run_id} tells the host when the run's state changes.
  const subs = new Map<string, () => void>();
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    const uri = req.params.uri;
    const m = RUN_URI.exec(uri);
    if (!m) return {}; // other resources change too often or never; nothing to notify
    const runId = decodeURIComponent(m[1]!);
    if (!isId(runId)) throw new Error(mustMatch("run_id"));
    if (subs.has(uri)) return {};
    const run = bridge.tracker.getOrAttach(runId);
    const unhold = run.hold(); // a subscribed run keeps its stream: the host wants to hear of changes
    let last = run.state;
    let seen = run.events.length;
    const off = onRunChange(run, () => {
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
  return {
    close() {
      for (const off of subs.values()) off();
      subs.clear();
    },
  };
}
