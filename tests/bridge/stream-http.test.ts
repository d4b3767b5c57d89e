// The run-stream transport (src/bridge/stream-http.ts) against raw node:net servers that
// write byte-exact responses, split wherever a test wants them split. The client decodes
// every read in place on one shared buffer, so bodies are checked byte for byte, across
// split reads and across many connections at once.
import net from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { PushSink } from "../../src/bridge/sse.js";
import { HttpFramingError, openStreamRequest, type StreamRequestOptions, type StreamResponse } from "../../src/bridge/stream-http.js";

// ---- helpers ---------------------------------------------------------------------------

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Wait until `cond` holds (checked every millisecond), or fail after `ms`. */
async function until(cond: () => boolean, ms = 2000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(1);
  }
}

/** Resolve with the promise's value, or fail after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]);
}

interface Conn {
  socket: net.Socket;
  /** Every byte the client sent so far. */
  received(): Buffer;
  closed: Promise<void>;
  isClosed(): boolean;
  /** The request head (lines) and its Content-Length body. */
  request(): Promise<{ lines: string[]; body: Buffer }>;
  /** Write and wait until Node has handed the bytes to the kernel. */
  send(data: string | Buffer): Promise<void>;
}

interface TestServer {
  port: number;
  url(path?: string): URL;
  conns: Conn[];
  server: net.Server;
}

const servers = new Set<net.Server>();
const serverSockets = new Set<net.Socket>();
const responses = new Set<StreamResponse>();

