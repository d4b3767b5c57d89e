// The one raw line-based JSON-RPC peer for the built binary (dist/cli/main.js): it sees
// every byte the bridge writes to stdout (an SDK client would hide a stray line), checks
// that each line is a JSON-RPC message, and keeps the bytes only when asked (the fuzz run
// sends tens of thousands of calls).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

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
  /** Keep everything written to stdout / stderr and every message (default true). */
  keepOutput?: boolean;
  /** Start this command line instead of `node dist/cli/main.js …args` (an entry exactly as a host would start it). */
  command?: readonly string[];
}

/** A private state directory, so test processes never touch the user's. */
export function stateEnv(): Record<string, string> {
  return { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "bridge-test-state-")) };
}

export class StdioPeer {
  readonly proc: ChildProcessWithoutNullStreams;
  stdout = "";
  stderr = "";
  stdoutBytes = 0;
  /** Every message read (when output is kept). */
  readonly messages: RpcMessage[] = [];
  readonly nonJsonLines: string[] = [];
  /** Responses whose id was never sent, or that came twice. */
  readonly strayResponses: unknown[] = [];
  responses = 0;
  notifications = 0;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private nextId = 1;
  private readonly waiters = new Map<number, (m: RpcMessage) => void>();
  private readonly answered = new Set<number>();
  private readonly watchers = new Set<(m: RpcMessage) => void>();

  constructor(env: Record<string, string>, args: string[] = [], opts: PeerOptions = {}) {
    const keep = opts.keepOutput ?? true;
    const [cmd, ...argv] = opts.command ?? [process.execPath, BIN, ...args];
    this.proc = spawn(cmd!, argv, {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let buf = "";
    this.proc.stdout.on("data", (d: Buffer) => {
      this.stdoutBytes += d.length;
      const s = d.toString("utf8");
      if (keep) this.stdout += s;
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.onLine(line, keep);
      }
    });
    this.proc.stderr.on("data", (d: Buffer) => {
      if (keep) this.stderr += d.toString("utf8");
      else this.stderr = (this.stderr + d.toString("utf8")).slice(-20_000);
    });
    this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })));
  }

  private onLine(line: string, keep: boolean): void {
    if (line.trim() === "") {
      this.nonJsonLines.push(line);
      return;
    }
    let msg: RpcMessage;
    try {
      msg = JSON.parse(line) as RpcMessage;
    } catch {
      this.nonJsonLines.push(line.slice(0, 500));
      return;
    }
    if (msg.jsonrpc !== "2.0") this.nonJsonLines.push(line.slice(0, 500));
    if (keep) this.messages.push(msg);
    for (const w of this.watchers) w(msg);
    if (msg.method !== undefined && msg.id === undefined) {
      this.notifications += 1;
      return;
    }
    if (msg.method !== undefined) return; // a request from the bridge (e.g. elicitation)
    const waiter = typeof msg.id === "number" && !this.answered.has(msg.id) ? this.waiters.get(msg.id) : undefined;
    if (!waiter) {
      this.strayResponses.push(msg.id);
      return;
    }
    this.responses += 1;
    this.answered.add(msg.id as number);
    this.waiters.delete(msg.id as number);
    waiter(msg);
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Send a request; `reply` resolves with the response, or rejects after `timeoutMs` without one. */
  send(method: string, params: unknown = {}, timeoutMs = 70_000): { id: number; reply: Promise<RpcMessage> } {
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

  request(method: string, params: unknown = {}, timeoutMs = 70_000): Promise<RpcMessage> {
    return this.send(method, params, timeoutMs).reply;
  }

  /** The first message from now on that `pred` accepts (e.g. an answer to a raw line); rejects after `timeoutMs` without one. */
  next(pred: (m: RpcMessage) => boolean, timeoutMs = 15_000): Promise<RpcMessage> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.watchers.delete(watch);
        reject(new Error(`no such message within ${timeoutMs} ms; stderr tail: ${this.stderr.slice(-1500)}`));
      }, timeoutMs);
      const watch = (m: RpcMessage): void => {
        if (!pred(m)) return;
        clearTimeout(t);
        this.watchers.delete(watch);
        resolve(m);
      };
      this.watchers.add(watch);
    });
  }

  notify(method: string, params: Record<string, unknown> = {}): void {
    this.proc.stdin.write(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n");
  }

  async initialize(): Promise<RpcMessage> {
    const r = await this.request("initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "test-host", version: "1" },
    });
    this.notify("notifications/initialized");
    return r;
  }

  async callTool(name: string, args: unknown, timeoutMs = 70_000, meta?: Record<string, unknown>): Promise<ToolReply> {
    const t0 = Date.now();
    const params: Record<string, unknown> = { name, arguments: args };
    if (meta) params._meta = meta;
    return toolReply(await this.request("tools/call", params, timeoutMs), Date.now() - t0);
  }

  kill(): void {
    if (this.alive) this.proc.kill("SIGKILL");
  }
}

export function toolReply(m: RpcMessage, ms: number): ToolReply {
  const result = (m.result ?? {}) as {
    isError?: boolean;
    structuredContent?: Record<string, unknown>;
    content?: Array<{ text?: string }>;
  };
  return {
    rpcError: m.error,
    isError: result.isError === true,
    sc: result.structuredContent ?? {},
    text: result.content?.[0]?.text ?? "",
    ms,
  };
}
