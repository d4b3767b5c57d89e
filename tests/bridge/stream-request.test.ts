// The run-stream transport (src/bridge/loomcycle/stream-request.ts, Node's own HTTP client) against
// raw node:net servers that write byte-exact responses.
//
// 1. Malformed responses. The hand-written HTTP/1.1 client this transport replaced was
//    found diverging from llhttp on each response below (issue 13). None comes from
//    loomcycle itself, but a proxy in front of it may send one; whatever the transport
//    does with it, a frame must never be lost silently: either the frame reaches the
//    consumer, or the stream fails (and the run stream re-attaches and replays it).
// 2. What the transport must keep doing: Accept-Encoding identity and the request as
//    built by the client, abort on consumer stop and on the caller's signal, backpressure,
//    a clear error for a body cut short.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { PushSink } from "../../src/bridge/loomcycle/sse.js";
import { LoomcycleClient } from "../../src/bridge/loomcycle/http.js";
import { LoomcycleError } from "../../src/bridge/loomcycle/errors.js";
import type { StreamFrame } from "../../src/bridge/loomcycle/events.js";
import { openStreamRequest, type StreamResponse } from "../../src/bridge/loomcycle/stream-request.js";
import { silentLogger } from "../../src/logger.js";
import { waitFor } from "../helpers.js";

const FRAME = 'event: text\ndata: {"type":"text","text":"the first frame"}\n\n';
const SECOND = 'event: text\ndata: {"type":"text","text":"the second frame"}\n\n';
const SSE_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n";

const servers = new Set<net.Server>();
const sockets = new Set<net.Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all([...servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
  servers.clear();
});

interface Served {
  port: number;
  /** Every request head received, as text. */
  requests: string[];
  /** Server-side sockets, in connection order. */
  conns: net.Socket[];
}

/** A TCP server that answers every request with `respond(socket)` once the request head is in. */
async function serve(respond: (s: net.Socket) => void | Promise<void>): Promise<Served> {
  const served: Served = { port: 0, requests: [], conns: [] };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    served.conns.push(socket);
    socket.on("error", () => undefined);
    let buf = "";
    let answered = false;
    socket.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end === -1 || answered) return;
      answered = true;
      served.requests.push(buf);
      void Promise.resolve(respond(socket)).catch(() => socket.destroy());
    });
  });
  servers.add(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  served.port = (server.address() as net.AddressInfo).port;
  return served;
}

function client(port: number): LoomcycleClient {
  // A header deadline far past the test timeout: a response that hangs is a failure of the test, not a timeout error.
  return new LoomcycleClient({
    baseUrl: `http://127.0.0.1:${port}`,
    token: "tok_test_123456",
    logger: silentLogger(),
    headersTimeoutMs: 600_000,
    retry: { attempts: 1 },
  });
}

/** Open a run stream on the server and read it to its end: the frames that arrived, and how it ended. */
async function readAll(port: number): Promise<{ frames: StreamFrame[]; error?: LoomcycleError | Error }> {
  const frames: StreamFrame[] = [];
  try {
    const s = await client(port).streamRun("r_1", 0);
    for await (const f of s.frames) frames.push(f);
    return { frames };
  } catch (err) {
    return { frames, error: err as Error };
  }
}

const texts = (frames: StreamFrame[]): string[] =>
  frames.flatMap((f) => (f.kind === "event" && f.event.type === "text" ? [f.event.text ?? ""] : []));

/** The rule for every malformed response: the first frame arrives, or the stream fails (it is never a clean end without it). */
function expectNotSilentlyLost(out: { frames: StreamFrame[]; error?: Error }): void {
  if (texts(out.frames).includes("the first frame")) return;
  expect(out.error, "the first frame is missing, so the stream must have failed").toBeInstanceOf(LoomcycleError);
  expect((out.error as LoomcycleError).kind).not.toBe("timeout"); // refused at the bad byte, not by a deadline
}

const writeAndClose = (bytes: string | Buffer) => (s: net.Socket) => {
  s.end(bytes);
};