afterEach(async () => {
  for (const r of responses) r.close();
  responses.clear();
  for (const s of serverSockets) s.destroy();
  serverSockets.clear();
  await Promise.all([...servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
  servers.clear();
});

function wrapConn(socket: net.Socket): Conn {
  socket.setNoDelay(true);
  socket.on("error", () => undefined);
  serverSockets.add(socket);
  const parts: Buffer[] = [];
  let waiters: Array<() => void> = [];
  let isClosed = false;
  socket.on("data", (d: Buffer) => {
    parts.push(d);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const closed = new Promise<void>((r) =>
    socket.on("close", () => {
      isClosed = true;
      r();
    }),
  );
  const received = (): Buffer => Buffer.concat(parts);
  return {
    socket,
    received,
    closed,
    isClosed: () => isClosed,
    async request() {
      for (;;) {
        const all = received();
        const end = all.indexOf("\r\n\r\n");
        if (end !== -1) {
          const lines = all.toString("latin1", 0, end).split("\r\n");
          const cl = lines.find((l) => /^content-length:/i.test(l));
          const len = cl ? Number(cl.slice(cl.indexOf(":") + 1).trim()) : 0;
          if (all.length >= end + 4 + len) return { lines, body: all.subarray(end + 4, end + 4 + len) };
        }
        if (isClosed) throw new Error("connection closed before a whole request arrived");
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    send(data) {
      return new Promise<void>((resolve) => {
        socket.write(data, () => resolve());
      });
    },
  };
}

async function listen(onConn: (c: Conn) => void | Promise<void>): Promise<TestServer> {
  const conns: Conn[] = [];
  const server = net.createServer((socket) => {
    const c = wrapConn(socket);
    conns.push(c);
    void Promise.resolve(onConn(c)).catch(() => socket.destroy());
  });
  servers.add(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return { port, url: (path = "/") => new URL(`http://127.0.0.1:${port}${path}`), conns, server };
}

/** openStreamRequest, with the response closed after the test. */
async function open(url: URL, opts: Partial<StreamRequestOptions> = {}): Promise<StreamResponse> {
  const res = await openStreamRequest(url, { headers: {}, signal: new AbortController().signal, ...opts });
  responses.add(res);
  return res;
}

interface Collected {
  /** Every sink call in order: "data" (with its bytes copied), "end", "error". */
  events: Array<{ kind: "data"; bytes: Buffer } | { kind: "end" } | { kind: "error"; err: unknown }>;
  bytes(): Buffer;
  text(): string;
  dataCalls(): number;
  ended(): boolean;
  error(): unknown;
  /** Settles at end() or error(). */
  done: Promise<void>;
}

/** Start the body with a sink that copies what it is given (the bytes live in a reused buffer). */
function collect(res: StreamResponse, onData?: (bytes: Uint8Array) => void): Collected {
  const events: Collected["events"] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const sink: PushSink = {
    data(bytes) {
      events.push({ kind: "data", bytes: Buffer.from(bytes) });
      onData?.(bytes);
    },
    end() {
      events.push({ kind: "end" });
      finish();
    },
    error(err) {
      events.push({ kind: "error", err });
      finish();
    },
  };
  res.body.start(sink);
  const bytes = (): Buffer => Buffer.concat(events.flatMap((e) => (e.kind === "data" ? [e.bytes] : [])));
  return {
    events,
    bytes,
    text: () => bytes().toString("utf8"),
    dataCalls: () => events.filter((e) => e.kind === "data").length,
    ended: () => events.some((e) => e.kind === "end"),
    error: () => events.find((e): e is { kind: "error"; err: unknown } => e.kind === "error")?.err,
    done,
  };
}

/** Expect exactly one end(), after all data, and no error. */
function expectCleanEnd(c: Collected): void {
  const kinds = c.events.map((e) => e.kind);
  expect(kinds.filter((k) => k !== "data"), `sink calls: ${kinds.join(",")}; error: ${String(c.error())}`).toEqual(["end"]);
  expect(kinds[kinds.length - 1]).toBe("end");
}

/** A response assembled from pieces, with how many decoded body bytes precede each offset. */
interface Wire {
  bytes: Buffer;
  headLength: number;
  body: Buffer;
  /** bodyBefore[k]: decoded body bytes within bytes[0..k). */
  bodyBefore: number[];
}

function wire(head: string, segments: Array<{ framing: string | Buffer } | { data: string | Buffer }>): Wire {
  const parts: Buffer[] = [Buffer.from(head, "latin1")];
  const bodyParts: Buffer[] = [];
  const bodyBefore: number[] = [];
  for (let i = 0; i <= parts[0]!.length; i++) bodyBefore.push(0);
  let decoded = 0;
  for (const s of segments) {
    const isData = "data" in s;
    const b = isData ? Buffer.from(s.data) : Buffer.from(s.framing);
    parts.push(b);
    if (isData) bodyParts.push(b);
    for (let i = 0; i < b.length; i++) {
      if (isData) decoded++;
      bodyBefore.push(decoded);
    }
  }
  return { bytes: Buffer.concat(parts), headLength: parts[0]!.length, body: Buffer.concat(bodyParts), bodyBefore };
}

/** Chunked framing for `chunks`: size line (optionally upper-case hex, with an extension), data, CRLF; then the last chunk and trailers. */
function chunked(chunks: Array<string | Buffer>, opt: { upper?: boolean; ext?: string; trailers?: string[] } = {}): Array<{ framing: string } | { data: string | Buffer }> {
  const out: Array<{ framing: string } | { data: string | Buffer }> = [];
  for (const c of chunks) {
    const len = Buffer.byteLength(c);
    let size = len.toString(16);
    if (opt.upper) size = size.toUpperCase();
    out.push({ framing: `${size}${opt.ext ?? ""}\r\n` }, { data: c }, { framing: "\r\n" });
  }
  out.push({ framing: `0\r\n${(opt.trailers ?? []).map((t) => `${t}\r\n`).join("")}\r\n` });
  return out;
}

const SSE_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";

/**
 * Serve `w` in pieces cut at `cuts` (ascending offsets). Between pieces the server waits
 * until the client has provably consumed the previous piece: once the head is complete,
 * that the response resolved and the body bytes in the piece were delivered; before
 * that (nothing to observe) a few milliseconds.
 */
async function servePieces(c: Conn, w: Wire, cuts: number[], progress: () => { resolved: boolean; delivered: number }): Promise<void> {
  let at = 0;
  for (const cut of [...cuts, w.bytes.length]) {
    if (cut <= at) continue;
    await c.send(w.bytes.subarray(at, cut));
    at = cut;
    if (at === w.bytes.length) break;
    if (at >= w.headLength) {
      const want = w.bodyBefore[at]!;
      await until(() => progress().resolved && progress().delivered >= want, 3000, `the client to consume ${at} bytes`);
    } else {
      await delay(3);
    }
  }
}

// ---- tests -----------------------------------------------------------------------------

describe("openStreamRequest: chunked bodies across split reads", () => {
  const SSE_WIRE = wire(
    SSE_HEAD,
    chunked(['event: message\ndata: {"seq":1,"text":"hi"}\n\n', "data: h\u00e9llo \u2713 \u{1F600}\n\n", ": keep-alive\n\n"], {
      upper: true,
      ext: ';name="v";x=1',
      trailers: ["X-Checksum: abc", "X-Done: yes"],
    }),
  );

  it("delivers the body intact when the response is split in two at every byte offset", async () => {
    const w = SSE_WIRE;
    // The head holds a status line, headers and the CRLFCRLF; the body every kind of chunk
    // framing (upper-case size with an extension, data, the CRLF after it, the 0-chunk, trailers).
    expect(w.headLength).toBeGreaterThan(60);
    const progress = new Map<number, { resolved: boolean; delivered: number }>();
    const srv = await listen(async (c) => {
      const { lines } = await c.request();
      const k = Number(/^GET \/split\/(\d+) HTTP\/1\.1$/.exec(lines[0]!)![1]);
      await servePieces(c, w, [k], () => progress.get(k)!);
    });
    const results = new Map<number, { res: StreamResponse; got: Collected }>();
    const offsets = Array.from({ length: w.bytes.length - 1 }, (_, i) => i + 1);
    // In batches, so the server's waits between the two parts overlap.
    for (let b = 0; b < offsets.length; b += 40) {
      await Promise.all(
        offsets.slice(b, b + 40).map(async (k) => {
          const p = { resolved: false, delivered: 0 };
          progress.set(k, p);
          const res = await open(srv.url(`/split/${k}`));
          p.resolved = true;
          const got = collect(res, (bytes) => (p.delivered += bytes.length));
          await within(got.done, 3000, `the body split at ${k}`);
          results.set(k, { res, got });
        }),
      );
    }
    for (const k of offsets) {
      const { res, got } = results.get(k)!;
      expect(res.status, `split at ${k}`).toBe(200);
      expect(res.headers.get("content-type"), `split at ${k}`).toBe("text/event-stream");
      expect(got.bytes().equals(w.body), `split at ${k}: got ${JSON.stringify(got.text())}`).toBe(true);
      expectCleanEnd(got);
    }
  });

  it("does not resolve before the whole head has arrived, at any split inside the head", async () => {
    const w = SSE_WIRE;
    const srv = await listen(async (c) => {
      const { lines } = await c.request();
      const k = Number(/^GET \/head\/(\d+) /.exec(lines[0]!)![1]);
      await c.send(w.bytes.subarray(0, k));
      await delay(15);
      await c.send(w.bytes.subarray(k));
    });
    await Promise.all(
      Array.from({ length: w.headLength - 1 }, (_, i) => i + 1).map(async (k) => {
        const res = await open(srv.url(`/head/${k}`));
        const conn = srv.conns.find((c) => c.received().includes(`/head/${k} `))!;
        // Resolved only once the server had written the second part too (15 ms after the first).
        expect(conn.socket.bytesWritten, `split at ${k}`).toBe(w.bytes.length);
        const got = collect(res);
        await within(got.done, 3000, `body for head split at ${k}`);
        expect(got.bytes().equals(w.body)).toBe(true);
      }),
    );
  });

  it("property: any chunking, cut into any pieces, decodes to the same bytes", async () => {
    let n = 0;
    const progress = new Map<number, { resolved: boolean; delivered: number }>();
    const plans = new Map<number, { w: Wire; cuts: number[] }>();
    const srv = await listen(async (c) => {
      const { lines } = await c.request();
      const id = Number(/^GET \/p\/(\d+) /.exec(lines[0]!)![1]);
      const plan = plans.get(id)!;
      await servePieces(c, plan.w, plan.cuts, () => progress.get(id)!);
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 100_000 }), { maxLength: 12 }),
        fc.boolean(),
        fc.constantFrom("", ";a=b", ';ext="q;x"', ";x"),
        fc.array(fc.stringMatching(/^X-T[a-z]{1,6}: [a-z0-9 ]{0,12}$/), { maxLength: 2 }),
        async (chunks, rawCuts, upper, ext, trailers) => {
          const w = wire(SSE_HEAD, chunked(chunks.map((c) => Buffer.from(c)), { upper, ext, trailers }));
          const cuts = [...new Set(rawCuts.map((x) => x % w.bytes.length).filter((x) => x > 0))].sort((a, b) => a - b);
          const id = n++;
          const p = { resolved: false, delivered: 0 };
          progress.set(id, p);
          plans.set(id, { w, cuts });
          const res = await open(srv.url(`/p/${id}`));
          p.resolved = true;
          const got = collect(res, (bytes) => (p.delivered += bytes.length));
          await within(got.done, 3000, `property case ${id}`);
          expect(got.bytes().equals(w.body)).toBe(true);
          expectCleanEnd(got);
          res.close();
        },
      ),
      { seed: 20240611, numRuns: 60 },
    );
    expect(n).toBe(60);
  });
});

describe("openStreamRequest: head and body timing", () => {
  it("keeps body bytes that arrived in the same read as the head until start(), while other connections reuse the read buffer", async () => {
    const w = wire(SSE_HEAD, chunked(["data: first\n\n", "data: second\n\n"]));
    const other = Buffer.alloc(50_000, "Z");
    const srv = await listen(async (c) => {
      const { lines } = await c.request();
      if (lines[0]!.startsWith("GET /a ")) {
        await c.send(w.bytes); // head, whole body, last chunk: one write
      } else {
        await c.send(`HTTP/1.1 200 OK\r\nContent-Length: ${other.length}\r\n\r\n`);
        await c.send(other);
      }
    });
    const a = await open(srv.url("/a"));
    expect(a.status).toBe(200);
    await delay(20);
    // Another connection's reads land in the shared buffer before A's body is started.
    const b = await open(srv.url("/b"));
    const gotB = collect(b);
    await within(gotB.done, 2000, "body b");
    expect(gotB.bytes().equals(other)).toBe(true);
    const gotA = collect(a);
    await within(gotA.done, 2000, "body a");
    expect(gotA.text()).toBe("data: first\n\ndata: second\n\n");
    expectCleanEnd(gotA);
  });

  it("resolves as soon as the head is complete, before any body byte", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
      await gate;
      await c.send("6\r\ndata: \r\n");
      await delay(5);
      await c.send("3\r\nx\n\n\r\n0\r\n\r\n");
    });
    const res = await within(open(srv.url("/")), 1000, "the head");
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    const got = collect(res);
    await delay(10);
    expect(got.events).toEqual([]);
    release();
    await within(got.done, 2000, "the body");
    expect(got.text()).toBe("data: x\n\n");
    expectCleanEnd(got);
  });
});

describe("openStreamRequest: framing variants", () => {
  async function answer(response: string | Buffer, opts: { keepOpen?: boolean } = {}): Promise<{ res: StreamResponse; got: Collected; srv: TestServer }> {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send(response);
      if (!opts.keepOpen) c.socket.end();
    });
    const res = await open(srv.url("/"));
    const got = collect(res);
    await within(got.done, 2000, "the body");
    return { res, got, srv };
  }

  it("reads chunk extensions, upper-case hex sizes and trailers", async () => {
    const body = "0123456789ABCDEFGHIJKLMNOPQRSTU"; // 31 bytes: 1F
    const { res, got, srv } = await answer(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;foo=bar\r\nhello\r\n1F;a=1;b="x y"\r\n${body}\r\nA\r\n0123456789\r\n0;last\r\nX-Trailer: 1\r\nX-Other: two words\r\n\r\n`,
      { keepOpen: true },
    );
    expect(got.text()).toBe(`hello${body}0123456789`);
    expectCleanEnd(got);
    // Ended by the last chunk and its trailers, not by the server closing.
    expect(res.headers.get("x-trailer")).toBeNull();
    await within(srv.conns[0]!.closed, 1000, "the client to close");
  });

  it("reads a head with bare-LF line endings", async () => {
    const { res, got } = await answer("HTTP/1.1 200 OK\nContent-Type: text/plain\nX-A:  spaced  \nContent-Length: 5\n\nhello", { keepOpen: true });
    expect(res.status).toBe(200);
    expect(res.statusText).toBe("OK");
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(res.headers.get("x-a")).toBe("spaced");
    expect(got.text()).toBe("hello");
    expectCleanEnd(got);
  });

  it("reads a bare-LF head split at every offset", async () => {
    const w = wire("HTTP/1.1 200 OK\nX-A: 1\nTransfer-Encoding: chunked\n\n", chunked(["data: lf\n\n"]));
    const progress = new Map<number, { resolved: boolean; delivered: number }>();
    const srv = await listen(async (c) => {
      const { lines } = await c.request();
      const k = Number(/^GET \/lf\/(\d+) /.exec(lines[0]!)![1]);
      await servePieces(c, w, [k], () => progress.get(k)!);
    });
    await Promise.all(
      Array.from({ length: w.headLength + 3 }, (_, i) => i + 1).map(async (k) => {
        const p = { resolved: false, delivered: 0 };
        progress.set(k, p);
        const res = await open(srv.url(`/lf/${k}`));
        p.resolved = true;
        const got = collect(res, (b) => (p.delivered += b.length));
        await within(got.done, 3000, `lf split ${k}`);
        expect(res.headers.get("x-a"), `split ${k}`).toBe("1");
        expect(got.text(), `split ${k}`).toBe("data: lf\n\n");
        expectCleanEnd(got);
      }),
    );
  });

  it("ends a Content-Length body after exactly that many bytes, without waiting for the close", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello ");
      await delay(10);
      await c.send("worldEXTRA BYTES THAT ARE NOT THE BODY");
      // and the connection stays open
    });
    const res = await open(srv.url("/"));
    const got = collect(res);
    await within(got.done, 2000, "the body");
    expect(got.text()).toBe("hello world");
    expectCleanEnd(got);
    await within(srv.conns[0]!.closed, 1000, "the client to close");
  });

  it("reads a close-delimited body (no Transfer-Encoding, no Content-Length) to the EOF", async () => {
    let endedBeforeEof: boolean | undefined;
    const ref: { got?: Collected } = {};
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\n\n");
      await until(() => (ref.got?.dataCalls() ?? 0) > 0, 2000, "the first bytes");
      await delay(10);
      endedBeforeEof = ref.got!.ended();
      await c.send("data: b\n\n");
      c.socket.end();
    });
    const res = await open(srv.url("/"));
    const got = collect(res);
    ref.got = got;
    await within(got.done, 2000, "the body");
    expect(got.text()).toBe("data: a\n\ndata: b\n\n");
    expect(endedBeforeEof).toBe(false); // not before the EOF
    expectCleanEnd(got);
  });

  it("treats 204 (and Content-Length: 0) as no body: end() at once, connection closed", async () => {
    for (const head of ["HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]) {
      const srv = await listen(async (c) => {
        await c.request();
        await c.send(head + "GARBAGE");
      });
      const res = await open(srv.url("/"));
      const got = collect(res);
      // end() came synchronously inside start(): nothing to wait for
      expect(got.events.map((e) => e.kind)).toEqual(["end"]);
      await within(srv.conns[0]!.closed, 1000, "the client to close");
    }
  });

  it("skips 100 Continue and 103 Early Hints before the real response", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 100 Continue\r\n\r\n");
      await delay(5);
      await c.send("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok");
    });
    const res = await open(srv.url("/"));
    expect(res.status).toBe(201);
    expect(res.statusText).toBe("Created");
    expect(res.headers.get("x-final")).toBe("yes");
    expect(res.headers.get("link")).toBeNull(); // the interim response's headers are not the response's
    const got = collect(res);
    await within(got.done, 2000, "the body");
    expect(got.text()).toBe("ok");
    expectCleanEnd(got);
  });

  it("skips interim responses that arrive in the same read as the final one", async () => {
    const { res, got } = await answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", { keepOpen: true });
    expect(res.status).toBe(200);
    expect(got.text()).toBe("abc");
  });

  it("joins duplicate headers with ', ' and looks names up case-insensitively", async () => {
    const { res } = await answer("HTTP/1.1 200 OK\r\nX-Dup: a\r\nContent-Length: 0\r\nx-dup: b\r\nX-DUP:c\r\nX-Empty:\r\nX-Colon: a:b:c\r\n\r\n", { keepOpen: true });
    expect(res.headers.get("x-dup")).toBe("a, b, c");
    expect(res.headers.get("X-Dup")).toBe("a, b, c");
    expect(res.headers.get("X-DUP")).toBe("a, b, c");
    expect(res.headers.get("CONTENT-LENGTH")).toBe("0");
    expect(res.headers.get("x-empty")).toBe("");
    expect(res.headers.get("x-colon")).toBe("a:b:c");
    expect(res.headers.get("x-missing")).toBeNull();
  });
});

describe("openStreamRequest: the request", () => {
  it("sends a POST with its request line, Host with port, headers and a UTF-8 body byte for byte", async () => {
    const body = JSON.stringify({ agent: "echo", prompt: "h\u00e9llo \u2713 \u65e5\u672c \u{1F600} \\ \"q\"", interactive: true });
    let seen: { lines: string[]; body: Buffer } | undefined;
    const srv = await listen(async (c) => {
      seen = await c.request();
      await c.send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: x\n\n\r\n0\r\n\r\n");
    });
    const res = await open(srv.url("/v1/runs?mode=x&y=%20z"), {
      method: "POST",
      body,
      headers: { Authorization: "Bearer tok_123", "Content-Type": "application/json", Accept: "text/event-stream", "X-Custom": "v a l" },
    });
    const got = collect(res);
    await within(got.done, 2000, "the body");
    expect(got.text()).toBe("data: x\n\n");
    expect(seen).toBeDefined();
    const [requestLine, ...headerLines] = seen!.lines;
    expect(requestLine).toBe("POST /v1/runs?mode=x&y=%20z HTTP/1.1");
    const hdr = (name: string): string[] =>
      headerLines.filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(l.indexOf(":") + 1).trim());
    expect(hdr("Host")).toEqual([`127.0.0.1:${srv.port}`]);
    expect(hdr("Content-Length")).toEqual([String(Buffer.byteLength(body, "utf8"))]);
    expect(Buffer.byteLength(body, "utf8")).toBeGreaterThan(body.length); // the body really is multibyte
    expect(hdr("Authorization")).toEqual(["Bearer tok_123"]);
    expect(hdr("Content-Type")).toEqual(["application/json"]);
    expect(hdr("Accept")).toEqual(["text/event-stream"]);
    expect(hdr("X-Custom")).toEqual(["v a l"]);
    expect(hdr("Connection")).toEqual(["close"]);
    expect(seen!.body.equals(Buffer.from(body, "utf8"))).toBe(true);
    // nothing after the body
    expect(srv.conns[0]!.received().length).toBe(seen!.lines.join("\r\n").length + 4 + Buffer.byteLength(body, "utf8"));
  });

  it("sends a GET with no body and no Content-Length, path '/' for a bare origin", async () => {
    let seen: { lines: string[]; body: Buffer } | undefined;
    const srv = await listen(async (c) => {
      seen = await c.request();
      await c.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    const res = await openStreamRequest(new URL(`http://127.0.0.1:${srv.port}`), { headers: { Accept: "text/event-stream" }, signal: new AbortController().signal });
    responses.add(res);
    expect(res.status).toBe(200);
    expect(seen!.lines[0]).toBe("GET / HTTP/1.1");
    expect(seen!.lines.some((l) => /^content-length:/i.test(l))).toBe(false);
    expect(seen!.lines).toContain("Accept: text/event-stream");
  });

  it("refuses a header value or name containing CR or LF, and sends nothing", async () => {
    const srv = await listen(() => undefined);
    const bad: Array<Record<string, string>> = [{ "X-Evil": "a\r\nInjected: 1" }, { "X-Evil": "a\nInjected: 1" }, { "X-Evil\r\nInjected": "1" }];
    for (const headers of bad) {
      await expect(open(srv.url("/"), { headers })).rejects.toThrow(/line break/);
    }
    await delay(20);
    for (const c of srv.conns) expect(c.received().toString("latin1")).not.toContain("Injected");
    expect(srv.conns.every((c) => c.received().length === 0)).toBe(true);
  });
});

