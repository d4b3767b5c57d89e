// The SSE reader, one test per edge case. In-memory chunk sources give exact control
// over chunk boundaries; the transport cases (idle, abort, reset, early return) run
// over a real node:http server on port 0.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { readSseFrames } from "../../src/bridge/loomcycle/sse.js";
import { TimeoutError, UnreachableError } from "../../src/bridge/loomcycle/errors.js";
import type { StreamFrame } from "../../src/bridge/loomcycle/events.js";
import { createLogger } from "../../src/logger.js";

const enc = new TextEncoder();

async function* chunks(...parts: Array<string | Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === "string" ? enc.encode(p) : p;
}

async function collect(gen: AsyncIterable<StreamFrame>): Promise<StreamFrame[]> {
  const out: StreamFrame[] = [];
  for await (const f of gen) out.push(f);
  return out;
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: "debug",
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  return { logger, lines };
}

const SESSION = 'event: session\ndata: {"type":"session","text":"s_3f9a0c2b7d1e4a55"}\n\n';
const AGENT =
  'event: agent\ndata: {"agent_id":"a_8c1d2e3f4a5b6c7d","parent_agent_id":null,"parent_context":null,"run_id":"r_0b1c2d3e4f5a6b7c","session_id":"s_3f9a0c2b7d1e4a55"}\n\n';
const STARTED = 'event: started\ndata: {"type":"started"}\n\n';
const text = (t: string) => `event: text\ndata: ${JSON.stringify({ type: "text", text: t })}\n\n`;
const DONE = 'event: done\ndata: {"type":"done","usage":{"input_tokens":2202,"output_tokens":99},"stop_reason":"end_turn"}\n\n';

// ---- real HTTP helpers --------------------------------------------------------------

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

