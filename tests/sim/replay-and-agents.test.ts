// Re-attach with from_seq, the global seq, transcripts, status lists, compaction,
// session continuation and the remaining scripted agents.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { UNICODE_REPLY } from "../../src/sim/agents.js";
import { SseReader, api, authHeaders, startInteractive } from "./sim-helpers.js";
import { waitFor } from "../helpers.js";

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0, seed: 3 });
});
afterAll(async () => {
  await sim.close();
});

async function parkedEcho(prompt: string, userId = "u_replay"): Promise<Awaited<ReturnType<typeof startInteractive>>> {
  const r = await startInteractive(sim, { agent: "echo", prompt, user_id: userId });
  await r.sse.waitFor((f) => f.event === "awaiting_input");
  return r;
}

async function turn(r: Awaited<ReturnType<typeof startInteractive>>, text: string, n: number): Promise<void> {
  await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text });
  await r.sse.waitCount("awaiting_input", n);
}

describe("re-attach", () => {
  it("replays exactly the rows with seq > from_seq, converted, after an agent frame", async () => {
    const r = await parkedEcho("replay me");
    await turn(r, "second", 2);
    const rows = sim.rowsOfRun(r.runId);
    const cut = rows[5] as (typeof rows)[number];
    const sse = await SseReader.open(`${sim.url}/v1/runs/${r.runId}/stream?from_seq=${cut.seq}`, { headers: authHeaders(sim) });
    const expected = sim
      .expectedTailFrames(r.runId)
      .slice(-rows.filter((x) => x.seq > cut.seq && x.type !== "system_prompt").length);
    await waitFor(() => sse.frames.length >= expected.length + 1);
    expect(sse.frames[0]?.raw).toBe(
      `event: agent\ndata: {"agent_id":"${r.agentId}","run_id":"${r.runId}","session_id":"${r.sessionId}"}`,
    );
    expect(sse.frames.slice(1).map((f) => [f.event, f.data])).toEqual(expected);
    expect(sse.names()).not.toContain("session");
    sse.abort();

    // bad / negative from_seq → 0 (the whole run, opening steer included)
    for (const q of ["-5", "abc", ""]) {
      const all = await SseReader.open(`${sim.url}/v1/runs/${r.runId}/stream?from_seq=${q}`, { headers: authHeaders(sim) });
      await waitFor(() => all.frames.length >= sim.expectedTailFrames(r.runId).length + 1);
      expect(all.frames.slice(1).map((f) => [f.event, f.data])).toEqual(sim.expectedTailFrames(r.runId));
      all.abort();
    }
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
  });

  it("closes right after the replay when the run is terminal; 404 plain for an unknown run", async () => {
    const r = await parkedEcho("done soon");
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
    const res = await fetch(`${sim.url}/v1/runs/${r.runId}/stream`, { headers: authHeaders(sim) });
    const text = await res.text();
    expect(text.startsWith("event: agent\n")).toBe(true);
    expect(text.endsWith('event: awaiting_input\ndata: {"type":"awaiting_input","awaiting_input":{"since_turn":0}}\n\n')).toBe(
      true,
    );
    const missing = await api(sim, "GET", "/v1/runs/r_0000000000000000/stream");
    expect(missing).toMatchObject({ status: 404, text: "no such run\n" });
  });

  it("uses one global, non-contiguous seq across runs", async () => {
    const a = await parkedEcho("run a");
    const b = await parkedEcho("run b");
    await Promise.all([turn(a, "a2", 2), turn(b, "b2", 2)]);
    const ra = sim.rowsOfRun(a.runId).map((x) => x.seq);
    const rb = sim.rowsOfRun(b.runId).map((x) => x.seq);
    for (const seqs of [ra, rb]) {
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(seqs.some((s, i) => i > 0 && s - (seqs[i - 1] as number) > 1)).toBe(true);
    }
    expect(new Set([...ra, ...rb]).size).toBe(ra.length + rb.length);
    expect(Math.min(...ra, ...rb)).toBeGreaterThan(1000);
    for (const r of [a, b]) {
      await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
      await r.sse.ended;
    }
  });
});

