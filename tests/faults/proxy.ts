// A small fault-injecting HTTP proxy between the bridge and the simulator. The
// simulator's own fault hooks cover whole-request faults; this proxy covers what only
// a man in the middle can do: cut a response at an exact byte of the SSE stream
// (mid-frame, inside a UTF-8 character, between frames, during a replay), forward a
// request and then lose its response, rewrite bytes (CRLF, missing final newline,
// injected frames), or answer in loomcycle's place (429 with Retry-After, error bodies
// that echo the request's headers).
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ProxiedRequest {
  /** 1-based, in arrival order. */
  id: number;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export type CutMode = "destroy" | "end";

/** Decides, chunk by chunk, what of an upstream response body reaches the bridge. */
export interface BodyTap {
  /** Bytes to pass on now; `cut` ends the response right after them. */
  chunk(buf: Buffer): { out: Buffer; cut?: CutMode };
  /** Upstream finished: last bytes to pass on before the (clean) end. */
  flush?(): Buffer;
}

export type Plan =
  /** Forward; `tap` filters the response body. */
  | { kind: "forward"; tap?: BodyTap; onResponse?: (status: number) => void; onClose?: () => void }
  /** Answer in loomcycle's place; the request never reaches it. */
  | { kind: "respond"; status: number; headers?: Record<string, string>; body: string }
  /** Forward, wait until loomcycle answered (headers), then drop the bridge's connection:
   * "before-headers" sends nothing back, "after-headers" sends the headers first. */
  | { kind: "lose-response"; when: "before-headers" | "after-headers" }
  /** Drop the connection without forwarding: the request never reaches loomcycle. */
  | { kind: "drop" };

export type Rule = (req: ProxiedRequest) => Plan | undefined;

const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"]);

export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  url = "";
  private rules: Rule[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private nextId = 1;

  constructor(private readonly upstream: string) {}

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.requestTimeout = 0;
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Add a rule; the first rule that returns a plan decides. Returns a remover. */
  use(rule: Rule): () => void {
    this.rules.push(rule);
    return () => {
      this.rules = this.rules.filter((r) => r !== rule);
    };
  }

  clear(): void {
    this.rules = [];
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const body = Buffer.concat(chunks);
    const u = new URL(req.url ?? "/", "http://proxy.invalid");
    const info: ProxiedRequest = {
      id: this.nextId++,
      method: (req.method ?? "GET").toUpperCase(),
      path: u.pathname,
      query: u.searchParams,
      headers: req.headers,
      body: body.toString("utf8"),
      at: Date.now(),
    };
    this.requests.push(info);
    let plan: Plan = { kind: "forward" };
    for (const r of this.rules) {
      const p = r(info);
      if (p) {
        plan = p;
        break;
      }
    }
    switch (plan.kind) {
      case "respond": {
        const b = Buffer.from(plan.body, "utf8");
        res.writeHead(plan.status, { "Content-Length": String(b.length), ...(plan.headers ?? {}) });
        res.end(b);
        return;
      }
      case "drop":
        req.socket.destroy();
        return;
      default:
        this.forward(req, res, body, plan);
    }
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    plan: Extract<Plan, { kind: "forward" | "lose-response" }>,
  ): void {
    const up = new URL(this.upstream);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k) && k !== "host") headers[k] = v;
    headers["host"] = up.host;
    headers["content-length"] = String(body.length);
    const upReq = httpRequest({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent: false });
    let finished = false;
    const kill = (mode: CutMode): void => {
      if (finished) return;
      finished = true;
      upReq.destroy();
      if (mode === "end") res.end();
      else res.socket?.destroy();
    };
    res.on("close", () => {
      if (plan.kind === "forward") plan.onClose?.();
      if (!finished) {
        finished = true;
        upReq.destroy();
      }
    });
    upReq.on("error", () => kill("destroy"));
    upReq.on("response", (upRes) => {
      if (plan.kind === "lose-response") {
        if (plan.when === "after-headers") {
          res.writeHead(upRes.statusCode ?? 502, outHeaders(upRes.headers, true));
          res.flushHeaders();
          // Let the headers leave before the connection dies.
          setTimeout(() => kill("destroy"), 20);
        } else {
          kill("destroy");
        }
        return;
      }
      plan.onResponse?.(upRes.statusCode ?? 0);
      const tap = plan.tap;
      res.writeHead(upRes.statusCode ?? 502, outHeaders(upRes.headers, tap !== undefined));
      res.flushHeaders();
      upRes.on("data", (chunk: Buffer) => {
        if (finished) return;
        if (!tap) {
          res.write(chunk);
          return;
        }
        const { out, cut } = tap.chunk(chunk);
        if (out.length > 0) res.write(out);
        if (cut) {
          // Let the last bytes leave before the connection is cut.
          finished = true;
          upReq.destroy();
          if (cut === "end") res.end();
          else setTimeout(() => res.socket?.destroy(), 5);
        }
      });
      upRes.on("end", () => {
        if (finished) return;
        finished = true;
        const last = tap?.flush?.();
        if (last && last.length > 0) res.write(last);
        res.end();
      });
      upRes.on("error", () => kill("destroy"));
    });
    upReq.end(body);
  }
}

