// Scenario 4 — lost start response. The POST /v1/runs reaches loomcycle (which creates
// the run) but the connection dies before the `agent` frame reaches the bridge. The
// bridge chose the agent_id itself, so it must look the run up with
// GET /v1/agents/{agent_id} — never POST again — and either return the ids or say
// clearly that the run may exist (never "no run was created" unless loomcycle says so).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultEnv, sleep, type FaultEnv } from "./env.js";
import { FrameCutter, type Plan, type ProxiedRequest } from "./proxy.js";
import { ms, record } from "./report.js";
import { rng, waitFor } from "../helpers.js";
import { NGINX_502 } from "../../src/sim/http.js";

let env: FaultEnv;
beforeAll(async () => {
  env = await startFaultEnv({ proxy: true, backoffMs: [0, 200, 500, 1000] });
});
afterAll(async () => {
  await env?.close();
});

const isStart = (r: ProxiedRequest) => r.method === "POST" && r.path === "/v1/runs";

interface StartAudit {
  agentId: string;
  posts: number;
  lookupsBeforeAnotherPost: number;
  runsCreated: number;
}

/** What loomcycle saw of one start: POSTs carrying this agent_id, and lookups of it after the POST. */
function audit(prompt: string): StartAudit {
  const reqs = env.sim.requests;
  const postIdx = reqs.findIndex((q) => q.method === "POST" && q.path === "/v1/runs" && q.body.includes(prompt));
  const body = postIdx >= 0 ? (JSON.parse(reqs[postIdx]!.body) as { agent_id?: string }) : {};
  const agentId = body.agent_id ?? "";
  const nextPost = reqs.findIndex((q, i) => i > postIdx && q.method === "POST" && q.path === "/v1/runs");
  const end = nextPost < 0 ? reqs.length : nextPost;
  return {
    agentId,
    posts: reqs.filter((q) => q.method === "POST" && q.path === "/v1/runs" && q.body.includes(prompt)).length,
    lookupsBeforeAnotherPost: reqs.slice(postIdx + 1, end).filter((q) => q.method === "GET" && q.path === `/v1/agents/${agentId}`)
      .length,
    runsCreated: reqs.filter((q) => q.method === "POST" && q.path === "/v1/runs" && q.body.includes(agentId)).length > 0 ? 1 : 0,
  };
}

async function loseStart(label: string, plan: () => Plan) {
  let used = false;
  const remove = env.proxy!.use((r) => {
    if (!isStart(r) || used) return undefined;
    used = true;
    return plan();
  });
  const prompt = `lost start: ${label}`;
  const s = await env.call("start_interactive_run", { agent: "echo", prompt, wait_ms: 10_000 });
  remove();
  return { s, a: audit(prompt), prompt };
}

