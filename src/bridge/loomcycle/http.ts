// Typed client for loomcycle's run API: one method per endpoint, each saying whether it may
// be retried (GETs) or is sent exactly once (POSTs). The machinery is in http-core.ts.
import {
  AgentStatus,
  CancelAgentResult,
  CancelTurnResult,
  CompactResult,
  Health,
  InputResult,
  InterruptList,
  Me,
  ResolveResult,
  RunnableAgents,
  SnapshotList,
  Transcript,
  UserAgents,
} from "./api-types.js";
import { HttpCore } from "./http-core.js";
import type { CallOptions, SseStream } from "./http-options.js";

export interface StartRunBody {
  agent: string;
  prompt: string;
  user_id?: string;
  agent_id?: string;
  session_id?: string;
  metadata?: Record<string, string>;
}

export interface ResolveInterruptBody {
  answer?: string;
  disposition?: "answer" | "declined";
  kind?: "question";
  resolved_by?: string;
}

export class LoomcycleClient extends HttpCore {
  // ---- run streams -------------------------------------------------------------------

  /** POST /v1/runs with `interactive: true`. Never retried. Resolves when 200 headers arrive. */
  startInteractiveRun(body: StartRunBody, opts: CallOptions = {}): Promise<SseStream> {
    const payload: Record<string, unknown> = { agent: body.agent, prompt: body.prompt, interactive: true };
    if (body.user_id !== undefined) payload["user_id"] = body.user_id;
    if (body.agent_id !== undefined) payload["agent_id"] = body.agent_id;
    if (body.session_id !== undefined) payload["session_id"] = body.session_id;
    if (body.metadata !== undefined) payload["metadata"] = body.metadata;
    return this.openStream(
      {
        method: "POST",
        path: "/v1/runs",
        body: payload,
        idempotent: false,
        stream: true,
        headersTimeoutMs: opts.headersTimeoutMs ?? this.runStartHeadersTimeoutMs,
        effect: "the run may have been created; look it up by agent_id before starting another",
      },
      opts,
    );
  }

  /** GET /v1/runs/{id}/stream?from_seq=N: replays events with seq > N, then tails. */
  streamRun(runId: string, fromSeq: number, opts: CallOptions = {}): Promise<SseStream> {
    return this.openStream(
      this.get(`/v1/runs/${seg(runId)}/stream`, opts, { from_seq: Math.max(0, Math.trunc(fromSeq)) }, true),
      opts,
    );
  }

  // ---- run control (POSTs: never retried) -----------------------------------------------

  /** POST /v1/runs/{id}/input. `delivered: true` = queued, not yet seen by the model. A 429 carries `retryAfterMs`. */
  sendInput(runId: string, text: string, opts: CallOptions = {}): Promise<InputResult> {
    return this.json(
      this.post(`/v1/runs/${seg(runId)}/input`, opts, { text }, "the message may have been delivered"),
      InputResult,
      opts,
    );
  }

  /** POST /v1/runs/{id}/cancel: stop the current turn and park the run. */
  cancelTurn(runId: string, reason?: string, opts: CallOptions = {}): Promise<CancelTurnResult> {
    return this.json(
      this.post(
        `/v1/runs/${seg(runId)}/cancel`,
        opts,
        reason === undefined ? undefined : { reason },
        "the turn may have been cancelled",
      ),
      CancelTurnResult,
      opts,
    );
  }

  /** POST /v1/agents/{id}/cancel: end the whole run (keyed by agent_id). */
  cancelAgent(agentId: string, reason?: string, opts: CallOptions = {}): Promise<CancelAgentResult> {
    return this.json(
      this.post(
        `/v1/agents/${seg(agentId)}/cancel`,
        opts,
        reason === undefined ? undefined : { reason },
        "the run may have been cancelled",
      ),
      CancelAgentResult,
      opts,
    );
  }

