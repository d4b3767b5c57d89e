// The fault hooks: stream cuts (frames / bytes, destroy / end, N connections),
// delayed headers, nginx 502 pages, refused connections, held tails, clear, prompt close.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { SseReader, api, authHeaders, startInteractive } from "./sim-helpers.js";
import { waitFor } from "../helpers.js";

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0, seed: 5 });
});
afterAll(async () => {
  await sim.close();
});

async function finishedUnicodeRun(): Promise<{ runId: string; full: Buffer }> {
  const r = await startInteractive(sim, { agent: "unicode", prompt: "ünï" });
  await r.sse.waitFor((f) => f.event === "awaiting_input");
  await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
  await r.sse.ended;
  await waitFor(() => sim.runStatus(r.runId) === "cancelled");
  const res = await fetch(`${sim.url}/v1/runs/${r.runId}/stream`, { headers: authHeaders(sim) });
  return { runId: r.runId, full: Buffer.from(await res.arrayBuffer()) };
}

const attach = (runId: string): Promise<SseReader> =>
  SseReader.open(`${sim.url}/v1/runs/${runId}/stream`, { headers: authHeaders(sim) });

describe("cutStream", () => {
  it("cuts a POST stream after N frames (destroy → client error); the detached run goes on", async () => {
    sim.faults.cutStream({ afterFrames: 3 });
    const r = await startInteractive(sim, { agent: "echo", prompt: "cut me" });
    const end = await r.sse.ended;
    expect(end.kind).toBe("error");
    expect(r.sse.names()).toEqual(["session", "agent", "steer"]);
    await sim.waitForStopPoint(r.runId);
    expect(sim.runStatus(r.runId)).toBe("running");
    expect(sim.faults.pendingCuts()).toBe(0);
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
  });

  it("cuts at a byte offset inside a UTF-8 character, cleanly (end → EOF)", async () => {
    const { runId, full } = await finishedUnicodeRun();
    const cjk = full.indexOf(Buffer.from("日"));
    expect(cjk).toBeGreaterThan(0);
    const at = cjk + 1; // one byte into a three-byte character
    sim.faults.cutStream({ runId, atByte: at, mode: "end" });
    const sse = await attach(runId);
    expect(await sse.ended).toEqual({ kind: "eof" });
    expect(sse.bytes.equals(full.subarray(0, at))).toBe(true);
    expect(sse.bytes.at(-1)).toBe(Buffer.from("日")[0]);
  });

  it("cuts at a byte offset with destroy → client error, exact prefix received", async () => {
    const { runId, full } = await finishedUnicodeRun();
    const at = full.indexOf(Buffer.from("🚀")) + 2;
    sim.faults.cutStream({ runId, atByte: at });
    const sse = await attach(runId);
    expect((await sse.ended).kind).toBe("error");
    expect(sse.bytes.equals(full.subarray(0, at))).toBe(true);
  });

  it("cuts the next K matching connections only, and only for the given run", async () => {
    const { runId, full } = await finishedUnicodeRun();
    const other = await finishedUnicodeRun();
    sim.faults.cutStream({ runId, afterFrames: 2, connections: 2, mode: "end" });
    const otherSse = await attach(other.runId);
    await otherSse.ended;
    expect(otherSse.bytes.equals(other.full)).toBe(true);
    for (let i = 0; i < 2; i++) {
      const sse = await attach(runId);
      await sse.ended;
      expect(sse.frames.length).toBe(2);
    }
    expect(sim.faults.pendingCuts()).toBe(0);
    const whole = await attach(runId);
    await whole.ended;
    expect(whole.bytes.equals(full)).toBe(true);
  });
});

