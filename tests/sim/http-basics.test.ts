// Auth, routing and discovery: the plain-text and JSON error bodies loomcycle writes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { api } from "./sim-helpers.js";

let sim: Simulator;
const READER = "reader-token-0123456789";
const WRITER = "writer-token-0123456789";

beforeAll(async () => {
  sim = await startSimulator({
    tailPollMs: 10,
    speed: 0,
    token: "admin-token-0123456789",
    extraTokens: [
      { token: READER, scopes: ["runs:read"], tenant_id: "acme", subject: "u_reader" },
      { token: WRITER, scopes: ["runs:create", "runs:read"], tenant_id: "acme", subject: "u_writer" },
    ],
  });
});
afterAll(async () => {
  await sim.close();
});

describe("auth", () => {
  it("401s a missing, unknown or non-bearer credential with Go's http.Error body", async () => {
    for (const headers of [
      {},
      { Authorization: "Bearer nope" },
      { Authorization: "Basic abc" },
      { Authorization: "Bearer " },
    ] as Array<Record<string, string>>) {
      const res = await fetch(sim.url + "/v1/_me", { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await res.text()).toBe("unauthorized\n");
    }
  });

  it("matches the Bearer prefix case-insensitively", async () => {
    const res = await fetch(sim.url + "/v1/_me", { headers: { Authorization: `bEaReR ${sim.token}` } });
    expect(res.status).toBe(200);
  });

  it("403s a token without the route's scope and names the scope", async () => {
    const r = await api(sim, "POST", "/v1/runs", { agent: "echo", prompt: "hi" }, READER);
    expect(r.status).toBe(403);
    expect(r.text).toBe("insufficient scope\n");
    expect(r.headers.get("www-authenticate")).toBe('Bearer scope="runs:create"');
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const snaps = await api(sim, "GET", "/v1/_snapshots", undefined, WRITER);
    expect(snaps.status).toBe(403);
    expect(snaps.headers.get("www-authenticate")).toBe('Bearer scope="substrate:admin"');
  });

  it("lets any principal read /v1/_me and runs:read list runnable agents", async () => {
    const me = await api(sim, "GET", "/v1/_me", undefined, READER);
    expect(me.status).toBe(200);
    expect(me.text).toBe(
      '{"capabilities":{"http_host_allowlist_configured":false,"mcp_allow_dynamic_stdio":false},"is_admin":false,"legacy":false,"scopes":["runs:read"],"subject":"u_reader","tenant_id":"acme"}\n',
    );
    const admin = (await api(sim, "GET", "/v1/_me")).json() as Record<string, unknown>;
    expect(admin).toMatchObject({
      is_admin: true,
      legacy: true,
      subject: "default",
      tenant_id: "default",
      scopes: ["substrate:admin"],
    });
    const agents = await api(sim, "GET", "/v1/_runnable-agents", undefined, READER);
    expect(agents.status).toBe(200);
    const names = (agents.json() as { agents: Array<{ name: string; source: string }> }).agents;
    expect(names.map((a) => a.name)).toEqual([...names.map((a) => a.name)].sort());
    for (const n of [
      "echo",
      "asker",
      "toolish",
      "longtalk",
      "failing",
      "questioner",
      "compactfail",
      "slow",
      "unicode",
      "oneshot",
    ]) {
      expect(names).toContainEqual({ name: n, source: "bundled" });
    }
  });

  it("serves /healthz to any method without auth", async () => {
    for (const method of ["GET", "POST", "DELETE"]) {
      const res = await fetch(sim.url + "/healthz", { method });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ ok: true, version: "v1.59.0-sim", metrics_enabled: false });
    }
  });
});

