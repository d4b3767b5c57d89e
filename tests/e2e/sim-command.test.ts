// `loomcycle-mcp-bridge sim`: the simulator as a command of the built bin, outliving the
// bridge processes that use it (a client that starts one bridge process per call).
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, StdioPeer } from "../stdio-peer.js";
import { runCommand } from "../cli/run-bin.js";

function startSimCommand(
  args: string[],
  env: Record<string, string> = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "lcb-e2e-sim-state-")) },
): Promise<{ url: string; token: string; stdout: () => string; stop: () => Promise<number | null> }> {
  const proc = spawn(process.execPath, [BIN, "sim", ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<number | null>((res) => proc.on("exit", (code) => res(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 15_000);
    proc.stdout.on("data", (d: Buffer) => {
      out += d.toString("utf8");
      const m = /^loomcycle simulator listening on (\S+) token (\S+)$/m.exec(out);
      if (m && /^point the bridge at it: .*\n/m.test(out)) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          token: m[2]!,
          stdout: () => out,
          stop: () => {
            proc.kill("SIGTERM");
            return exited;
          },
        });
      }
    });
    proc.on("exit", (code) => reject(new Error(`sim exited ${code}: ${out}`)));
  });
}

// Each case has its simulator and state directory: they run side by side.
describe.concurrent("loomcycle-mcp-bridge sim", () => {
  it("prints its URL and token, refuses other tokens, and carries a run across bridge processes", async () => {
    const sim = await startSimCommand(["--port", "0", "--token", "dev-token-e2e"]);
    try {
      expect(sim.token).toBe("dev-token-e2e");
      expect(sim.stdout()).toContain(`LOOMCYCLE_BASE_URL=${sim.url} LOOMCYCLE_AUTH_TOKEN=dev-token-e2e`);
      const refused = await fetch(`${sim.url}/v1/_runnable-agents`, { headers: { authorization: "Bearer nope" } });
      expect(refused.status).toBe(401);

      const env = {
        XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "lcb-e2e-sim-")),
        LOOMCYCLE_BASE_URL: sim.url,
        LOOMCYCLE_AUTH_TOKEN: sim.token,
        LOOMCYCLE_MCP_LOG_LEVEL: "warn",
      };
      const first = new StdioPeer(env);
      let runId: string;
      try {
        await first.initialize();
        const s = await first.callTool("start_interactive_run", { agent: "echo", prompt: "remember me" });
        expect(s.isError, s.text).toBe(false);
        runId = String(s.sc.run_id);
      } finally {
        first.kill();
      }
      const second = new StdioPeer(env);
      try {
        await second.initialize();
        const r = await second.callTool("read_run_events", { run_id: runId, cursor: 0 });
        expect(r.isError, r.text).toBe(false);
        expect(r.text).toContain("You said: remember me");
      } finally {
        second.kill();
      }
    } finally {
      expect(await sim.stop()).toBe(0);
    }
  });

  it("names a bad option and exits 2 (in process, as the bin runs it)", async () => {
    const r = await runCommand(["sim", "--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/unknown option --bogus \(sim takes --port, --host, --token, /);
    expect(r.stderr).toMatch(/see loomcycle-mcp-bridge sim --help/);
  });

  it("when it stops, removes the state files that hold only its runs, and no other", async () => {
    const stateHome = mkdtempSync(join(tmpdir(), "lcb-e2e-sim-state-"));
    const dir = join(stateHome, "loomcycle-mcp-bridge");
    mkdirSync(dir, { recursive: true });
    // a real loomcycle's read positions, on the same machine
    const other = {
      version: 1,
      base_url: "http://127.0.0.1:8787",
      user_id: "u_1",
      runs: { r_1111111111111111: { read_pos: 3, updated_at: new Date().toISOString() } },
    };
    writeFileSync(join(dir, "127.0.0.1_8787-0000000000000000.json"), JSON.stringify(other));
    const sim = await startSimCommand(["--port", "0"], { XDG_STATE_HOME: stateHome });
    let stopped = false;
    try {
      const p = new StdioPeer({ XDG_STATE_HOME: stateHome, LOOMCYCLE_BASE_URL: sim.url, LOOMCYCLE_AUTH_TOKEN: sim.token });
      await p.initialize();
      const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "leave no trace" });
      expect(s.isError, s.text).toBe(false);
      p.proc.stdin.end();
      expect((await p.exited).code).toBe(0);
      expect(readdirSync(dir)).toHaveLength(2); // the bridge kept its read position for the sim's run
      stopped = true;
      expect(await sim.stop()).toBe(0);
      expect(readdirSync(dir)).toEqual(["127.0.0.1_8787-0000000000000000.json"]);
    } finally {
      if (!stopped) await sim.stop();
    }
  });
});
