// Scenario 5 — steer backpressure. POST /v1/runs/{id}/input answers 429 with
// Retry-After (loomcycle's queue of 16 is full). send_steer may retry at most once,
// after the stated delay, and only when that fits its bound; otherwise it fails with a
// clear "NOT delivered" message. A message is never delivered twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultEnv, type FaultEnv } from "./env.js";
import type { ProxiedRequest } from "./proxy.js";
import { ms, record } from "./report.js";
import { waitFor } from "../helpers.js";

let env: FaultEnv;
beforeAll(async () => {
  // Real scripted speed: a `slow` turn takes about 3 s, long enough to fill its queue.
  env = await startFaultEnv({ proxy: true, sim: { speed: 1, tailPollMs: 25 }, backoffMs: [0, 20, 50, 100] });
});
afterAll(async () => {
  await env?.close();
});

const QUEUE_FULL = {
  kind: "respond" as const,
  status: 429,
  headers: { "Content-Type": "text/plain; charset=utf-8", "Retry-After": "1", "X-Content-Type-Options": "nosniff" },
  body: "run input queue full; retry shortly\n",
};

function inputs(runId: string): ProxiedRequest[] {
  return env.proxy!.requests.filter((q) => q.method === "POST" && q.path === `/v1/runs/${runId}/input`);
}

/** How many times loomcycle recorded this message in the run (steer frames a replay shows). */
function deliveries(runId: string, text: string): number {
  return env.sim
    .expectedTailFrames(runId)
    .filter(([n, d]) => n === "steer" && (d as { user_input?: { text?: string } }).user_input?.text === text).length;
}

async function parkedEcho(prompt: string): Promise<string> {
  const s = await env.call("start_interactive_run", { agent: "echo", prompt, wait_ms: 10_000 });
  expect(s.isError, s.text).toBe(false);
  expect(s.sc.state).toBe("awaiting_input");
  return String(s.sc.run_id);
}

