// POST /v1/runs validation, the interactive stream, steering, turn cancel and
// whole-run cancel, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { SseReader, api, authHeaders, startInteractive } from "./sim-helpers.js";
import { waitFor } from "../helpers.js";

let sim: Simulator; // speed 0: scripted delays vanish
let timed: Simulator; // speed 1: the slow agents really are slow

beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0, seed: 1 });
  timed = await startSimulator({ tailPollMs: 10, speed: 1, keepaliveMs: 0, seed: 2 });
});
afterAll(async () => {
  await Promise.all([sim.close(), timed.close()]);
});

async function post(
  s: Simulator,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; ct: string | null }> {
  const res = await fetch(s.url + "/v1/runs", { method: "POST", headers: { ...authHeaders(s), ...headers }, body });
  return { status: res.status, text: await res.text(), ct: res.headers.get("content-type") };
}

describe("POST /v1/runs validation", () => {
  it("answers each pre-stream error in loomcycle's order with plain-text bodies", async () => {
    expect(await post(sim, '{"agent":"echo","prompt":"x"}', { "Content-Type": "text/plain" })).toEqual({
      status: 415,
      text: "Content-Type must be application/json\n",
      ct: "text/plain; charset=utf-8",
    });
    const cases: Array<[string, string]> = [
      ["", "bad json: EOF"],
      ["   ", "bad json: EOF"],
      ['{"prompt":"hi"}', "agent is required"],
      ["null", "agent is required"],
      ['{"agent":"echo"}', 'no input: provide "segments" (or a top-level "prompt" string)'],
      ['{"agent":"echo","prompt":""}', 'no input: provide "segments" (or a top-level "prompt" string)'],
      ['{"agent":"echo","prompt":"x","user_id":"bad id"}', "user_id must match [A-Za-z0-9_-]{1,128}"],
      ['{"agent":"echo","prompt":"x","agent_id":"bad/id"}', "agent_id must match [A-Za-z0-9_-]{1,128}"],
      ['{"agent":"nope","prompt":"x"}', 'unknown agent "nope"'],
    ];
    // Malformed JSON, or a field of the wrong type: one "bad json" line, naming the field.
    const malformed: Array<[string, RegExp]> = [
      ['{"agent":', /^bad json: \S/],
      ["nope", /^bad json: \S/],
      ['{"agent" "echo"}', /^bad json: \S/],
      ['{"agent":5}', /^bad json: agent: /],
      ['{"agent":"echo","interactive":"yes"}', /^bad json: interactive: /],
      ["[1]", /^bad json: \S/],
    ];
    for (const [body, msg] of malformed) {
      const r = await post(sim, body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(r.text.trimEnd().split("\n"), body).toHaveLength(1);
      expect(r.text, body).toMatch(msg);
    }
    for (const [body, msg] of cases) {
      const r = await post(sim, body);
      expect({ body, status: r.status, text: r.text }).toEqual({ body, status: 400, text: msg + "\n" });
    }
    const nf = await post(sim, '{"agent":"echo","prompt":"x","session_id":"s_0000000000000000"}');
    expect(nf).toMatchObject({ status: 404, text: "session not found: s_0000000000000000\n" });
  });

  it("413s a body over 16 MiB", async () => {
    const big = JSON.stringify({ agent: "echo", prompt: "x".repeat(16 * 1024 * 1024) });
    const r = await post(sim, big);
    expect(r.status).toBe(413);
    expect(r.text).toBe("request body exceeds the 16777216-byte limit\n");
  });

  it("ignores unknown fields", async () => {
    const res = await fetch(sim.url + "/v1/runs", {
      method: "POST",
      headers: authHeaders(sim),
      body: '{"agent":"oneshot","prompt":"hi","bogus":1}',
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("event: done");
  });

  it("409s a second live run with the same agent_id (hand-written, not valid JSON)", async () => {
    const first = await startInteractive(sim, { agent: "echo", prompt: "one", agent_id: "dup-agent" });
    const r = await post(sim, JSON.stringify({ agent: "echo", prompt: "two", agent_id: "dup-agent", interactive: true }));
    expect(r.status).toBe(409);
    expect(r.ct).toBe("application/json");
    expect(r.text).toBe('{"code":"agent_id_in_use","error":"agent_id "dup-agent" is already mapped to an active run"}');
    await api(sim, "POST", `/v1/agents/dup-agent/cancel`);
    await first.sse.ended;
  });
});

describe("interactive run stream", () => {
  it("sends session, agent, the opening steer with the system prompt, the turn and awaiting_input", async () => {
    const { sse, runId, agentId, sessionId } = await startInteractive(sim, {
      agent: "echo",
      prompt: "hello world",
      user_id: "u_1",
    });
    expect(sse.res.headers.get("content-type")).toBe("text/event-stream");
    expect(sse.res.headers.get("cache-control")).toBe("no-cache");
    expect(sse.res.headers.get("x-accel-buffering")).toBe("no");
    expect(runId).toMatch(/^r_[0-9a-f]{16}$/);
    expect(agentId).toMatch(/^a_[0-9a-f]{16}$/);
    expect(sessionId).toMatch(/^s_[0-9a-f]{16}$/);
    await sse.waitFor((f) => f.event === "awaiting_input");
    const [session, agent, steer, started, ...rest] = sse.frames;
    expect(session?.raw).toBe(`event: session\ndata: {"type":"session","text":"${sessionId}"}`);
    expect(agent?.raw).toBe(
      `event: agent\ndata: {"agent_id":"${agentId}","parent_agent_id":null,"parent_context":null,"run_id":"${runId}","session_id":"${sessionId}"}`,
    );
    expect(steer?.data).toEqual({
      type: "steer",
      user_input: { text: "You are echo, a test agent. Repeat the user's message back to them.\nhello world", source: "replay" },
    });
    expect(started?.data).toEqual({ type: "started" });
    const texts = rest.filter((f) => f.event === "text");
    expect(texts.length).toBeGreaterThanOrEqual(3);
    expect(texts.map((f) => f.data.text).join("")).toBe("You said: hello world");
    const names = rest.map((f) => f.event);
    expect(names.slice(-2)).toEqual(["usage", "awaiting_input"]);
    expect(rest.at(-1)?.data).toEqual({ type: "awaiting_input", awaiting_input: { since_turn: 0 } });
    const usage = rest.at(-2)?.data.usage as Record<string, unknown>;
    expect(Object.keys(usage)).toEqual(["input_tokens", "output_tokens", "model", "provider", "max_context_tokens"]);
    for (const f of sse.frames) {
      expect(f.raw.split("\n")).toHaveLength(2);
      expect(f.raw).not.toMatch(/^(id|retry):/m);
    }
    // The stream stays open while the run is parked.
    await sim.waitForStopPoint(runId);
    expect(sim.runStatus(runId)).toBe("running");
    const status = (await api(sim, "GET", `/v1/agents/${agentId}`)).json() as Record<string, unknown>;
    expect(status).toMatchObject({
      agent_id: agentId,
      run_id: runId,
      session_id: sessionId,
      agent: "echo",
      user_id: "u_1",
      status: "running",
      live: true,
      interactive: true,
    });
    expect(status.last_heartbeat_at).toEqual(expect.any(String));
    await api(sim, "POST", `/v1/agents/${agentId}/cancel`);
    expect(await sse.ended).toEqual({ kind: "eof" });
  });

  it("accepts explicit segments (untrusted-block, image) and records them in the opening user_input", async () => {
    const segments = [
      {
        role: "user",
        content: [
          { type: "trusted-text", text: "Look:" },
          { type: "untrusted-block", kind: "web_content", text: "<b>hi</b>" },
          { type: "image", media_type: "image/png", data: "iVBORw0KGgo=" },
        ],
      },
    ];
    const { sse, runId, agentId } = await startInteractive(sim, {
      agent: "echo",
      segments,
      prompt: "ignored",
      metadata: { repo: "x" },
    });
    await sse.waitFor((f) => f.event === "awaiting_input");
    const texts = sse.frames
      .filter((f) => f.event === "text")
      .map((f) => f.data.text)
      .join("");
    expect(texts).toBe("You said: Look:\n<web_content>\n&lt;b>hi&lt;/b>\n</web_content>");
    const rows = sim.rowsOfRun(runId);
    expect(rows[0]?.type).toBe("user_input");
    expect(rows[0]?.payload).toEqual([
      {
        role: "system",
        content: [
          { type: "trusted-text", text: "You are echo, a test agent. Repeat the user's message back to them.", cacheable: true },
        ],
      },
      {
        role: "user",
        content: [
          { type: "trusted-text", text: "Look:" },
          { type: "untrusted-block", text: "<b>hi</b>", kind: "web_content" },
          { type: "image", text: "", media_type: "image/png", data: "iVBORw0KGgo=" },
        ],
      },
    ]);
    expect(rows[1]).toMatchObject({
      type: "system_prompt",
      event: { type: "system_prompt" },
      payload: { system_prompt: expect.any(String) },
    });
    await api(sim, "POST", `/v1/agents/${agentId}/cancel`);
    await sse.ended;
  });

  it("runs a new turn on steer; trims the text; 422/404/400 in plain text", async () => {
    const { sse, runId, agentId } = await startInteractive(sim, { agent: "echo", prompt: "first" });
    await sse.waitFor((f) => f.event === "awaiting_input");
    const ok = await api(sim, "POST", `/v1/runs/${runId}/input`, { text: "  second turn \n" });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe(`{"delivered":true,"run_id":"${runId}"}\n`);
    await sse.waitCount("awaiting_input", 2);
    const n = sse.frames.findIndex((f) => f.event === "awaiting_input");
    const second = sse.frames.slice(n + 1);
    expect(second[0]?.data).toEqual({ type: "steer", user_input: { text: "second turn", source: "replay" } });
    expect(
      second
        .filter((f) => f.event === "text")
        .map((f) => f.data.text)
        .join(""),
    ).toBe("You said: second turn");
    expect(second.at(-1)?.data).toEqual({ type: "awaiting_input", awaiting_input: { since_turn: 1 } });
    const stored = sim.rowsOfRun(runId).filter((r) => r.type === "user_input");
    expect(stored[1]?.payload).toEqual([{ role: "user", content: [{ type: "trusted-text", text: "second turn" }] }]);
    expect(sim.rowsOfRun(runId).some((r) => r.type === "steer")).toBe(false);

    expect(await api(sim, "POST", `/v1/runs/${runId}/input`, { text: "   " })).toMatchObject({
      status: 422,
      text: "text is required\n",
    });
    expect(await api(sim, "POST", `/v1/runs/${runId}/input`, "")).toMatchObject({
      status: 400,
      text: "invalid JSON body: EOF\n",
    });
    expect(await api(sim, "POST", `/v1/runs/r_0000000000000000/input`, { text: "x" })).toMatchObject({
      status: 404,
      text: "no in-flight run for that run_id\n",
    });
    await api(sim, "POST", `/v1/agents/${agentId}/cancel`);
    await sse.ended;
    // An ended run is no longer in flight.
    expect(await api(sim, "POST", `/v1/runs/${runId}/input`, { text: "x" })).toMatchObject({ status: 404 });
  });

  it("queues steers sent mid-turn: the run parks, then consumes them; 429 past 16", async () => {
    const { sse, runId, agentId } = await startInteractive(timed, { agent: "slow", prompt: "go" });
    await sse.waitFor((f) => f.event === "text");
    const results: number[] = [];
    for (let i = 0; i < 16; i++) results.push((await api(timed, "POST", `/v1/runs/${runId}/input`, { text: `m${i}` })).status);
    expect(results).toEqual(Array(16).fill(200));
    const full = await api(timed, "POST", `/v1/runs/${runId}/input`, { text: "one too many" });
    expect(full.status).toBe(429);
    expect(full.text).toBe("run input queue full; retry shortly\n");
    expect(full.headers.get("retry-after")).toBe("1");
    expect(full.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    // Turn cancel to finish quickly; the loop parks and immediately takes m0, then drains m1..m15.
    await api(timed, "POST", `/v1/runs/${runId}/cancel`);
    await sse.waitCount("steer", 17, 5000);
    const names = sse.names();
    const at = names.indexOf("turn_cancelled");
    expect(names.slice(at, at + 3)).toEqual(["turn_cancelled", "awaiting_input", "steer"]);
    expect(
      sse.frames
        .filter((f) => f.event === "steer")
        .map((f) => (f.data.user_input as { text: string }).text)
        .slice(1),
    ).toEqual(Array.from({ length: 16 }, (_, i) => `m${i}`));
    await api(timed, "POST", `/v1/agents/${agentId}/cancel`);
    await sse.ended;
  });

  it("turn cancel: 200 then turn_cancelled + awaiting_input; 409 not_mid_turn when parked", async () => {
    const { sse, runId, agentId } = await startInteractive(timed, { agent: "slow", prompt: "go" });
    await sse.waitFor((f) => f.event === "text");
    const r = await api(timed, "POST", `/v1/runs/${runId}/cancel`, { reason: " enough " });
    expect(r.status).toBe(200);
    expect(r.text).toBe(`{"parked":true,"run_id":"${runId}","stopped":true}\n`);
    await sse.waitFor((f) => f.event === "awaiting_input");
    const tail = sse.frames.slice(-2).map((f) => f.data);
    expect(tail).toEqual([
      { type: "turn_cancelled", turn_cancelled: { reason: "enough", since_turn: 0 } },
      { type: "awaiting_input", awaiting_input: { since_turn: 0 } },
    ]);
    expect(sse.names()).not.toContain("usage");
    const again = await api(timed, "POST", `/v1/runs/${runId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toBe("application/json");
    expect(again.text).toBe('{"code":"not_mid_turn","error":"run is not mid-turn (already parked or terminal)"}');
    expect(await api(timed, "POST", `/v1/runs/r_0000000000000000/cancel`)).toMatchObject({
      status: 404,
      text: "no in-flight run for that run_id\n",
    });
    await api(timed, "POST", `/v1/agents/${agentId}/cancel`);
    await sse.ended;
  });

  it("turn cancel during a tool: the tool ends with is_error, then the run parks", async () => {
    const { sse, runId, agentId } = await startInteractive(timed, { agent: "toolish", prompt: "read it" });
    await sse.waitFor((f) => f.event === "usage");
    await api(timed, "POST", `/v1/runs/${runId}/cancel`);
    await sse.waitFor((f) => f.event === "awaiting_input");
    const names = sse.names();
    expect(names.slice(names.indexOf("tool_call"))).toEqual([
      "tool_call",
      "usage",
      "tool_result",
      "turn_cancelled",
      "awaiting_input",
    ]);
    const result = sse.frames.find((f) => f.event === "tool_result");
    expect(result?.data).toMatchObject({
      type: "tool_result",
      text: "context canceled",
      is_error: true,
      tool_use: { name: "Read", input: { path: "README.md" } },
    });
    await api(timed, "POST", `/v1/agents/${agentId}/cancel`);
    await sse.ended;
  });

  it("turn cancel on a non-interactive run is 409 not_interactive", async () => {
    const sse = await SseReader.open(timed.url + "/v1/runs", {
      method: "POST",
      headers: authHeaders(timed),
      body: JSON.stringify({ agent: "slow", prompt: "x" }),
    });
    const agent = await sse.waitFor((f) => f.event === "agent");
    await sse.waitFor((f) => f.event === "text");
    const r = await api(timed, "POST", `/v1/runs/${String(agent.data.run_id)}/cancel`);
    expect(r.status).toBe(409);
    expect(r.text).toBe(
      '{"code":"not_interactive","error":"turn-cancel applies only to interactive runs; use POST /v1/agents/{id}/cancel to stop this run"}',
    );
    sse.abort();
  });

  it("whole-run cancel: bare EOF, status cancelled with the reason, idempotent second call", async () => {
    const { sse, runId, agentId } = await startInteractive(sim, { agent: "echo", prompt: "bye" });
    await sse.waitFor((f) => f.event === "awaiting_input");
    const count = sse.frames.length;
    const r = await api(sim, "POST", `/v1/agents/${agentId}/cancel`, { reason: "test over" });
    expect(r.status).toBe(200);
    expect(r.text).toBe(`{"cancelled":true,"agent_id":"${agentId}","reason":"test over"}\n`);
    expect(await sse.ended).toEqual({ kind: "eof" });
    expect(sse.frames.length).toBe(count);
    expect(sim.runStatus(runId)).toBe("cancelled");
    expect(sim.rowsOfRun(runId).map((x) => x.type)).not.toContain("done");
    const status = (await api(sim, "GET", `/v1/agents/${agentId}`)).json() as Record<string, unknown>;
    expect(status).toMatchObject({ status: "cancelled", stop_reason: "test over", live: false, interactive: true });
    expect(status.completed_at).toEqual(expect.any(String));
    const second = await api(sim, "POST", `/v1/agents/${agentId}/cancel`, { reason: "again" });
    expect(second.text).toBe(`{"cancelled":false,"agent_id":"${agentId}","status":"cancelled"}\n`);
  });

  it("whole-run cancel without a body: stop_reason 'cancelled by api', no reason in the response", async () => {
    const { sse, agentId, runId } = await startInteractive(sim, { agent: "echo", prompt: "bye" });
    await sse.waitFor((f) => f.event === "awaiting_input");
    const r = await api(sim, "POST", `/v1/agents/${agentId}/cancel`);
    expect(r.text).toBe(`{"cancelled":true,"agent_id":"${agentId}"}\n`);
    await sse.ended;
    await waitFor(() => sim.runStatus(runId) === "cancelled");
    expect((await api(sim, "GET", `/v1/agents/${agentId}`)).json()).toMatchObject({ stop_reason: "cancelled by api" });
  });

  it("a detached run survives its client disconnecting", async () => {
    const { sse, runId } = await startInteractive(sim, { agent: "echo", prompt: "still there?" });
    sse.abort();
    await sim.waitForStopPoint(runId);
    expect(sim.runStatus(runId)).toBe("running");
    expect((await api(sim, "POST", `/v1/runs/${runId}/input`, { text: "yes" })).status).toBe(200);
    await waitFor(() => sim.rowsOfRun(runId).filter((r) => r.type === "awaiting_input").length === 2);
    const back = await SseReader.open(`${sim.url}/v1/runs/${runId}/stream`, { headers: authHeaders(sim) });
    await back.waitCount("awaiting_input", 2);
    expect(back.frames.slice(1).map((f) => [f.event, f.data])).toEqual(sim.expectedTailFrames(runId));
    back.abort();
  });

  it("keeps the stream alive with keepalive comments while parked", async () => {
    const ka = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 20 });
    try {
      const { sse, agentId } = await startInteractive(ka, { agent: "echo", prompt: "hi" });
      await sse.waitFor((f) => f.event === "awaiting_input");
      await waitFor(() => sse.comments.length >= 2, { what: "keepalives" });
      expect(sse.comments[0]).toBe(": keepalive");
      expect(sse.bytes.toString()).toContain("\n\n: keepalive\n\n");
      await api(ka, "POST", `/v1/agents/${agentId}/cancel`);
      await sse.ended;
    } finally {
      await ka.close();
    }
  });

  it("refreshes last_heartbeat_at while the run is parked", async () => {
    const hb = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0, heartbeatMs: 50 });
    try {
      const { sse, agentId } = await startInteractive(hb, { agent: "echo", prompt: "hi" });
      await sse.waitFor((f) => f.event === "awaiting_input");
      const heartbeat = async (): Promise<number> =>
        Date.parse(((await api(hb, "GET", `/v1/agents/${agentId}`)).json() as { last_heartbeat_at: string }).last_heartbeat_at);
      const first = await heartbeat();
      await waitFor(async () => (await heartbeat()) > first, { what: "a later last_heartbeat_at while parked" });
      await api(hb, "POST", `/v1/agents/${agentId}/cancel`);
      await sse.ended;
    } finally {
      await hb.close();
    }
  });
});

describe("non-interactive runs", () => {
  it("stream live and end with done, then EOF; status completed", async () => {
    const res = await fetch(sim.url + "/v1/runs", {
      method: "POST",
      headers: authHeaders(sim),
      body: JSON.stringify({ agent: "echo", prompt: "once", agent_id: "my-tracker" }),
    });
    const text = await res.text();
    const names = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(names.slice(0, 3)).toEqual(["session", "agent", "started"]);
    expect(names.at(-1)).toBe("done");
    expect(names).not.toContain("steer");
    expect(names).not.toContain("awaiting_input");
    expect(text).toContain('"agent_id":"my-tracker"');
    expect(text).toMatch(
      /event: done\ndata: \{"type":"done","usage":\{"input_tokens":\d+,"output_tokens":\d+,"model":"sim-model-1","provider":"sim"\},"stop_reason":"end_turn"\}\n\n$/,
    );
    const st = (await api(sim, "GET", "/v1/agents/my-tracker")).json() as Record<string, unknown>;
    expect(st).toMatchObject({ status: "completed", stop_reason: "end_turn", live: false });
    expect(st.interactive).toBeUndefined();
  });

  it("is cancelled when its client disconnects", async () => {
    const sse = await SseReader.open(timed.url + "/v1/runs", {
      method: "POST",
      headers: authHeaders(timed),
      body: JSON.stringify({ agent: "slow", prompt: "x" }),
    });
    const agent = await sse.waitFor((f) => f.event === "agent");
    await sse.waitFor((f) => f.event === "text");
    sse.abort();
    const runId = String(agent.data.run_id);
    await waitFor(() => timed.runStatus(runId) === "cancelled");
    expect((await api(timed, "GET", `/v1/agents/${String(agent.data.agent_id)}`)).json()).toMatchObject({
      status: "cancelled",
      stop_reason: "client disconnected",
    });
  });
});
