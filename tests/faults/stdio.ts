// A raw line-based JSON-RPC peer for the built binary (dist/cli/main.js), for the fault
// scenarios that must go over stdio: it sees every byte the bridge writes, checks that
// each stdout line is a JSON-RPC message, keeps the bytes only when asked (the fuzz
// run sends tens of thousands of calls), and measures the process's RSS.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rssMiB } from "./report.js";

export const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export interface RpcMessage {
  jsonrpc?: unknown;
  id?: unknown;
  method?: string;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
  params?: Record<string, unknown>;
}

export interface ToolReply {
  /** A JSON-RPC error instead of a tool result (e.g. arguments that are not an object). */
  rpcError: { code: number; message: string } | undefined;
  isError: boolean;
  text: string;
  sc: Record<string, unknown>;
  ms: number;
}

export interface PeerOptions {
  /** Keep everything written to stdout / stderr (for searching it). */
  keepOutput?: boolean;
  args?: string[];
}

/** A private state directory, so test processes never touch the user's. */
export function stateEnv(): Record<string, string> {
  return { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "bridge-faults-state-")) };
}

export class RpcPeer {
  readonly proc: ChildProcessWithoutNullStreams;
  stdout = "";
  stderr = "";
  stdoutBytes = 0;
  readonly nonJsonLines: string[] = [];
  /** Responses whose id was never sent, or that came twice. */
  readonly strayResponses: unknown[] = [];
  responses = 0;
  notifications = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private nextId = 1;
  private readonly waiters = new Map<number, (m: RpcMessage) => void>();
  private readonly answered = new Set<number>();

  constructor(env: Record<string, string>, private readonly opts: PeerOptions = {}) {
    this.proc = spawn(process.execPath, [BIN, ...(opts.args ?? [])], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let buf = "";
    this.proc.stdout.on("data", (d: Buffer) => {
      this.stdoutBytes += d.length;
      const s = d.toString("utf8");
      if (opts.keepOutput) this.stdout += s;
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === "") {
          this.nonJsonLines.push(line);
          continue;
        }
        let msg: RpcMessage;
        try {
          msg = JSON.parse(line) as RpcMessage;
        } catch {
          this.nonJsonLines.push(line.slice(0, 500));
          continue;
        }
        if (msg.jsonrpc !== "2.0") this.nonJsonLines.push(line.slice(0, 500));
        if (msg.method !== undefined && msg.id === undefined) {
          this.notifications += 1;
          continue;
        }
        if (typeof msg.id !== "number" || this.answered.has(msg.id) || !this.waiters.has(msg.id)) {
          this.strayResponses.push(msg.id);
          continue;
        }
        this.responses += 1;
        this.answered.add(msg.id);
        const w = this.waiters.get(msg.id)!;
        this.waiters.delete(msg.id);
        w(msg);
      }
    });
    this.proc.stderr.on("data", (d: Buffer) => {
      if (opts.keepOutput) this.stderr += d.toString("utf8");
      else this.stderr = (this.stderr + d.toString("utf8")).slice(-20_000);
    });
    this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })));
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Send a request; resolves with the response, rejects after `timeoutMs` without one. */
  request(method: string, params: unknown = {}, timeoutMs = 30_000): { id: number; reply: Promise<RpcMessage> } {
    const id = this.nextId++;
    const reply = new Promise<RpcMessage>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no answer to ${method} #${id} within ${timeoutMs} ms; stderr tail: ${this.stderr.slice(-1500)}`));
      }, timeoutMs);
      this.waiters.set(id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
    this.proc.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    return { id, reply };
  }

  notify(method: string, params: Record<string, unknown> = {}): void {
    this.proc.stdin.write(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n");
  }

  async initialize(): Promise<RpcMessage> {
    const r = await this.request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "fault-host", version: "1" } }).reply;
    this.notify("notifications/initialized");
    return r;
  }

  async callTool(name: string, args: unknown, timeoutMs = 30_000, meta?: Record<string, unknown>): Promise<ToolReply> {
    const t0 = Date.now();
    const params: Record<string, unknown> = { name, arguments: args };
    if (meta) params._meta = meta;
    const m = await this.request("tools/call", params, timeoutMs).reply;
    return toolReply(m, Date.now() - t0);
  }

  rss(): Promise<number | undefined> {
    return this.proc.pid === undefined ? Promise.resolve(undefined) : rssMiB(this.proc.pid);
  }

  kill(): void {
    if (this.alive) this.proc.kill("SIGKILL");
  }
}

export function toolReply(m: RpcMessage, ms: number): ToolReply {
  const result = (m.result ?? {}) as { isError?: boolean; structuredContent?: Record<string, unknown>; content?: Array<{ text?: string }> };
  return { rpcError: m.error, isError: result.isError === true, sc: result.structuredContent ?? {}, text: result.content?.[0]?.text ?? "", ms };
}