describe("scenario 5: steer backpressure", () => {
  it("429 + Retry-After: one retry after the stated delay, else a clear error; never delivered twice", async ({ task }) => {
    const rec = record(task, {
      scenario: 5,
      name: "429 Retry-After: 1 on /input (proxy)",
      injected:
        "proxy answers POST /input with loomcycle's plain-text 429 (Retry-After: 1): (a) once, (b) twice, (c) once with Retry-After: 30 on a 2 s call",
      expected:
        '(a) 2 attempts ≥ 1 s apart, delivered once; (b) 2 attempts, isError "NOT delivered", delivered 0 times; (c) 1 attempt, isError at once; never 3 attempts, never 2 deliveries',
    });
    // (a) one 429, then through.
    const a = await parkedEcho("backpressure a");
    let n = 0;
    let remove = env.proxy!.use((r) => (r.path === `/v1/runs/${a}/input` && n++ === 0 ? QUEUE_FULL : undefined));
    const ra = await env.call("send_steer", { run_id: a, text: "deliver me once", wait_ms: 10_000 });
    remove();
    const aReq = inputs(a);
    const aGap = aReq.length === 2 ? aReq[1]!.at - aReq[0]!.at : -1;
    // (b) 429 twice: give up after one retry.
    const b = await parkedEcho("backpressure b");
    remove = env.proxy!.use((r) => (r.path === `/v1/runs/${b}/input` ? QUEUE_FULL : undefined));
    const rb = await env.call("send_steer", { run_id: b, text: "never delivered", wait_ms: 10_000 });
    remove();
    const bReq = inputs(b);
    const bGap = bReq.length === 2 ? bReq[1]!.at - bReq[0]!.at : -1;
    // (c) a Retry-After longer than the call can wait: no retry.
    const c = await parkedEcho("backpressure c");
    remove = env.proxy!.use((r) =>
      r.path === `/v1/runs/${c}/input` ? { ...QUEUE_FULL, headers: { ...QUEUE_FULL.headers, "Retry-After": "30" } } : undefined,
    );
    const rc = await env.call("send_steer", { run_id: c, text: "too slow to retry", wait_ms: 2000 });
    remove();
    const cReq = inputs(c);
    for (const id of [a, b, c]) await env.sim.waitForStopPoint(id, 10_000);

    Object.assign(rec.figures, {
      a_attempts: aReq.length,
      a_retry_gap_ms: aGap,
      a_deliveries: deliveries(a, "deliver me once"),
      a_ms: ra.ms,
      b_attempts: bReq.length,
      b_retry_gap_ms: bGap,
      b_deliveries: deliveries(b, "never delivered"),
      b_ms: rb.ms,
      c_attempts: cReq.length,
      c_deliveries: deliveries(c, "too slow to retry"),
      c_ms: rc.ms,
    });
    rec.measured =
      `(a) ${aReq.length} attempts, retry after ${ms(aGap)}, delivered ${deliveries(a, "deliver me once")}×, state ${String(ra.sc.state)}; ` +
      `(b) ${bReq.length} attempts, retry after ${ms(bGap)}, isError in ${ms(rb.ms)}: "${rb.text.slice(0, 90)}…", delivered ${deliveries(b, "never delivered")}×; ` +
      `(c) ${cReq.length} attempt, isError in ${ms(rc.ms)}, delivered ${deliveries(c, "too slow to retry")}×`;

    expect(ra.isError, ra.text).toBe(false);
    expect(ra.sc.delivered).toBe(true);
    expect(ra.sc.state).toBe("awaiting_input");
    expect(aReq).toHaveLength(2);
    expect(aGap).toBeGreaterThanOrEqual(1000);
    expect(deliveries(a, "deliver me once")).toBe(1);
    expect(rb.isError).toBe(true);
    expect(rb.text).toMatch(/NOT delivered/);
    expect(bReq).toHaveLength(2);
    expect(bGap).toBeGreaterThanOrEqual(1000);
    expect(deliveries(b, "never delivered")).toBe(0);
    expect(rc.isError).toBe(true);
    expect(rc.text).toMatch(/NOT delivered/);
    expect(cReq).toHaveLength(1);
    expect(rc.ms).toBeLessThan(1000);
    expect(deliveries(c, "too slow to retry")).toBe(0);
  });

  it("loomcycle's own full queue (16 queued steers mid-turn): the 17th is retried once, refused clearly, and every message lands at most once", async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 5,
      name: "real 16-deep queue full",
      injected:
        "16 steers queued on a run mid-turn (simulator's 16-deep queue), then send_steer a 17th while the turn still runs",
      expected:
        'the 17th: 2 attempts (one retry after Retry-After), isError "NOT delivered"; after the run parks, each of the 16 is in the log exactly once, the 17th never',
    });
    const s = await env.call("start_interactive_run", { agent: "slow", prompt: "take three seconds", wait_ms: 0 });
    expect(s.isError, s.text).toBe(false);
    const id = String(s.sc.run_id);
    const run = env.bridge.tracker.get(id)!;
    await waitFor(() => run.events.slice().some((e) => e.type === "text"), { timeoutMs: 10_000, what: "the slow turn to start" });
    const queued = Array.from({ length: 16 }, (_, i) => `queued message ${i + 1}`);
    for (const t of queued) {
      const res = await env.bridge.client.sendInput(id, t);
      expect(res.delivered).toBe(true);
    }
    const r = await env.call("send_steer", { run_id: id, text: "one too many", wait_ms: 2000 });
    const stillMidTurn = env.sim.runStatus(id) === "running" && run.state === "running";
    const attempts = env.sim.requests.filter(
      (q) => q.method === "POST" && q.path === `/v1/runs/${id}/input` && q.body.includes("one too many"),
    ).length;
    await waitFor(() => run.state === "awaiting_input" && deliveries(id, queued[15]!) === 1, {
      timeoutMs: 30_000,
      what: "the queue to drain and the run to park",
    });
    const counts = queued.map((t) => deliveries(id, t));
    const extra = deliveries(id, "one too many");
    Object.assign(rec.figures, {
      queued: 16,
      attempts_17th: attempts,
      delivered_each: counts.join(","),
      delivered_17th: extra,
      call_ms: r.ms,
    });
    rec.measured = `17th steer: ${attempts} attempts, isError in ${ms(r.ms)} ("${r.text.slice(0, 100)}…"); deliveries of the 16 queued: ${counts.every((x) => x === 1) ? "each exactly 1" : counts.join(",")}; the 17th: ${extra}`;
    expect(stillMidTurn).toBe(true);
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/NOT delivered/);
    expect(attempts).toBe(2);
    expect(counts).toEqual(queued.map(() => 1));
    expect(extra).toBe(0);
  });
});
