// Run routes: start (POST /v1/runs, POST /v1/sessions/{id}/messages),
// re-attach (GET /v1/runs/{id}/stream), steer, turn cancel, compact, and the
// database tail shared by the interactive POST stream and re-attach.
import type { AgentDef, ConvMessage } from "./agents.js";
import { compactionMessages, compactionSplit, estimateTokens, replayMessages } from "./conversation.js";
import { Engine, type LiveRun } from "./engine.js";
import {
  MessagesRequestSchema,
  ReasonSchema,
  RunInputSchema,
  RunRequestSchema,
  decodeBody,
  type RunRequest,
  type SegmentIn,
} from "./body.js";
import {
  MAX_RUN_BODY,
  applyPrincipal,
  httpError,
  tenantVisible,
  writeJSON,
  writeJSONError,
  writeRawJSON,
  type RequestCtx,
  type SimContext,
} from "./http.js";
import { SseStream } from "./sse.js";
import { makeEvent, rowToFrame, type Json, type RunRec, type SessionRec } from "./store.js";
import { agentId as newAgentId, goQuote, sleep, sortedKeys, validIdent } from "./util.js";
import { mustMatch } from "../ids.js";

const PC_FIELDS = [
  "root_agent_run_id",
  "function_key",
  "tier_at_run",
  "board_scope",
  "board_chunk_id",
  "board_document_id",
] as const;

/** A PromptSegment slice as json.Marshal writes it (text always present, the rest omitempty). */
function marshalSegments(segs: Array<SegmentIn | undefined> | undefined): unknown {
  if (segs === undefined) return null;
  return segs.map((s) => ({
    role: s?.role ?? "",
    content:
      s?.content === undefined
        ? null
        : s.content.map((c) => {
            const out: Json = { type: c?.type ?? "", text: c?.text ?? "" };
            if (c?.cacheable) out.cacheable = true;
            if (c?.kind) out.kind = c.kind;
            if (c?.media_type) out.media_type = c.media_type;
            if (c?.data) out.data = c.data;
            return out;
          }),
  }));
}

function parentContextOf(pc: Record<string, string> | undefined): { value?: Json; error?: string } {
  if (!pc) return {};
  for (const f of ["root_agent_run_id", "function_key", "tier_at_run"] as const) {
    if (Buffer.byteLength(pc[f] ?? "") > 256) return { error: `parent_context.${f} exceeds 256 bytes` };
  }
  const out: Json = {};
  for (const f of PC_FIELDS) if (pc[f]) out[f] = pc[f];
  return Object.keys(out).length > 0 ? { value: out } : {};
}

function validUserBearer(s: string): boolean {
  return /^[A-Za-z0-9._\-+/=]{16,512}$/.test(s);
}

function systemSegment(agent: AgentDef): SegmentIn {
  return { role: "system", content: [{ type: "trusted-text", text: agent.systemPrompt, cacheable: true }] };
}

/** trySessionLock: one in-flight request per session. */
function lockSession(sim: SimContext, id: string): (() => void) | undefined {
  if (sim.sessionLocks.has(id)) return undefined;
  sim.sessionLocks.add(id);
  return () => sim.sessionLocks.delete(id);
}

function sessionBusy(c: RequestCtx, id: string): void {
  writeRawJSON(c.res, 409, `{"code":"session_busy","error":"another request is in flight on session ${goQuote(id)}"}`);
}

function visibleRun(c: RequestCtx, runId: string): RunRec | undefined {
  const run = c.sim.store.runs.get(runId);
  return run && tenantVisible(c.principal, run.tenant_id) ? run : undefined;
}

