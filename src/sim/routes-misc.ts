// Status, listing, transcript, interrupt, snapshot and discovery routes.
import { AGENTS } from "./agents.js";
import { ReasonSchema, ResolveSchema, decodeBody } from "./body.js";
import {
  hasScope,
  httpError,
  isAdmin,
  tenantVisible,
  writeJSON,
  writeJSONError,
  writeRawJSON,
  type Principal,
  type RequestCtx,
} from "./http.js";
import {
  agentResponseJSON,
  interruptJSON,
  rowJSON,
  sessionJSON,
  type InterruptRec,
  type Json,
  type RunRec,
  type SnapshotRec,
} from "./store.js";
import { goQuote, nowNs, rfc3339Nano, sortedKeys, validIdent } from "./util.js";
import { mustMatch } from "../ids.js";

export const SIM_VERSION = "v1.59.0-sim";
const BUILT_AT = "2026-01-01T00:00:00Z";

function unknownAgent(c: RequestCtx, agentId: string): void {
  writeRawJSON(c.res, 404, `{"code":"unknown_agent_id","error":"no run found for agent_id ${goQuote(agentId)}"}`);
}

function isIsolated(p: Principal): boolean {
  return hasScope(p.scopes, "substrate:user") && !hasScope(p.scopes, "substrate:tenant") && !isAdmin(p);
}

function visibleRunByAgent(c: RequestCtx, agentId: string): RunRec | undefined {
  const run = c.sim.store.runByAgentId(agentId);
  return run && tenantVisible(c.principal, run.tenant_id) ? run : undefined;
}

/** /healthz (any method, no auth). */
export function handleHealthz(c: RequestCtx): void {
  const uptime = Math.floor((Date.now() - c.sim.startedAt) / 1000);
  const body: Json = { ok: true, version: SIM_VERSION, commit: "sim", built: BUILT_AT };
  if (uptime > 0) body.uptime_seconds = uptime;
  body.metrics_enabled = false;
  // Cluster mode: the answering replica, and loomcycle's own view of its replicas (ListReplicas).
  if (c.sim.cluster) {
    body.replica_id = c.replica;
    body.replicas = c.sim.cluster.rowsJSON("sim", SIM_VERSION, rfc3339Nano);
  }
  writeJSON(c.res, 200, body);
}

/** GET /v1/_me. */
export function handleMe(c: RequestCtx): void {
  const p = c.principal;
  writeJSON(
    c.res,
    200,
    sortedKeys({
      tenant_id: p.tenant_id,
      subject: p.subject,
      scopes: p.scopes,
      is_admin: isAdmin(p),
      legacy: p.legacy,
      capabilities: sortedKeys({ mcp_allow_dynamic_stdio: false, http_host_allowlist_configured: false }),
    }),
  );
}

/** GET /v1/_runnable-agents. */
export function handleRunnableAgents(c: RequestCtx): void {
  const agents = [...AGENTS.keys()].sort().map((name) => ({ name, source: "bundled" }));
  writeJSON(c.res, 200, { agents });
}

/** GET /v1/agents/{agent_id}. */
export function handleGetAgent(c: RequestCtx): void {
  const agentId = c.params.agent_id ?? "";
  if (!validIdent(agentId)) return httpError(c.res, 400, mustMatch("agent_id"));
  const run = visibleRunByAgent(c, agentId);
  if (!run) return unknownAgent(c, agentId);
  writeJSON(c.res, 200, agentResponseJSON(run, c.sim.engine.byAgent.has(agentId) && (run.replica_id ?? "") === c.replica));
}