describe("openStreamRequest: error responses and text()", () => {
  it("reads a non-2xx plain-text body with text(max)", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      const text = "busy, try again l\u00e4ter";
      await c.send(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 3\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    });
    const res = await open(srv.url("/"));
    expect(res.status).toBe(503);
    expect(res.ok).toBe(false);
    expect(res.statusText).toBe("Service Unavailable");
    expect(res.headers.get("retry-after")).toBe("3");
    expect(res.url).toBe(srv.url("/").toString());
    expect(await within(res.text(4096), 2000, "text()")).toBe("busy, try again l\u00e4ter");
  });

  it("cuts text(max) at max bytes and closes the connection", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n");
      await delay(5);
      await c.send("6\r\n6789ab\r\n");
      // never ends
    });
    const res = await open(srv.url("/"));
    expect(await within(res.text(10), 2000, "text(10)")).toBe("0123456789");
    await within(srv.conns[0]!.closed, 1000, "the client to close");
  });

  it("text() returns what arrived when the body is cut short", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 100\r\n\r\npartial");
      c.socket.end();
    });
    const res = await open(srv.url("/"));
    expect(await within(res.text(1000), 2000, "text()")).toBe("partial");
  });
});

describe("openStreamRequest: failures", () => {
  it("errors the body with ERR_STREAM_PREMATURE_CLOSE on an EOF inside a chunked body, after the bytes that did arrive", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
      await delay(5);
      await c.send("10\r\nabc");
      await delay(5);
      c.socket.end();
    });
    const res = await open(srv.url("/"));
    const got = collect(res);
    await within(got.done, 2000, "the error");
    expect(got.text()).toBe("helloabc");
    const kinds = got.events.map((e) => e.kind);
    expect(kinds[kinds.length - 1]).toBe("error");
    expect(kinds.filter((k) => k !== "data")).toEqual(["error"]);
    expect((got.error() as { code?: string }).code).toBe("ERR_STREAM_PREMATURE_CLOSE");
  });

  it("errors the body with ERR_STREAM_PREMATURE_CLOSE on an EOF before the last chunk or inside a Content-Length body", async () => {
    for (const [response, expected] of [
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "abc"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n", "abc"], // no blank line after the last chunk
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n", "abc"], // inside the trailers
      ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd", "abcd"],
    ] as const) {
      const srv = await listen(async (c) => {
        await c.request();
        await c.send(response);
        c.socket.end();
      });
      const res = await open(srv.url("/"));
      const got = collect(res);
      await within(got.done, 2000, "the error");
      expect(got.text(), response).toBe(expected);
      expect((got.error() as { code?: string } | undefined)?.code, response).toBe("ERR_STREAM_PREMATURE_CLOSE");
      expect(got.ended()).toBe(false);
    }
  });

  it("rejects with ECONNRESET on an EOF before the head is complete", async () => {
    for (const partial of ["", "HTTP/1.1 200 OK\r\nContent-"]) {
      const srv = await listen(async (c) => {
        await c.request();
        if (partial) await c.send(partial);
        c.socket.end();
      });
      const err = await open(srv.url("/")).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(partial)).toBeInstanceOf(Error);
      expect((err as { code?: string }).code).toBe("ECONNRESET");
    }
  });

  it("rejects with an HttpFramingError on a malformed status line or header line", async () => {
    for (const response of ["SSH-2.0-OpenSSH_9.6\r\n\r\n", "HTTP/1.1 2OO OK\r\n\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n"]) {
      const srv = await listen(async (c) => {
        await c.request();
        await c.send(response);
      });
      const err = await open(srv.url("/")).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(response)).toBeInstanceOf(HttpFramingError);
      expect((err as HttpFramingError).code).toBe("HPE_INVALID_RESPONSE");
      await within(srv.conns[0]!.closed, 1000, "the client to close");
    }
  });

  it("errors the body with an HttpFramingError on a bad chunk size, an over-long size line or a missing CRLF after chunk data, after the good bytes", async () => {
    for (const [bad, good, message] of [
      ["zz\r\n", "hello", /bad chunk-size line "zz"/],
      ["-1\r\n", "hello", /bad chunk-size line "-1"/],
      ["3\r\nabcX\r\n", "helloabc", /chunk data not followed by CRLF/],
      [`${"1".repeat(5000)}\r\n`, "hello", /line over 4096 bytes/],
    ] as const) {
      const srv = await listen(async (c) => {
        await c.request();
        await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        await delay(5);
        await c.send(bad);
      });
      const res = await open(srv.url("/"));
      const got = collect(res);
      await within(got.done, 2000, "the error");
      expect(got.text(), bad).toBe(good);
      expect(got.error(), bad).toBeInstanceOf(HttpFramingError);
      expect((got.error() as HttpFramingError).code).toBe("HPE_INVALID_RESPONSE");
      expect((got.error() as Error).message).toMatch(message);
      await within(srv.conns[0]!.closed, 1000, "the client to close");
    }
  });

  it("rejects a response head over 64 KiB with an HttpFramingError", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(100 * 1024)}`); // never terminated
    });
    const err = await open(srv.url("/")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HttpFramingError);
    expect((err as Error).message).toMatch(/head over 65536 bytes/);
    await within(srv.conns[0]!.closed, 1000, "the client to close");
  });

  it("rejects a terminated head just over 64 KiB that arrives with its end in one read", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70 * 1024)}\r\nContent-Length: 2\r\n\r\nok`);
    });
    await expect(open(srv.url("/"))).rejects.toBeInstanceOf(HttpFramingError);
  });

  it("rejects a terminated head far over 64 KiB (sent in one write)", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(140 * 1024)}\r\nContent-Length: 2\r\n\r\nok`);
    });
    await expect(open(srv.url("/"))).rejects.toBeInstanceOf(HttpFramingError);
  });

  it("rejects with ECONNREFUSED on a dead port", async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const err = await openStreamRequest(new URL(`http://127.0.0.1:${port}/v1/runs`), { headers: {}, signal: new AbortController().signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).toBe("ECONNREFUSED");
  });
});