describe("request faults", () => {
  it("delays response headers of the next matching request", async () => {
    // Judged by order, not by the clock: requests sent after the delayed one are answered
    // while it is still held (the one that does not match, then the next that does).
    sim.faults.delayHeaders(1_000, { pathPrefix: "/v1/_me" });
    const answered: string[] = [];
    const seen = sim.requests.length;
    const delayed = api(sim, "GET", "/v1/_me").then((r) => answered.push(`delayed ${r.status}`));
    await waitFor(() => sim.requests.length > seen);
    await api(sim, "GET", "/healthz").then((r) => answered.push(`healthz ${r.status}`));
    await api(sim, "GET", "/v1/_me").then((r) => answered.push(`next ${r.status}`));
    await delayed;
    expect(answered).toEqual(["healthz 200", "next 200", "delayed 200"]);
  });

  it("answers the next N matching requests with nginx's 502 page", async () => {
    sim.faults.html502(2, { method: "GET" });
    expect((await api(sim, "POST", "/v1/runs/r_1/input", { text: "x" })).status).toBe(404);
    for (let i = 0; i < 2; i++) {
      const r = await api(sim, "GET", "/v1/_me");
      expect(r.status).toBe(502);
      expect(r.headers.get("content-type")).toBe("text/html");
      expect(r.text).toBe(
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
      );
    }
    expect((await api(sim, "GET", "/v1/_me")).status).toBe(200);
  });

  it("clear() drops every pending fault", async () => {
    sim.faults.html502(5);
    sim.faults.delayHeaders(3_600_000, { count: 5 }); // an hour: only clear() lets the request through in time
    sim.faults.cutStream({ afterFrames: 1, connections: 5 });
    sim.faults.clear();
    expect(sim.faults.pendingCuts()).toBe(0);
    expect((await api(sim, "GET", "/v1/_me")).status).toBe(200);
  });
});

describe("refuseConnections", () => {
  it("refuses TCP connections for a while, keeps state, and listens again on the same port", async () => {
    const r = await startInteractive(sim, { agent: "echo", prompt: "keep me" });
    await r.sse.waitFor((f) => f.event === "awaiting_input");
    await sim.faults.refuseConnections(300);
    expect(["eof", "error"]).toContain((await r.sse.ended).kind);
    await expect(fetch(sim.url + "/healthz")).rejects.toThrow();
    await sim.whenAccepting?.();
    expect((await fetch(sim.url + "/healthz")).status).toBe(200);
    expect(sim.runStatus(r.runId)).toBe("running");
    expect((await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text: "still here" })).status).toBe(200);
    await waitFor(() => sim.rowsOfRun(r.runId).filter((x) => x.type === "awaiting_input").length === 2);
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
  });
});

describe("holdTails", () => {
  it("sends nothing written while held until release, then every row in order; the run goes on meanwhile", async () => {
    const r = await startInteractive(sim, { agent: "echo", prompt: "hold on" });
    await r.sse.waitFor((f) => f.event === "awaiting_input");
    const before = r.sse.frames.length;
    const release = sim.faults.holdTails();
    // Every open tail (this run's) waits on the hold before its next query...
    await waitFor(() => sim.tailStats().held === sim.tailStats().open && sim.tailStats().open > 0, {
      what: () => `the tails to wait on the hold (${JSON.stringify(sim.tailStats())})`,
    });
    const polls = sim.tailStats().polls;
    await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text: "while held" });
    await sim.waitForStopPoint(r.runId);
    // ...so the whole turn is written and none of it is read or sent.
    expect(sim.rowsOfRun(r.runId).filter((x) => x.type === "awaiting_input")).toHaveLength(2);
    expect(sim.tailStats().polls).toBe(polls);
    expect(r.sse.frames.length).toBe(before);
    release();
    await r.sse.waitCount("awaiting_input", 2);
    expect(r.sse.frames.slice(2).map((f) => [f.event, f.data])).toEqual(sim.expectedTailFrames(r.runId)); // after session and agent
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
  });
});

describe("close", () => {
  it("closes promptly with open streams and parked runs", async () => {
    const s = await startSimulator({ tailPollMs: 10, speed: 1, keepaliveMs: 50 });
    const a = await startInteractive(s, { agent: "echo", prompt: "x" });
    const b = await startInteractive(s, { agent: "longtalk", prompt: "x" });
    await a.sse.waitFor((f) => f.event === "awaiting_input");
    await b.sse.waitFor((f) => f.event === "text");
    await s.close(); // keep-alive streams and parked runs would hold it past the test's timeout
    await Promise.all([a.sse.ended, b.sse.ended]);
    await expect(fetch(s.url + "/healthz")).rejects.toThrow();
    await s.close(); // idempotent
  });
});