describe("routing", () => {
  it("404s an unknown path before auth, plain text", async () => {
    const res = await fetch(sim.url + "/v1/nope");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("404 page not found\n");
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  });

  it("405s a known path with the wrong method and lists Allow", async () => {
    const res = await fetch(sim.url + "/v1/runs");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(await res.text()).toBe("Method Not Allowed\n");
    const agent = await fetch(sim.url + "/v1/agents/a_1", { method: "PUT" });
    expect(agent.status).toBe(405);
    expect(agent.headers.get("allow")).toBe("GET, HEAD");
  });

  it("validates path ids with loomcycle's charset message", async () => {
    const r = await api(sim, "POST", "/v1/runs/bad.id/input", { text: "x" });
    expect(r.status).toBe(400);
    expect(r.text).toBe("run_id must match [A-Za-z0-9_-]{1,128}\n");
    const a = await api(sim, "GET", "/v1/agents/" + "x".repeat(129));
    expect(a.text).toBe("agent_id must match [A-Za-z0-9_-]{1,128}\n");
  });

  it("redirects an unclean path like Go's ServeMux", async () => {
    const res = await fetch(sim.url + "/v1//_me", { redirect: "manual" });
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("/v1/_me");
  });

  it("records every request", async () => {
    const before = sim.requests.length;
    await api(sim, "POST", "/v1/runs/r_0123/input?x=1", { text: "hello" });
    const rec = sim.requests[before];
    expect(rec).toMatchObject({ method: "POST", path: "/v1/runs/r_0123/input", query: { x: "1" }, body: '{"text":"hello"}' });
    expect(rec?.headers.authorization).toBe(`Bearer ${sim.token}`);
  });
});

describe("status reads", () => {
  it("404s unknown agent ids with the hand-written (not valid JSON) envelope", async () => {
    const r = await api(sim, "GET", "/v1/agents/a_missing");
    expect(r.status).toBe(404);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.text).toBe('{"code":"unknown_agent_id","error":"no run found for agent_id "a_missing""}');
    const c = await api(sim, "POST", "/v1/agents/a_missing/cancel");
    expect(c.status).toBe(404);
    expect(c.text).toContain('"code":"unknown_agent_id"');
  });

  it("404s an unknown session transcript in plain text", async () => {
    const r = await api(sim, "GET", "/v1/sessions/s_nope/transcript");
    expect(r.status).toBe(404);
    expect(r.text).toBe("session not found: s_nope\n");
  });
});

describe("identity and tenancy", () => {
  it("replaces a real token's body user_id with its subject and hides other tenants' runs", async () => {
    const res = await fetch(sim.url + "/v1/runs", {
      method: "POST",
      headers: { Authorization: `Bearer ${WRITER}`, "Content-Type": "application/json" },
      body: JSON.stringify({ agent: "oneshot", prompt: "hi", user_id: "someone_else", agent_id: "acme-run" }),
    });
    const text = await res.text();
    const runId = /"run_id":"(r_[0-9a-f]+)"/.exec(text)?.[1] as string;
    const st = (await api(sim, "GET", "/v1/agents/acme-run", undefined, WRITER)).json() as Record<string, unknown>;
    expect(st).toMatchObject({ user_id: "u_writer", status: "completed" });
    // The legacy admin token sees every tenant; a token of another tenant gets the opaque 404s.
    expect((await api(sim, "GET", "/v1/agents/acme-run")).status).toBe(200);
    const other = "other-tenant-token-0123";
    const s2 = await startSimulator({
      speed: 0,
      extraTokens: [{ token: other, scopes: ["substrate:tenant"], tenant_id: "other" }],
    });
    try {
      const r2 = await fetch(s2.url + "/v1/runs", {
        method: "POST",
        headers: { Authorization: `Bearer ${s2.token}`, "Content-Type": "application/json" },
        body: '{"agent":"oneshot","prompt":"x","agent_id":"legacy-run","user_id":"u_l"}',
      });
      const rid = /"run_id":"(r_[0-9a-f]+)"/.exec(await r2.text())?.[1] as string;
      expect((await api(s2, "GET", "/v1/agents/legacy-run")).json()).toMatchObject({ user_id: "u_l" });
      expect((await api(s2, "GET", "/v1/agents/legacy-run", undefined, other)).status).toBe(404);
      expect((await api(s2, "GET", `/v1/runs/${rid}/stream`, undefined, other)).text).toBe("no such run\n");
      expect((await api(s2, "GET", `/v1/runs/${rid}/interrupts`, undefined, other)).text).toBe('{"interrupts":[],"total":0}\n');
      expect(
        ((await api(s2, "GET", "/v1/users/u_l/agents?status=all", undefined, other)).json() as { agents: unknown[] }).agents,
      ).toEqual([]);
      expect(((await api(s2, "GET", "/v1/users/u_l/agents?status=all")).json() as { agents: unknown[] }).agents).toHaveLength(1);
    } finally {
      await s2.close();
    }
    expect(runId).toMatch(/^r_/);
  });

  it("sends Content-Length on small buffered bodies, like net/http", async () => {
    const res = await fetch(sim.url + "/v1/_me");
    expect(res.headers.get("content-length")).toBe("13");
  });
});
