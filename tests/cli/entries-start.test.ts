// Every host entry the project prints starts as printed (issue 19, defect 1): what
// `config <host>` prints, with and without --sandbox, for Claude Desktop, Claude Code (its
// .mcp.json entry and its `claude mcp add` line) and OpenCode, and the entries in
// mcp.json.example and the README. Each is started exactly as its host starts it — command,
// args and env from the JSON (the `claude mcp add` line run through a shell, its argv parsed
// the way the claude CLI parses it), with the host's own env expansion — after the
// placeholders are replaced the way a user would (a --sandbox entry has none), and answers a
// tool call against the simulator. `config` runs in process as the bin runs it (what the
// binary prints is the same, byte for byte: config.test.ts); each entry is a process of its
// own, started as printed, and the entries start side by side.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { StdioPeer } from "../stdio-peer.js";
import { BIN, runCommand } from "./run-bin.js";

const HOSTS = ["claude-desktop", "claude-code", "opencode"] as const;
type Host = (typeof HOSTS)[number];
const TOKEN = "lc_tok_entries_0123456789abcdef";
const USER = "u_entries";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const USER_PLACEHOLDER = "your-user-id";
const TOKEN_FILE_PLACEHOLDER = "/path/to/loomcycle-token";

let sim: Simulator;
let home: string;
let tokenFile: string;
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.05, token: TOKEN });
  home = mkdtempSync(join(tmpdir(), "lcb-entries-home-"));
  tokenFile = join(home, ".config", "loomcycle", "token");
  mkdirSync(join(home, ".config", "loomcycle"), { recursive: true });
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await sim?.close();
});

type Json = Record<string, unknown>;
interface Entry {
  command: string[];
  env: Record<string, string>;
}

/** The server entry inside a host's config, as command + env (the env as written, unexpanded). */
function entryOf(host: Host, cfg: Json): Entry {
  if (host === "opencode") {
    const e = (cfg.mcp as Record<string, { command: string[]; environment?: Record<string, string> }>).loomcycle!;
    return { command: e.command, env: e.environment ?? {} };
  }
  const e = (cfg.mcpServers as Record<string, { command: string; args?: string[]; env?: Record<string, string> }>).loomcycle!;
  return { command: [e.command, ...(e.args ?? [])], env: e.env ?? {} };
}

/** What the host puts in the process's environment: its own (Claude Code and OpenCode pass theirs on), plus the entry's, expanded its way. */
function hostEnv(
  host: Host | "claude-code-cli",
  entryEnv: Record<string, string>,
  own: Record<string, string>,
): Record<string, string> {
  const expand = (v: string): string =>
    host === "claude-code"
      ? v.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, k: string, d?: string) => own[k] ?? d ?? "")
      : host === "opencode"
        ? v.replace(/\{env:(\w+)\}/g, (_, k: string) => own[k] ?? "")
        : v;
  const base = host === "claude-desktop" ? { PATH: own.PATH!, HOME: own.HOME!, XDG_STATE_HOME: own.XDG_STATE_HOME! } : own;
  return { ...base, ...Object.fromEntries(Object.entries(entryEnv).map(([k, v]) => [k, expand(v)])) };
}

/** The user's environment: their token exported for the hosts that expand it, a private state dir. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: home,
    XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "lcb-entries-state-")),
    LOOMCYCLE_AUTH_TOKEN: TOKEN,
    ...extra,
  };
}

/** A user's shell that has loomcycle settings a --sandbox entry must not trip over. */
const UNRELATED_SETTINGS = {
  LOOMCYCLE_BASE_URL: "http://127.0.0.1:1/v1",
  LOOMCYCLE_AUTH_TOKEN_FILE: TOKEN_FILE_PLACEHOLDER,
  LOOMCYCLE_USER_ID: "not a user id",
};

/** What a user does to a printed entry: their user id and token file for the placeholders. */
function replacePlaceholders(s: string): string {
  return s.split(USER_PLACEHOLDER).join(USER).split(TOKEN_FILE_PLACEHOLDER).join(tokenFile);
}

/** Start the entry exactly as given, complete initialize and call list_agents. */
async function startsAndAnswers(entry: Entry, env: Record<string, string>, sandbox: boolean): Promise<void> {
  const p = new StdioPeer(env, [], { command: entry.command });
  let done = false;
  const exited = p.exited.then((e): never => {
    if (done) return undefined as never;
    throw new Error(`the entry exited (code ${e.code}) instead of serving: ${p.stderr.trim().slice(-800)}`);
  });
  exited.catch(() => {});
  try {
    await Promise.race([p.initialize(), exited]);
    const agents = await Promise.race([p.callTool("list_agents", {}), exited]);
    expect(agents.isError, agents.text).toBe(false);
    expect(JSON.stringify(agents.sc)).toContain('"echo"');
    expect(agents.sc.sandbox === true, "a --sandbox entry serves the simulator, the others the configured loomcycle").toBe(
      sandbox,
    );
    expect(p.nonJsonLines).toEqual([]);
  } finally {
    done = true;
    p.kill();
  }
}