describe("malformed responses at the transport boundary: no frame is lost silently", () => {
  it("a head whose lines end in LF, then a CRLF blank line, then the first frame", async () => {
    const { port } = await serve(writeAndClose(`HTTP/1.1 200 OK\nContent-Type: text/event-stream\n\r\n${FRAME}${SECOND}`));
    expectNotSilentlyLost(await readAll(port));
  });

  it.each([
    ["NBSP after chunked", Buffer.from([0xa0])],
    ["VT after chunked", Buffer.from([0x0b])],
    ["FF after chunked", Buffer.from([0x0c])],
  ])(
    "Transfer-Encoding: chunked with %s is not read as chunked (every reference reads such a body to the close)",
    async (_l, ws) => {
      const chunked = `${FRAME.length.toString(16)}\r\n${FRAME}\r\n0\r\n\r\n`;
      const { port } = await serve(
        writeAndClose(
          Buffer.concat([Buffer.from(`${SSE_HEAD}Transfer-Encoding: chunked`), ws, Buffer.from(`\r\n\r\n${chunked}`)]),
        ),
      );
      const out = await readAll(port);
      expectNotSilentlyLost(out);
    },
  );

  it.each([
    ["VT", "\x0b"],
    ["FF", "\x0c"],
  ])("a Content-Length value led by %s (only space and tab are whitespace in HTTP)", async (_l, ws) => {
    const { port } = await serve(writeAndClose(`${SSE_HEAD}Content-Length:${ws}${FRAME.length}\r\n\r\n${FRAME}`));
    expectNotSilentlyLost(await readAll(port));
  });

  it("an obs-fold line (a header continued on the next line)", async () => {
    const { port } = await serve(writeAndClose(`${SSE_HEAD}X-Long: first\r\n  folded\r\n\r\n${FRAME}`));
    expectNotSilentlyLost(await readAll(port));
  });

  it.each([
    ["a bare CR inside a header line", `X-A: a\rb\r\n`],
    ["a NUL inside a header value", `X-A: a\x00b\r\n`],
    ["a header name that is not a token", `X A: b\r\n`],
  ])("%s", async (_l, line) => {
    const { port } = await serve(writeAndClose(`${SSE_HEAD}${line}\r\n${FRAME}`));
    expectNotSilentlyLost(await readAll(port));
  });

  it("a head with CR-only line ends fails at once instead of waiting for a blank line (the connection stays open)", async () => {
    const { port } = await serve((s) => {
      // No LF anywhere, and the connection stays open: only the bad byte can end this.
      s.write(`HTTP/1.1 200 OK\rContent-Type: text/event-stream\r\r${FRAME.replace(/\n/g, "\r")}`);
    });
    const out = await readAll(port);
    expect(out.error).toBeInstanceOf(LoomcycleError);
    expect((out.error as LoomcycleError).kind).toBe("unreachable");
  });

  it("a 64 KiB head arriving in small pieces is refused when it outgrows the parser's limit, without waiting for its end", async () => {
    const { port } = await serve(async (s) => {
      await new Promise<void>((r) => s.write(SSE_HEAD, () => r()));
      const line = `X-Pad: ${"p".repeat(56)}\r\n`; // 64 bytes
      for (let i = 0; i < 1024 && !s.destroyed; i++) await new Promise<void>((r) => s.write(line, () => r()));
      // never the blank line: only the size limit can end this head
    });
    const out = await readAll(port);
    expect(out.error).toBeInstanceOf(LoomcycleError);
    expect(out.frames).toEqual([]);
  });

  it("valid framing the old client refused is read: a 16-digit chunk size with leading zeros, a chunk extension over 4 KiB", async () => {
    const body =
      `${FRAME.length.toString(16).padStart(16, "0")}\r\n${FRAME}\r\n` +
      `${SECOND.length.toString(16)};ext=${"e".repeat(5000)}\r\n${SECOND}\r\n` +
      "0\r\n\r\n";
    const { port } = await serve(writeAndClose(`${SSE_HEAD}Transfer-Encoding: chunked\r\n\r\n${body}`));
    const out = await readAll(port);
    expect(out.error).toBeUndefined();
    expect(texts(out.frames)).toEqual(["the first frame", "the second frame"]);
  });

  it("a chunked body cut inside a chunk: the frames before the cut arrive, then an error (never a clean end)", async () => {
    const body = `${FRAME.length.toString(16)}\r\n${FRAME}\r\n${SECOND.length.toString(16)}\r\n${SECOND.slice(0, 10)}`;
    const { port } = await serve((s) => {
      s.write(`${SSE_HEAD}Transfer-Encoding: chunked\r\n\r\n${body}`, () => s.destroy()); // cut once the bytes are on their way
    });
    const out = await readAll(port);
    expect(texts(out.frames)).toEqual(["the first frame"]);
    expect(out.error).toBeInstanceOf(LoomcycleError);
  });
});

