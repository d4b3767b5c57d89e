// Helpers for the simulator's own tests: plain fetch + a minimal SSE reader that
// keeps raw bytes, comments and frames (the simulator is tested on the wire,
// independently of the bridge's client code).
import type { Simulator } from "../../src/sim/index.js";
import { waitFor } from "../helpers.js";

export interface Frame {
  event: string;
  data: Record<string, unknown>;
  raw: string;
}

export type StreamEnd = { kind: "eof" } | { kind: "error"; error: unknown };

export class SseReader {
  readonly frames: Frame[] = [];
  readonly comments: string[] = [];
  readonly chunks: Buffer[] = [];
  readonly ended: Promise<StreamEnd>;
  private buf = "";
  private readonly ctrl: AbortController;

  private constructor(
    readonly res: Response,
    ctrl: AbortController,
  ) {
    this.ctrl = ctrl;
    this.ended = this.pump();
  }

  static async open(url: string, init: RequestInit = {}): Promise<SseReader> {
    const ctrl = new AbortController();
    const res = await fetch(url, { ...init, signal: ctrl.signal });
    return new SseReader(res, ctrl);
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private async pump(): Promise<StreamEnd> {
    if (!this.res.body) return { kind: "eof" };
    const reader = this.res.body.getReader();
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { kind: "eof" };
        this.chunks.push(Buffer.from(value));
        this.buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = this.buf.indexOf("\n\n")) >= 0) {
          const block = this.buf.slice(0, i);
          this.buf = this.buf.slice(i + 2);
          if (block.startsWith(":")) {
            this.comments.push(block);
            continue;
          }
          const lines = block.split("\n");
          const ev = lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "message";
          const data = lines.find((l) => l.startsWith("data: "))?.slice(6) ?? "";
          this.frames.push({ event: ev, data: JSON.parse(data) as Record<string, unknown>, raw: block });
        }
      }
    } catch (error) {
      return { kind: "error", error };
    }
  }

  /** Resolves with the first frame (from index `from`) matching `pred`. */
  waitFor(pred: (f: Frame) => boolean, timeoutMs = 10_000, from = 0): Promise<Frame> {
    return waitFor(() => this.frames.slice(from).find(pred), {
      timeoutMs,
      what: () => `a matching frame; got ${this.names().join(",")}`,
    });
  }

  /** Wait until `n` frames named `event` arrived. */
  async waitCount(event: string, n: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.frames.filter((f) => f.event === event).length >= n, {
      timeoutMs,
      what: () => `${n} ${event} frames; got ${this.names().join(",")}`,
    });
  }

  abort(): void {
    this.ctrl.abort();
  }

  names(): string[] {
    return this.frames.map((f) => f.event);
  }
}

export function authHeaders(sim: Simulator, extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${sim.token}`, "Content-Type": "application/json", ...extra };
}

export async function api(
  sim: Simulator,
  method: string,
  path: string,
  body?: unknown,
  token = sim.token,
): Promise<{ status: number; text: string; headers: Headers; json: () => unknown }> {
  const res = await fetch(sim.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) as unknown };
}

/** Start an interactive run and return the reader plus the ids from the agent frame. */
export async function startInteractive(
  sim: Simulator,
  body: Record<string, unknown>,
): Promise<{ sse: SseReader; runId: string; agentId: string; sessionId: string }> {
  const sse = await SseReader.open(sim.url + "/v1/runs", {
    method: "POST",
    headers: authHeaders(sim),
    body: JSON.stringify({ interactive: true, ...body }),
  });
  if (sse.res.status !== 200) throw new Error(`POST /v1/runs: ${sse.res.status}`);
  const agent = await sse.waitFor((f) => f.event === "agent");
  return {
    sse,
    runId: String(agent.data.run_id),
    agentId: String(agent.data.agent_id),
    sessionId: String(agent.data.session_id),
  };
}