describe("transcript and status lists", () => {
  it("returns the session with zero-time fields and every row, user_input and system_prompt included", async () => {
    const r = await parkedEcho("transcribe", "u_tx");
    const res = await fetch(`${sim.url}/v1/sessions/${r.sessionId}/transcript`, { headers: authHeaders(sim) });
    expect(res.headers.get("content-type")).toBe("application/json");
    const raw = await res.text();
    expect(raw.endsWith("}\n")).toBe(true);
    expect(raw).toMatch(/"ts_ns":\d{19},/);
    const body = JSON.parse(raw) as { session: Record<string, unknown>; events: Array<Record<string, unknown>> };
    expect(Object.keys(body.session)).toEqual([
      "id",
      "tenant_id",
      "agent",
      "created_at",
      "user_id",
      "archived_at",
      "summary_updated_at",
    ]);
    expect(body.session).toMatchObject({
      id: r.sessionId,
      tenant_id: "default",
      agent: "echo",
      user_id: "u_tx",
      archived_at: "0001-01-01T00:00:00Z",
      summary_updated_at: "0001-01-01T00:00:00Z",
    });
    expect(body.events.map((e) => e.type).slice(0, 3)).toEqual(["user_input", "system_prompt", "started"]);
    expect(Object.keys(body.events[0] as object)).toEqual(["seq", "run_id", "ts_ns", "type", "event", "payload"]);
    expect(body.events[0]?.event).toEqual({ type: "user_input" });
    expect(body.events[2]).not.toHaveProperty("payload");
    expect(body.events.map((e) => e.seq)).toEqual(sim.rowsOfRun(r.runId).map((x) => x.seq));
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
  });

  it("lists a user's runs newest first, running by default", async () => {
    const one = await parkedEcho("one", "u_list");
    const two = await parkedEcho("two", "u_list");
    await api(sim, "POST", `/v1/agents/${one.agentId}/cancel`);
    await one.sse.ended;
    await waitFor(() => sim.runStatus(one.runId) === "cancelled");
    const running = (await api(sim, "GET", "/v1/users/u_list/agents")).json() as { agents: Array<Record<string, unknown>> };
    expect(running.agents.map((a) => a.run_id)).toEqual([two.runId]);
    const all = (await api(sim, "GET", "/v1/users/u_list/agents?status=all")).json() as {
      agents: Array<Record<string, unknown>>;
    };
    expect(all.agents.map((a) => a.run_id)).toEqual([two.runId, one.runId]);
    const cancelled = (await api(sim, "GET", "/v1/users/u_list/agents?status=cancelled")).json() as {
      agents: Array<Record<string, unknown>>;
    };
    expect(cancelled.agents.map((a) => a.status)).toEqual(["cancelled"]);
    await api(sim, "POST", `/v1/agents/${two.agentId}/cancel`);
    await two.sse.ended;
  });
});