describe("openStreamRequest: what the transport keeps doing", () => {
  it("sends the request the client built: method, path and query, Host, identity encoding, bearer, JSON body with its length", async () => {
    const srv = await serve(writeAndClose(`${SSE_HEAD}\r\n${FRAME}`));
    const c = client(srv.port);
    const s = await c.startInteractiveRun({ agent: "echo", prompt: "héllo ✓", agent_id: "a_1" });
    for await (const f of s.frames) void f;
    const req = srv.requests[0]!;
    expect(req.startsWith("POST /v1/runs HTTP/1.1\r\n")).toBe(true);
    expect(req).toMatch(new RegExp(`\\r\\nHost: 127\\.0\\.0\\.1:${srv.port}\\r\\n`, "i"));
    expect(req).toMatch(/\r\nAccept-Encoding: identity\r\n/i);
    expect(req).toMatch(/\r\nAccept: text\/event-stream\r\n/i);
    expect(req).toMatch(/\r\nAuthorization: Bearer tok_test_123456\r\n/i);
    const body = JSON.stringify({ agent: "echo", prompt: "héllo ✓", interactive: true, agent_id: "a_1" });
    expect(req).toMatch(new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(body)}\\r\\n`, "i"));

    const g = await serve(writeAndClose(`${SSE_HEAD}\r\n`));
    const s2 = await client(g.port).streamRun("r_x", 42);
    for await (const f of s2.frames) void f;
    expect(g.requests[0]!.startsWith("GET /v1/runs/r_x/stream?from_seq=42 HTTP/1.1\r\n")).toBe(true);
    expect(g.requests[0]).not.toMatch(/content-length/i);
  });

  it("close() by the consumer closes the connection; an abort of the caller's signal does too, and the body errors with its reason", async () => {
    const srv = await serve((s) => {
      s.write(`${SSE_HEAD}Transfer-Encoding: chunked\r\n\r\n${FRAME.length.toString(16)}\r\n${FRAME}\r\n`);
    });
    const s = await client(srv.port).streamRun("r_1", 0);
    const it = s.frames[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    const closed = new Promise((r) => srv.conns[0]!.once("close", r));
    s.close();
    await closed;

    const ac = new AbortController();
    const s2 = await client(srv.port).streamRun("r_1", 0, { signal: ac.signal });
    const it2 = s2.frames[Symbol.asyncIterator]();
    await it2.next();
    const closed2 = new Promise((r) => srv.conns[1]!.once("close", r));
    const reason = new Error("caller gave up");
    ac.abort(reason);
    await expect(it2.next()).rejects.toBe(reason);
    await closed2;
  });

  it("an abort before the response head rejects the open with the signal's reason and closes the connection", async () => {
    const srv = await serve(() => undefined); // never answers
    const ac = new AbortController();
    const p = openStreamRequest(new URL(`http://127.0.0.1:${srv.port}/x`), { headers: {}, signal: ac.signal });
    await waitFor(() => srv.requests.length === 1);
    const closed = new Promise((r) => srv.conns[0]!.once("close", r));
    const reason = new Error("stop");
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    await closed;
  });

  it("pause() stops reading (the server's writes back up, nothing is delivered); resume() delivers everything in order", async () => {
    const piece = Buffer.alloc(64 * 1024, "x");
    const TOTAL = 256; // 16 MiB: far more than the socket buffers hold
    let written = 0;
    let waitingForDrain = false;
    const srv = await serve(async (s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${piece.length * TOTAL}\r\n\r\n`);
      for (let i = 0; i < TOTAL; i++) {
        written += 1;
        if (!s.write(piece)) {
          waitingForDrain = true;
          await new Promise((r) => s.once("drain", r));
          waitingForDrain = false;
        }
      }
    });
    const res: StreamResponse = await openStreamRequest(new URL(`http://127.0.0.1:${srv.port}/big`), {
      headers: {},
      signal: new AbortController().signal,
    });
    let got = 0;
    let ended = false;
    let paused = false;
    let pausedOnce = false;
    const sink: PushSink = {
      data(bytes) {
        expect(paused && got > 0 ? "delivered while paused" : "ok").toBe("ok");
        got += bytes.length;
        if (got >= 1024 * 1024 && !pausedOnce && written < TOTAL) {
          paused = pausedOnce = true;
          res.body.pause();
        }
      },
      end() {
        ended = true;
      },
      error(err) {
        throw err;
      },
    };
    res.body.start(sink);
    await waitFor(() => paused);
    const seen = got;
    // The server's writes back up: it waits for its socket to drain, over 1 MiB past what
    // was delivered, which only the sockets' buffers now hold (nothing is read into memory).
    await waitFor(() => waitingForDrain && written * piece.length - seen > 1024 * 1024, {
      what: () => `the server's writes to back up (${written} pieces written, ${got} bytes delivered)`,
    });
    expect(written).toBeLessThan(TOTAL); // the server is blocked on our full socket
    expect(got - seen).toBeLessThan(1024 * 1024); // at most what was already read ahead
    paused = false;
    res.body.resume();
    await waitFor(() => ended, { timeoutMs: 10_000 });
    expect(got).toBe(piece.length * TOTAL);
  });

  it("a refused connection rejects with ECONNREFUSED (network-errors.ts: the request did not reach loomcycle)", async () => {
    const srv = await serve(() => undefined);
    const port = srv.port;
    await Promise.all([...servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
    servers.clear();
    await expect(client(port).streamRun("r_1", 0)).rejects.toMatchObject({ kind: "unreachable", code: "connect_refused" });
  });
});
