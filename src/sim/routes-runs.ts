// Routes of a run once started: re-attach (GET /v1/runs/{id}/stream), steer, turn cancel,
// compact, and the database tail shared by the interactive POST stream and re-attach.
import { compactionMessages, compactionSplit, estimateTokens, replayMessages } from "./conversation.js";
import { type LiveRun } from "./engine.js";
import { SUMMARY_FAILURE } from "./live-run.js";
import { AGENTS } from "./agents.js";
import { ReasonSchema, RunInputSchema, decodeBody } from "./body.js";
import { httpError, tenantVisible, writeJSON, writeJSONError, type RequestCtx, type SimContext } from "./http.js";
import { SseStream } from "./sse.js";
import { makeEvent, rowToFrame, type RunRec } from "./store.js";
import { sleep, sortedKeys, validIdent } from "./util.js";
import { mustMatch } from "../ids.js";

function visibleRun(c: RequestCtx, runId: string): RunRec | undefined {
  const run = c.sim.store.runs.get(runId);
  return run && tenantVisible(c.principal, run.tenant_id) ? run : undefined;
}

/**
 * streamRunEvents: drain this run's rows past the cursor, stop when the run is
 * terminal and drained, otherwise poll every tailPollMs until the client goes.
 */
/** loomcycle's page size for a run's events since a seq (run_stream.go). */
const TAIL_PAGE = 500;

export async function tailRun(sim: SimContext, stream: SseStream, runId: string, fromSeq: number): Promise<void> {
  sim.tailStats.open += 1;
  try {
    await tail(sim, stream, runId, fromSeq);
  } finally {
    sim.tailStats.open -= 1;
  }
}

async function tail(sim: SimContext, stream: SseStream, runId: string, fromSeq: number): Promise<void> {
  let cursor = fromSeq;
  for (;;) {
    // A test holding the tails (faults.holdTails): nothing new goes out until it releases them.
    const held = sim.faults.tailsReleased();
    if (held) {
      sim.tailStats.held += 1;
      await new Promise<void>((resolve) => {
        void held.then(resolve);
        stream.onClientGone(resolve);
        sim.shutdown.addEventListener("abort", () => resolve(), { once: true });
      });
      sim.tailStats.held -= 1;
    }
    if (stream.isClosed || sim.shutdown.aborted) return;
    // Drain everything past the cursor in pages of 500 rows (GetRunEventsSince),
    // waiting for the socket like a blocking Go write, before deciding to stop.
    for (;;) {
      sim.tailStats.polls += 1;
      const page = sim.store.rowsOfRun(runId, cursor, TAIL_PAGE);
      for (const row of page) {
        cursor = row.seq;
        const frame = rowToFrame(row);
        if (frame) stream.send(frame[0], frame[1]);
      }
      if (stream.isClosed || sim.shutdown.aborted) return;
      await stream.drained();
      if (page.length < TAIL_PAGE) break;
    }
    const run = sim.store.runs.get(runId);
    if (!run || run.status !== "running") return;
    if (stream.isClosed || sim.shutdown.aborted) return;
    await sleep(sim.opts.tailPollMs, sim.shutdown);
    if (stream.isClosed || sim.shutdown.aborted) return;
  }
}

/** GET /v1/runs/{run_id}/stream?from_seq=N. */
export async function handleRunStream(c: RequestCtx): Promise<void> {
  const runId = c.params.run_id ?? "";
  if (!validIdent(runId)) return httpError(c.res, 400, mustMatch("run_id"));
  const run = visibleRun(c, runId);
  if (!run) return httpError(c.res, 404, "no such run");
  let fromSeq = 0;
  const q = c.query.get("from_seq");
  if (q && /^[+-]?\d+$/.test(q)) {
    const n = Number(q);
    if (Number.isSafeInteger(n) && n >= 0) fromSeq = n;
  }
  const stream = new SseStream(c.res, c.sim.faults.takeCut(runId), c.sim.opts.keepaliveMs);
  stream.start();
  stream.send("agent", sortedKeys({ agent_id: run.agent_id, run_id: runId, session_id: run.session_id }));
  await tailRun(c.sim, stream, runId, fromSeq);
  stream.end();
}

/** The steer registry entry, honouring the tenant gate (opaque 404 otherwise). */
function liveRunFor(c: RequestCtx, runId: string): LiveRun | undefined {
  const live = c.sim.engine.byRun.get(runId);
  if (!live) return undefined;
  return tenantVisible(c.principal, live.run.tenant_id) ? live : undefined;
}

function steerSource(c: RequestCtx): string {
  return /(?:^|;\s*)loomcycle_session=[^;]+/.test(c.req.headers.cookie ?? "") ? "webui" : "api";
}