describe("openStreamRequest: abort", () => {
  it("rejects at once with the signal's reason on an abort before the head, and closes the connection", async () => {
    const srv = await listen(() => undefined); // accepts, never answers
    const ac = new AbortController();
    const pending = openStreamRequest(srv.url("/"), { headers: {}, signal: ac.signal });
    const outcome = pending.then(
      () => "resolved",
      (e: unknown) => e,
    );
    await until(() => srv.conns.length === 1 && srv.conns[0]!.received().includes("\r\n\r\n"), 2000, "the request");
    const reason = new Error("caller gave up");
    const t0 = Date.now();
    ac.abort(reason);
    expect(await within(outcome, 500, "the rejection")).toBe(reason);
    expect(Date.now() - t0).toBeLessThan(200);
    await within(srv.conns[0]!.closed, 1000, "the server to see the close");
  });

  it("rejects with the reason without connecting when the signal is already aborted", async () => {
    const srv = await listen(() => undefined);
    const reason = new Error("already");
    await expect(openStreamRequest(srv.url("/"), { headers: {}, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await delay(20);
    expect(srv.conns).toHaveLength(0);
  });

  it("errors the body with the signal's reason on an abort mid-body, and closes the connection", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n");
      // and then nothing
    });
    const ac = new AbortController();
    const res = await open(srv.url("/"), { signal: ac.signal });
    const got = collect(res);
    await until(() => got.dataCalls() > 0, 2000, "the first bytes");
    const reason = new Error("stop reading");
    ac.abort(reason);
    await within(got.done, 500, "the error");
    expect(got.text()).toBe("data: 1\n\n");
    expect(got.error()).toBe(reason);
    expect(got.ended()).toBe(false);
    await within(srv.conns[0]!.closed, 1000, "the server to see the close");
  });

  it("delivers an abort that came before start() to the sink when it starts", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    });
    const ac = new AbortController();
    const res = await open(srv.url("/"), { signal: ac.signal });
    await delay(10);
    const reason = new Error("early");
    ac.abort(reason);
    await within(srv.conns[0]!.closed, 1000, "the server to see the close");
    const got = collect(res);
    expect(got.text()).toBe("abc");
    expect(got.error()).toBe(reason);
  });
});

