// A minimal line-based JSON-RPC peer for the built binary, so tests can see every
// byte the bridge writes to stdout (the SDK client would hide a stray line).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export class StdioPeer {
  readonly proc: ChildProcessWithoutNullStreams;
  stdout = "";
  stderr = "";
  readonly messages: Array<Record<string, unknown>> = [];
  readonly nonJsonLines: string[] = [];
  private nextId = 1;
  private waiters = new Map<number, (m: Record<string, unknown>) => void>();
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  constructor(env: Record<string, string>, args: string[] = []) {
    this.proc = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let buf = "";
    this.proc.stdout.on("data", (d: Buffer) => {
      const s = d.toString("utf8");
      this.stdout += s;
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === "") continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          this.nonJsonLines.push(line);
          continue;
        }
        if (msg.jsonrpc !== "2.0") this.nonJsonLines.push(line);
        this.messages.push(msg);
        const w = typeof msg.id === "number" ? this.waiters.get(msg.id) : undefined;
        if (w && ("result" in msg || "error" in msg)) {
          this.waiters.delete(msg.id as number);
          w(msg);
        }
      }
    });
    this.proc.stderr.on("data", (d: Buffer) => (this.stderr += d.toString("utf8")));
    this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })));
  }

  request(method: string, params: Record<string, unknown> = {}, timeoutMs = 70_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to ${method} within ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`)), timeoutMs);
      this.waiters.set(id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.proc.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    });
  }

  notify(method: string, params: Record<string, unknown> = {}): void {
    this.proc.stdin.write(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n");
  }

  async initialize(): Promise<Record<string, unknown>> {
    const r = await this.request("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } });
    this.notify("notifications/initialized");
    return r;
  }

  async callTool(name: string, args: Record<string, unknown>): Promise<{ isError: boolean; sc: Record<string, unknown>; text: string }> {
    const m = await this.request("tools/call", { name, arguments: args });
    const result = (m.result ?? {}) as { isError?: boolean; structuredContent?: Record<string, unknown>; content?: Array<{ text?: string }> };
    return { isError: result.isError === true, sc: result.structuredContent ?? {}, text: result.content?.[0]?.text ?? "" };
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
  }
}