/** POST /v1/runs/{run_id}/input. */
export function handleRunInput(c: RequestCtx): void {
  const runId = c.params.run_id ?? "";
  if (!validIdent(runId)) return httpError(c.res, 400, mustMatch("run_id"));
  if (c.bodyBytes > 1 << 20) return httpError(c.res, 400, "invalid JSON body: http: request body too large");
  const dec = decodeBody<{ text?: string }>(c.body, RunInputSchema);
  if (!dec.ok) return httpError(c.res, 400, `invalid JSON body: ${dec.error}`);
  const text = (dec.value.text ?? "").trim();
  if (text === "") return httpError(c.res, 422, "text is required");
  const live = liveRunFor(c, runId);
  // loomcycle v1.59 looks the run up in the answering replica's own registry only.
  if (!live || (live.run.replica_id ?? "") !== c.replica) return httpError(c.res, 404, "no in-flight run for that run_id");
  if (live.push({ kind: "", text, source: steerSource(c) }) === "full") {
    return httpError(c.res, 429, "run input queue full; retry shortly", { "Retry-After": "1" });
  }
  writeJSON(c.res, 200, sortedKeys({ run_id: runId, delivered: true }));
}

/** POST /v1/runs/{run_id}/cancel — stop the current turn and park. */
export function handleCancelTurn(c: RequestCtx): void {
  const runId = c.params.run_id ?? "";
  if (!validIdent(runId)) return httpError(c.res, 400, mustMatch("run_id"));
  const dec = decodeBody<{ reason?: string }>(c.bodyBytes > 1 << 20 ? "" : c.body, ReasonSchema);
  const reason = dec.ok ? (dec.value.reason ?? "").trim() : "";
  const live = liveRunFor(c, runId);
  if (!live) return httpError(c.res, 404, "no in-flight run for that run_id");
  if (!live.armed) {
    if (!live.interactive) {
      return writeJSONError(
        c.res,
        409,
        "not_interactive",
        "turn-cancel applies only to interactive runs; use POST /v1/agents/{id}/cancel to stop this run",
      );
    }
    return writeJSONError(c.res, 409, "not_mid_turn", "run is not mid-turn (already parked or terminal)");
  }
  live.cancelTurn(reason);
  writeJSON(c.res, 200, sortedKeys({ run_id: runId, stopped: true, parked: true }));
}

/** POST /v1/runs/{run_id}/compact (compactRunWithSource). */
export function handleCompact(c: RequestCtx): void {
  const runId = c.params.run_id ?? "";
  if (!validIdent(runId)) return httpError(c.res, 400, mustMatch("run_id"));
  const run = visibleRun(c, runId);
  if (!run) return httpError(c.res, 404, "no run for that run_id");
  const terminal = run.status !== "running";
  const live = c.sim.engine.byRun.get(runId);
  // loomcycle v1.59 cluster: a replica that does not run the run cannot see its turn (the
  // mid-turn gate is for a run live on the answering replica) and passes the compaction on.
  const elsewhere = live !== undefined && (live.run.replica_id ?? "") !== c.replica;
  if (live && !terminal && !live.parkedFlag && !elsewhere) {
    return writeJSONError(c.res, 409, "run_busy", "the agent is mid-turn; compact when it's parked waiting for your input");
  }
  const msgs = replayMessages(c.sim.store.rowsOfRun(runId));
  const before = estimateTokens(msgs);
  const noop = { run_id: runId, compacted: false, before_tokens: before, after_tokens: before, applied: "noop" };
  if (msgs.length < 4) return writeJSON(c.res, 200, noop);
  const { firstIdx, cut, ok } = compactionSplit(msgs);
  if (!ok) return writeJSON(c.res, 200, noop);
  // The summary is one model call; an agent whose summaries fail gets loomcycle's 502.
  if (AGENTS.get(run.agent)?.summaryFails) return httpError(c.res, 502, `summarize: ${SUMMARY_FAILURE}`);
  const turns = msgs.slice(firstIdx, cut).filter((m) => m.role === "user").length;
  const summary = `The operator and the ${run.agent} agent exchanged ${turns} earlier turn(s); nothing in them is needed verbatim.`;
  const keepN = msgs.length - cut;
  const pinned = firstIdx > 0 ? (msgs[0]?.blocks ?? []).map((b) => (b.type === "text" ? b.text : "")).join("") : "";
  const after = estimateTokens(compactionMessages(pinned, summary, msgs.slice(cut)));
  let applied = "marker";
  if (!terminal && live) {
    // Passed on to the owning replica, loomcycle v1.59's cross-replica steer payload carries
    // only the text and the source (steerEventPayload): the owner takes the compaction as an
    // operator message whose text is the summary — a steer and a turn on it, no
    // context_compaction (docs/conformance.md, divergence 3).
    const message = elsewhere
      ? { kind: "" as const, text: summary, source: steerSource(c) }
      : { kind: "compact" as const, text: summary, source: steerSource(c), keepN, keepFirst: firstIdx > 0 };
    if (live.push(message) === "full")
      return httpError(c.res, 429, "run input queue full; retry shortly", { "Retry-After": "1" });
    applied = "live";
  }
  if (applied === "marker") {
    c.sim.store.appendRow(
      runId,
      "context_compaction",
      makeEvent({
        type: "context_compaction",
        context_compaction: {
          summary,
          ...(before ? { before_tokens: before } : {}),
          ...(after ? { after_tokens: after } : {}),
          ...(keepN ? { keep_n: keepN } : {}),
          ...(firstIdx > 0 ? { keep_first: true } : {}),
          trigger: "manual",
        },
      }),
    );
  }
  writeJSON(c.res, 200, { run_id: runId, compacted: true, before_tokens: before, after_tokens: after, applied });
}