function outHeaders(h: IncomingHttpHeaders, rewritten: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP.has(k)) continue;
    if (rewritten && k === "content-length") continue;
    out[k] = v;
  }
  return out;
}

// ---- taps --------------------------------------------------------------------------

/** Splits an SSE body into frames (blocks ending in a blank line, LF endings as loomcycle writes them). */
export class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(buf: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? buf : Buffer.concat([this.pending, buf]);
    const frames: Buffer[] = [];
    let i: number;
    while ((i = this.pending.indexOf("\n\n")) >= 0) {
      frames.push(this.pending.subarray(0, i + 2));
      this.pending = this.pending.subarray(i + 2);
    }
    return frames;
  }

  rest(): Buffer {
    const r = this.pending;
    this.pending = Buffer.alloc(0);
    return r;
  }
}

export type CutKind = "mid-frame" | "mid-utf8" | "between-frames";

export interface CutPlan {
  kind: CutKind;
  /** 1-based frame index on this connection (the `session`/`agent` frames count). */
  frame: number;
  mode: CutMode;
  /** Random source for the position inside the frame. */
  rand: () => number;
}

/** Where a cut actually landed. */
export interface CutLanding {
  kind: CutKind;
  frame: number;
  mode: CutMode;
  /** Bytes of the frame that were delivered before the cut (frame length for between-frames). */
  offset: number;
  frameBytes: number;
}

/**
 * Cuts the response at frame `plan.frame`: after it (between frames), inside it at a
 * random byte, or right after the first byte of a multi-byte UTF-8 character (the first
 * frame from `plan.frame` on that has one). Frames before it pass through whole.
 */
export class FrameCutter implements BodyTap {
  private readonly split = new FrameSplitter();
  private index = 0;
  landed: CutLanding | undefined;

  constructor(
    private readonly plan: CutPlan,
    private readonly onCut: (l: CutLanding) => void,
  ) {}

  chunk(buf: Buffer): { out: Buffer; cut?: CutMode } {
    if (this.landed) return { out: Buffer.alloc(0) };
    const out: Buffer[] = [];
    for (const f of this.split.push(buf)) {
      this.index += 1;
      if (this.index < this.plan.frame) {
        out.push(f);
        continue;
      }
      const at = this.cutPoint(f);
      if (at === undefined) {
        out.push(f);
        continue;
      }
      out.push(f.subarray(0, at));
      this.landed = { kind: this.plan.kind, frame: this.index, mode: this.plan.mode, offset: at, frameBytes: f.length };
      this.onCut(this.landed);
      return { out: Buffer.concat(out), cut: this.plan.mode };
    }
    return { out: Buffer.concat(out) };
  }

  flush(): Buffer {
    return this.split.rest();
  }

  private cutPoint(f: Buffer): number | undefined {
    switch (this.plan.kind) {
      case "between-frames":
        return f.length;
      case "mid-frame":
        // Strictly inside: at least one byte delivered, the blank line never complete.
        return 1 + Math.floor(this.plan.rand() * (f.length - 2));
      case "mid-utf8": {
        const cont: number[] = [];
        for (let i = 1; i < f.length; i++) if ((f[i]! & 0xc0) === 0x80) cont.push(i);
        if (cont.length === 0) return undefined;
        return cont[Math.floor(this.plan.rand() * cont.length)]!;
      }
    }
  }
}