describe("openStreamRequest: backpressure", () => {
  it("pause() stops reading until resume(): the server's writes back up, nothing is delivered while paused, and everything arrives in order after", async () => {
    const FRAME = 64 * 1024;
    const sent: Buffer[] = [];
    let blocked = false;
    let finishWriting!: () => void;
    const mayFinish = new Promise<void>((r) => (finishWriting = r));
    const frame = (i: number): Buffer => {
      const data = Buffer.alloc(FRAME);
      for (let j = 0; j < FRAME; j += 4) data.writeUInt32BE((i * FRAME + j) >>> 0, j);
      sent.push(data);
      return Buffer.concat([Buffer.from(`${FRAME.toString(16)}\r\n`), data, Buffer.from("\r\n")]);
    };
    let serverConn: Conn | undefined;
    const srv = await listen(async (c) => {
      serverConn = c;
      await c.request();
      c.socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
      let i = 0;
      // Write a frame per turn of the event loop (so the client has every chance to read)
      // until the socket stops taking them: the client is no longer reading.
      for (; i < 2000; i++) {
        if (!c.socket.write(frame(i))) {
          blocked = true;
          break;
        }
        await tick();
      }
      await mayFinish;
      for (let k = 0; k < 3; k++) c.socket.write(frame(++i));
      c.socket.write("0\r\n\r\n");
    });
    const res = await open(srv.url("/"));
    let paused = false;
    let inPausingRead = false;
    let lateWhilePaused = 0;
    const got = collect(res, () => {
      // A delivery while paused is only allowed within the read during which pause() was called.
      if (paused && !inPausingRead) lateWhilePaused++;
    });
    // Pause right after the first delivery (the rest of that read may still arrive, by contract).
    await until(() => got.dataCalls() > 0, 2000, "the first bytes");
    paused = true;
    inPausingRead = true;
    res.body.pause();
    setImmediate(() => (inPausingRead = false));
    await within(
      until(() => blocked, 5000, "the server's writes to block"),
      6000,
      "backpressure",
    );
    const callsWhenBlocked = got.dataCalls();
    const bytesWhenBlocked = got.bytes().length;
    await delay(50);
    expect(got.dataCalls()).toBe(callsWhenBlocked);
    expect(lateWhilePaused).toBe(0);
    expect(serverConn!.socket.writableLength).toBeGreaterThan(0);
    expect(bytesWhenBlocked).toBeLessThan(sent.length * FRAME);
    paused = false;
    res.body.resume();
    finishWriting();
    await within(got.done, 5000, "the rest of the body");
    expectCleanEnd(got);
    const all = got.bytes();
    const want = Buffer.concat(sent);
    expect(all.length).toBe(want.length);
    expect(all.equals(want)).toBe(true);
  });

  it("pause() inside data() holds the rest of the stream; resume() continues it", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n");
      await delay(5);
      await c.send("2\r\ncd\r\n");
      await delay(5);
      await c.send("2\r\nef\r\n0\r\n\r\n");
    });
    const res = await open(srv.url("/"));
    let pausedOnce = false;
    const got = collect(res, () => {
      if (!pausedOnce) {
        pausedOnce = true;
        res.body.pause();
      }
    });
    await until(() => got.dataCalls() > 0, 2000, "the first bytes");
    await delay(40); // the server wrote everything meanwhile
    expect(got.text()).toBe("ab");
    res.body.resume();
    await within(got.done, 2000, "the rest");
    expect(got.text()).toBe("abcdef");
    expectCleanEnd(got);
  });
});

