// LoomcycleClient against real node:http servers on port 0 that record what they were
// sent and answer byte-exact responses (bodies taken from the wire contract).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LoomcycleClient } from "../../src/bridge/loomcycle/http.js";
import type { LoomcycleClientOptions } from "../../src/bridge/loomcycle/http-options.js";
import { backoffSleep } from "../../src/bridge/loomcycle/retry.js";
import { errorFromResponse, parseRetryAfter } from "../../src/bridge/loomcycle/error-response.js";
import { isZeroTime } from "../../src/bridge/loomcycle/api-types.js";
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  GoneError,
  LoomcycleError,
  NotFoundError,
  PayloadTooLargeError,
  ProtocolError,
  RateLimitedError,
  TimeoutError,
  UnauthorizedError,
  UnavailableError,
  UnprocessableError,
  UnreachableError,
  UnsupportedMediaTypeError,
  UpstreamError,
} from "../../src/bridge/loomcycle/errors.js";
import type { StreamFrame } from "../../src/bridge/loomcycle/events.js";
import { createLogger } from "../../src/logger.js";
import { waitFor } from "../helpers.js";

const TOKEN = "lc_tok_SECRET_0123456789abcdef";

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage["headers"];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

async function serve(handler: Handler): Promise<{ url: string; seen: Seen[]; closedConnections: () => number }> {
  const seen: Seen[] = [];
  let closed = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://x");
      const s: Seen = {
        method: req.method ?? "",
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      seen.push(s);
      res.on("close", () => (closed += 1));
      handler(req, res, s);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, closedConnections: () => closed };
}

function client(url: string, extra: Partial<LoomcycleClientOptions> = {}): LoomcycleClient {
  return new LoomcycleClient({ baseUrl: url, token: TOKEN, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 }, ...extra });
}

