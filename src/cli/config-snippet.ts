// `loomcycle-mcp-bridge config <claude-desktop|claude-code|opencode>`: print a
// ready-to-paste host config entry for this bridge. stdout gets the JSON only (so it
// can be redirected into a file); where to paste it, and for Claude Code the same entry as
// one `claude mcp add` line, go to stderr. The command names what runs today: this node
// and this build's dist/cli/main.js, or what npx ran (see bridgeCommand). Env values are
// filled from the current LOOMCYCLE_BASE_URL / LOOMCYCLE_USER_ID (env or flags) when set,
// placeholders otherwise. A token value is never printed: each host gets the way it can
// pass a secret without writing it into the file (a token file for Claude Desktop, env
// expansion for Claude Code and OpenCode). A --sandbox entry holds none of that (the
// sandbox reads no loomcycle settings), so it starts as printed.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_BASE_URL, HOSTS, TOKEN_FILE_PLACEHOLDER, USER_ID_PLACEHOLDER, type BridgeConfig, type Host } from "../config.js";
import { version } from "../version.js";
import { terminal, type CliIo } from "./terminal.js";

export { DEFAULT_BASE_URL, HOSTS, TOKEN_FILE_PLACEHOLDER, USER_ID_PLACEHOLDER, type Host };
export const PACKAGE_NAME = "loomcycle-mcp-bridge";
/** The server's name in every host config. */
export const SERVER_NAME = "loomcycle";
/**
 * OpenCode's per-server MCP request timeout (ms), `mcp.<name>.timeout`. The longest tool
 * call is wait_ms (≤ 55 s) + 5 s. Without it OpenCode (1.18) falls back to
 * `experimental.mcp_timeout`, then to the MCP SDK's 60 s; it resets the timer on each
 * progress notification (the bridge sends them while it waits), so this is the bound
 * for a call whose progress never arrives. Scoped to this server; the snippet also sets
 * the global `experimental.mcp_timeout` to the same value, for OpenCode versions that
 * read only that key (it only ever raises the limit for other servers).
 */
export const OPENCODE_TIMEOUT_MS = 70_000;

export interface SnippetValues {
  /** The command that starts the bridge: [node, main.js], or npx and the package when run through npx. */
  command: string[];
  /** Options for the bridge given to `config` (e.g. --sandbox), passed on in the entry. */
  args: string[];
  baseUrl: string;
  userId: string;
  tokenFile: string;
  /** --token-file was given to `config`: every host then gets LOOMCYCLE_AUTH_TOKEN_FILE. */
  tokenFileGiven: boolean;
  /** --log-level given to `config`. */
  logLevel?: string;
}

export function isHost(s: string | undefined): s is Host {
  return s !== undefined && (HOSTS as readonly string[]).includes(s);
}

const sandboxed = (v: SnippetValues): boolean => v.args.includes("--sandbox");

/**
 * The entry's env block: the token by reference only (a file path, or the host's expansion).
 * A --sandbox entry carries none of loomcycle's settings (the sandbox would not read them).
 */
function envBlock(host: Host, v: SnippetValues, tokenRef: "file" | "expansion" = "expansion"): Record<string, string> {
  const env: Record<string, string> = {};
  if (!sandboxed(v)) {
    env.LOOMCYCLE_BASE_URL = v.baseUrl;
    if (host === "claude-desktop" || v.tokenFileGiven || tokenRef === "file") env.LOOMCYCLE_AUTH_TOKEN_FILE = v.tokenFile;
    else env.LOOMCYCLE_AUTH_TOKEN = host === "claude-code" ? "${LOOMCYCLE_AUTH_TOKEN}" : "{env:LOOMCYCLE_AUTH_TOKEN}";
    env.LOOMCYCLE_USER_ID = v.userId;
  }
  if (v.logLevel) env.LOOMCYCLE_MCP_LOG_LEVEL = v.logLevel;
  return env;
}

/** `{ [key]: env }`, or nothing when the block is empty (every host's env key is optional). */
function envEntry(key: string, env: Record<string, string>): Record<string, Record<string, string>> {
  return Object.keys(env).length > 0 ? { [key]: env } : {};
}