async function sseServer(
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; closed: Promise<void> }> {
  let markClosed!: () => void;
  const closed = new Promise<void>((r) => (markClosed = r));
  const server = createServer((req, res) => {
    res.on("close", () => markClosed());
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    res.flushHeaders();
    onRequest(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, closed };
}

// ---- frame kinds ----------------------------------------------------------------------

describe("readSseFrames: frame kinds", () => {
  it("maps a session frame to {kind: session} with the id from `text`", async () => {
    const frames = await collect(readSseFrames(chunks(SESSION)));
    expect(frames).toEqual([{ kind: "session", sessionId: "s_3f9a0c2b7d1e4a55", bytes: enc.encode(SESSION).length }]);
  });

  it("validates the agent frame, which has no `type`, as AgentFrame", async () => {
    const frames = await collect(readSseFrames(chunks(AGENT)));
    expect(frames).toHaveLength(1);
    const f = frames[0];
    expect(f?.kind).toBe("agent");
    if (f?.kind !== "agent") throw new Error("unreachable");
    expect(f.agent).toMatchObject({
      agent_id: "a_8c1d2e3f4a5b6c7d",
      run_id: "r_0b1c2d3e4f5a6b7c",
      session_id: "s_3f9a0c2b7d1e4a55",
    });
    expect(f.agent).not.toHaveProperty("type");
    expect(f.bytes).toBe(enc.encode(AGENT).length);
  });

  it("keeps unknown event names as ordinary events and back-fills a missing `type`", async () => {
    const frames = await collect(
      readSseFrames(
        chunks(
          'event: brand_new_thing\ndata: {"type":"brand_new_thing","x":1}\n\n',
          'event: typeless\ndata: {"text":"hi"}\n\n',
          DONE,
        ),
      ),
    );
    expect(frames.map((f) => f.kind)).toEqual(["event", "event", "event"]);
    expect(frames[0]).toMatchObject({ kind: "event", event: { type: "brand_new_thing", x: 1 } });
    expect(frames[1]).toMatchObject({ kind: "event", event: { type: "typeless", text: "hi" } });
    expect(frames[2]).toMatchObject({ kind: "event", event: { type: "done", stop_reason: "end_turn" } });
  });

  it("ignores `: keepalive` comments", async () => {
    const frames = await collect(
      readSseFrames(chunks(": keepalive\n\n", STARTED, ": keepalive\n\n", ": keepalive\n\n", text("a"), ": keepalive\n\n")),
    );
    expect(frames.map((f) => (f.kind === "event" ? f.event.type : f.kind))).toEqual(["started", "text"]);
  });

  it("skips malformed JSON and schema mismatches as invalid frames, warning once per reason", async () => {
    const { logger, lines } = capture();
    const frames = await collect(
      readSseFrames(
        chunks(
          "event: text\ndata: {not json\n\n",
          STARTED,
          "event: text\ndata: {also not json\n\n",
          'event: text\ndata: {"type":"text","text":42}\n\n',
          'event: agent\ndata: {"agent_id":"a_1"}\n\n',
          "event: text\ndata: [1,2]\n\n",
          DONE,
        ),
        { logger },
      ),
    );
    expect(frames.map((f) => (f.kind === "invalid" ? `invalid:${f.name}:${f.reason}` : f.kind))).toEqual([
      "invalid:text:malformed_json",
      "event",
      "invalid:text:malformed_json",
      "invalid:text:schema_mismatch",
      "invalid:agent:schema_mismatch",
      "invalid:text:schema_mismatch",
      "event",
    ]);
    expect(frames[0]).toMatchObject({ bytes: enc.encode("event: text\ndata: {not json\n\n").length });
    const warns = lines.filter((l) => l["level"] === 40);
    expect(warns.map((l) => l["reason"])).toEqual(["malformed_json", "schema_mismatch"]);
  });
});

// ---- framing ---------------------------------------------------------------------------

describe("readSseFrames: framing", () => {
  // 😀 is 4 bytes in UTF-8, 漢 is 3, é is 2: splits land inside each of them.
  const transcript = [
    SESSION,
    AGENT,
    ": keepalive\n\n",
    STARTED,
    text("emoji 😀 and CJK 漢字 and é"),
    text("tail 😀"),
    DONE,
  ].join("");

  const variants: Array<[string, string]> = [
    ["LF", transcript],
    ["CRLF", transcript.replace(/\n/g, "\r\n")],
    ["CR", transcript.replace(/\n/g, "\r")],
  ];

  for (const [label, wire] of variants) {
    it(`gives the same frames for a ${label} stream split at every byte offset`, async () => {
      const bytes = enc.encode(wire);
      const whole = await collect(readSseFrames(chunks(bytes)));
      const strip = (fs: StreamFrame[]) => fs.map(({ bytes: _b, ...rest }) => rest);
      expect(whole.map((f) => f.kind)).toEqual(["session", "agent", "event", "event", "event", "event"]);
      expect(whole[3]).toMatchObject({ event: { text: "emoji 😀 and CJK 漢字 and é" } });
      for (let cut = 1; cut < bytes.length; cut++) {
        const got = await collect(readSseFrames(chunks(bytes.subarray(0, cut), bytes.subarray(cut))));
        expect(strip(got), `split at byte ${cut}`).toEqual(strip(whole));
      }
      // and one byte per chunk
      const single = await collect(readSseFrames(chunks(...Array.from(bytes, (b) => Uint8Array.of(b)))));
      expect(strip(single)).toEqual(strip(whole));
    });
  }

  it("parses CRLF line endings", async () => {
    const frames = await collect(
      readSseFrames(
        chunks('event: text\r\ndata: {"type":"text","text":"x"}\r\n\r\n: keepalive\r\n\r\n', DONE.replace(/\n/g, "\r\n")),
      ),
    );
    expect(frames.map((f) => (f.kind === "event" ? f.event.type : f.kind))).toEqual(["text", "done"]);
  });

  it("dispatches a frame ending in CR at once, without waiting for the next chunk", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* src(): AsyncGenerator<Uint8Array> {
      yield enc.encode('event: text\rdata: {"type":"text","text":"x"}\r\r');
      await gate;
      yield enc.encode("\n" + STARTED);
    }
    const it = readSseFrames(src());
    const first = await it.next();
    expect(first.value).toMatchObject({ kind: "event", event: { type: "text", text: "x" } });
    release();
    const rest = await collect({ [Symbol.asyncIterator]: () => it });
    expect(rest.map((f) => (f.kind === "event" ? f.event.type : f.kind))).toEqual(["started"]);
  });

  it("at EOF keeps a last frame missing only its blank line or final newline (complete JSON), discards a cut one, and returns normally", async () => {
    const frames = await collect(
      readSseFrames(chunks(STARTED, text("complete"), 'event: text\ndata: {"type":"text","text":"last"}\n')),
    );
    expect(frames.map((f) => (f.kind === "event" ? (f.event.text ?? f.event.type) : f.kind))).toEqual([
      "started",
      "complete",
      "last",
    ]);
    const noNewline = await collect(
      readSseFrames(chunks(STARTED, 'event: done\ndata: {"type":"done","stop_reason":"end_turn"}')),
    );
    expect(noNewline.map((f) => (f.kind === "event" ? f.event.type : f.kind))).toEqual(["started", "done"]);
    const crlf = await collect(readSseFrames(chunks(STARTED, 'event: done\r\ndata: {"type":"done"}\r')));
    expect(crlf.map((f) => (f.kind === "event" ? f.event.type : f.kind))).toEqual(["started", "done"]);
    // Cut anywhere before the end of its JSON: never a frame (a re-attach replays it).
    const midLine = await collect(readSseFrames(chunks(STARTED, 'event: text\ndata: {"type":"te')));
    expect(midLine).toHaveLength(1);
    const midUtf8 = await collect(
      readSseFrames(chunks(STARTED, Buffer.from('event: text\ndata: {"type":"text","text":"é"}').subarray(0, 42))),
    );
    expect(midUtf8).toHaveLength(1);
    const nameOnly = await collect(readSseFrames(chunks(STARTED, "event: text\n")));
    expect(nameOnly).toHaveLength(1);
  });

  it("reports `bytes` as the frame's size on the wire", async () => {
    const t = text("héllo 😀");
    const frames = await collect(readSseFrames(chunks(t)));
    expect(frames[0]?.bytes).toBe(enc.encode(t).length);
  });
});

// ---- bounds ------------------------------------------------------------------------------

describe("readSseFrames: oversized frames", () => {
  it("skips a 20 MB frame with maxFrameBytes 1 MiB without buffering it, and parses what follows", async () => {
    const { logger, lines } = capture();
    const piece = new Uint8Array(64 * 1024).fill(0x61); // 'a', reused: the test itself holds 64 KiB
    const total = 20 * 1024 * 1024;
    let peakHeapGrowth = 0;
    const base = process.memoryUsage().heapUsed;
    async function* src(): AsyncGenerator<Uint8Array> {
      yield enc.encode(STARTED);
      yield enc.encode('event: text\ndata: {"type":"text","text":"');
      for (let sent = 0; sent < total; sent += piece.length) {
        peakHeapGrowth = Math.max(peakHeapGrowth, process.memoryUsage().heapUsed - base);
        yield piece;
      }
      yield enc.encode('"}\n\n');
      yield enc.encode(text("after"));
      yield enc.encode(DONE);
    }
    const frames = await collect(readSseFrames(src(), { maxFrameBytes: 1024 * 1024, logger }));
    expect(
      frames.map((f) => (f.kind === "invalid" ? `invalid:${f.name}:${f.reason}` : f.kind === "event" ? f.event.type : f.kind)),
    ).toEqual(["started", "invalid:text:oversized", "text", "done"]);
    expect(frames[1]?.bytes).toBeGreaterThan(total);
    expect(frames[2]).toMatchObject({ event: { text: "after" } });
    // Buffering the frame would hold >= 20 MB; the reader keeps about maxFrameBytes.
    expect(peakHeapGrowth).toBeLessThan(10 * 1024 * 1024);
    expect(lines.filter((l) => l["level"] === 40 && l["reason"] === "oversized")).toHaveLength(1);
  });

  it("does not report an oversized frame that EOF cut off (a re-attach replays it)", async () => {
    const big = "x".repeat(3000);
    const frames = await collect(
      readSseFrames(chunks(STARTED, `event: text\ndata: {"type":"text","text":"${big}`), { maxFrameBytes: 1000 }),
    );
    expect(frames.map((f) => f.kind)).toEqual(["event"]);
  });

  it("treats a frame that ends exactly past the bound as oversized, with CRLF endings", async () => {
    const big = `event: text\r\ndata: {"type":"text","text":"${"y".repeat(2000)}"}\r\n\r\n`;
    const frames = await collect(readSseFrames(chunks(big + STARTED.replace(/\n/g, "\r\n")), { maxFrameBytes: 1000 }));
    expect(frames.map((f) => (f.kind === "invalid" ? f.reason : f.kind))).toEqual(["oversized", "event"]);
  });
});

// ---- transport ---------------------------------------------------------------------------

describe("readSseFrames: transport", () => {
  it("throws TimeoutError when no bytes arrive for idleTimeoutMs, and keep-alives reset the timer", async () => {
    let keepalives = 0;
    const { url } = await sseServer((_req, res) => {
      res.write(STARTED);
      const t = setInterval(() => {
        if (keepalives < 4) {
          res.write(": keepalive\n\n");
          keepalives += 1;
        } else clearInterval(t); // then silence
      }, 100);
      res.on("close", () => clearInterval(t));
    });
    const res = await fetch(url);
    const got: StreamFrame[] = [];
    let err: unknown;
    try {
      for await (const f of readSseFrames(res.body!, { idleTimeoutMs: 250 })) got.push(f);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).message).toMatch(/no bytes for 250 ms/);
    expect(got).toHaveLength(1);
    // The 4 keep-alives, 100 ms apart, kept it alive well past 250 ms: it timed out only
    // in the silence after the last one (without resets it would have after the second).
    expect(keepalives).toBe(4);
  });

  it("stops promptly on abort, throws the abort reason and cancels the body", async () => {
    const { url, closed } = await sseServer((_req, res) => {
      res.write(STARTED);
    });
    const ctl = new AbortController();
    const res = await fetch(url, { signal: ctl.signal });
    const it = readSseFrames(res.body!, { signal: ctl.signal, idleTimeoutMs: 0 });
    expect((await it.next()).value).toMatchObject({ kind: "event" });
    // No idle limit and a server that never writes again: only the abort can end the wait.
    const pending = it.next(); // waiting for the source now: no frame is buffered
    const reason = new Error("shutting down");
    ctl.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await closed; // the server saw the connection go
  });

  it("cancels the body when the consumer stops early (return())", async () => {
    const { url, closed } = await sseServer((_req, res) => {
      res.write(STARTED + text("a"));
    });
    const res = await fetch(url);
    for await (const f of readSseFrames(res.body!)) {
      expect(f.kind).toBe("event");
      break;
    }
    await closed;
  });

  it("throws UnreachableError when the connection is reset mid-stream", async () => {
    const { url } = await sseServer((_req, res) => {
      // Cut once the bytes are on their way: a whole frame, then half of one.
      res.write(STARTED + 'event: text\ndata: {"type":"te', () => res.socket?.destroy());
    });
    const res = await fetch(url);
    const got: StreamFrame[] = [];
    let err: unknown;
    try {
      for await (const f of readSseFrames(res.body!)) got.push(f);
    } catch (e) {
      err = e;
    }
    expect(got).toHaveLength(1);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as UnreachableError).message).toMatch(/stream interrupted/);
    expect((err as UnreachableError).code).toBe("stream_interrupted");
  });

  it("reads a web ReadableStream and releases it at the end", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode(STARTED));
        c.enqueue(enc.encode(DONE));
        c.close();
      },
    });
    const frames = await collect(readSseFrames(body));
    expect(frames).toHaveLength(2);
    expect(body.locked).toBe(false);
  });
});