function visibleSession(c: RequestCtx, id: string): SessionRec | undefined {
  const s = c.sim.store.sessions.get(id);
  return s && tenantVisible(c.principal, s.tenant_id) ? s : undefined;
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

interface StartSpec {
  agent: AgentDef;
  session: SessionRec | undefined;
  tenant: string;
  user: string;
  callerAgentId: string;
  interactive: boolean;
  /** Segments the loop runs with (system prompt first when the agent has one). */
  segments: SegmentIn[];
  /** What the opening user_input row records. */
  persistedSegments: Array<SegmentIn | undefined> | undefined;
  parentContext?: Json;
  prior: ConvMessage[];
  /** POST /v1/runs interactive: the loop is detached and the response is a DB tail. */
  detached: boolean;
  releaseLock?: () => void;
}

/** The shared tail of handleRuns / handleMessages once validation passed. */
async function startRun(c: RequestCtx, spec: StartSpec): Promise<void> {
  const { sim } = c;
  const agentIdValue = spec.callerAgentId || newAgentId(sim.store.rng);
  const session = spec.session ?? sim.store.createSession(spec.tenant, spec.agent.name, spec.user);
  const run = sim.store.createRun(session, {
    agent_id: agentIdValue,
    user_id: spec.user,
    tenant_id: spec.tenant,
    interactive: spec.interactive,
    parent_context: spec.parentContext,
  });
  if (c.replica) run.replica_id = c.replica;
  if (sim.engine.agentIdInUse(agentIdValue)) {
    sim.store.finishRun(run.id, "failed", "", undefined, "agent_id collision; run never started");
    spec.releaseLock?.();
    writeRawJSON(
      c.res,
      409,
      `{"code":"agent_id_in_use","error":"agent_id ${goQuote(agentIdValue)} is already mapped to an active run"}`,
    );
    return;
  }
  sim.store.appendRow(run.id, "user_input", { type: "user_input" }, marshalSegments(spec.persistedSegments));
  sim.store.appendRow(run.id, "system_prompt", { type: "system_prompt" }, { system_prompt: spec.agent.systemPrompt });

  const stream = new SseStream(c.res, sim.faults.takeCut(run.id), sim.opts.keepaliveMs);
  stream.start();
  stream.send("session", makeEvent({ type: "session", text: session.id }));
  stream.send(
    "agent",
    sortedKeys({
      agent_id: agentIdValue,
      run_id: run.id,
      session_id: session.id,
      parent_agent_id: null,
      parent_context: spec.parentContext ?? null,
    }),
  );

  try {
    if (spec.detached) {
      sim.engine.start({ run, agent: spec.agent, interactive: true, detached: true, segments: spec.segments, prior: spec.prior });
      await tailRun(sim, stream, run.id, 0);
      stream.end();
      return;
    }
    let live: LiveRun | undefined;
    const ended = new Promise<void>((resolve) => {
      live = sim.engine.start({
        run,
        agent: spec.agent,
        interactive: spec.interactive,
        detached: false,
        segments: spec.segments,
        prior: spec.prior,
        fwd: (ev) => stream.send(String(ev.type), ev),
        onEnd: resolve,
      });
    });
    // A bound run dies with its request.
    stream.onClientGone(() => live?.abort({ kind: "disconnect" }));
    await ended;
    stream.end();
  } finally {
    spec.releaseLock?.();
  }
}

/** POST /v1/runs. */
export async function handleRuns(c: RequestCtx): Promise<void> {
  const ct = c.req.headers["content-type"];
  if (ct !== undefined && ct !== "" && !ct.startsWith("application/json"))
    return httpError(c.res, 415, "Content-Type must be application/json");
  if (c.bodyBytes > MAX_RUN_BODY) return httpError(c.res, 413, `request body exceeds the ${MAX_RUN_BODY}-byte limit`);
  const dec = decodeBody<RunRequest>(c.body, RunRequestSchema);
  if (!dec.ok) return httpError(c.res, 400, "bad json: " + dec.error);
  const req = dec.value;
  if (!req.agent) return httpError(c.res, 400, "agent is required");
  let segments = req.segments ?? [];
  if (segments.length === 0 && req.prompt) segments = [{ role: "user", content: [{ type: "trusted-text", text: req.prompt }] }];
  if (segments.length === 0) return httpError(c.res, 400, 'no input: provide "segments" (or a top-level "prompt" string)');
  if (req.user_id && !validIdent(req.user_id)) return httpError(c.res, 400, mustMatch("user_id"));
  if (req.agent_id && !validIdent(req.agent_id)) return httpError(c.res, 400, mustMatch("agent_id"));
  const { tenant, user } = applyPrincipal(c.principal, req.user_id);
  const agent = Engine.agent(req.agent);
  if (!agent) return httpError(c.res, 400, `unknown agent ${goQuote(req.agent)}`);
  if (req.user_bearer && !validUserBearer(req.user_bearer))
    return httpError(c.res, 400, "user_bearer must match [A-Za-z0-9._\\-+/=]{16,512}");
  const pc = parentContextOf(req.parent_context);
  if (pc.error) return httpError(c.res, 400, pc.error);

  let session: SessionRec | undefined;
  let releaseLock: (() => void) | undefined;
  if (req.session_id) {
    session = visibleSession(c, req.session_id);
    if (!session) return httpError(c.res, 404, `session not found: ${req.session_id}`);
    releaseLock = lockSession(c.sim, req.session_id);
    if (!releaseLock) return sessionBusy(c, req.session_id);
  }
  const full: SegmentIn[] = [systemSegment(agent), ...segments.map((s) => s ?? {})];
  await startRun(c, {
    agent,
    session,
    tenant,
    user,
    callerAgentId: req.agent_id ?? "",
    interactive: !!req.interactive,
    segments: full,
    persistedSegments: [systemSegment(agent), ...segments],
    parentContext: pc.value,
    prior: [],
    detached: !!req.interactive,
    releaseLock,
  });
}

/** POST /v1/sessions/{id}/messages: continue a session (bound to the request, never detached). */
export async function handleMessages(c: RequestCtx): Promise<void> {
  const ct = c.req.headers["content-type"];
  if (ct !== undefined && ct !== "" && !ct.startsWith("application/json"))
    return httpError(c.res, 415, "Content-Type must be application/json");
  const id = c.params.id ?? "";
  if (c.bodyBytes > MAX_RUN_BODY) return httpError(c.res, 413, `request body exceeds the ${MAX_RUN_BODY}-byte limit`);
  const dec = decodeBody<RunRequest>(c.body, MessagesRequestSchema);
  if (!dec.ok) return httpError(c.res, 400, "bad json: " + dec.error);
  const body = dec.value;
  const session = visibleSession(c, id);
  if (!session) return httpError(c.res, 404, `session not found: ${id}`);
  const releaseLock = lockSession(c.sim, id);
  if (!releaseLock) return sessionBusy(c, id);
  let handedOff = false;
  try {
    const agent = Engine.agent(session.agent);
    if (!agent) return httpError(c.res, 400, `session refers to unknown agent ${goQuote(session.agent)}`);
    if (body.user_bearer && !validUserBearer(body.user_bearer))
      return httpError(c.res, 400, "user_bearer must match [A-Za-z0-9._\\-+/=]{16,512}");
    const pc = parentContextOf(body.parent_context);
    if (pc.error) return httpError(c.res, 400, pc.error);
    if (body.agent_id && !validIdent(body.agent_id)) return httpError(c.res, 400, mustMatch("agent_id"));
    const prior = replayMessages(c.sim.store.sessionRows(id));
    const segments = (body.segments ?? []).map((s) => s ?? {});
    handedOff = true;
    await startRun(c, {
      agent,
      session,
      tenant: session.tenant_id,
      user: session.user_id,
      callerAgentId: body.agent_id ?? "",
      interactive: !!body.interactive,
      segments: [systemSegment(agent), ...segments],
      persistedSegments: body.segments,
      parentContext: pc.value,
      prior,
      detached: false,
      releaseLock,
    });
  } finally {
    if (!handedOff) releaseLock();
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
  if (live && !terminal && !live.parkedFlag) {
    return writeJSONError(c.res, 409, "run_busy", "the agent is mid-turn; compact when it's parked waiting for your input");
  }
  const msgs = replayMessages(c.sim.store.rowsOfRun(runId));
  const before = estimateTokens(msgs);
  const noop = { run_id: runId, compacted: false, before_tokens: before, after_tokens: before, applied: "noop" };
  if (msgs.length < 4) return writeJSON(c.res, 200, noop);
  const { firstIdx, cut, ok } = compactionSplit(msgs);
  if (!ok) return writeJSON(c.res, 200, noop);
  const turns = msgs.slice(firstIdx, cut).filter((m) => m.role === "user").length;
  const summary = `The operator and the ${run.agent} agent exchanged ${turns} earlier turn(s); nothing in them is needed verbatim.`;
  const keepN = msgs.length - cut;
  const pinned = firstIdx > 0 ? (msgs[0]?.blocks ?? []).map((b) => (b.type === "text" ? b.text : "")).join("") : "";
  const after = estimateTokens(compactionMessages(pinned, summary, msgs.slice(cut)));
  let applied = "marker";
  // loomcycle v1.59 cluster: a replica that does not run the run answers "live" and drops it.
  const elsewhere = live !== undefined && (live.run.replica_id ?? "") !== c.replica;
  if (!terminal && live) {
    if (
      !elsewhere &&
      live.push({ kind: "compact", text: summary, source: steerSource(c), keepN, keepFirst: firstIdx > 0 }) === "full"
    ) {
      return httpError(c.res, 429, "run input queue full; retry shortly", { "Retry-After": "1" });
    }
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
