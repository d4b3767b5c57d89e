// Run-starting routes: POST /v1/runs and POST /v1/sessions/{id}/messages, their checks,
// and the start they share (an interactive POST answers with the database tail).
import type { AgentDef, ConvMessage } from "./agents.js";
import { replayMessages } from "./conversation.js";
import { Engine, type LiveRun } from "./engine.js";
import { MessagesRequestSchema, RunRequestSchema, decodeBody, type RunRequest, type SegmentIn } from "./body.js";
import {
  MAX_RUN_BODY,
  applyPrincipal,
  httpError,
  tenantVisible,
  writeRawJSON,
  type RequestCtx,
  type SimContext,
} from "./http.js";
import { SseStream } from "./sse.js";
import { makeEvent, type Json, type SessionRec } from "./store.js";
import { agentId as newAgentId, goQuote, sortedKeys, validIdent } from "./util.js";
import { mustMatch } from "../ids.js";
import { tailRun } from "./routes-runs.js";

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

function visibleSession(c: RequestCtx, id: string): SessionRec | undefined {
  const s = c.sim.store.sessions.get(id);
  return s && tenantVisible(c.principal, s.tenant_id) ? s : undefined;
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