describe("scenario 4: lost start response", () => {
  it("the connection drops after loomcycle got the POST, before the agent frame: one POST, a lookup by agent_id, the ids returned", async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 4,
      name: "start response lost 4 ways",
      injected:
        "proxy forwards POST /v1/runs, then: drops the connection before the response headers; after the headers; after the `session` frame (reset); inside the `agent` frame (clean EOF)",
      expected:
        "exactly 1 POST per start; GET /v1/agents/{the agent_id the bridge chose} before any other POST; tool result carries run_id/agent_id/session_id of the run loomcycle created",
    });
    const cases: Array<[string, () => Plan]> = [
      ["before the headers", () => ({ kind: "lose-response", when: "before-headers" })],
      ["after the headers", () => ({ kind: "lose-response", when: "after-headers" })],
      [
        "after the session frame",
        () => ({
          kind: "forward",
          tap: new FrameCutter({ kind: "between-frames", frame: 1, mode: "destroy", rand: rng(1) }, () => undefined),
        }),
      ],
      [
        "inside the agent frame",
        () => ({
          kind: "forward",
          tap: new FrameCutter({ kind: "mid-frame", frame: 2, mode: "end", rand: rng(2) }, () => undefined),
        }),
      ],
    ];
    const lines: string[] = [];
    let ok = 0;
    for (const [label, plan] of cases) {
      const { s, a } = await loseStart(label, plan);
      const lookups = a.lookupsBeforeAnotherPost;
      lines.push(
        `${label}: ${s.isError ? "isError" : `ids returned, state ${String(s.sc.state)}`} in ${ms(s.ms)}, ${a.posts} POST, ${lookups} lookup(s) by agent_id`,
      );
      expect(s.isError, s.text).toBe(false);
      expect(s.sc.agent_id).toBe(a.agentId);
      expect(s.sc.run_id).toMatch(/^r_/);
      expect(s.sc.session_id).toMatch(/^s_/);
      expect(s.sc.state).toBe("awaiting_input");
      expect(env.sim.runStatus(String(s.sc.run_id))).toBe("running");
      expect(a.posts).toBe(1);
      expect(lookups).toBeGreaterThanOrEqual(1);
      ok += 1;
      rec.measured = lines.join("; ");
    }
    Object.assign(rec.figures, { cases: cases.length, recovered: ok, posts_per_start: 1 });
  });

  it("lookups fail for 10 s after the lost response: the call says the run MAY exist (agent_id given), the bridge keeps looking and finds it; no second POST", async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 4,
      name: "lost response, lookups failing 10 s",
      injected:
        "proxy loses the POST /v1/runs response before its headers, then answers every GET /v1/agents/{id} with an HTML 502 for 10 s",
      expected:
        'start returns within wait_ms + 5 s saying the run MAY STILL BE CREATED with its agent_id (not "No run was created"); the bridge finds the run once lookups work; 1 POST',
    });
    const until = Date.now() + 10_000;
    const removeLookups = env.proxy!.use((r) =>
      r.method === "GET" && r.path.startsWith("/v1/agents/") && Date.now() < until
        ? { kind: "respond", status: 502, headers: { "Content-Type": "text/html" }, body: NGINX_502 }
        : undefined,
    );
    let used = false;
    const removeStart = env.proxy!.use((r) => {
      if (!isStart(r) || used) return undefined;
      used = true;
      return { kind: "lose-response", when: "before-headers" };
    });
    const prompt = "lost start: lookups failing";
    const s = await env.call("start_interactive_run", { agent: "echo", prompt, wait_ms: 1000 });
    removeStart();
    const agentId = audit(prompt).agentId;
    const failedLookups = env.proxy!.requests.filter((q) => q.method === "GET" && q.path === `/v1/agents/${agentId}`).length;
    // The bridge keeps following the start under that agent_id and finds the run.
    const t0 = Date.now();
    await waitFor(() => env.bridge.tracker.list().some((t) => t.agentId === agentId && t.runId !== undefined), {
      timeoutMs: 30_000,
      what: "the lost run found",
    });
    const foundAfterOutageMs = Date.now() - until;
    removeLookups();
    const tracked = env.bridge.tracker.list().find((t) => t.agentId === agentId)!;
    const r = await env.call("read_run_events", { run_id: tracked.runId, cursor: 0, wait_ms: 5000 });
    await sleep(200);
    const a = audit(prompt);
    Object.assign(rec.figures, {
      start_ms: s.ms,
      failed_lookups_during_call: failedLookups,
      found_ms_after_lookups_recovered: foundAfterOutageMs,
      posts: a.posts,
    });
    rec.measured = `start → isError in ${ms(s.ms)}: "${s.text.slice(0, 160)}…"; ${failedLookups} lookups refused during the call; run found ${ms(foundAfterOutageMs)} after lookups worked again (${ms(Date.now() - t0 + s.ms)} after the start); read by run_id → ${String(r.sc.state)}; ${a.posts} POST`;
    expect(s.ms).toBeLessThan(1000 + 5000);
    expect(s.isError).toBe(true);
    expect(s.text).toMatch(/MAY STILL BE CREATED/);
    expect(s.text).toContain(agentId);
    expect(s.text).not.toMatch(/No run was created/);
    expect(failedLookups).toBeGreaterThan(0);
    expect(r.isError, r.text).toBe(false);
    expect(r.sc.state).toBe("awaiting_input");
    expect(a.posts).toBe(1);
  });

  it("the POST never reached loomcycle (connection dropped before forwarding): the lookup says so and the call says no run was created", async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 4,
      name: "POST lost before loomcycle",
      injected: "proxy drops the connection of POST /v1/runs without forwarding it",
      expected: "a lookup by agent_id (404) before any other POST; isError saying no run was created; loomcycle got 0 POSTs",
    });
    const postsBefore = env.sim.requests.filter((q) => q.method === "POST" && q.path === "/v1/runs").length;
    const { s } = await loseStart("never forwarded", () => ({ kind: "drop" }));
    const posts = env.sim.requests.filter((q) => q.method === "POST" && q.path === "/v1/runs").length - postsBefore;
    const proxied = env.proxy!.requests.filter((q) => isStart(q) && q.body.includes("never forwarded"));
    const agentId = (JSON.parse(proxied[0]!.body) as { agent_id: string }).agent_id;
    const lookups = env.sim.requests.filter((q) => q.method === "GET" && q.path === `/v1/agents/${agentId}`).length;
    Object.assign(rec.figures, { start_ms: s.ms, posts_reaching_loomcycle: posts, lookups });
    rec.measured = `isError in ${ms(s.ms)} ("${s.text.slice(0, 120)}…"); ${lookups} lookup(s) by agent_id; ${posts} POST reached loomcycle`;
    expect(s.isError).toBe(true);
    expect(s.text).toMatch(/No run was created/);
    expect(proxied).toHaveLength(1);
    expect(posts).toBe(0);
    expect(lookups).toBeGreaterThanOrEqual(1);
  });
});