describe("openStreamRequest: many connections share one read buffer", () => {
  it("keeps 50 concurrent bodies (chunked, Content-Length, close-delimited) intact under interleaved writes", async () => {
    // A small seeded PRNG: the same interleaving plan every run.
    let seed = 0x2f6b1c3d;
    const rand = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const N = 50;
    const bodies: Buffer[] = [];
    const wires: Buffer[] = [];
    const cuts: number[][] = [];
    for (let i = 0; i < N; i++) {
      const len = 2000 + rand(30_000);
      const body = Buffer.alloc(len);
      for (let j = 0; j < len; j++) body[j] = (i * 7 + j * 13 + (j >> 8)) & 0xff;
      bodies.push(body);
      const mode = i % 3;
      let w: Buffer;
      if (mode === 0) {
        const pieces: Array<string | Buffer> = [];
        for (let at = 0; at < len; ) {
          const n = 1 + rand(4000);
          pieces.push(body.subarray(at, at + n));
          at += n;
        }
        w = wire(`HTTP/1.1 200 OK\r\nX-Conn: ${i}\r\nTransfer-Encoding: chunked\r\n\r\n`, chunked(pieces, { upper: i % 2 === 0 })).bytes;
      } else if (mode === 1) {
        w = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nX-Conn: ${i}\r\nContent-Length: ${len}\r\n\r\n`), body]);
      } else {
        w = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nX-Conn: ${i}\r\n\r\n`), body]);
      }
      wires.push(w);
      const c: number[] = [];
      for (let k = 0; k < 12; k++) c.push(1 + rand(w.length - 1));
      cuts.push([...new Set(c)].sort((a, b) => a - b));
    }
    const srv = await listen(async (c) => {
      const { lines } = await c.request();
      const i = Number(/^GET \/c\/(\d+) /.exec(lines[0]!)![1]);
      let at = 0;
      for (const cut of [...cuts[i]!, wires[i]!.length]) {
        if (cut <= at) continue;
        c.socket.write(wires[i]!.subarray(at, cut));
        at = cut;
        await delay(rand(3));
      }
      if (i % 3 === 2) c.socket.end();
    });
    const got = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const res = await open(srv.url(`/c/${i}`));
        expect(res.headers.get("x-conn")).toBe(String(i));
        // Some bodies are started late: their first bytes wait in a copy while the buffer is reused.
        if (i % 4 === 0) await delay(15);
        const g = collect(res);
        await within(g.done, 5000, `body ${i}`);
        return g;
      }),
    );
    for (let i = 0; i < N; i++) {
      expect(got[i]!.bytes().equals(bodies[i]!), `body ${i} (mode ${i % 3})`).toBe(true);
      expectCleanEnd(got[i]!);
    }
  });
});

