// The stdio guard and channel (src/cli/stdio.ts) on in-memory streams: what reaches the
// SDK's transport, what is answered, and how each failure ends.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { IdScanner, StdinGuard, serveStdio, type Rejected, type StdioEnd } from "../../src/cli/stdio.js";
import { silentLogger } from "../../src/logger.js";

function scan(text: string, chunk = text.length): string | number | null {
  const s = new IdScanner();
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += chunk) s.feed(b.subarray(i, i + chunk));
  s.end();
  return s.id;
}

describe("IdScanner: the top-level id of a message too large to keep", () => {
  it.each([
    ['{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}', 7],
    ['{"method":"tools/call","params":{"arguments":{"id":1,"x":"a"}},"jsonrpc":"2.0","id":42}', 42],
    ['{ "params" : { "id" : "inner" } , "id" : "req-\\"9\\"" }', 'req-"9"'],
    ['{"params":["{\\"id\\":3}",{"id":4}],"id":-5}', -5],
    ['{"id":12}', 12],
    ['{"id":12 }', 12],
    ['{"x":"\\"id\\":5","y":1}', null],
    ['{"jsonrpc":"2.0","method":"notifications/x","params":{"id":1}}', null],
    ['{"id":1.5}', null],
    ['{"id":null}', null],
    ['{"id":{"a":1}}', null],
    ['[{"id":1}]', null],
    ['{"label":"日本語 ✓","id":"é"}', "é"],
  ] as const)("%s → %j (whole, and one byte at a time)", (text, id) => {
    expect(scan(text)).toEqual(id);
    expect(scan(text, 1)).toEqual(id);
  });
});

/** Feed `input` (in chunks of `chunk` bytes) through a guard; what passed and what was rejected. */
async function guard(input: string | Buffer, max: number, chunk = 64 * 1024): Promise<{ out: string; rejected: Rejected[] }> {
  const rejected: Rejected[] = [];
  const g = new StdinGuard((r) => rejected.push(r), max);
  const out: Buffer[] = [];
  g.on("data", (d: Buffer) => out.push(d));
  const done = new Promise((resolve) => g.on("end", resolve));
  const b = Buffer.isBuffer(input) ? input : Buffer.from(input);
  for (let i = 0; i < b.length; i += chunk) g.write(b.subarray(i, i + chunk));
  g.end();
  await done;
  return { out: Buffer.concat(out).toString("utf8"), rejected };
}

describe("StdinGuard", () => {
  const ok = '{"jsonrpc":"2.0","id":1,"method":"ping"}';

  it("passes whole JSON-RPC lines on unchanged, whatever the chunking", async () => {
    const text = `${ok}\n{"jsonrpc":"2.0","method":"notifications/initialized"}\r\n${ok}\n`;
    for (const chunk of [1, 3, 1000]) {
      const r = await guard(text, 1000, chunk);
      expect(r.rejected).toEqual([]);
      expect(r.out).toBe(text);
    }
  });

  it("skips a line over the limit without holding it, answers to its id, and goes on with the next line", async () => {
    const big = `{"method":"tools/call","params":{"text":"${"y".repeat(5000)}"},"jsonrpc":"2.0","id":9}`;
    const r = await guard(`${big}\n${ok}\n`, 1000, 700);
    expect(r.out).toBe(`${ok}\n`);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toMatchObject({ id: 9, code: -32600, bytes: big.length });
    expect(r.rejected[0]!.message).toMatch(/over the bridge's limit/);
    // a line of exactly the limit passes
    const [head, tail] = ['{"jsonrpc":"2.0","id":2,"method":"ping","params":{"p":"', '"}}'];
    const exact = head + "z".repeat(1000 - head.length - tail.length) + tail;
    expect(exact.length).toBe(1000);
    expect((await guard(`${exact}\n`, 1000, 100)).out).toBe(`${exact}\n`);
    expect((await guard(`${exact}x\n`, 1000, 100)).rejected).toHaveLength(1);
  });

  it("answers a line that is not JSON with a parse error and one that is not JSON-RPC with an invalid request", async () => {
    const r = await guard(`{oops\n[1,2]\n{"jsonrpc":"2.0","id":"a","method":3}\n\n   \n${ok}\n`, 1000);
    expect(r.out).toBe(`${ok}\n`);
    expect(r.rejected.map((x) => [x.code, x.id])).toEqual([
      [-32700, null],
      [-32600, null],
      [-32600, "a"],
    ]);
  });

  it("reports a last line without its newline when stdin ends", async () => {
    const g = new StdinGuard(() => undefined, 1000);
    const seen: number[] = [];
    g.on("unterminated", (n: number) => seen.push(n));
    g.resume();
    g.end(ok);
    await new Promise((resolve) => g.on("end", resolve));
    expect(seen).toEqual([ok.length]);
  });
});

describe("serveStdio: how the channel ends", () => {
  async function channel() {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const server = new McpServer({ name: "t", version: "1" });
    let resolveEnd!: (e: StdioEnd) => void;
    const ended = new Promise<StdioEnd>((r) => (resolveEnd = r));
    await serveStdio(server, { log: silentLogger(), stdin, stdout, onEnd: resolveEnd, stopping: () => false });
    return { stdin, stdout, server, ended };
  }

  it("stdin's end: 0", async () => {
    const c = await channel();
    c.stdin.end();
    expect(await c.ended).toEqual({ code: 0, why: "stdin ended" });
  });

  it("a stdin error: 1, naming it", async () => {
    const c = await channel();
    c.stdin.destroy(Object.assign(new Error("read EIO"), { code: "EIO" }));
    expect(await c.ended).toEqual({ code: 1, why: "stdin failed: EIO" });
  });

  it("a stdout error: 1, naming it", async () => {
    const c = await channel();
    c.stdout.destroy(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
    expect((await c.ended).why).toMatch(/^stdout failed: EPIPE/);
  });

  it("the transport closing by itself: 1", async () => {
    const c = await channel();
    await c.server.close();
    expect(await c.ended).toEqual({ code: 1, why: "the MCP transport closed" });
  });

  it("answers a bad line on stdout", async () => {
    const c = await channel();
    const line = new Promise<string>((resolve) => c.stdout.once("data", (d: Buffer) => resolve(d.toString("utf8"))));
    c.stdin.write("nope\n");
    expect(JSON.parse(await line)).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    c.stdin.end();
    await c.ended;
  });
});
