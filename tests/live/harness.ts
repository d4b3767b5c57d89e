// The live tier's view of a real loomcycle: its settings from the environment, a direct
// HTTP reader of what loomcycle itself records (the session transcript, a tail stream read
// from 0, run status), and the built bridge spawned over stdio exactly as a host runs it.
// Nothing here knows the simulator: every expected value comes from loomcycle.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execSync } from "node:child_process";
import { createParser } from "eventsource-parser";
import { StdioPeer } from "../stdio-peer.js";

export interface LiveEnv {
  url: string;
  token: string;
  userToken: string | undefined;
  /** Subject of the user token (the principal's user id); from LOOMCYCLE_LIVE_USER_ID. */
  userTokenSubject: string;
  /** A shell command that restarts loomcycle and returns once it answers /healthz again. */
  restartCmd: string | undefined;
  /** Cluster: the replicas' own URLs (LOOMCYCLE_LIVE_URL is then their load balancer). */
  replicaUrls: string[];
  /** Cluster: a command taking `stop <replica_id>` or `start <replica_id>`, returning when done. */
  replicaCmd: string | undefined;
  userId: string;
}

/** The live settings, or why the tier cannot run. */
export function liveEnv(env: NodeJS.ProcessEnv = process.env): LiveEnv | { skip: string } {
  const url = env.LOOMCYCLE_LIVE_URL?.trim();
  const token = env.LOOMCYCLE_LIVE_TOKEN?.trim();
  if (!url || !token) {
    const missing = [!url && "LOOMCYCLE_LIVE_URL", !token && "LOOMCYCLE_LIVE_TOKEN"].filter(Boolean).join(" and ");
    return { skip: `${missing} not set (see tests/live/README.md)` };
  }
  return {
    url: url.replace(/\/+$/, ""),
    token,
    userToken: env.LOOMCYCLE_LIVE_USER_TOKEN?.trim() || undefined,
    userTokenSubject: env.LOOMCYCLE_LIVE_USER_ID?.trim() || "live-user",
    restartCmd: env.LOOMCYCLE_LIVE_RESTART_CMD?.trim() || undefined,
    replicaUrls: (env.LOOMCYCLE_LIVE_REPLICA_URLS ?? "")
      .split(",")
      .map((u) => u.trim().replace(/\/+$/, ""))
      .filter(Boolean),
    replicaCmd: env.LOOMCYCLE_LIVE_REPLICA_CMD?.trim() || undefined,
    userId: `live-${Date.now().toString(36)}`,
  };
}

export type Frame = { event: string; data: Record<string, unknown> };

/** Direct HTTP to loomcycle, bypassing the bridge: the reference every check compares to. */
export class Loomcycle {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  async json(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown; text: string }> {
    // A pooled socket from before a loomcycle restart fails at once: GETs try once more.
    const res = await this.send(method, path, body).catch((err: unknown) => {
      if (method !== "GET") throw err;
      return this.send(method, path, body);
    });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* plain-text body */
    }
    return { status: res.status, body: parsed, text };
  }

  private send(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  }

  async status(agentId: string): Promise<Record<string, unknown>> {
    const r = await this.json("GET", `/v1/agents/${agentId}`);
    return r.body as Record<string, unknown>;
  }

  /** The session transcript rows of one run (seq order). */
  async transcript(sessionId: string, runId: string): Promise<Array<Record<string, unknown>>> {
    const r = await this.json("GET", `/v1/sessions/${sessionId}/transcript`);
    const rows = ((r.body as { events?: Array<Record<string, unknown>> }).events ?? []).filter((e) => e.run_id === runId);
    return rows;
  }

  /** The user segments' text of the run's opening user_input record (what the person typed). */
  async openingPrompt(sessionId: string, runId: string): Promise<string> {
    const rows = await this.transcript(sessionId, runId);
    const first = rows.find((r) => r.type === "user_input");
    const segs = (first?.payload ?? []) as Array<{ role: string; content: Array<{ text?: string }> }>;
    return segs
      .filter((s) => s.role === "user")
      .flatMap((s) => s.content.map((c) => c.text ?? ""))
      .join("\n");
  }

  /**
   * Read GET /v1/runs/{id}/stream from 0 until `until(frames)` holds (or the stream ends),
   * returning the frames other than `agent`: what loomcycle replays for this run.
   */
  async tail(
    runId: string,
    until: (frames: Frame[]) => boolean,
    timeoutMs = 30_000,
  ): Promise<{ frames: Frame[]; ended: boolean }> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    const frames: Frame[] = [];
    let done = false;
    try {
      const res = await fetch(`${this.url}/v1/runs/${runId}/stream`, {
        headers: { authorization: `Bearer ${this.token}`, accept: "text/event-stream" },
        signal: ac.signal,
      });
      if (res.status !== 200) throw new Error(`tail ${runId}: HTTP ${res.status} ${await res.text()}`);
      const parser = createParser({
        onEvent: (e) => {
          if (e.event === "agent") return;
          frames.push({ event: e.event ?? "message", data: JSON.parse(e.data) as Record<string, unknown> });
          if (until(frames)) done = true;
        },
      });
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      while (!done) {
        const { value, done: eof } = await reader.read();
        if (eof) return { frames, ended: true };
        parser.feed(dec.decode(value, { stream: true }));
      }
      await reader.cancel().catch(() => undefined);
      return { frames, ended: false };
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  }
}

