// `loomcycle-mcp-bridge config <host>` prints a ready-to-paste entry whose structure is
// exactly mcp.json.example's entry for that host, with absolute paths and the configured
// values filled in — and never a token. In process, as the bin runs it (runCommand); one
// test checks that the built binary prints the very same bytes.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BIN, runBin, runCommand } from "./run-bin.js";

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
      const r = await runCommand(["config", host], { LOOMCYCLE_AUTH_TOKEN: "lc_tok_must_not_appear_123456" });
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
      const r = await runCommand(["config", host, "--user-id", "u_flag"], {
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

  it("the built binary prints the same entry and notes, naming itself (its own path, as the bundle resolves it)", async () => {
    const env = { LOOMCYCLE_BASE_URL: "http://127.0.0.1:9", LOOMCYCLE_AUTH_TOKEN: "lc_tok_must_not_appear_123456" };
    const [bin, inProcess] = await Promise.all([
      runBin(["config", "claude-code"], env),
      runCommand(["config", "claude-code"], env),
    ]);
    expect(bin.code, bin.stderr).toBe(0);
    expect(commandOf("claude-code", JSON.parse(bin.stdout) as Record<string, unknown>)).toEqual([process.execPath, BIN]);
    expect(bin.stdout).toBe(inProcess.stdout);
    expect(bin.stderr).toBe(inProcess.stderr);
  });

  it("passes the token by reference only: a token file path, ${…} or {env:…} expansion", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lc-config-"));
    const file = join(dir, "token");
    writeFileSync(file, "lc_tok_in_a_file_SECRET_987654\n", { mode: 0o600 });
    const env = { LOOMCYCLE_AUTH_TOKEN_FILE: file, LOOMCYCLE_AUTH_TOKEN: "lc_tok_env_SECRET_555" };
    const desktop = await runCommand(["config", "claude-desktop"], env);
    expect(envOf("claude-desktop", JSON.parse(desktop.stdout) as Record<string, unknown>)).toMatchObject({
      LOOMCYCLE_AUTH_TOKEN_FILE: file,
    });
    const code = await runCommand(["config", "claude-code"], env);
    expect(envOf("claude-code", JSON.parse(code.stdout) as Record<string, unknown>).LOOMCYCLE_AUTH_TOKEN).toBe(
      "${LOOMCYCLE_AUTH_TOKEN}",
    );
    const oc = await runCommand(["config", "opencode"], env);
    expect(envOf("opencode", JSON.parse(oc.stdout) as Record<string, unknown>).LOOMCYCLE_AUTH_TOKEN).toBe(
      "{env:LOOMCYCLE_AUTH_TOKEN}",
    );
    for (const r of [desktop, code, oc]) {
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/SECRET/);
    }
  });

  it("opencode: per-server and experimental.mcp_timeout above the longest wait (55 s + 5 s)", async () => {
    const r = await runCommand(["config", "opencode"]);
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
      const r = await runCommand(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/claude-desktop, claude-code, opencode/);
    }
  });

  it("honours the flags given to it: --log-level and --token-file go into the entry", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lc-config-"));
    const file = join(dir, "token");
    writeFileSync(file, "lc_tok_SECRET_1\n", { mode: 0o600 });
    for (const host of HOSTS) {
      const r = await runCommand(["config", host, "--log-level", "debug", "--token-file", file]);
      expect(r.code, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(commandOf(host, printed)).toEqual([process.execPath, BIN]);
      expect(envOf(host, printed)).toMatchObject({ LOOMCYCLE_MCP_LOG_LEVEL: "debug", LOOMCYCLE_AUTH_TOKEN_FILE: file });
      expect(envOf(host, printed).LOOMCYCLE_AUTH_TOKEN).toBeUndefined();
      expect(r.stdout + r.stderr).not.toMatch(/SECRET/);
    }
  });

  it("--sandbox: the entry passes --sandbox and --log-level, and none of loomcycle's settings (the sandbox reads none)", async () => {
    for (const host of HOSTS) {
      const r = await runCommand(["config", host, "--sandbox", "--log-level", "debug"], {
        LOOMCYCLE_BASE_URL: "https://loom.example.com",
        LOOMCYCLE_USER_ID: "u_env",
        LOOMCYCLE_AUTH_TOKEN: "lc_tok_SECRET_2",
      });
      expect(r.code, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(commandOf(host, printed)).toEqual([process.execPath, BIN, "--sandbox"]);
      expect(envOf(host, printed)).toEqual({ LOOMCYCLE_MCP_LOG_LEVEL: "debug" });
      expect(r.stderr).toMatch(/--sandbox/);
      expect(r.stderr).not.toMatch(/doctor/); // doctor checks a real loomcycle
      expect(r.stdout + r.stderr).not.toMatch(/SECRET/);
    }
    const bare = await runCommand(["config", "claude-desktop", "--sandbox"]);
    expect(JSON.parse(bare.stdout)).toEqual({
      mcpServers: { loomcycle: { command: process.execPath, args: [BIN, "--sandbox"] } },
    });
  });

  describe("run from npx's cache, the entry names what npx ran, never an unpublished package (issue 19, defect 5)", () => {
    /** A fake npx cache folder (~/.npm/_npx/<hash>) as npx leaves it for `npx -y <spec>`. */
    function npxCache(spec: string | undefined): string {
      const dir = join(mkdtempSync(join(tmpdir(), "lc-npx-")), ".npm", "_npx", "0a1b2c3d");
      const main = join(dir, "node_modules", "loomcycle-mcp-bridge", "dist", "cli", "main.js");
      mkdirSync(dirname(main), { recursive: true });
      writeFileSync(main, "");
      if (spec !== undefined)
        writeFileSync(join(dir, "package.json"), JSON.stringify({ dependencies: { "loomcycle-mcp-bridge": spec } }));
      return main;
    }

    it("a local tarball (npx -y ./loomcycle-mcp-bridge-0.1.0.tgz): npx -y --package=<its absolute path>", async () => {
      const { bridgeCommand } = await import("../../src/cli/config-snippet.js");
      const main = npxCache("file:../../../Downloads/loomcycle-mcp-bridge-0.1.0.tgz");
      const root = main.slice(0, main.indexOf("/.npm/"));
      const { command, via } = bridgeCommand(main, "/usr/local/bin/node");
      expect(via).toBe("npx-local");
      expect(command.slice(1)).toEqual([
        "-y",
        `--package=${join(root, "Downloads", "loomcycle-mcp-bridge-0.1.0.tgz")}`,
        "loomcycle-mcp-bridge",
      ]);
      expect(command.join(" ")).not.toMatch(/_npx|loomcycle-mcp-bridge@/);
    });

    it("from a registry (npx -y loomcycle-mcp-bridge): npx -y with this version", async () => {
      const { bridgeCommand } = await import("../../src/cli/config-snippet.js");
      const { command, via } = bridgeCommand(npxCache("^0.1.0"), "/usr/local/bin/node");
      expect(via).toBe("npx-registry");
      expect(command.slice(1)).toEqual(["-y", expect.stringMatching(/^loomcycle-mcp-bridge@\d+\.\d+\.\d+/)]);
    });

    it("what npx ran cannot be read: node and the file itself, with a note that the cache may be cleared", async () => {
      const { bridgeCommand } = await import("../../src/cli/config-snippet.js");
      const main = npxCache(undefined);
      expect(bridgeCommand(main, "/usr/local/bin/node")).toEqual({ command: ["/usr/local/bin/node", main], via: "node" });
      expect(bridgeCommand(BIN).command).toEqual([process.execPath, BIN]);
    });
  });

  it("--help documents doctor and config", async () => {
    const r = await runCommand(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/loomcycle-mcp-bridge doctor/);
    expect(r.stdout).toMatch(/loomcycle-mcp-bridge config HOST .*claude-desktop, claude-code or/);
    // what --sandbox reads and what it does not, as the README says
    expect(r.stdout).toMatch(/--sandbox +serve a built-in simulator[\s\S]*reads none of loomcycle's settings/);
    expect(r.stdout).toMatch(/honours LOOMCYCLE_MCP_\*/);
  });
});