describe("openStreamRequest: close() and release()", () => {
  async function openHeld(): Promise<{ res: StreamResponse; conn: Conn }> {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    });
    const res = await open(srv.url("/"));
    await until(() => srv.conns.length === 1, 1000, "the connection");
    return { res, conn: srv.conns[0]! };
  }

  it("close() before the body is started closes the connection (and is idempotent)", async () => {
    const { res, conn } = await openHeld();
    await delay(5);
    expect(conn.isClosed()).toBe(false);
    res.close();
    res.close();
    await within(conn.closed, 1000, "the server to see the close");
  });

  it("release() on a started body closes the connection, with no end() or error() after it", async () => {
    const { res, conn } = await openHeld();
    const got = collect(res);
    await until(() => got.dataCalls() > 0, 1000, "the first bytes");
    res.body.release();
    await within(conn.closed, 1000, "the server to see the close");
    await delay(10);
    expect(got.events.map((e) => e.kind)).toEqual(["data"]);
    res.body.release();
  });

  it("release() inside data() stops delivery for the rest of that read: no more data, no end()", async () => {
    const srv = await listen(async (c) => {
      await c.request();
      await c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      await delay(20);
      await c.send("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n");
    });
    const res = await open(srv.url("/"));
    const seen: string[] = [];
    res.body.start({
      data: (b) => {
        seen.push(`data:${Buffer.from(b).toString()}`);
        res.body.release();
      },
      end: () => seen.push("end"),
      error: () => seen.push("error"),
    });
    await within(srv.conns[0]!.closed, 1000, "the server to see the close");
    await delay(10);
    expect(seen).toEqual(["data:hello"]);
  });

  it("refuses a second start()", async () => {
    const { res } = await openHeld();
    collect(res);
    expect(() => res.body.start({ data: () => undefined, end: () => undefined, error: () => undefined })).toThrow(/already used/);
  });
});
