// loomcycle://runs/{run_id}: one run as a tool's result shows it — the same fields, digest
// and next step (run-reader.ts peekRun, render/run-result.ts) — over its latest events.
// Reading it never moves the host's read position.
import { ResourceTemplate, type McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Bridge } from "../bridge/bridge.js";
import { LoomcycleError, NotFoundError } from "../bridge/loomcycle/errors.js";
import { peekRun, RunGoneError, waitAttached } from "../bridge/runs/run-reader.js";
import { isId, mustMatch } from "../ids.js";
import { renderResult } from "../render/run-result.js";
import { contents, RESOURCE_READ_MS } from "./contents.js";
import { badResourceUri, INTERNAL_ERROR, ResourceError, resourceNotFound } from "./errors.js";

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
        "One run as a tool result shows it: ids, state, pending_interrupts, next_step and its most recent events (digest). Subscribe to be told when its state changes.",
      mimeType: "text/plain",
    },
    async (uri, vars) => {
      const runId = decodeURIComponent(String(vars.run_id ?? ""));
      if (!isId(runId)) throw badResourceUri(uri.href, `${mustMatch("run_id")} (got ${JSON.stringify(runId.slice(0, 40))})`);
      const signal = AbortSignal.timeout(RESOURCE_READ_MS);
      const run = bridge.tracker.getOrAttach(runId);
      let snap;
      try {
        await waitAttached(run, Date.now() + ATTACH_MS, { signal });
        snap = await peekRun(run, RECENT_EVENTS, signal);
      } catch (err) {
        // Unknown, or gone (SPEC §2): not a resource (any more).
        if (err instanceof RunGoneError) throw resourceNotFound(uri.href, err.message);
        if (err instanceof NotFoundError) throw resourceNotFound(uri.href, `loomcycle has no run ${runId} visible to this token`);
        if (err instanceof LoomcycleError) throw new ResourceError(INTERNAL_ERROR, err.message, { uri: uri.href });
        throw err;
      }
      const head = {
        run_id: runId,
        agent_id: run.agentId ?? "",
        session_id: run.sessionId ?? "",
        ...(run.agentName ? { agent: run.agentName } : {}),
        last_activity_at: new Date(run.lastActivityAt).toISOString(),
        read_position: run.readPos,
      };
      const text =
        `Run ${runId} — the last ${snap.events.length} events (from cursor ${snap.from_cursor}); read_run_events reads more.\n` +
        renderResult({ ...head, unread: snap.unread }, snap);
      return contents(uri.href, bridge, text, { ...head, ...snap });
    },
  );
}
