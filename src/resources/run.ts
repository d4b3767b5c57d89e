// loomcycle://runs/{run_id}: one run's ids, state, next step and latest events. Reading
// it never moves the host's read position.
import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { assessStuck, summarize } from "../bridge/runs/run-info.js";
import { recentEvents } from "../bridge/runs/run-reader.js";
import type { RunState } from "../bridge/runs/run-state.js";
import { isId, mustMatch } from "../ids.js";
import { renderResult } from "../render/run-result.js";
import { contents } from "./contents.js";

const RECENT_EVENTS = 50;
/** A read waits this long at most for the run to attach (or a released one to catch up). */
const ATTACH_MS = 5000;

export function registerRunResource(server: McpServer, bridge: Bridge): void {
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
      await run.waitUntil(() => run.showable, { deadline: Date.now() + ATTACH_MS });
      if (run.attachFailure) throw new Error(`loomcycle has no run ${runId} visible to this token`);
      const state: RunState = run.state;
      const page = recentEvents(run, RECENT_EVENTS);
      const from = page.from;
      const stuck = await assessStuck(run, bridge.client, { signal: AbortSignal.timeout(ATTACH_MS) });
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
        ...(summary.cancelled_by ? { cancelled_by: summary.cancelled_by } : {}),
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
        renderResult(head, snap);
      return contents(uri.href, bridge, text, {
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
}