/** The `claude mcp add …` line as the claude CLI receives it: run through bash with `claude` stubbed to print its argv. */
function shellArgv(line: string, env: Record<string, string>): string[] {
  const r = spawnSync("bash", ["-c", `claude() { printf '%s\\0' "$@"; }\n${line}`], { env, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\0").slice(0, -1);
}

/** `claude mcp add [options] <name> [--] <command> [args…]` parsed as the claude CLI (commander) does: -e takes several values. */
function parseClaudeMcpAdd(argv: string[]): Entry & { name: string } {
  expect(argv.slice(0, 2)).toEqual(["mcp", "add"]);
  const dash = argv.indexOf("--");
  const opts = argv.slice(2, dash < 0 ? undefined : dash);
  const env: Record<string, string> = {};
  const positionals: string[] = [];
  for (let i = 0; i < opts.length; i++) {
    const a = opts[i]!;
    if (["-s", "--scope", "-t", "--transport"].includes(a)) i++;
    else if (a === "-e" || a === "--env")
      while (i + 1 < opts.length && !opts[i + 1]!.startsWith("-")) {
        const kv = opts[++i]!;
        expect(kv, `-e swallowed ${JSON.stringify(kv)}, which is not KEY=VALUE`).toMatch(/^\w+=/);
        env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
      }
    else positionals.push(a);
  }
  const [name, ...rest] = positionals;
  return { name: name!, command: [...rest, ...(dash < 0 ? [] : argv.slice(dash + 1))], env };
}

describe.concurrent("every entry `config` prints starts as printed", () => {
  for (const host of HOSTS)
    for (const sandbox of [false, true]) {
      it(`${host}${sandbox ? " --sandbox" : ""}`, async () => {
        const r = await runCommand(["config", host, ...(sandbox ? ["--sandbox"] : [])], { LOOMCYCLE_BASE_URL: sim.url });
        expect(r.code, r.stderr).toBe(0);
        if (sandbox) {
          expect(r.stdout, "a --sandbox entry holds no placeholder").not.toMatch(/your-user-id|\/path\/to|LOOMCYCLE_/);
          expect(r.stderr).not.toMatch(/Replace "/);
        }
        const printed = JSON.parse(sandbox ? r.stdout : replacePlaceholders(r.stdout)) as Json;
        const entry = entryOf(host, printed);
        const own = userEnv(sandbox ? UNRELATED_SETTINGS : {});
        await startsAndAnswers(entry, hostEnv(host, entry.env, own), sandbox);

        if (host === "claude-code") {
          const line = /^# Or add it with one command: (claude mcp add .*)$/m.exec(r.stderr)?.[1];
          expect(line, "config claude-code prints a `claude mcp add` line").toBeDefined();
          if (sandbox) expect(line).not.toMatch(/your-user-id|\/path\/to|LOOMCYCLE_/);
          const added = parseClaudeMcpAdd(shellArgv(sandbox ? line! : replacePlaceholders(line!), own));
          expect(added.name).toBe("loomcycle");
          expect(added.command).toEqual(entry.command);
          await startsAndAnswers(added, hostEnv("claude-code-cli", added.env, own), sandbox);
        }
      });
    }
});

describe.concurrent("the entries in mcp.json.example and the README start once their placeholders are filled in", () => {
  const example = JSON.parse(readFileSync(join(ROOT, "mcp.json.example"), "utf8")) as Json;
  /** What a user does to the example: their paths, their loomcycle's URL, their user id and token file. */
  const fill = (s: string): string =>
    replacePlaceholders(s)
      .split("/abs/path/to/loomcycle-mcp-bridge/dist/cli/main.js")
      .join(BIN)
      .split("/path/to/loomcycle-mcp-bridge/dist/cli/main.js")
      .join(BIN)
      .split("http://127.0.0.1:8787")
      .join(sim.url);

  for (const host of HOSTS)
    it(`mcp.json.example: ${host}`, async () => {
      const key = Object.keys(example).find((k) => k.startsWith(`${host}:`))!;
      const entry = entryOf(host, JSON.parse(fill(JSON.stringify(example[key]))) as Json);
      await startsAndAnswers(entry, hostEnv(host, entry.env, userEnv()), false);
    });

  it("README: the `claude mcp add` line", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const block = /^ *```sh\n( *claude mcp add [\s\S]*?)\n *```/m.exec(readme)?.[1];
    expect(block, "the README shows a `claude mcp add` line").toBeDefined();
    const own = userEnv();
    const added = parseClaudeMcpAdd(shellArgv(fill(block!), own));
    expect(added.name).toBe("loomcycle");
    await startsAndAnswers(added, hostEnv("claude-code-cli", added.env, own), false);
  });
});
