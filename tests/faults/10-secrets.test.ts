// Scenario 10 — secrets. The bearer token must never appear in stdout (every JSON-RPC
// message: tool results, errors, resources), stderr (logs at trace level), tool results
// or error messages — even when loomcycle (or a proxy) echoes the request's headers
// back in error bodies, HTML pages, redirects, status objects and stream frames.
// LOOMCYCLE_AUTH_TOKEN_FILE / --token-file read the token from a file instead of the
// environment.
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { FrameSplitter, FaultProxy, type BodyTap, type Plan, type ProxiedRequest } from "./proxy.js";
import { record } from "./report.js";
import { BIN, StdioPeer, stateEnv } from "../stdio-peer.js";

const TOKEN = "lc_tok_SECRET_c0ffee_4242_DO_NOT_LEAK_9f8e7d6c5b4a";

let sim: Simulator;
let proxy: FaultProxy;
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.05, keepaliveMs: 0, token: TOKEN });
  proxy = new FaultProxy(sim.url);
  await proxy.start();
});
afterAll(async () => {
  await proxy?.close();
  await sim?.close();
});

/** What a careless upstream would echo: the request's Authorization header. */
const auth = (r: ProxiedRequest) => String(r.headers.authorization ?? "");

/** After the first `started` frame, adds frames that echo the token (an `error`, a `text` delta, a tool result). */
function echoInStream(r: ProxiedRequest): BodyTap {
  const split = new FrameSplitter();
  let done = false;
  const a = auth(r);
  return {
    chunk(buf) {
      const out: Buffer[] = [];
      for (const f of split.push(buf)) {
        out.push(f);
        if (!done && f.subarray(0, 15).toString() === "event: started\n") {
          done = true;
          out.push(
            Buffer.from(
              `event: error\ndata: ${JSON.stringify({ type: "error", error: `compaction summary failed (upstream said: ${a})` })}\n\n`,
            ),
          );
          out.push(
            Buffer.from(
              `event: text\ndata: ${JSON.stringify({ type: "text", text: `my env has LOOMCYCLE_AUTH_TOKEN=${TOKEN} ` })}\n\n`,
            ),
          );
          out.push(
            Buffer.from(
              `event: tool_result\ndata: ${JSON.stringify({ type: "tool_result", text: `curl -H '${a}' → 200`, tool_use: { id: "t1", name: "Bash", input: { cmd: `echo ${TOKEN}` } } })}\n\n`,
            ),
          );
        }
      }
      return { out: Buffer.concat(out) };
    },
    flush: () => split.rest(),
  };
}

function echoRules(): void {
  proxy.clear();
  proxy.use((r): Plan | undefined => {
    const a = auth(r);
    if (r.method === "GET" && /^\/v1\/sessions\/[^/]+\/transcript$/.test(r.path)) {
      // A transcript whose opening prompt quotes the token (the user pasted it).
      let body = "";
      return {
        kind: "forward",
        tap: {
          chunk: (b) => ((body += b.toString("utf8")), { out: Buffer.alloc(0) }),
          flush: () => Buffer.from(body.replace(/leaky stream/g, `leaky stream ${TOKEN}`), "utf8"),
        },
      };
    }
    if (r.method === "POST" && r.path.endsWith("/input") && r.body.includes("plain echo")) {
      return {
        kind: "respond",
        status: 400,
        headers: { "Content-Type": "text/plain; charset=utf-8" },
        body: `invalid JSON body: request had header Authorization: ${a}\n`,
      };
    }
    if (r.method === "POST" && r.path.endsWith("/input") && r.body.includes("html echo")) {
      return {
        kind: "respond",
        status: 502,
        headers: { "Content-Type": "text/html" },
        body: `<html><head><title>502 for ${a}</title></head><body><pre>${a}</pre></body></html>`,
      };
    }
    if (r.method === "GET" && r.path === "/v1/_snapshots") {
      return {
        kind: "respond",
        status: 500,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          code: "debug_dump",
          error: `request headers: authorization=${a}`,
          headers: { authorization: a },
          token: TOKEN,
        }),
      };
    }
    if (r.method === "POST" && r.path === "/v1/runs" && r.body.includes("redirect me")) {
      return {
        kind: "respond",
        status: 302,
        headers: { Location: `https://login.example/?next=/v1/runs&token=${TOKEN}` },
        body: "",
      };
    }
    if (r.method === "POST" && r.path === "/v1/runs" && r.body.includes("go-quoted")) {
      return {
        kind: "respond",
        status: 409,
        headers: { "Content-Type": "application/json" },
        body: `{"code":"agent_id_in_use","error":"agent_id "${TOKEN}" is already mapped"}`,
      };
    }
    if (r.method === "GET" && r.path === "/v1/_runnable-agents") {
      return {
        kind: "respond",
        status: 401,
        headers: {
          "Content-Type": "text/plain; charset=utf-8",
          "WWW-Authenticate": `Bearer error="invalid_token", token="${TOKEN}"`,
        },
        body: `unauthorized: ${a}\n`,
      };
    }
    if (
      (r.method === "POST" && r.path === "/v1/runs" && r.body.includes("leaky stream")) ||
      (/\/stream$/.test(r.path) && leakyRun !== undefined && r.path.includes(leakyRun))
    ) {
      return { kind: "forward", tap: echoInStream(r) };
    }
    return undefined;
  });
}
let leakyRun: string | undefined;