describe("compaction", () => {
  it("is a noop on a short run, live on a parked longer one, 409 mid-turn, marker when terminal", async () => {
    const r = await parkedEcho("compact me");
    const short = await api(sim, "POST", `/v1/runs/${r.runId}/compact`);
    expect(short.status).toBe(200);
    expect(short.json()).toMatchObject({ run_id: r.runId, compacted: false, applied: "noop" });
    await turn(r, "two", 2);
    await turn(r, "three", 3);
    const live = await api(sim, "POST", `/v1/runs/${r.runId}/compact`);
    expect(live.text).toMatch(
      new RegExp(`^\\{"run_id":"${r.runId}","compacted":true,"before_tokens":\\d+,"after_tokens":\\d+,"applied":"live"\\}\\n$`),
    );
    const frame = await r.sse.waitFor((f) => f.event === "context_compaction");
    expect(frame.data.context_compaction).toMatchObject({ summary: expect.any(String), keep_n: 4, keep_first: true });
    await sim.waitForStopPoint(r.runId);
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
    // Nothing followed the live compaction on the stream, up to its end (the cancel adds no frame).
    expect(r.sse.names().at(-1)).toBe("context_compaction");
    const marker = await api(sim, "POST", `/v1/runs/${r.runId}/compact`);
    expect(marker.json()).toMatchObject({ compacted: true, applied: "marker" });
    expect(sim.rowsOfRun(r.runId).at(-1)?.event).toMatchObject({
      type: "context_compaction",
      context_compaction: { trigger: "manual" },
    });
    expect(await api(sim, "POST", "/v1/runs/r_0000000000000000/compact")).toMatchObject({
      status: 404,
      text: "no run for that run_id\n",
    });
  });

  it("409s run_busy while mid-turn", async () => {
    const slow = await startSimulator({ tailPollMs: 10, speed: 1, keepaliveMs: 0 });
    try {
      const r = await startInteractive(slow, { agent: "slow", prompt: "x" });
      await r.sse.waitFor((f) => f.event === "text");
      const busy = await api(slow, "POST", `/v1/runs/${r.runId}/compact`);
      expect(busy.status).toBe(409);
      expect(busy.text).toBe(
        `{"code":"run_busy","error":"the agent is mid-turn; compact when it's parked waiting for your input"}`,
      );
    } finally {
      await slow.close();
    }
  });
});

describe("scripted agents", () => {
  it("toolish: tool_call, usage, tool_result, a short reply, parks at since_turn 1", async () => {
    const { sse, agentId } = await startInteractive(sim, { agent: "toolish", prompt: "read" });
    await sse.waitFor((f) => f.event === "awaiting_input");
    const names = sse.names().filter((n) => n !== "text");
    expect(names).toEqual([
      "session",
      "agent",
      "steer",
      "started",
      "tool_call",
      "usage",
      "tool_result",
      "usage",
      "awaiting_input",
    ]);
    const call = sse.frames.find((f) => f.event === "tool_call")?.data.tool_use as { id: string; name: string; input: unknown };
    expect(call.id).toMatch(/^toolu_01[A-Za-z0-9]{22}$/);
    expect(call).toMatchObject({ name: "Read", input: { path: "README.md" } });
    const result = sse.frames.find((f) => f.event === "tool_result");
    expect(Object.keys(result?.data ?? {})).toEqual(["type", "text", "tool_use"]);
    expect(sse.frames.at(-1)?.data).toEqual({ type: "awaiting_input", awaiting_input: { since_turn: 1 } });
    await api(sim, "POST", `/v1/agents/${agentId}/cancel`);
    await sse.ended;
  });

  it("failing: two error frames, EOF without done, status failed", async () => {
    const { sse, runId, agentId } = await startInteractive(sim, { agent: "failing", prompt: "x" });
    expect(await sse.ended).toEqual({ kind: "eof" });
    const errors = sse.frames.filter((f) => f.event === "error").map((f) => f.data);
    expect(errors).toEqual([
      { type: "error", error: "sim-provider 529: overloaded_error: Overloaded" },
      { type: "error", error: "provider error: sim-provider 529: overloaded_error: Overloaded" },
    ]);
    expect(sse.names()).not.toContain("done");
    expect(sse.names().at(-1)).toBe("error");
    expect(sim.runStatus(runId)).toBe("failed");
    expect((await api(sim, "GET", `/v1/agents/${agentId}`)).json()).toMatchObject({
      status: "failed",
      error: "provider error: sim-provider 529: overloaded_error: Overloaded",
      live: false,
    });
  });

  it("oneshot: ends with done even when interactive", async () => {
    const { sse, runId } = await startInteractive(sim, { agent: "oneshot", prompt: "just once" });
    expect(await sse.ended).toEqual({ kind: "eof" });
    expect(sse.frames.at(-1)?.data).toMatchObject({ type: "done", stop_reason: "end_turn" });
    expect(sim.runStatus(runId)).toBe("completed");
  });

  it("unicode: multi-byte deltas that concatenate to the reply", async () => {
    const { sse, agentId } = await startInteractive(sim, { agent: "unicode", prompt: "x" });
    await sse.waitFor((f) => f.event === "awaiting_input");
    expect(
      sse.frames
        .filter((f) => f.event === "text")
        .map((f) => f.data.text)
        .join(""),
    ).toBe(UNICODE_REPLY);
    await api(sim, "POST", `/v1/agents/${agentId}/cancel`);
    await sse.ended;
  });

  it("longtalk: about 3,000 words in about 1,000 deltas", async () => {
    const { sse, agentId } = await startInteractive(sim, { agent: "longtalk", prompt: "talk" });
    await sse.waitFor((f) => f.event === "awaiting_input", 10_000);
    const texts = sse.frames.filter((f) => f.event === "text").map((f) => String(f.data.text));
    expect(texts.length).toBe(1000);
    expect(texts.join("").split(/\s+/).length).toBe(3000);
    await api(sim, "POST", `/v1/agents/${agentId}/cancel`);
    await sse.ended;
  });
});