/** POST /v1/agents/{agent_id}/cancel — whole-run cancel. */
export function handleCancelAgent(c: RequestCtx): void {
  const agentId = c.params.agent_id ?? "";
  if (!validIdent(agentId)) return httpError(c.res, 400, mustMatch("agent_id"));
  let reason = "";
  const declared = Number(c.req.headers["content-length"] ?? "0");
  if (declared > 0 && c.bodyBytes <= 1 << 10) {
    const dec = decodeBody<{ reason?: string }>(c.body, ReasonSchema);
    if (dec.ok) reason = dec.value.reason ?? "";
  }
  if (!visibleRunByAgent(c, agentId)) return unknownAgent(c, agentId);
  if (c.sim.engine.cancelAgent(agentId, reason)) {
    const out: Json = { cancelled: true, agent_id: agentId };
    if (reason) out.reason = reason;
    return writeJSON(c.res, 200, out);
  }
  const run = c.sim.store.runByAgentId(agentId);
  if (!run) return unknownAgent(c, agentId);
  writeJSON(c.res, 200, { cancelled: false, agent_id: agentId, status: run.status });
}

/** GET /v1/users/{user_id}/agents?status=. */
export function handleListUserAgents(c: RequestCtx): void {
  const userId = c.params.user_id ?? "";
  if (!validIdent(userId)) return httpError(c.res, 400, mustMatch("user_id"));
  if (isIsolated(c.principal) && userId !== c.principal.subject) return writeJSON(c.res, 200, { agents: [] });
  let status = c.query.get("status") ?? "";
  if (status === "") status = "running";
  if (status === "all") status = "";
  const admin = isAdmin(c.principal);
  const focus = admin ? (c.query.get("tenant") ?? "") : c.principal.tenant_id;
  const out = c.sim.store
    .runsByUser(userId, status)
    .filter((r) => (admin && focus === "") || r.tenant_id === focus)
    .map((r) => agentResponseJSON(r, c.sim.engine.byAgent.has(r.agent_id) && (r.replica_id ?? "") === c.replica));
  writeJSON(c.res, 200, { agents: out });
}

/** GET /v1/sessions/{id}/transcript. */
export function handleTranscript(c: RequestCtx): void {
  const id = c.params.id ?? "";
  const sess = c.sim.store.sessions.get(id);
  if (!sess || !tenantVisible(c.principal, sess.tenant_id)) return httpError(c.res, 404, `session not found: ${id}`);
  writeJSON(c.res, 200, { session: sessionJSON(sess), events: c.sim.store.sessionRows(id).map(rowJSON) });
}

// ---- interrupts --------------------------------------------------------------------

/** GET /v1/runs/{run_id}/interrupts — all statuses unless ?status=. */
export function handleListRunInterrupts(c: RequestCtx): void {
  const runId = c.params.run_id ?? "";
  if (!validIdent(runId)) return httpError(c.res, 400, mustMatch("run_id"));
  let status = c.query.get("status") ?? "";
  if (status === "all") status = "";
  const run = c.sim.store.runs.get(runId);
  if (!run || !tenantVisible(c.principal, run.tenant_id)) return writeJSON(c.res, 200, { interrupts: [], total: 0 });
  const rows = c.sim.store.listInterrupts((r) => r.run_id === runId && (status === "" || r.status === status)).map(interruptJSON);
  writeJSON(c.res, 200, { interrupts: rows, total: rows.length });
}

/** GET /v1/users/{user_id}/interrupts — pending unless ?status=. */
export function handleListUserInterrupts(c: RequestCtx): void {
  const userId = c.params.user_id ?? "";
  if (!validIdent(userId)) return httpError(c.res, 400, mustMatch("user_id"));
  let status = c.query.get("status") ?? "";
  if (status === "") status = "pending";
  if (status === "all") status = "";
  const visible = (r: InterruptRec): boolean => {
    const run = c.sim.store.runs.get(r.run_id);
    return !!run && tenantVisible(c.principal, run.tenant_id);
  };
  const rows = c.sim.store
    .listInterrupts((r) => r.user_id === userId && (status === "" || r.status === status) && visible(r))
    .map(interruptJSON);
  writeJSON(c.res, 200, { interrupts: rows, total: rows.length });
}

