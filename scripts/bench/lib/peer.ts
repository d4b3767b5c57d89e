// A minimal line-based JSON-RPC client for a spawned stdio MCP server, with
// timestamps: `recvAt` is taken in the stdout 'data' handler, before any parsing
// of the message, so client-side work is not charged to the server.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";

export interface Reply {
  msg: Record<string, unknown>;
  sentAt: number;
  recvAt: number;
}

export interface ToolReply extends Reply {
  isError: boolean;
  structured: Record<string, unknown>;
  text: string;
  /** Bytes of the result's JSON text as it crossed the pipe (the whole JSON-RPC line). */
  lineBytes: number;
}

export interface SpawnOptions {
  env: Record<string, string>;
  nodeArgs?: string[];
  args?: string[];
}

export const INIT_PARAMS = {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "loomcycle-bench", version: "1" },
};

export class Peer {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly spawnedAt: number;
  stderr = "";
  private buf = "";
  private nextId = 1;
  private readonly waiters = new Map<number, { resolve: (r: Reply & { lineBytes: number }) => void; sentAt: number }>();
  readonly exited: Promise<number | null>;

  constructor(script: string, opts: SpawnOptions) {
    this.spawnedAt = performance.now();
    this.proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...(opts.args ?? [])], {
      env: opts.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.proc.stdout.on("data", (d: Buffer) => this.onData(d, performance.now()));
    this.proc.stderr.on("data", (d: Buffer) => {
      if (this.stderr.length < 20_000) this.stderr += d.toString("utf8");
    });
    this.exited = new Promise((resolve) => this.proc.on("exit", (code) => resolve(code)));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  private onData(d: Buffer, at: number): void {
    this.buf += d.toString("utf8");
    let nl: number;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.trim() === "") continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const w = typeof msg.id === "number" ? this.waiters.get(msg.id) : undefined;
      if (w && ("result" in msg || "error" in msg)) {
        this.waiters.delete(msg.id as number);
        w.resolve({ msg, sentAt: w.sentAt, recvAt: at, lineBytes: Buffer.byteLength(line, "utf8") });
      }
    }
  }

  request(method: string, params: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<Reply & { lineBytes: number }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no answer to ${method} within ${timeoutMs} ms; stderr tail: ${this.stderr.slice(-1500)}`));
      }, timeoutMs);
      const sentAt = performance.now();
      this.waiters.set(id, {
        sentAt,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      this.proc.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    });
  }

  notify(method: string, params: Record<string, unknown> = {}): void {
    this.proc.stdin.write(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n");
  }

  async initialize(): Promise<Reply> {
    const r = await this.request("initialize", INIT_PARAMS, 30_000);
    if (!("result" in r.msg)) throw new Error(`initialize failed: ${JSON.stringify(r.msg).slice(0, 500)}`);
    this.notify("notifications/initialized");
    return r;
  }

  async callTool(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<ToolReply> {
    const r = await this.request("tools/call", { name, arguments: args }, timeoutMs);
    if ("error" in r.msg) throw new Error(`${name}: JSON-RPC error ${JSON.stringify(r.msg.error).slice(0, 500)}`);
    const result = (r.msg.result ?? {}) as {
      isError?: boolean;
      structuredContent?: Record<string, unknown>;
      content?: Array<{ type: string; text?: string }>;
    };
    const text = (result.content ?? []).map((c) => c.text ?? "").join("\n");
    return { ...r, isError: result.isError === true, structured: result.structuredContent ?? {}, text };
  }

  /** Resident set size of the process, in bytes (Linux /proc; `ps` elsewhere is not supported). */
  rssBytes(): number {
    return rssOf(this.pid);
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin.end();
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 1500);
    this.proc.kill("SIGTERM");
    await this.exited;
    clearTimeout(t);
  }
}

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Throw with the tool's message when a tool result is an error. */
export function ok(r: ToolReply, what: string): ToolReply {
  if (r.isError) throw new Error(`${what}: ${r.text.slice(0, 500)}`);
  return r;
}