describe("session continuation", () => {
  it("runs a bound continuation on POST /v1/sessions/{id}/messages and 409s while the session is busy", async () => {
    const first = await fetch(sim.url + "/v1/runs", {
      method: "POST",
      headers: authHeaders(sim),
      body: JSON.stringify({ agent: "echo", prompt: "seed" }),
    });
    const sid = /"text":"(s_[0-9a-f]{16})"/.exec(await first.text())?.[1] as string;
    const res = await fetch(`${sim.url}/v1/sessions/${sid}/messages`, {
      method: "POST",
      headers: authHeaders(sim),
      body: JSON.stringify({ segments: [{ role: "user", content: [{ type: "trusted-text", text: "more" }] }] }),
    });
    const text = await res.text();
    expect(text).toContain(`"text":"${sid}"`);
    expect(text).toContain('"text":" more"');
    expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: done/);
    const tr = (await api(sim, "GET", `/v1/sessions/${sid}/transcript`)).json() as {
      events: Array<{ type: string; run_id: string }>;
    };
    expect(new Set(tr.events.map((e) => e.run_id)).size).toBe(2);

    const held = await SseReader.open(`${sim.url}/v1/sessions/${sid}/messages`, {
      method: "POST",
      headers: authHeaders(sim),
      body: JSON.stringify({
        interactive: true,
        segments: [{ role: "user", content: [{ type: "trusted-text", text: "stay" }] }],
      }),
    });
    await held.waitFor((f) => f.event === "awaiting_input");
    const busy = await api(sim, "POST", `/v1/sessions/${sid}/messages`, { segments: [] });
    expect(busy.status).toBe(409);
    expect(busy.text).toBe(`{"code":"session_busy","error":"another request is in flight on session "${sid}""}`);
    held.abort();
    expect((await api(sim, "POST", `/v1/sessions/s_nope/messages`, {})).text).toBe("session not found: s_nope\n");
  });
});

describe("non-interactive failure", () => {
  it("sends both error frames live but persists only the loop's", async () => {
    const res = await fetch(sim.url + "/v1/runs", {
      method: "POST",
      headers: authHeaders(sim),
      body: JSON.stringify({ agent: "failing", prompt: "x" }),
    });
    const text = await res.text();
    const errors = [...text.matchAll(/^event: error$/gm)].length;
    expect(errors).toBe(2);
    const runId = /"run_id":"(r_[0-9a-f]+)"/.exec(text)?.[1] as string;
    expect(sim.rowsOfRun(runId).filter((r) => r.type === "error")).toHaveLength(1);
    expect(sim.runStatus(runId)).toBe("failed");
  });
});