export const count = (frames: Frame[], event: string): number => frames.filter((f) => f.event === event).length;

/** Concatenated text deltas of frames. */
export const textOf = (frames: Frame[]): string =>
  frames
    .filter((f) => f.event === "text")
    .map((f) => String(f.data.text ?? ""))
    .join("");

export interface ToolResult {
  isError: boolean;
  sc: Record<string, unknown>;
  text: string;
}

/** The built bridge over stdio, with its own state directory unless one is given. */
export function spawnBridge(
  live: LiveEnv,
  opts: { stateDir?: string; token?: string; userId?: string; extraEnv?: Record<string, string> } = {},
): { peer: StdioPeer; stateDir: string } {
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), "bridge-live-state-"));
  const peer = new StdioPeer({
    LOOMCYCLE_BASE_URL: live.url,
    LOOMCYCLE_AUTH_TOKEN: opts.token ?? live.token,
    LOOMCYCLE_USER_ID: opts.userId ?? live.userId,
    XDG_STATE_HOME: stateDir,
    LOOMCYCLE_MCP_LOG_LEVEL: "warn",
    // LOOMCYCLE_LIVE_PARK_RELEASE_MS runs the tier with parked runs releasing their streams
    // after that long, so re-attaches on use happen against the real loomcycle throughout.
    ...(process.env.LOOMCYCLE_LIVE_PARK_RELEASE_MS
      ? { LOOMCYCLE_MCP_PARK_RELEASE_MS: process.env.LOOMCYCLE_LIVE_PARK_RELEASE_MS }
      : {}),
    ...opts.extraEnv,
  });
  return { peer, stateDir };
}

/** Digest items of a result. */
export function items(r: ToolResult): Array<Record<string, unknown>> {
  return (r.sc.events ?? []) as Array<Record<string, unknown>>;
}

/** Text of a digest's text items, concatenated. */
export function digestText(evs: Array<Record<string, unknown>>): string {
  return evs
    .filter((e) => e.kind === "text")
    .map((e) => String(e.text))
    .join("");
}

/** Restart loomcycle with the configured command (the tier's own environment is passed on). */
export function restartLoomcycle(live: LiveEnv): void {
  if (!live.restartCmd) throw new Error("LOOMCYCLE_LIVE_RESTART_CMD is not set");
  execSync(live.restartCmd, { stdio: "inherit", timeout: 60_000, shell: "/bin/bash" });
}

/** Stop or start one replica of a cluster with LOOMCYCLE_LIVE_REPLICA_CMD. */
export function replicaCtl(live: LiveEnv, op: "stop" | "start", replicaId: string): void {
  if (!live.replicaCmd) throw new Error("LOOMCYCLE_LIVE_REPLICA_CMD is not set");
  execSync(`${live.replicaCmd} ${op} ${replicaId}`, { stdio: "inherit", timeout: 60_000, shell: "/bin/bash" });
}

/** Poll until `cond()` resolves true. */
export async function until<T>(what: string, fn: () => Promise<T>, cond: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (cond(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Equal texts, or an error that says where they part (long texts would flood the report). */
export function sameText(got: string, want: string): void {
  if (got === want) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  throw new Error(
    `texts differ at ${i} (got ${got.length} chars, want ${want.length}): got …${JSON.stringify(got.slice(Math.max(0, i - 40), i + 60))}… want …${JSON.stringify(want.slice(Math.max(0, i - 40), i + 60))}…`,
  );
}