describe("scenario 10: secrets", () => {
  it("the token appears nowhere in stdout, stderr (trace logs), tool results or errors, though upstream bodies echo it", async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 10,
      name: "token echoed by upstream",
      injected:
        "proxy echoes the request's `Authorization: Bearer <token>` in: plain-text 400, HTML 502 (title and body), JSON 500 (message, extra fields), a 302 Location, a Go-%q JSON 409, a 401 WWW-Authenticate header and body, in-stream error/text/tool_result frames (also on re-attach replays), and a session transcript (read by a second process for the opening prompt); binary at log level trace",
      expected: "0 occurrences of the token in stdout, stderr, any tool result or error message; every call still answered",
    });
    echoRules();
    const p = new StdioPeer({
      ...stateEnv(),
      LOOMCYCLE_BASE_URL: proxy.url,
      LOOMCYCLE_AUTH_TOKEN: TOKEN,
      LOOMCYCLE_USER_ID: "u_secret",
      LOOMCYCLE_MCP_LOG_LEVEL: "trace",
    });
    const replies: Array<[string, Awaited<ReturnType<StdioPeer["callTool"]>>]> = [];
    try {
      await p.initialize();
      const c = async (label: string, name: string, args: Record<string, unknown>) => {
        const r = await p.callTool(name, args);
        replies.push([label, r]);
        return r;
      };
      const s = await c("start (clean)", "start_interactive_run", { agent: "echo", prompt: "hello" });
      const runId = String(s.sc.run_id);
      const leaky = await c("start (stream echoes token)", "start_interactive_run", { agent: "echo", prompt: "leaky stream" });
      leakyRun = String(leaky.sc.run_id);
      await c("read leaky (digest)", "read_run_events", { run_id: leakyRun, cursor: 0 });
      await c("read leaky (raw)", "read_run_events", { run_id: leakyRun, cursor: 0, format: "raw" });
      await c("steer leaky", "send_steer", { run_id: leakyRun, text: "more please" });
      await c("steer ← plain 400 echo", "send_steer", { run_id: runId, text: "plain echo" });
      await c("steer ← HTML 502 echo", "send_steer", { run_id: runId, text: "html echo" });
      await c("list_snapshots ← JSON 500 echo", "list_snapshots", {});
      await c("start ← 302 with token", "start_interactive_run", { agent: "echo", prompt: "redirect me" });
      await c("start ← %q 409 echo", "start_interactive_run", { agent: "echo", prompt: "go-quoted" });
      await c("list_agents ← 401 echo", "list_agents", {});
      await c("list_runs", "list_runs", {});
      await c("attach_run leaky", "attach_run", { run_id: leakyRun });
      await c("wait_for_runs", "wait_for_runs", { run_ids: [leakyRun, runId], wait_ms: 200 });
      // A fresh process attaching the leaky run (the replay echoes it again).
      const res = await p.request("resources/list", {});
      const resources = ((res.result as { resources?: Array<{ uri: string }> } | undefined)?.resources ?? []).map((x) => x.uri);
      for (const uri of resources.slice(0, 10)) await p.request("resources/read", { uri });
      await p.request("resources/read", { uri: `loomcycle://runs/${leakyRun}` });
      p.proc.stdin.end();
      await p.exited;
    } finally {
      p.kill();
    }
    const second = new StdioPeer({
      ...stateEnv(),
      LOOMCYCLE_BASE_URL: proxy.url,
      LOOMCYCLE_AUTH_TOKEN: TOKEN,
      LOOMCYCLE_USER_ID: "u_secret",
      LOOMCYCLE_MCP_LOG_LEVEL: "trace",
    });
    try {
      await second.initialize();
      const r = await second.callTool("read_run_events", { run_id: leakyRun, cursor: 0 });
      replies.push(["fresh process reads leaky run", r]);
      second.proc.stdin.end();
      await second.exited;
    } finally {
      second.kill();
    }
    const haystacks: Array<[string, string]> = [
      ["stdout", p.stdout + second.stdout],
      ["stderr", p.stderr + second.stderr],
      ...replies.map(([l, r]) => [`result of ${l}`, JSON.stringify(r)] as [string, string]),
    ];
    const leaks = haystacks.filter(([, h]) => h.includes(TOKEN)).map(([w]) => w);
    const echoed = proxy.requests.filter((r) => auth(r).includes(TOKEN)).length;
    const redactedMentions = (p.stdout + p.stderr).split("[REDACTED]").length - 1;
    Object.assign(rec.figures, {
      calls: replies.length,
      answered: replies.length,
      requests_with_token_seen_by_proxy: echoed,
      stdout_bytes: p.stdout.length + second.stdout.length,
      stderr_bytes: p.stderr.length + second.stderr.length,
      token_occurrences: leaks.length,
      redacted_markers: redactedMentions,
    });
    rec.measured = `${replies.length} calls (+ resource reads) answered; ${echoed} upstream requests carried the token and had it echoed back where the rules applied; searched ${rec.figures.stdout_bytes} bytes of stdout, ${rec.figures.stderr_bytes} bytes of trace-level stderr and every result: ${leaks.length === 0 ? "0 occurrences" : `LEAKED in ${leaks.join(", ")}`} (${redactedMentions} [REDACTED] markers where it was scrubbed)`;
    expect(echoed).toBeGreaterThan(10);
    expect(leaks).toEqual([]);
    expect(p.stderr.length).toBeGreaterThan(1000);
  });

  it("LOOMCYCLE_AUTH_TOKEN_FILE and --token-file: the token is read from a file, works, and never shows", async ({ task }) => {
    const rec = record(task, {
      scenario: 10,
      name: "token from a file",
      injected:
        "token only in a 0600 file (with a trailing newline), given by LOOMCYCLE_AUTH_TOKEN_FILE, then by --token-file; a missing file; a file overriding a wrong env token",
      expected:
        "calls authenticate with the file's token; the token is in no output; a missing file → exit 2 with one stderr line naming the file, not the token",
    });
    proxy.clear();
    const dir = mkdtempSync(join(tmpdir(), "bridge-token-"));
    const file = join(dir, "token");
    writeFileSync(file, TOKEN + "\n");
    chmodSync(file, 0o600);
    const outcomes: string[] = [];
    const variants: Array<[string, Record<string, string>, string[]]> = [
      ["LOOMCYCLE_AUTH_TOKEN_FILE", { LOOMCYCLE_AUTH_TOKEN_FILE: file }, []],
      ["--token-file", {}, ["--token-file", file]],
      ["file over a wrong env token", { LOOMCYCLE_AUTH_TOKEN: "wrong-token-from-env", LOOMCYCLE_AUTH_TOKEN_FILE: file }, []],
    ];
    let ok = 0;
    for (const [label, extraEnv, args] of variants) {
      const p = new StdioPeer(
        {
          ...stateEnv(),
          LOOMCYCLE_BASE_URL: sim.url,
          LOOMCYCLE_USER_ID: "u_file",
          LOOMCYCLE_MCP_LOG_LEVEL: "trace",
          ...extraEnv,
        },
        args,
      );
      try {
        await p.initialize();
        const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: `token from ${label}` });
        const snaps = await p.callTool("list_snapshots", {});
        p.proc.stdin.end();
        await p.exited;
        const clean = !(p.stdout + p.stderr).includes(TOKEN);
        const authed = !s.isError && !snaps.isError;
        outcomes.push(
          `${label}: ${authed ? "authenticated" : `FAILED (${s.text.slice(0, 80)})`}, token ${clean ? "not in output" : "LEAKED"}`,
        );
        if (authed && clean) ok += 1;
        const sent = sim.requests.filter((q) => q.body.includes(`token from ${label}`));
        expect(sent[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
      } finally {
        p.kill();
      }
    }
    const missing = spawnSync(process.execPath, [BIN], {
      env: { PATH: process.env.PATH ?? "", LOOMCYCLE_AUTH_TOKEN_FILE: join(dir, "nope") },
      input: "",
      encoding: "utf8",
    });
    const lines = missing.stderr.trim().split("\n");
    outcomes.push(`missing file: exit ${String(missing.status)}, ${lines.length} stderr line ("${lines[0]}")`);
    Object.assign(rec.figures, { variants_ok: ok, variants: variants.length, missing_exit: missing.status ?? -1 });
    rec.measured = outcomes.join("; ");
    expect(ok).toBe(variants.length);
    expect(missing.status).toBe(2);
    expect(missing.stdout).toBe("");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/LOOMCYCLE_AUTH_TOKEN_FILE .*nope/);
  });
});
