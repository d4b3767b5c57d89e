// Tier (c): the built binary, spawned over stdio as a host runs it. Each case has processes
// (and a state directory) of its own: the cases run side by side.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { StdioPeer } from "../stdio-peer.js";
import { runBin } from "../cli/run-bin.js";

let sim: Simulator;
const TOKEN = "lc_tok_e2e_secret_ABCDEF0123456789";
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.05, token: TOKEN });
});
afterAll(async () => {
  await sim?.close();
});

const newStateHome = (): string => mkdtempSync(join(tmpdir(), "lcb-e2e-state-"));
const env = (stateHome = newStateHome()) => ({
  XDG_STATE_HOME: stateHome,
  LOOMCYCLE_BASE_URL: sim.url,
  LOOMCYCLE_AUTH_TOKEN: TOKEN,
  LOOMCYCLE_USER_ID: "u_e2e",
  LOOMCYCLE_MCP_LOG_LEVEL: "debug",
});

describe.concurrent("the built binary over stdio", () => {
  it("serves a whole session with nothing but JSON-RPC on stdout and never shows the token", async () => {
    const p = new StdioPeer(env());
    try {
      const init = await p.initialize();
      expect((init.result as { serverInfo: { name: string } }).serverInfo.name).toBe("loomcycle-mcp-bridge");
      const list = await p.request("tools/list");
      expect((list.result as { tools: unknown[] }).tools.length).toBeGreaterThanOrEqual(5);
      const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "over stdio" });
      expect(s.isError, s.text).toBe(false);
      const runId = String(s.sc.run_id);
      const st = await p.callTool("send_steer", { run_id: runId, text: "and again" });
      expect(st.sc.state).toBe("awaiting_input");
      const r = await p.callTool("read_run_events", { run_id: runId, cursor: 0 });
      expect(r.isError).toBe(false);
      const bad = await p.callTool("read_run_events", { run_id: "r_ffffffffffffffff" });
      expect(bad.isError).toBe(true);
      const snaps = await p.callTool("list_snapshots", {});
      expect(snaps.isError).toBe(false);
      // stdout: JSON-RPC only
      expect(p.nonJsonLines).toEqual([]);
      expect(p.messages.length).toBeGreaterThanOrEqual(7);
      // logs went to stderr, and the token appears nowhere
      expect(p.stderr).toMatch(/ready on stdio/);
      expect(p.stderr).not.toContain(TOKEN);
      expect(p.stdout).not.toContain(TOKEN);
    } finally {
      p.kill();
    }
  });

  it("exits 2 with one clear stderr line on bad config", async () => {
    const r = await runBin([], { LOOMCYCLE_BASE_URL: "ftp://example" });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/LOOMCYCLE_BASE_URL "ftp:\/\/example" must start with http:\/\/ or https:\/\//);
  });

  it("prints --help and --version to stdout and exits 0", async () => {
    const [h, v] = await Promise.all([runBin(["--help"]), runBin(["--version"])]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/LOOMCYCLE_BASE_URL/);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  // How fast it exits is the fault suite's to bound (09: within 1 s, under load).
  it("exits when stdin closes, leaving the remote run alive; a second process reads it with the same cursors", async () => {
    const stateHome = newStateHome();
    const p = new StdioPeer(env(stateHome));
    await p.initialize();
    const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "survive me" });
    const runId = String(s.sc.run_id);
    const first = await p.callTool("read_run_events", { run_id: runId, cursor: 0 });
    p.proc.stdin.end();
    const exit = await p.exited;
    expect(exit.code).toBe(0);
    expect(sim.runStatus(runId)).toBe("running");

    const q = new StdioPeer(env(stateHome));
    try {
      await q.initialize();
      const again = await q.callTool("read_run_events", { run_id: runId, cursor: 0 });
      expect(again.isError, again.text).toBe(false);
      expect(again.sc.events).toEqual(first.sc.events);
      expect(again.sc.next_cursor).toBe(first.sc.next_cursor);
      expect(again.sc.state).toBe("awaiting_input");
    } finally {
      q.kill();
    }
  });

  it("--sandbox serves against a built-in simulator and labels every result as such", async () => {
    const p = new StdioPeer({ XDG_STATE_HOME: newStateHome(), LOOMCYCLE_MCP_LOG_LEVEL: "info" }, ["--sandbox"]);
    try {
      await p.initialize();
      const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "sandboxed" });
      expect(s.isError, s.text).toBe(false);
      expect(s.text.split("\n")[0]).toMatch(/^\[sandbox: these results come from the built-in loomcycle simulator/);
      expect(s.sc.state).toBe("awaiting_input");
      expect(s.sc.sandbox).toBe(true); // Claude Code shows the model only structuredContent
      const agents = await p.callTool("list_agents", {});
      expect(agents.sc.sandbox).toBe(true);
      expect(agents.text).toMatch(/^\[sandbox/);
      const bad = await p.callTool("send_steer", { run_id: "r_0000000000000000", text: "x" });
      expect(bad.isError).toBe(true);
      expect(bad.text).toMatch(/^\[sandbox\]/);
      expect(p.nonJsonLines).toEqual([]);
      expect(p.stderr).toMatch(/sandbox/);
    } finally {
      p.kill();
    }
  });

  it("exits cleanly on SIGTERM", async () => {
    const p = new StdioPeer(env());
    await p.initialize();
    p.proc.kill("SIGTERM");
    const exit = await p.exited;
    expect(exit.code).toBe(0);
  });
});