  /** POST /v1/runs/{run}/interrupts/{id}/resolve. */
  resolveInterrupt(
    runId: string,
    interruptId: string,
    body: ResolveInterruptBody,
    opts: CallOptions = {},
  ): Promise<ResolveResult> {
    const payload: Record<string, unknown> = {};
    if (body.kind !== undefined) payload["kind"] = body.kind;
    if (body.answer !== undefined) payload["answer"] = body.answer;
    if (body.disposition !== undefined) payload["disposition"] = body.disposition;
    if (body.resolved_by !== undefined) payload["resolved_by"] = body.resolved_by;
    return this.json(
      this.post(
        `/v1/runs/${seg(runId)}/interrupts/${seg(interruptId)}/resolve`,
        opts,
        payload,
        "the question may have been resolved",
      ),
      ResolveResult,
      opts,
    );
  }

  /** POST /v1/runs/{id}/compact (no body is read by loomcycle; `{}` is sent like the Web UI does). */
  compactRun(runId: string, opts: CallOptions = {}): Promise<CompactResult> {
    return this.json(
      this.post(`/v1/runs/${seg(runId)}/compact`, opts, {}, "the run may have been compacted"),
      CompactResult,
      opts,
    );
  }

  // ---- reads (GETs: retried) --------------------------------------------------------------

  /** GET /v1/agents/{id}: the latest run with that agent_id. A parked run reads `running`. */
  getAgent(agentId: string, opts: CallOptions = {}): Promise<AgentStatus> {
    return this.json(this.get(`/v1/agents/${seg(agentId)}`, opts), AgentStatus, opts);
  }

  /** GET /v1/users/{id}/agents; `status` defaults to `running` on loomcycle's side, `all` for any. */
  listUserAgents(userId: string, filter: { status?: string } = {}, opts: CallOptions = {}): Promise<UserAgents> {
    return this.json(this.get(`/v1/users/${seg(userId)}/agents`, opts, { status: filter.status }), UserAgents, opts);
  }

  /** GET /v1/sessions/{id}/transcript (whole session, all runs, ordered by seq). */
  transcript(sessionId: string, opts: CallOptions = {}): Promise<Transcript> {
    return this.json(this.get(`/v1/sessions/${seg(sessionId)}/transcript`, opts), Transcript, opts);
  }

  /** GET /v1/runs/{id}/interrupts; no `status` = all statuses (unlike the user-scoped list). */
  listRunInterrupts(runId: string, filter: { status?: string } = {}, opts: CallOptions = {}): Promise<InterruptList> {
    return this.json(this.get(`/v1/runs/${seg(runId)}/interrupts`, opts, { status: filter.status }), InterruptList, opts);
  }

  /** GET /v1/users/{id}/interrupts; no `status` = pending only. */
  listUserInterrupts(userId: string, filter: { status?: string } = {}, opts: CallOptions = {}): Promise<InterruptList> {
    return this.json(this.get(`/v1/users/${seg(userId)}/interrupts`, opts, { status: filter.status }), InterruptList, opts);
  }

  /** GET /v1/_snapshots (admin scope). */
  listSnapshots(filter: { limit?: number; label_contains?: string } = {}, opts: CallOptions = {}): Promise<SnapshotList> {
    return this.json(
      this.get("/v1/_snapshots", opts, { limit: filter.limit, label_contains: filter.label_contains }),
      SnapshotList,
      opts,
    );
  }

  healthz(opts: CallOptions = {}): Promise<Health> {
    return this.json(this.get("/healthz", opts), Health, opts);
  }

  me(opts: CallOptions = {}): Promise<Me> {
    return this.json(this.get("/v1/_me", opts), Me, opts);
  }

  runnableAgents(opts: CallOptions = {}): Promise<RunnableAgents> {
    return this.json(this.get("/v1/_runnable-agents", opts), RunnableAgents, opts);
  }
}

function seg(s: string): string {
  return encodeURIComponent(s);
}