function plain(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff", ...headers });
  res.end(body + "\n");
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end((typeof body === "string" ? body : JSON.stringify(body)) + "\n");
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const NGINX_502 = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.25.3</center>
</body>
</html>
`;

// ---- status mapping ----------------------------------------------------------------------

describe("errorFromResponse on loomcycle's not-quite-JSON envelopes", () => {
  it("recovers code and message when %q left raw quotes inside the JSON string", () => {
    const res = new Response(null, { status: 404, headers: { "content-type": "application/json" } });
    const e = errorFromResponse(
      res,
      '{"code":"unknown_agent_id","error":"no run found for agent_id "a_x""}',
      [],
      "GET /v1/agents/a_x",
    );
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.code).toBe("unknown_agent_id");
    expect(e.detail).toBe('no run found for agent_id "a_x"');
  });

  it("gets the same from the simulator's real 404", async () => {
    const { startSimulator } = await import("../../src/sim/index.js");
    const sim = await startSimulator();
    try {
      const c = new LoomcycleClient({ baseUrl: sim.url, token: sim.token });
      const e = await c.getAgent("a_0000000000000000").catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NotFoundError);
      expect((e as LoomcycleError).code).toBe("unknown_agent_id");
    } finally {
      await sim.close();
    }
  });
});

describe("errorFromResponse via real responses", () => {
  const table: Array<[number, new (...a: never[]) => LoomcycleError]> = [
    [400, BadRequestError],
    [401, UnauthorizedError],
    [403, ForbiddenError],
    [404, NotFoundError],
    [405, BadRequestError],
    [409, ConflictError],
    [410, GoneError],
    [413, PayloadTooLargeError],
    [415, UnsupportedMediaTypeError],
    [422, UnprocessableError],
    [429, RateLimitedError],
    [500, UpstreamError],
    [502, UpstreamError],
    [503, UnavailableError],
    [504, UpstreamError],
    [507, UpstreamError],
  ];

  for (const format of ["plain", "json"] as const) {
    it(`maps every status to its error class (${format} bodies)`, async () => {
      const { url } = await serve((_req, res, seen) => {
        const status = Number(/^s(\d+)$/.exec(seen.path.split("/").pop() ?? "")?.[1]);
        if (format === "plain") plain(res, status, `thing went wrong (${status})`);
        else json(res, status, { code: `code_${status}`, error: `thing went wrong (${status})`, cap: 2, user_id: "u_42" });
      });
      const c = client(url, { retry: { attempts: 1 } });
      for (const [status, cls] of table) {
        const err = await failure(c.getAgent(`s${status}`));
        expect(err, `status ${status}`).toBeInstanceOf(cls);
        const e = err as LoomcycleError;
        expect(e.status).toBe(status);
        expect(e.detail).toBe(`thing went wrong (${status})`);
        expect(e.message).toContain(`GET /v1/agents/s${status}`);
        expect(e.message).toContain(`thing went wrong (${status})`);
        expect(e.message).toContain(String(status));
        if (format === "json") {
          expect(e.code).toBe(`code_${status}`);
          expect(e.extra).toEqual({ cap: 2, user_id: "u_42" });
        } else {
          expect(e.code).toBeUndefined();
          expect(e.message).not.toMatch(/\n/);
        }
      }
    });
  }

  it('reads the panic-recovery body {"error":"internal server error"} (no code)', async () => {
    const { url } = await serve((_req, res) => json(res, 500, { error: "internal server error" }));
    const err = (await failure(client(url).getAgent("a_1"))) as LoomcycleError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.code).toBeUndefined();
    expect(err.detail).toBe("internal server error");
  });

  it("turns an HTML 502 page into a clear message without dumping it", async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(502, "Bad Gateway", { "Content-Type": "text/html" });
      res.end(NGINX_502);
    });
    const err = (await failure(client(url, { retry: { attempts: 1 } }).getAgent("a_1"))) as LoomcycleError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.message).toBe(
      "GET /v1/agents/a_1: loomcycle (or a proxy in front of it) answered 502 Bad Gateway with an HTML page",
    );
    expect(err.message).not.toContain("<");
    // also when the proxy lies about the content type
    const res = new Response(NGINX_502, { status: 502, headers: { "content-type": "text/plain" } });
    expect(errorFromResponse(res, NGINX_502, [], "GET /x").message).toContain("with an HTML page");
  });

  it("truncates a long upstream message to about 300 characters", async () => {
    const { url } = await serve((_req, res) => plain(res, 400, "bad json: " + "z".repeat(5000)));
    const err = (await failure(client(url).getAgent("a_1"))) as LoomcycleError;
    expect(err.message.length).toBeLessThan(400);
    expect(err.message).toMatch(/…$/);
  });

  it("reads Retry-After in seconds and as an HTTP date", async () => {
    const in3s = new Date(Date.now() + 3000).toUTCString();
    const { url } = await serve((_req, res, seen) => {
      if (seen.path.endsWith("/secs"))
        json(
          res,
          429,
          { code: "per_user_quota_exhausted", error: "per-user quota exhausted: user=u_42 cap=2", user_id: "u_42", cap: 2 },
          { "Retry-After": "5" },
        );
      else plain(res, 503, "no available provider", { "Retry-After": in3s });
    });
    const c = client(url, { retry: { attempts: 1 } });
    const a = (await failure(c.getAgent("secs"))) as RateLimitedError;
    expect(a).toBeInstanceOf(RateLimitedError);
    expect(a.retryAfterMs).toBe(5000);
    expect(a.code).toBe("per_user_quota_exhausted");
    expect(a.extra).toEqual({ user_id: "u_42", cap: 2 });
    const b = (await failure(c.getAgent("date"))) as UnavailableError;
    expect(b).toBeInstanceOf(UnavailableError);
    expect(b.retryAfterMs).toBeGreaterThan(1000);
    expect(b.retryAfterMs).toBeLessThanOrEqual(3000);
    expect(parseRetryAfter("1.5")).toBe(1500);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT")).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });

  it("exposes the scope a 403 names in WWW-Authenticate", async () => {
    const { url } = await serve((_req, res) =>
      plain(res, 403, "insufficient scope", { "WWW-Authenticate": 'Bearer scope="substrate:admin"' }),
    );
    const err = (await failure(client(url).listSnapshots())) as ForbiddenError;
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err.requiredScope).toBe("substrate:admin");
    expect(err.message).toContain("insufficient scope");
    expect(err.message).toContain("substrate:admin");
  });

  it("never lets the token into errors or logs, even when the upstream echoes it", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", destination: { write: (s: string) => void lines.push(s) } });
    const { url } = await serve((req, res, seen) => {
      const auth = req.headers.authorization ?? "";
      if (seen.path.includes("plain")) plain(res, 400, `bad request; you sent Authorization: ${auth}`);
      else if (seen.path.includes("json"))
        json(res, 401, { code: "bad_token", error: `token ${TOKEN} rejected`, echo: { authorization: auth, list: [auth] } });
      else if (seen.path.includes("escaped")) json(res, 401, `{"code":"x","error":"${TOKEN.replace("_", "\\u005f")}"}`);
      else {
        res.writeHead(502, { "Content-Type": "text/html" });
        res.end(`<html><head><title>${auth}</title></head><body>${auth}</body></html>`);
      }
    });
    const c = client(url, { logger, retry: { attempts: 1 } });
    expect(lines.join("")).not.toContain(TOKEN);
    for (const id of ["plain", "json", "escaped", "html"]) {
      const err = (await failure(c.getAgent(id))) as LoomcycleError;
      expect(err).toBeInstanceOf(LoomcycleError);
      const everything = JSON.stringify({ m: err.message, d: err.detail, x: err.extra, c: err.code, s: String(err.stack) });
      expect(everything, id).not.toContain(TOKEN);
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("")).not.toContain(TOKEN);
  });
});

// ---- deadlines, transport failures, abort ---------------------------------------------------

describe("deadlines and transport failures", () => {
  it("fires the header deadline on a server that never sends headers", async () => {
    const { url } = await serve(() => undefined);
    const c = client(url, { headersTimeoutMs: 300, retry: { attempts: 1 } });
    const err = (await failure(c.getAgent("a_1"))) as TimeoutError;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.code).toBe("headers_timeout");
    expect(err.message).toMatch(/no response headers .* 300 ms/);
  });

  it("uses the run-start header deadline for POST /v1/runs and says the run may exist", async () => {
    const { url, seen } = await serve(() => undefined);
    const c = client(url, { headersTimeoutMs: 100, runStartHeadersTimeoutMs: 400 });
    const err = (await failure(c.startInteractiveRun({ agent: "echo", prompt: "hi" }))) as TimeoutError;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toContain("may have been created");
    expect(err.message).toMatch(/no response headers .* 400 ms/);
    expect(seen).toHaveLength(1);
    // the per-call override wins
    const err2 = (await failure(
      c.startInteractiveRun({ agent: "echo", prompt: "hi" }, { headersTimeoutMs: 150 }),
    )) as TimeoutError;
    expect(err2.message).toMatch(/no response headers .* 150 ms/);
  });

  it("bounds a JSON body that starts but never finishes", async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write('{"agent_id":');
    });
    const c = client(url, { headersTimeoutMs: 200, retry: { attempts: 1 } });
    const err = (await failure(c.getAgent("a_1"))) as TimeoutError;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.code).toBe("body_timeout");
  });

  it("reports a refused connection as UnreachableError that did not reach loomcycle", async () => {
    const port = await closedPort();
    const c = client(`http://127.0.0.1:${port}`, { retry: { attempts: 1 } });
    const err = (await failure(c.getAgent("a_1"))) as UnreachableError;
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.code).toBe("connect_refused");
    expect(err.message).toContain("did not reach loomcycle");
    const err2 = (await failure(c.sendInput("r_1", "hi"))) as UnreachableError;
    expect(err2).toBeInstanceOf(UnreachableError);
    expect(err2.message).toContain("did not reach loomcycle");
  });

  it("asks for an uncompressed event stream, and refuses a compressed one with a message naming the proxy setting", async () => {
    let seen: string | undefined;
    const { url } = await serve((req, res) => {
      seen = req.headers["accept-encoding"];
      res.writeHead(200, { "Content-Type": "text/event-stream", "Content-Encoding": "gzip" });
      res.write("\x1f\x8b");
    });
    const err = (await failure(client(url, { retry: { attempts: 1 } }).streamRun("r_1", 0))) as ProtocolError;
    expect(seen).toBe("identity");
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.message).toContain("content-encoding gzip");
    expect(err.message).toContain("turn compression off");
  });

  it("reports https to a plain-HTTP server as a TLS failure that did not reach loomcycle, for JSON calls and streams alike", async () => {
    // A plain-HTTP server that counts TCP connections (Node's own answer to a ClientHello: a 400).
    let connections = 0;
    const plainServer = createNetServer((sock) => {
      connections += 1;
      sock.on("error", () => undefined);
      sock.once("data", () => sock.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"));
    });
    await new Promise<void>((r) => plainServer.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(plainServer.address() as AddressInfo).port}`;
    // Retries allowed, but a refused handshake is refused again: one connection per call.
    const c = client(url.replace(/^http:/, "https:"), { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } });
    for (const call of [
      () => c.getAgent("a_1"),
      () => c.streamRun("r_1", 0),
      () => c.startInteractiveRun({ agent: "echo", prompt: "hi" }),
    ]) {
      const err = (await failure(call())) as UnreachableError;
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.code).toBe("tls_failed");
      expect(err.message).toContain("did not reach loomcycle");
      expect(err.message).toContain("check http vs https");
    }
    expect(connections).toBe(3);
    plainServer.close();
  });

  it("reports a reset before the response as UnreachableError that may have reached loomcycle", async () => {
    const { url } = await serve((req) => req.socket.destroy());
    const err = (await failure(client(url, { retry: { attempts: 1 } }).sendInput("r_1", "hi"))) as UnreachableError;
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.code).toBe("connection_reset");
    expect(err.message).toContain("may have reached loomcycle");
    expect(err.message).toContain("may have been delivered");
  });

  it("rejects promptly with the caller's abort reason", async () => {
    // The header deadline is an hour away and the server never answers: only the abort,
    // sent once the request has reached the server, can end these calls in time.
    let onRequest = (): void => undefined;
    const { url } = await serve(() => onRequest());
    const c = client(url, { headersTimeoutMs: 3_600_000, runStartHeadersTimeoutMs: 3_600_000 });
    const ctl = new AbortController();
    const reason = new Error("host cancelled the call");
    onRequest = () => ctl.abort(reason);
    const err = await failure(c.getAgent("a_1", { signal: ctl.signal }));
    expect(err).toBe(reason);

    // default reason: an AbortError
    const ctl2 = new AbortController();
    onRequest = () => ctl2.abort();
    const err2 = (await failure(c.startInteractiveRun({ agent: "echo", prompt: "x" }, { signal: ctl2.signal }))) as Error;
    expect(err2.name).toBe("AbortError");

    // already aborted: no request at all
    const err3 = await failure(c.getAgent("a_1", { signal: AbortSignal.abort(reason) }));
    expect(err3).toBe(reason);
  });

  it("works with an injected fetch that ignores the signal (deadline still fires)", async () => {
    const neverFetch = (() => new Promise<Response>(() => undefined)) as unknown as typeof fetch;
    const c = new LoomcycleClient({
      baseUrl: "http://loomcycle.invalid",
      fetch: neverFetch,
      headersTimeoutMs: 100,
      retry: { attempts: 1 },
    });
    const err = (await failure(c.healthz())) as TimeoutError;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.code).toBe("headers_timeout");
  });
});

// ---- retries ------------------------------------------------------------------------------------

describe("retries", () => {
  it("retries a GET on 502/503/504 and succeeds (3 requests)", async () => {
    let n = 0;
    const { url, seen } = await serve((_req, res) => {
      n += 1;
      if (n === 1) plain(res, 503, "steering is not enabled on this server");
      else if (n === 2) {
        res.writeHead(502, { "Content-Type": "text/html" });
        res.end(NGINX_502);
      } else json(res, 200, { ok: true, metrics_enabled: false });
    });
    await expect(client(url).healthz()).resolves.toMatchObject({ ok: true });
    expect(seen).toHaveLength(3);
  });

  it("gives up after `attempts` and throws the last error", async () => {
    const { url, seen } = await serve((_req, res) => plain(res, 504, "gateway timeout"));
    const err = await failure(client(url, { retry: { attempts: 2, baseDelayMs: 5 } }).getAgent("a_1"));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(seen).toHaveLength(2);
  });

  it("does not retry 500, 404 or 400", async () => {
    for (const status of [500, 404, 400]) {
      const { url, seen } = await serve((_req, res) => plain(res, status, "nope"));
      await failure(client(url).getAgent("a_1"));
      expect(seen, String(status)).toHaveLength(1);
    }
  });

  it("retries a GET after a reset and after a header timeout", async () => {
    let n = 0;
    const { url, seen } = await serve((req, res) => {
      n += 1;
      if (n === 1) req.socket.destroy();
      else if (n === 2)
        return; // never answers: header deadline
      else json(res, 200, { agents: [{ name: "echo", source: "bundled" }] });
    });
    const r = await client(url, { headersTimeoutMs: 200 }).runnableAgents();
    expect(r.agents).toEqual([{ name: "echo", source: "bundled" }]);
    expect(seen).toHaveLength(3);
  });

  it("honours Retry-After on a 429 GET, capped at maxDelayMs", async () => {
    let n = 0;
    const { url, seen } = await serve((_req, res) => {
      n += 1;
      if (n === 1) plain(res, 429, "run input queue full; retry shortly", { "Retry-After": "1" });
      else json(res, 200, { interrupts: [], total: 0 });
    });
    // The pauses are recorded instead of slept.
    const paused: number[] = [];
    const sleep = async (ms: number): Promise<void> => void paused.push(ms);
    await client(url, { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 5000, sleep } }).listRunInterrupts("r_1");
    expect(seen).toHaveLength(2);
    expect(paused).toEqual([1000]);

    n = 0;
    const capped = await serve((_req, res) => {
      n += 1;
      if (n === 1) plain(res, 503, "paused", { "Retry-After": "30" });
      else json(res, 200, { interrupts: null, total: 0 });
    });
    paused.length = 0;
    const r = await client(capped.url, { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 200, sleep } }).listRunInterrupts(
      "r_1",
    );
    expect(r.interrupts).toEqual([]);
    expect(paused).toEqual([200]);

    // Without Retry-After: base·2^(n-1), capped, jittered into its upper half.
    const always = await serve((_req, res) => plain(res, 503, "busy"));
    paused.length = 0;
    await failure(client(always.url, { retry: { attempts: 5, baseDelayMs: 100, maxDelayMs: 300, sleep } }).getAgent("a_1"));
    expect(always.seen).toHaveLength(5);
    expect(paused).toHaveLength(4);
    for (const [i, [lo, hi]] of [
      [50, 100],
      [100, 200],
      [150, 300],
      [150, 300],
    ].entries()) {
      expect(paused[i]).toBeGreaterThanOrEqual(lo!);
      expect(paused[i]).toBeLessThanOrEqual(hi!);
    }
  });

  it("stops retrying when the caller aborts during the backoff", async () => {
    // loomcycle asks for an hour's pause: only the abort, sent once the pause has begun,
    // can end the call in time.
    const ctl = new AbortController();
    const { url, seen } = await serve((_req, res) => plain(res, 503, "busy", { "Retry-After": "3600" }));
    const paused: number[] = [];
    const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> => {
      paused.push(ms);
      const pause = backoffSleep(ms, signal);
      ctl.abort(); // the pause has begun
      return pause;
    };
    const err = (await failure(
      client(url, { retry: { attempts: 3, maxDelayMs: 3_600_000, sleep } }).getAgent("a_1", { signal: ctl.signal }),
    )) as Error;
    expect(err.name).toBe("AbortError");
    expect(paused).toEqual([3_600_000]);
    expect(seen).toHaveLength(1);
  });

  it("never retries POST /v1/runs or /input, on 502 or on a reset", async () => {
    for (const mode of ["502", "reset"] as const) {
      const { url, seen } = await serve((req, res) => {
        if (mode === "reset") req.socket.destroy();
        else {
          res.writeHead(502, { "Content-Type": "text/html" });
          res.end(NGINX_502);
        }
      });
      const c = client(url, { retry: { attempts: 5, baseDelayMs: 1 } });
      const e1 = await failure(c.startInteractiveRun({ agent: "echo", prompt: "hi" }));
      expect(e1).toBeInstanceOf(mode === "reset" ? UnreachableError : UpstreamError);
      expect(
        seen.filter((s) => s.path === "/v1/runs"),
        mode,
      ).toHaveLength(1);
      const e2 = await failure(c.sendInput("r_1", "hi"));
      expect(e2).toBeInstanceOf(mode === "reset" ? UnreachableError : UpstreamError);
      expect(
        seen.filter((s) => s.path === "/v1/runs/r_1/input"),
        mode,
      ).toHaveLength(1);
    }
  });

  it("does not retry /input on 429 and exposes retryAfterMs", async () => {
    const { url, seen } = await serve((_req, res) =>
      plain(res, 429, "run input queue full; retry shortly", { "Retry-After": "1" }),
    );
    const err = (await failure(client(url).sendInput("r_1", "hi"))) as RateLimitedError;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.retryAfterMs).toBe(1000);
    expect(err.detail).toBe("run input queue full; retry shortly");
    expect(seen).toHaveLength(1);
  });

  it("retries streamRun before headers, never after", async () => {
    let n = 0;
    const { url, seen } = await serve((_req, res) => {
      n += 1;
      if (n === 1) return void plain(res, 503, "run streaming requires a persistence backend");
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      // Cut once the frame is on its way: the headers and a frame came, so no retry.
      res.write('event: agent\ndata: {"agent_id":"a_1","run_id":"r_1","session_id":"s_1"}\n\n', () => res.socket?.destroy());
    });
    const s = await client(url).streamRun("r_1", 0);
    const got: StreamFrame[] = [];
    const err = await (async () => {
      try {
        for await (const f of s.frames) got.push(f);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(got.map((f) => f.kind)).toEqual(["agent"]);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(seen).toHaveLength(2);
  });
});

// ---- streams ----------------------------------------------------------------------------------------

describe("SSE streams", () => {
  const POST_STREAM = [
    'event: session\ndata: {"type":"session","text":"s_3f9a0c2b7d1e4a55"}\n\n',
    'event: agent\ndata: {"agent_id":"a_8c1d2e3f4a5b6c7d","parent_agent_id":null,"parent_context":null,"run_id":"r_0b1c2d3e4f5a6b7c","session_id":"s_3f9a0c2b7d1e4a55"}\n\n',
    'event: steer\ndata: {"type":"steer","user_input":{"text":"You are a careful coding assistant.\\nHelp me refactor parser.go","source":"replay"}}\n\n',
    'event: started\ndata: {"type":"started"}\n\n',
    'event: text\ndata: {"type":"text","text":"Sure — which function first?"}\n\n',
    'event: awaiting_input\ndata: {"type":"awaiting_input","awaiting_input":{"since_turn":0}}\n\n',
  ];

  it("startInteractiveRun posts interactive:true with SSE headers and yields validated frames", async () => {
    const { url, seen } = await serve((_req, res) => {
      res.writeHead(200, {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
      });
      res.write(POST_STREAM.join(""));
      res.write(": keepalive\n\n");
      res.end();
    });
    const s = await client(url).startInteractiveRun({
      agent: "helper",
      prompt: "Help me refactor parser.go",
      user_id: "u_42",
      agent_id: "a_8c1d2e3f4a5b6c7d",
      metadata: { repo: "acme/widgets" },
    });
    expect(s.status).toBe(200);
    const frames: StreamFrame[] = [];
    for await (const f of s.frames) frames.push(f);
    expect(frames.map((f) => (f.kind === "event" ? f.event.type : f.kind))).toEqual([
      "session",
      "agent",
      "steer",
      "started",
      "text",
      "awaiting_input",
    ]);
    const req = seen[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/runs");
    expect(req.headers.accept).toBe("text/event-stream");
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(req.body)).toEqual({
      agent: "helper",
      prompt: "Help me refactor parser.go",
      interactive: true,
      user_id: "u_42",
      agent_id: "a_8c1d2e3f4a5b6c7d",
      metadata: { repo: "acme/widgets" },
    });
  });

  it("startInteractiveRun maps a pre-stream 409 JSON error", async () => {
    const { url } = await serve((_req, res) => json(res, 409, { code: "agent_id_in_use", error: "agent_id a_1 is in use" }));
    const err = (await failure(
      client(url).startInteractiveRun({ agent: "helper", prompt: "x", agent_id: "a_1" }),
    )) as ConflictError;
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.code).toBe("agent_id_in_use");
    expect(err.message).toContain("POST /v1/runs");
  });

  it("streamRun sends GET with from_seq and Accept, and close() ends iteration normally and drops the connection", async () => {
    const { url, seen, closedConnections } = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write('event: agent\ndata: {"agent_id":"a_1","run_id":"r_0b1c2d3e4f5a6b7c","session_id":"s_1"}\n\n');
      res.write('event: started\ndata: {"type":"started"}\n\n');
      // then stays open with nothing more
    });
    const s = await client(url).streamRun("r_0b1c2d3e4f5a6b7c", 9004);
    expect(seen[0]).toMatchObject({ method: "GET", path: "/v1/runs/r_0b1c2d3e4f5a6b7c/stream", query: { from_seq: "9004" } });
    expect(seen[0]?.headers.accept).toBe("text/event-stream");
    const got: StreamFrame[] = [];
    // The server keeps the stream open for good: only close() ends this loop.
    for await (const f of s.frames) {
      got.push(f);
      // Closed while the loop waits for a frame that never comes (once it is waiting: next turn).
      if (got.length === 2) setImmediate(() => s.close());
    }
    expect(got).toHaveLength(2);
    await waitFor(() => closedConnections() === 1, { what: "the server to see the connection closed" });
  });

  it("the stream ends with the caller's abort reason when the caller's signal aborts", async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write('event: started\ndata: {"type":"started"}\n\n');
    });
    const ctl = new AbortController();
    const s = await client(url).streamRun("r_1", 0, { signal: ctl.signal });
    const reason = new Error("tool call cancelled");
    const err = await (async () => {
      try {
        for await (const _f of s.frames) {
          // Aborted while the loop waits for the next frame, which never comes.
          setImmediate(() => ctl.abort(reason));
        }
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBe(reason);
  });

  it("applies streamIdleMs to the body, separately from the header deadline", async () => {
    const { url } = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write('event: started\ndata: {"type":"started"}\n\n');
    });
    const s = await client(url, { headersTimeoutMs: 100, streamIdleMs: 400 }).streamRun("r_1", 0);
    const err = await (async () => {
      try {
        for await (const _f of s.frames) {
          // keep reading
        }
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe("stream_idle");
    expect((err as TimeoutError).message).toMatch(/400 ms/);
  });

  it("streamRun maps 404 `no such run` and refuses a non-SSE 200", async () => {
    const { url } = await serve((_req, res, seen) => {
      if (seen.path.includes("gone")) plain(res, 404, "no such run");
      else json(res, 200, { hello: "world" });
    });
    const c = client(url);
    const e1 = (await failure(c.streamRun("gone", 0))) as NotFoundError;
    expect(e1).toBeInstanceOf(NotFoundError);
    expect(e1.detail).toBe("no such run");
    expect(await failure(c.streamRun("r_1", 0))).toBeInstanceOf(ProtocolError);
  });
});

// ---- endpoints ------------------------------------------------------------------------------------------

describe("endpoint methods", () => {
  const AGENT_STATUS = {
    agent_id: "a_8c1d2e3f4a5b6c7d",
    run_id: "r_0b1c2d3e4f5a6b7c",
    session_id: "s_3f9a0c2b7d1e4a55",
    agent: "helper",
    user_id: "u_42",
    status: "cancelled",
    started_at: "2026-08-19T08:40:01.1Z",
    completed_at: "2026-08-19T08:55:12.9Z",
    stop_reason: "user closed the tab",
    usage: { input_tokens: 4100, output_tokens: 380, cache_read_tokens: 1200, model: "claude-sonnet-x", provider: "anthropic" },
    last_heartbeat_at: "2026-08-19T08:55:00Z",
    live: false,
    interactive: true,
  };
  const INTERRUPT = {
    interrupt_id: "intr_18a2b3c4d5e6f708a1b2c3d4",
    run_id: "r_0b1c2d3e4f5a6b7c",
    kind: "question",
    status: "pending",
    question: "Deploy to prod?",
    options: ["yes", "no"],
    context_data: "3 services changed",
    priority: "normal",
    created_at: "2026-08-19T09:00:00.000000001Z",
    expires_at: "2026-08-19T09:10:00Z",
    resolved_at: "0001-01-01T00:00:00Z",
    user_id: "u_42",
    agent_id: "a_8c1d2e3f4a5b6c7d",
  };
  // Raw text so that ts_ns keeps its 19 digits on the wire, as loomcycle sends it.
  const TRANSCRIPT_RAW = `{"session":{"id":"s_3f9a0c2b7d1e4a55","tenant_id":"acme","agent":"helper","created_at":"2026-08-19T08:40:01.123456789Z","user_id":"u_42","archived_at":"0001-01-01T00:00:00Z","summary_updated_at":"0001-01-01T00:00:00Z"},"events":[
{"seq":9001,"run_id":"r_0b1c2d3e4f5a6b7c","ts_ns":1787114401200000123,"type":"user_input","event":{"type":"user_input"},"payload":[{"role":"user","content":[{"type":"trusted-text","text":"Summarize the README"}]}]},
{"seq":9002,"run_id":"r_0b1c2d3e4f5a6b7c","ts_ns":1787114401210000000,"type":"system_prompt","event":{"type":"system_prompt"},"payload":{"system_prompt":"You are…"}},
{"seq":9003,"run_id":"r_0b1c2d3e4f5a6b7c","ts_ns":1787114401300000000,"type":"started","event":{"type":"started"}},
{"seq":9004,"run_id":"r_0b1c2d3e4f5a6b7c","ts_ns":1787114402000000000,"type":"text","event":{"type":"text","text":"Widgets is…"}},
{"seq":9010,"run_id":"r_0b1c2d3e4f5a6b7c","ts_ns":1787114403000000000,"type":"done","event":{"type":"done","usage":{"input_tokens":2202,"output_tokens":99},"stop_reason":"end_turn"}}]}`;

  const routes: Record<string, (s: Seen, res: ServerResponse) => void> = {
    "POST /v1/runs/r_0b1c2d3e4f5a6b7c/input": (_s, res) => json(res, 200, { delivered: true, run_id: "r_0b1c2d3e4f5a6b7c" }),
    "POST /v1/runs/r_0b1c2d3e4f5a6b7c/cancel": (_s, res) =>
      json(res, 200, { parked: true, run_id: "r_0b1c2d3e4f5a6b7c", stopped: true }),
    "POST /v1/agents/a_8c1d2e3f4a5b6c7d/cancel": (_s, res) =>
      json(res, 200, {
        cancelled: true,
        agent_id: "a_8c1d2e3f4a5b6c7d",
        cascaded: ["a_5e6f7a8b9c0d1e2f"],
        reason: "user closed the tab",
      }),
    "POST /v1/agents/a_done/cancel": (_s, res) => json(res, 200, { cancelled: false, agent_id: "a_done", status: "completed" }),
    "GET /v1/agents/a_8c1d2e3f4a5b6c7d": (_s, res) => json(res, 200, AGENT_STATUS),
    "GET /v1/users/u_42/agents": (_s, res) => json(res, 200, { agents: [AGENT_STATUS] }),
    "GET /v1/sessions/s_3f9a0c2b7d1e4a55/transcript": (_s, res) => json(res, 200, TRANSCRIPT_RAW),
    "GET /v1/runs/r_0b1c2d3e4f5a6b7c/interrupts": (_s, res) => json(res, 200, { interrupts: [INTERRUPT], total: 1 }),
    "GET /v1/users/u_42/interrupts": (_s, res) => json(res, 200, { interrupts: [INTERRUPT], total: 1 }),
    "POST /v1/runs/r_0b1c2d3e4f5a6b7c/interrupts/intr_18a2b3c4d5e6f708a1b2c3d4/resolve": (_s, res) =>
      json(res, 200, {
        interrupt_id: "intr_18a2b3c4d5e6f708a1b2c3d4",
        resolved_at: "2026-08-19T09:02:11.5Z",
        status: "resolved",
      }),
    "POST /v1/runs/r_0b1c2d3e4f5a6b7c/compact": (_s, res) =>
      json(res, 200, {
        run_id: "r_0b1c2d3e4f5a6b7c",
        compacted: true,
        before_tokens: 48120,
        after_tokens: 3920,
        applied: "live",
      }),
    "GET /v1/_snapshots": (_s, res) =>
      json(res, 200, {
        entries: [
          {
            id: "snap_1787114500123_9f8e7d6c",
            created_at: "2026-08-19T09:01:40.123Z",
            label: "before-deploy",
            schema_version: 1,
            byte_size: 48213,
          },
        ],
      }),
    "GET /healthz": (_s, res) =>
      json(res, 200, {
        ok: true,
        version: "v1.59.0",
        commit: "4292f357",
        built: "2026-08-19T05:40:00Z",
        uptime_seconds: 3600,
        metrics_enabled: false,
      }),
    "GET /v1/_me": (_s, res) =>
      json(res, 200, {
        capabilities: { http_host_allowlist_configured: false, mcp_allow_dynamic_stdio: false },
        is_admin: false,
        legacy: false,
        scopes: ["runs:create", "runs:read"],
        subject: "u_42",
        tenant_id: "acme",
      }),
    "GET /v1/_runnable-agents": (_s, res) =>
      json(res, 200, {
        agents: [
          { name: "helper", source: "bundled" },
          { name: "triage-bot", source: "tenant" },
        ],
      }),
    "GET /v1/agents/we%20ird%2Fid%3F": (_s, res) => json(res, 200, { ...AGENT_STATUS, agent_id: "we ird/id?" }),
  };

  async function api() {
    const srv = await serve((req, res, s) => {
      const route = routes[`${s.method} ${(req.url ?? "").split("?")[0]}`];
      if (route) route(s, res);
      else plain(res, 404, "404 page not found");
    });
    return { ...srv, c: client(srv.url) };
  }

  it("sendInput", async () => {
    const { c, seen } = await api();
    expect(await c.sendInput("r_0b1c2d3e4f5a6b7c", "Now add a unit test for the parser.")).toEqual({
      delivered: true,
      run_id: "r_0b1c2d3e4f5a6b7c",
    });
    expect(seen[0]).toMatchObject({ method: "POST", path: "/v1/runs/r_0b1c2d3e4f5a6b7c/input" });
    expect(JSON.parse(seen[0]!.body)).toEqual({ text: "Now add a unit test for the parser." });
    expect(seen[0]!.headers["content-type"]).toBe("application/json");
    expect(seen[0]!.headers.accept).toBe("application/json");
  });

  it("cancelTurn with and without a reason", async () => {
    const { c, seen } = await api();
    expect(await c.cancelTurn("r_0b1c2d3e4f5a6b7c", "wrong direction")).toEqual({
      parked: true,
      run_id: "r_0b1c2d3e4f5a6b7c",
      stopped: true,
    });
    expect(JSON.parse(seen[0]!.body)).toEqual({ reason: "wrong direction" });
    await c.cancelTurn("r_0b1c2d3e4f5a6b7c");
    expect(seen[1]).toMatchObject({ method: "POST", path: "/v1/runs/r_0b1c2d3e4f5a6b7c/cancel", body: "" });
  });

  it("cancelAgent: cancelled with cascade, and already ended", async () => {
    const { c, seen } = await api();
    expect(await c.cancelAgent("a_8c1d2e3f4a5b6c7d", "user closed the tab")).toEqual({
      cancelled: true,
      agent_id: "a_8c1d2e3f4a5b6c7d",
      cascaded: ["a_5e6f7a8b9c0d1e2f"],
      reason: "user closed the tab",
    });
    expect(JSON.parse(seen[0]!.body)).toEqual({ reason: "user closed the tab" });
    const r = await c.cancelAgent("a_done");
    expect(r).toMatchObject({ cancelled: false, status: "completed", cascaded: [] });
    expect(seen[1]!.body).toBe("");
  });

  it("getAgent", async () => {
    const { c, seen } = await api();
    const a = await c.getAgent("a_8c1d2e3f4a5b6c7d");
    expect(a).toEqual(AGENT_STATUS);
    expect(seen[0]).toMatchObject({ method: "GET", path: "/v1/agents/a_8c1d2e3f4a5b6c7d" });
  });

  it("encodes path segments", async () => {
    const { c, seen } = await api();
    const a = await c.getAgent("we ird/id?");
    expect(a.agent_id).toBe("we ird/id?");
    expect(seen).toHaveLength(1);
  });

  it("listUserAgents sends the status filter", async () => {
    const { c, seen } = await api();
    const r = await c.listUserAgents("u_42", { status: "running" });
    expect(r.agents).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "GET", path: "/v1/users/u_42/agents", query: { status: "running" } });
    await c.listUserAgents("u_42");
    expect(seen[1]!.query).toEqual({});
  });

  it("transcript keeps seq exact and ts_ns approximately", async () => {
    const { c, seen } = await api();
    const t = await c.transcript("s_3f9a0c2b7d1e4a55");
    expect(seen[0]).toMatchObject({ method: "GET", path: "/v1/sessions/s_3f9a0c2b7d1e4a55/transcript" });
    expect(t.session.id).toBe("s_3f9a0c2b7d1e4a55");
    expect(isZeroTime(t.session.archived_at)).toBe(true);
    expect(isZeroTime(t.session.created_at)).toBe(false);
    expect(t.events.map((e) => e.seq)).toEqual([9001, 9002, 9003, 9004, 9010]);
    expect(t.events.map((e) => e.type)).toEqual(["user_input", "system_prompt", "started", "text", "done"]);
    expect(Math.abs((t.events[0]!.ts_ns ?? 0) - 1.7871144012e18)).toBeLessThan(1000);
    expect(t.events[4]!.event).toMatchObject({ type: "done", stop_reason: "end_turn" });
  });

  it("listRunInterrupts and listUserInterrupts", async () => {
    const { c, seen } = await api();
    const r = await c.listRunInterrupts("r_0b1c2d3e4f5a6b7c");
    expect(r.total).toBe(1);
    expect(r.interrupts[0]).toMatchObject({ interrupt_id: "intr_18a2b3c4d5e6f708a1b2c3d4", options: ["yes", "no"] });
    expect(isZeroTime(r.interrupts[0]!.resolved_at)).toBe(true);
    expect(isZeroTime(r.interrupts[0]!.expires_at)).toBe(false);
    expect(seen[0]).toMatchObject({ method: "GET", path: "/v1/runs/r_0b1c2d3e4f5a6b7c/interrupts", query: {} });
    await c.listUserInterrupts("u_42", { status: "all" });
    expect(seen[1]).toMatchObject({ method: "GET", path: "/v1/users/u_42/interrupts", query: { status: "all" } });
  });

  it("resolveInterrupt sends only the given fields", async () => {
    const { c, seen } = await api();
    const r = await c.resolveInterrupt("r_0b1c2d3e4f5a6b7c", "intr_18a2b3c4d5e6f708a1b2c3d4", {
      kind: "question",
      answer: "yes",
      resolved_by: "mcp",
    });
    expect(r).toEqual({
      interrupt_id: "intr_18a2b3c4d5e6f708a1b2c3d4",
      resolved_at: "2026-08-19T09:02:11.5Z",
      status: "resolved",
    });
    expect(seen[0]).toMatchObject({
      method: "POST",
      path: "/v1/runs/r_0b1c2d3e4f5a6b7c/interrupts/intr_18a2b3c4d5e6f708a1b2c3d4/resolve",
    });
    expect(JSON.parse(seen[0]!.body)).toEqual({ kind: "question", answer: "yes", resolved_by: "mcp" });
    await c.resolveInterrupt("r_0b1c2d3e4f5a6b7c", "intr_18a2b3c4d5e6f708a1b2c3d4", { disposition: "declined" });
    expect(JSON.parse(seen[1]!.body)).toEqual({ disposition: "declined" });
  });

  it("compactRun", async () => {
    const { c, seen } = await api();
    expect(await c.compactRun("r_0b1c2d3e4f5a6b7c")).toEqual({
      run_id: "r_0b1c2d3e4f5a6b7c",
      compacted: true,
      before_tokens: 48120,
      after_tokens: 3920,
      applied: "live",
    });
    expect(seen[0]).toMatchObject({ method: "POST", path: "/v1/runs/r_0b1c2d3e4f5a6b7c/compact", body: "{}" });
  });

  it("listSnapshots sends limit and label_contains", async () => {
    const { c, seen } = await api();
    const r = await c.listSnapshots({ limit: 50, label_contains: "deploy" });
    expect(r.entries[0]).toMatchObject({
      id: "snap_1787114500123_9f8e7d6c",
      label: "before-deploy",
      byte_size: 48213,
      schema_version: 1,
    });
    expect(seen[0]).toMatchObject({ method: "GET", path: "/v1/_snapshots", query: { limit: "50", label_contains: "deploy" } });
  });

  it("healthz, me, runnableAgents", async () => {
    const { c, seen } = await api();
    expect(await c.healthz()).toMatchObject({ ok: true, version: "v1.59.0" });
    expect(await c.me()).toMatchObject({
      subject: "u_42",
      tenant_id: "acme",
      scopes: ["runs:create", "runs:read"],
      is_admin: false,
    });
    expect((await c.runnableAgents()).agents.map((a) => a.name)).toEqual(["helper", "triage-bot"]);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(["GET /healthz", "GET /v1/_me", "GET /v1/_runnable-agents"]);
    for (const s of seen) {
      expect(s.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(s.headers["user-agent"]).toBe("loomcycle-mcp-bridge");
    }
  });

  it("sends no Authorization header without a token, and keeps unknown response fields", async () => {
    const { url, seen } = await serve((_req, res) => json(res, 200, { ok: true, brand_new: { x: 1 } }));
    const h = await new LoomcycleClient({ baseUrl: url + "/" }).healthz();
    expect(h).toMatchObject({ brand_new: { x: 1 } });
    expect(seen[0]!.headers.authorization).toBeUndefined();
    expect(seen[0]!.path).toBe("/healthz");
  });

  it("refuses a 200 whose body is not JSON or has the wrong shape", async () => {
    const { url } = await serve((_req, res, s) => {
      if (s.path === "/healthz") {
        res.writeHead(200, { "Content-Type": "text/html" });
        res.end("<html><body>hi</body></html>");
      } else json(res, 200, { agents: [{ source: "bundled" }] });
    });
    const c = client(url);
    const e1 = (await failure(c.healthz())) as ProtocolError;
    expect(e1).toBeInstanceOf(ProtocolError);
    expect(e1.message).toContain("HTML page");
    const e2 = (await failure(c.runnableAgents())) as ProtocolError;
    expect(e2).toBeInstanceOf(ProtocolError);
    expect(e2.message).toContain("agents.0.name");
  });

  it("does not follow a redirect (the token must not travel) and says to check the base URL", async () => {
    const other = await serve((_req, res) => json(res, 200, { ok: true }));
    const { url, seen } = await serve((_req, res) => {
      res.writeHead(307, { Location: `${other.url}/healthz` });
      res.end();
    });
    const err = (await failure(client(url).healthz())) as ProtocolError;
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.message).toContain("check the loomcycle base URL");
    expect(seen).toHaveLength(1);
    expect(other.seen).toHaveLength(0);
  });

  it("isZeroTime", () => {
    expect(isZeroTime("0001-01-01T00:00:00Z")).toBe(true);
    expect(isZeroTime("0001-01-01T00:00:00.000Z")).toBe(true);
    expect(isZeroTime(undefined)).toBe(true);
    expect(isZeroTime("2026-08-19T09:10:00Z")).toBe(false);
  });
});
