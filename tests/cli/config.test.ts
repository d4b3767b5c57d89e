// `loomcycle-mcp-bridge config <host>`: the built binary prints a ready-to-paste entry
// whose structure is exactly mcp.json.example's entry for that host, with absolute
// paths and the configured values filled in — and never a token.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BIN, runBin } from "./run-bin.js";

const HOSTS = ["claude-desktop", "claude-code", "opencode"] as const;
const EXAMPLE_MAIN = "/path/to/loomcycle-mcp-bridge/dist/cli/main.js";
const example = JSON.parse(readFileSync(fileURLToPath(new URL("../../mcp.json.example", import.meta.url)), "utf8")) as Record<
  string,
  unknown
>;

function exampleEntry(host: string): Record<string, unknown> {
  const keys = Object.keys(example).filter((k) => k.startsWith(`${host}:`));
  expect(keys, `mcp.json.example has one entry for ${host}`).toHaveLength(1);
  return example[keys[0]!] as Record<string, unknown>;
}

/** The printed entry with its absolute paths put back to the example's placeholders. */
function withPlaceholderPaths(v: unknown): unknown {
  if (v === process.execPath) return "node";
  if (v === BIN) return EXAMPLE_MAIN;
  if (Array.isArray(v)) return v.map(withPlaceholderPaths);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withPlaceholderPaths(x)]));
  return v;
}

/** The server's env block, wherever the host keeps it. */
function envOf(host: string, entry: Record<string, unknown>): Record<string, string> {
  if (host === "opencode")
    return ((entry.mcp as Record<string, Record<string, unknown>>).loomcycle!.environment ?? {}) as Record<string, string>;
  return ((entry.mcpServers as Record<string, Record<string, unknown>>).loomcycle!.env ?? {}) as Record<string, string>;
}

function commandOf(host: string, entry: Record<string, unknown>): string[] {
  if (host === "opencode") return (entry.mcp as Record<string, { command: string[] }>).loomcycle!.command;
  const s = (entry.mcpServers as Record<string, { command: string; args: string[] }>).loomcycle!;
  return [s.command, ...s.args];
}