/** POST /v1/runs/{run_id}/interrupts/{interrupt_id}/resolve (connector ResolveInterrupt). */
export function handleResolveInterrupt(c: RequestCtx): void {
  const runId = c.params.run_id ?? "";
  const interruptId = c.params.interrupt_id ?? "";
  if (!validIdent(runId) || !validIdent(interruptId)) return httpError(c.res, 400, mustMatch("run_id / interrupt_id"));
  if (c.bodyBytes > 1 << 20) return httpError(c.res, 400, "invalid JSON body: http: request body too large");
  const dec = decodeBody<{ kind?: string; answer?: string; resolved_by?: string; disposition?: string }>(c.body, ResolveSchema);
  if (!dec.ok) return httpError(c.res, 400, `invalid JSON body: ${dec.error}`);
  const { answer = "", disposition = "" } = dec.value;
  const kind = dec.value.kind || "question";
  let resolvedBy = dec.value.resolved_by ?? "";
  if (resolvedBy === "") resolvedBy = /(?:^|;\s*)loomcycle_session=[^;]+/.test(c.req.headers.cookie ?? "") ? "webui" : "api";

  if (kind !== "question") return httpError(c.res, 422, `unsupported kind ${goQuote(kind)} (v0.8.16 supports: question)`);
  if (!["", "answer", "declined"].includes(disposition)) {
    return httpError(c.res, 422, `unsupported disposition ${goQuote(disposition)} (valid: answer, declined)`);
  }
  const declined = disposition === "declined";
  if (declined && answer !== "") return httpError(c.res, 422, "declined disposition must not carry an answer");

  const { store } = c.sim;
  const row = store.interrupts.get(interruptId);
  if (!row) return httpError(c.res, 404, "interrupt not found");
  if (row.run_id !== runId) return httpError(c.res, 404, "interrupt does not belong to that run");
  const run = store.runs.get(row.run_id);
  if (!run || !tenantVisible(c.principal, run.tenant_id)) return httpError(c.res, 404, "interrupt not found");
  const now = nowNs();
  if (row.status !== "pending") {
    if (row.status === "timed_out" && row.expires_ns !== undefined && row.expires_ns < now)
      return httpError(c.res, 410, "interrupt expired");
    return httpError(c.res, 409, `interrupt already ${row.status}`);
  }
  if (row.expires_ns !== undefined && row.expires_ns < now) return httpError(c.res, 410, "interrupt expired");
  if (!declined) {
    if (row.options && row.options.length > 0) {
      if (!row.options.includes(answer)) {
        return httpError(c.res, 422, `answer ${goQuote(answer)} is not one of the declared options: [${row.options.join(" ")}]`);
      }
    } else if (answer === "") {
      return httpError(c.res, 422, "answer is required for free-text interrupts");
    }
  }
  const finalStatus = declined ? "declined" : "resolved";
  if (!store.finishInterrupt(interruptId, finalStatus, resolvedBy, declined ? "" : answer)) {
    return httpError(c.res, 409, "interrupt already resolved, timed out, or cancelled");
  }
  c.sim.engine.notifyInterrupt(interruptId);
  writeJSON(c.res, 200, sortedKeys({ interrupt_id: interruptId, status: finalStatus, resolved_at: rfc3339Nano(nowNs()) }));
}

// ---- snapshots (operator admin) ----------------------------------------------------------

function snapshotEntry(s: SnapshotRec): Json {
  const out: Json = { id: s.id, created_at: s.created_at };
  if (s.label) out.label = s.label;
  out.schema_version = s.schema_version;
  out.byte_size = s.byte_size;
  return out;
}

/** GET /v1/_snapshots?limit=&label_contains=. */
export function handleListSnapshots(c: RequestCtx): void {
  const labelContains = c.query.get("label_contains") ?? "";
  let limit = 200;
  const raw = c.query.get("limit") ?? "";
  if (raw !== "") {
    const n = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < 0)
      return writeJSONError(c.res, 400, "invalid_limit", "limit must be a non-negative integer");
    if (n > 0) limit = n;
  }
  writeJSON(c.res, 200, { entries: c.sim.store.listSnapshots(labelContains, limit).map(snapshotEntry) });
}
