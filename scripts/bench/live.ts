// Two figures against a real loomcycle (tests/live/README.md says how to run one), printed
// as rows for docs/benchmarks.md. Run: LOOMCYCLE_LIVE_URL=… LOOMCYCLE_LIVE_TOKEN=…
// node --import tsx scripts/bench/live.ts
//  - wake latency: a steer until the host sees the park, through the bridge (send_steer with
//    wait_ms) against a direct client of loomcycle (POST …/input, then its own tail stream
//    until awaiting_input), alternated on the same lc-echo run. Both wait on loomcycle's
//    250 ms database tail (polled, not woken), so the difference is what the bridge adds.
//  - round trip: read_run_events (cursor 0, no wait) on a parked run with ~50 events, against
//    the bare SDK echo server's round trip, as in the simulator figure.
import { createParser } from "eventsource-parser";
import { ok, Peer } from "./lib/peer.js";
import { fmt, percentile } from "./lib/stats.js";
import { bridgeBin, cleanup, echoServer, serverEnv } from "./lib/targets.js";

const url = process.env.LOOMCYCLE_LIVE_URL?.replace(/\/+$/, "");
const token = process.env.LOOMCYCLE_LIVE_TOKEN;
if (!url || !token) {
  process.stderr.write("live bench: set LOOMCYCLE_LIVE_URL and LOOMCYCLE_LIVE_TOKEN (see tests/live/README.md)\n");
  process.exit(2);
}
const SAMPLES = Number(process.env.LIVE_BENCH_SAMPLES ?? 60);
const auth = { authorization: `Bearer ${token}` };

/** A direct tail reader of one run: resolves the next awaiting_input frame it sees. */
async function directTail(runId: string): Promise<{ nextPark(): Promise<number>; close(): void }> {
  const ac = new AbortController();
  const res = await fetch(`${url}/v1/runs/${runId}/stream`, {
    headers: { ...auth, accept: "text/event-stream" },
    signal: ac.signal,
  });
  let parks = 0;
  const waiters: Array<{ n: number; resolve: (at: number) => void }> = [];
  const parser = createParser({
    onEvent: (e) => {
      if (e.event !== "awaiting_input") return;
      parks++;
      const at = performance.now();
      for (const w of waiters.splice(0)) if (parks >= w.n) w.resolve(at);
    },
  });
  void (async () => {
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      parser.feed(dec.decode(value, { stream: true }));
    }
  })();
  // Let the replay of what is already stored go by before the first sample.
  await new Promise((r) => setTimeout(r, 600));
  return {
    nextPark: () => new Promise((resolve) => waiters.push({ n: parks + 1, resolve })),
    close: () => ac.abort(),
  };
}

async function main(): Promise<void> {
  const bridge = new Peer(bridgeBin(), {
    env: serverEnv({
      LOOMCYCLE_BASE_URL: url!,
      LOOMCYCLE_AUTH_TOKEN: token!,
      LOOMCYCLE_USER_ID: "bench-live",
      LOOMCYCLE_MCP_LOG_LEVEL: "warn",
    }),
  });
  const echo = new Peer(await echoServer(), { env: serverEnv() });
  try {
    await bridge.initialize();
    await echo.initialize();
    const health = (await (await fetch(`${url}/healthz`)).json()) as { version?: string; commit?: string };

    // Wake latency.
    const started = ok(
      await bridge.callTool("start_interactive_run", { agent: "lc-echo", prompt: "bench", wait_ms: 20_000 }),
      "start",
    );
    const runId = String(started.structured.run_id);
    const tail = await directTail(runId);
    const viaBridge: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      // Both clients wait on a 250 ms database tail; a random pause keeps each sample's start
      // out of phase with those tickers (back to back, each side would land at a fixed phase).
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      if (i % 2 === 0) {
        const r = ok(await bridge.callTool("send_steer", { run_id: runId, text: `b${i}`, wait_ms: 20_000 }), "send_steer");
        if (r.structured.state !== "awaiting_input") throw new Error(`bridge sample ${i}: ${String(r.structured.state)}`);
        viaBridge.push(r.recvAt - r.sentAt);
      } else {
        const park = tail.nextPark();
        const t0 = performance.now();
        const res = await fetch(`${url}/v1/runs/${runId}/input`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ text: `d${i}` }),
        });
        if (res.status !== 200) throw new Error(`direct sample ${i}: HTTP ${res.status}`);
        direct.push((await park) - t0);
      }
    }
    tail.close();

    // Round trip on a parked run with ~50 events (lc-chat turns are ~9 frames each).
    const chat = ok(
      await bridge.callTool("start_interactive_run", { agent: "lc-chat", prompt: "round trip", wait_ms: 20_000 }),
      "start",
    );
    const chatId = String(chat.structured.run_id);
    for (let i = 0; i < 5; i++)
      ok(await bridge.callTool("send_steer", { run_id: chatId, text: `turn ${i}`, wait_ms: 20_000 }), "steer");
    const events = Number(
      ok(await bridge.callTool("read_run_events", { run_id: chatId, cursor: 0 }), "read").structured.next_cursor,
    );
    const reads: number[] = [];
    const pings: number[] = [];
    for (let i = 0; i < 100; i++) {
      await bridge.callTool("read_run_events", { run_id: chatId, cursor: 0 });
      await echo.callTool("echo", { text: "ping" });
    }
    for (let i = 0; i < 300; i++) {
      const r = ok(await bridge.callTool("read_run_events", { run_id: chatId, cursor: 0 }), "read");
      reads.push(r.recvAt - r.sentAt);
      const e = ok(await echo.callTool("echo", { text: "ping" }), "echo");
      pings.push(e.recvAt - e.sentAt);
    }

    const ver = `loomcycle ${health.version ?? "?"} (${health.commit ?? "?"})`;
    const b50 = percentile(viaBridge, 50);
    const d50 = percentile(direct, 50);
    process.stdout.write(
      [
        `| wake latency against ${ver}: steer → the host sees the park | a direct client of loomcycle (POST input, its own tail stream), alternated | p50 ${fmt(b50, 1)} ms / p99 ${fmt(percentile(viaBridge, 99), 1)} ms vs p50 ${fmt(d50, 1)} ms / p99 ${fmt(percentile(direct, 99), 1)} ms (n = ${viaBridge.length} + ${direct.length}) | bridge adds ${fmt(b50 - d50, 1)} ms at p50 |`,
        `| read_run_events round trip against ${ver}, parked run, ${events} events, no wait | the bare server's echo round trip | p50 ${fmt(percentile(reads, 50), 3)} ms vs ${fmt(percentile(pings, 50), 3)} ms | ${fmt(percentile(reads, 50) / percentile(pings, 50), 2)}× |`,
      ].join("\n") + "\n",
    );
  } finally {
    await bridge.close();
    await echo.close();
    cleanup();
  }
}

await main();