describe("config <host>", () => {
  for (const host of HOSTS) {
    it(`${host}: prints JSON only on stdout, equal to mcp.json.example's entry modulo the paths`, async () => {
      const r = await runBin(["config", host], { LOOMCYCLE_AUTH_TOKEN: "lc_tok_must_not_appear_123456" });
      expect(r.code, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout) as Record<string, unknown>;
      const cmd = commandOf(host, printed);
      expect(cmd).toEqual([process.execPath, BIN]);
      expect(cmd.every((p) => isAbsolute(p) && existsSync(p))).toBe(true);
      expect(withPlaceholderPaths(printed)).toEqual(exampleEntry(host));
      expect(r.stdout + r.stderr).not.toContain("lc_tok_must_not_appear_123456");
      expect(r.stderr).toMatch(/^# /m); // where to paste it goes to stderr
    });

    it(`${host}: fills in the configured base URL and user id (env or flags), still the example's structure`, async () => {
      const r = await runBin(["config", host, "--user-id", "u_flag"], {
        LOOMCYCLE_BASE_URL: "https://loom.example.com:9443/",
        LOOMCYCLE_USER_ID: "u_env",
      });
      expect(r.code, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout) as Record<string, unknown>;
      const env = envOf(host, printed);
      expect(env.LOOMCYCLE_BASE_URL).toBe("https://loom.example.com:9443");
      expect(env.LOOMCYCLE_USER_ID).toBe("u_flag");
      // same structure as the example once the filled values are put back
      const back = JSON.parse(JSON.stringify(withPlaceholderPaths(printed))) as Record<string, unknown>;
      const exEnv = envOf(host, exampleEntry(host));
      Object.assign(envOf(host, back), {
        LOOMCYCLE_BASE_URL: exEnv.LOOMCYCLE_BASE_URL,
        LOOMCYCLE_USER_ID: exEnv.LOOMCYCLE_USER_ID,
      });
      expect(back).toEqual(exampleEntry(host));
    });
  }

  it("passes the token by reference only: a token file path, ${…} or {env:…} expansion", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lc-config-"));
    const file = join(dir, "token");
    writeFileSync(file, "lc_tok_in_a_file_SECRET_987654\n", { mode: 0o600 });
    const env = { LOOMCYCLE_AUTH_TOKEN_FILE: file, LOOMCYCLE_AUTH_TOKEN: "lc_tok_env_SECRET_555" };
    const desktop = await runBin(["config", "claude-desktop"], env);
    expect(envOf("claude-desktop", JSON.parse(desktop.stdout) as Record<string, unknown>)).toMatchObject({
      LOOMCYCLE_AUTH_TOKEN_FILE: file,
    });
    const code = await runBin(["config", "claude-code"], env);
    expect(envOf("claude-code", JSON.parse(code.stdout) as Record<string, unknown>).LOOMCYCLE_AUTH_TOKEN).toBe(
      "${LOOMCYCLE_AUTH_TOKEN}",
    );
    const oc = await runBin(["config", "opencode"], env);
    expect(envOf("opencode", JSON.parse(oc.stdout) as Record<string, unknown>).LOOMCYCLE_AUTH_TOKEN).toBe(
      "{env:LOOMCYCLE_AUTH_TOKEN}",
    );
    for (const r of [desktop, code, oc]) {
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/SECRET/);
    }
  });

  it("opencode: per-server and experimental.mcp_timeout above the longest wait (55 s + 5 s)", async () => {
    const r = await runBin(["config", "opencode"]);
    const cfg = JSON.parse(r.stdout) as {
      mcp: { loomcycle: { timeout: number; type: string; enabled: boolean } };
      experimental: { mcp_timeout: number };
    };
    const entry = cfg.mcp.loomcycle;
    expect(entry.timeout).toBeGreaterThan(60_000);
    expect(cfg.experimental.mcp_timeout).toBeGreaterThan(60_000);
    expect(entry).toMatchObject({ type: "local", enabled: true });
  });

  it("unknown or missing host: one clear stderr line, exit 2, nothing on stdout", async () => {
    for (const args of [["config", "vscode"], ["config"]]) {
      const r = await runBin(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/claude-desktop, claude-code, opencode/);
    }
  });

  it("honours the flags given to it: --sandbox, --log-level and --token-file go into the entry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lc-config-"));
    const file = join(dir, "token");
    writeFileSync(file, "lc_tok_SECRET_1\n", { mode: 0o600 });
    for (const host of HOSTS) {
      const r = await runBin(["config", host, "--sandbox", "--log-level", "debug", "--token-file", file]);
      expect(r.code, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(commandOf(host, printed)).toEqual([process.execPath, BIN, "--sandbox"]);
      expect(envOf(host, printed)).toMatchObject({ LOOMCYCLE_MCP_LOG_LEVEL: "debug", LOOMCYCLE_AUTH_TOKEN_FILE: file });
      expect(envOf(host, printed).LOOMCYCLE_AUTH_TOKEN).toBeUndefined();
      expect(r.stderr).toMatch(/--sandbox/);
      expect(r.stdout + r.stderr).not.toMatch(/SECRET/);
    }
  });

  it("run from npx's cache, the entry starts the bridge with npx, not the cache path", async () => {
    const { bridgeCommand } = await import("../../src/cli/config-snippet.js");
    const cached = "/home/u/.npm/_npx/0a1b2c3d/node_modules/loomcycle-mcp-bridge/dist/cli/main.js";
    const { command, viaNpx } = bridgeCommand(cached, "/usr/local/bin/node");
    expect(viaNpx).toBe(true);
    expect(command.join(" ")).not.toContain("_npx");
    expect(command.slice(1)).toEqual(["-y", expect.stringMatching(/^loomcycle-mcp-bridge@\d+\.\d+\.\d+/)]);
    expect(bridgeCommand(BIN).command).toEqual([process.execPath, BIN]);
  });

  it("--help documents doctor and config", async () => {
    const r = await runBin(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/loomcycle-mcp-bridge doctor/);
    expect(r.stdout).toMatch(/loomcycle-mcp-bridge config HOST .*claude-desktop, claude-code or/);
  });
});