/** The entry for `host`, exactly as it goes into that host's config file. */
export function snippetFor(host: Host, v: SnippetValues): Record<string, unknown> {
  switch (host) {
    case "claude-desktop":
      return {
        mcpServers: {
          [SERVER_NAME]: {
            command: v.command[0],
            args: [...v.command.slice(1), ...v.args],
            ...envEntry("env", envBlock(host, v)),
          },
        },
      };
    case "claude-code":
      return {
        mcpServers: {
          [SERVER_NAME]: {
            type: "stdio",
            command: v.command[0],
            args: [...v.command.slice(1), ...v.args],
            ...envEntry("env", envBlock(host, v)),
          },
        },
      };
    case "opencode":
      return {
        $schema: "https://opencode.ai/config.json",
        mcp: {
          [SERVER_NAME]: {
            type: "local",
            command: [...v.command, ...v.args],
            enabled: true,
            timeout: OPENCODE_TIMEOUT_MS,
            ...envEntry("environment", envBlock(host, v)),
          },
        },
        experimental: { mcp_timeout: OPENCODE_TIMEOUT_MS },
      };
  }
}

/** A word for a POSIX shell: as is when it is plain, else single-quoted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * The Claude Code entry as one `claude mcp add` line (user scope). The name comes before the
 * -e options (-e takes several values and would swallow a name after it). The token goes by
 * file: `claude mcp add` writes the entry into ~/.claude.json, where a token value must not go.
 */
export function claudeMcpAddLine(v: SnippetValues): string {
  const env = envBlock("claude-code", v, "file");
  const words = ["claude", "mcp", "add", SERVER_NAME, "-s", "user"];
  for (const [k, x] of Object.entries(env)) words.push("-e", `${k}=${x}`);
  words.push("--", ...v.command, ...v.args);
  return words.map(shellWord).join(" ");
}

const HINTS: Record<Host, string[]> = {
  "claude-desktop": [
    "Merge into claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\), then restart Claude Desktop.",
    "Put the token in a file only you can read and set LOOMCYCLE_AUTH_TOKEN_FILE to its path (Claude Desktop cannot expand env variables).",
  ],
  "claude-code": [
    "Merge into .mcp.json in your project root (project scope).",
    "Claude Code expands ${LOOMCYCLE_AUTH_TOKEN} from its own environment: export it before starting claude.",
  ],
  opencode: [
    "Merge into opencode.json in your project root (or ~/.config/opencode/opencode.json).",
    "OpenCode substitutes {env:LOOMCYCLE_AUTH_TOKEN} from its own environment: export it before starting opencode.",
  ],
};

/** npm's npx cache (~/.npm/_npx/<hash>/node_modules/…): a path there may be gone tomorrow. */
export function inNpxCache(path: string): boolean {
  return path.split(sep).includes("_npx");
}

/** How `config` names the bridge in an entry, and why. */
export interface BridgeCommand {
  command: string[];
  /** npx ran it: from a registry (`npx -y pkg@version`), or from a local tarball or folder (`npx -y --package=/abs/file.tgz pkg`). */
  via: "node" | "npx-registry" | "npx-local";
}

/**
 * What npx was asked to run, read from its cache folder's package.json
 * (`{"dependencies": {"loomcycle-mcp-bridge": "file:../../../x.tgz"}}` for a local tarball or
 * folder, a version range for the registry). undefined when it cannot be read.
 */
function npxSpec(main: string): { local: string } | { registry: true } | undefined {
  const parts = main.split(sep);
  const i = parts.lastIndexOf("_npx");
  if (i < 0 || i + 1 >= parts.length) return undefined;
  const dir = parts.slice(0, i + 2).join(sep);
  try {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const spec = pkg.dependencies?.[PACKAGE_NAME];
    if (spec === undefined) return undefined;
    if (spec.startsWith("file:")) return { local: resolve(dir, spec.slice("file:".length)) };
    return { registry: true };
  } catch {
    return undefined;
  }
}

/**
 * The command an entry names: what runs today. This node and this main.js; or, when they live
 * in npx's cache (which may be cleared), what npx ran: the registry package at this version,
 * or the local tarball (or folder) it was given, by its absolute path. Never a package name
 * npx was not given: the package is not published yet, and a name in no registry does not start.
 */
export function bridgeCommand(main: string, node = process.execPath): BridgeCommand {
  if (!inNpxCache(main)) return { command: [node, main], via: "node" };
  const spec = npxSpec(main);
  if (spec === undefined) return { command: [node, main], via: "node" };
  // An absolute npx next to this node (hosts started from a desktop often lack the shell's PATH).
  const npxBin = join(dirname(node), "npx");
  const npx = existsSync(npxBin) ? npxBin : "npx";
  // --package: npx would take a bare absolute path for a command to run, not a package to install.
  if ("local" in spec) return { command: [npx, "-y", `--package=${spec.local}`, PACKAGE_NAME], via: "npx-local" };
  return { command: [npx, "-y", `${PACKAGE_NAME}@${version()}`], via: "npx-registry" };
}

/** The values `config` prints: what the flags and environment configure, placeholders otherwise. */
export function snippetValues(
  cfg: BridgeConfig,
  env: NodeJS.ProcessEnv,
  main?: string,
): SnippetValues & { via: BridgeCommand["via"] } {
  const baseUrlSet = cfg.flags.baseUrl !== undefined || Boolean(env.LOOMCYCLE_BASE_URL?.trim());
  const tokenFile = cfg.tokenFile;
  const { command, via } = bridgeCommand(main ?? fileURLToPath(new URL("./main.js", import.meta.url)));
  const v: SnippetValues & { via: BridgeCommand["via"] } = {
    command,
    via,
    args: cfg.sandbox ? ["--sandbox"] : [],
    baseUrl: baseUrlSet ? cfg.baseUrl : DEFAULT_BASE_URL,
    userId: cfg.userId ?? USER_ID_PLACEHOLDER,
    // A path is not a secret; make it absolute, since the host starts the bridge in another directory.
    tokenFile: tokenFile ? (isAbsolute(tokenFile) ? tokenFile : resolve(tokenFile)) : TOKEN_FILE_PLACEHOLDER,
    // Given to `config` as --token-file: every host's entry reads the token from that file.
    tokenFileGiven: cfg.flags.tokenFile !== undefined,
  };
  if (cfg.flags.logLevel) v.logLevel = cfg.flags.logLevel;
  return v;
}

/** Prints the entry to `io.out` and where to paste it to `io.err`; `main` is the bridge's script (default: the bin). */
export function runConfig(cfg: BridgeConfig, env: NodeJS.ProcessEnv, io: CliIo = terminal, main?: string): number {
  const host = cfg.arg;
  if (!isHost(host)) {
    // parseConfig refuses these first; kept for callers that build a config by hand.
    io.err(`loomcycle-mcp-bridge: config needs a host: use one of ${HOSTS.join(", ")}`);
    return 2;
  }
  const values = snippetValues(cfg, env, main);
  const sandbox = sandboxed(values);
  io.out(JSON.stringify(snippetFor(host, values), null, 2));
  const notes: string[] = [];
  if (sandbox) notes.push(HINTS[host][0]!);
  else notes.push(...(values.tokenFileGiven && host !== "claude-desktop" ? [HINTS[host][0]!] : HINTS[host]));
  if (host === "claude-code") notes.push(`Or add it with one command: ${claudeMcpAddLine(values)}`);
  if (sandbox)
    notes.push(
      "This entry serves the built-in simulator (--sandbox), not a real loomcycle; it needs no token or user id. To use your loomcycle, run config again without --sandbox.",
    );
  if (values.via === "npx-local")
    notes.push(
      `You ran this through npx from ${values.command[2]!.slice("--package=".length)}: the entry starts it the same way, so keep that file where it is (loomcycle-mcp-bridge is not published in a registry yet). For a faster start, npm install -g it and run config again.`,
    );
  if (values.via === "npx-registry")
    notes.push(
      `You ran this through npx, whose cache path may not exist tomorrow: the entry starts the bridge with npx -y ${PACKAGE_NAME}@${version()} instead (npm install -g ${PACKAGE_NAME} and run config again for a faster start).`,
    );
  if (values.via === "node" && inNpxCache(values.command[1]!))
    notes.push(`This entry names a file in npx's cache, which may be cleared: npm install -g the package and run config again.`);
  if (!sandbox && values.userId === USER_ID_PLACEHOLDER)
    notes.push(
      `Replace "${USER_ID_PLACEHOLDER}" with your loomcycle user id (or set LOOMCYCLE_USER_ID / --user-id and run this again).`,
    );
  // (A token file given to config is never the placeholder: parseConfig refuses it.)
  if (!sandbox && values.tokenFile === TOKEN_FILE_PLACEHOLDER && host !== "opencode")
    notes.push(
      `Replace "${TOKEN_FILE_PLACEHOLDER}"${host === "claude-code" ? " in that line" : ""} with the token file's absolute path.`,
    );
  if (!sandbox)
    notes.push(`Check the setup with: ${[...values.command, "doctor"].map(shellWord).join(" ")} (with the entry's environment)`);
  for (const n of notes) io.err(`# ${n}`);
  return 0;
}
