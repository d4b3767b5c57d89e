// `loomcycle-mcp-bridge config <claude-desktop|claude-code|opencode>`: print a
// ready-to-paste host config entry for this bridge. stdout gets the JSON only (so it
// can be redirected into a file); a short "where to paste it" hint goes to stderr.
// The command is absolute (this node binary and this build's dist/cli/main.js); env
// values are filled from the current LOOMCYCLE_BASE_URL / LOOMCYCLE_USER_ID (env or
// flags) when set, placeholders otherwise. A token value is never printed: each host
// gets the way it can pass a secret without writing it into the file (a token file for
// Claude Desktop, env expansion for Claude Code and OpenCode).
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_BASE_URL, HOSTS, TOKEN_FILE_PLACEHOLDER, USER_ID_PLACEHOLDER, type BridgeConfig, type Host } from "../config.js";
import { version } from "../version.js";
import { printLine } from "./terminal.js";

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

/** The entry's env block: the token by reference only (a file path, or the host's expansion). */
function envBlock(host: Host, v: SnippetValues): Record<string, string> {
  const env: Record<string, string> = { LOOMCYCLE_BASE_URL: v.baseUrl };
  if (host === "claude-desktop" || v.tokenFileGiven) env.LOOMCYCLE_AUTH_TOKEN_FILE = v.tokenFile;
  else env.LOOMCYCLE_AUTH_TOKEN = host === "claude-code" ? "${LOOMCYCLE_AUTH_TOKEN}" : "{env:LOOMCYCLE_AUTH_TOKEN}";
  env.LOOMCYCLE_USER_ID = v.userId;
  if (v.logLevel) env.LOOMCYCLE_MCP_LOG_LEVEL = v.logLevel;
  return env;
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
            env: envBlock(host, v),
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
            env: envBlock(host, v),
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
            environment: envBlock(host, v),
          },
        },
        experimental: { mcp_timeout: OPENCODE_TIMEOUT_MS },
      };
  }
}

const HINTS: Record<Host, string[]> = {
  "claude-desktop": [
    "Merge into claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\), then restart Claude Desktop.",
    "Put the token in a file only you can read and set LOOMCYCLE_AUTH_TOKEN_FILE to its path (Claude Desktop cannot expand env variables).",
  ],
  "claude-code": [
    "Merge into .mcp.json in your project root (or: claude mcp add-json loomcycle '<the inner \"loomcycle\" object>').",
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

/** The command an entry names: this node and this main.js, or npx when they live in npx's cache. */
export function bridgeCommand(main: string, node = process.execPath): { command: string[]; viaNpx: boolean } {
  if (!inNpxCache(main)) return { command: [node, main], viaNpx: false };
  // An absolute npx next to this node (hosts started from a desktop often lack the shell's PATH).
  const npx = join(dirname(node), "npx");
  return { command: [existsSync(npx) ? npx : "npx", "-y", `${PACKAGE_NAME}@${version()}`], viaNpx: true };
}

/** The values `config` prints: what the flags and environment configure, placeholders otherwise. */
export function snippetValues(cfg: BridgeConfig, env: NodeJS.ProcessEnv, main?: string): SnippetValues & { viaNpx: boolean } {
  const baseUrlSet = cfg.flags.baseUrl !== undefined || Boolean(env.LOOMCYCLE_BASE_URL?.trim());
  const tokenFile = cfg.tokenFile;
  const { command, viaNpx } = bridgeCommand(main ?? fileURLToPath(new URL("./main.js", import.meta.url)));
  const v: SnippetValues & { viaNpx: boolean } = {
    command,
    viaNpx,
    args: cfg.flags.sandbox ? ["--sandbox"] : [],
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

export function runConfig(cfg: BridgeConfig, env: NodeJS.ProcessEnv): number {
  const host = cfg.arg;
  if (!isHost(host)) {
    // parseConfig refuses these first; kept for callers that build a config by hand.
    process.stderr.write(`loomcycle-mcp-bridge: config needs a host: use one of ${HOSTS.join(", ")}\n`);
    return 2;
  }
  const values = snippetValues(cfg, env);
  printLine(JSON.stringify(snippetFor(host, values), null, 2));
  const notes = values.tokenFileGiven && host !== "claude-desktop" ? [HINTS[host][0]!] : [...HINTS[host]];
  if (values.args.includes("--sandbox"))
    notes.push(
      'This entry serves the built-in simulator (--sandbox), not a real loomcycle: remove "--sandbox" from it to use yours.',
    );
  if (values.viaNpx)
    notes.push(
      `You ran this through npx, whose cache path may not exist tomorrow: the entry starts the bridge with npx -y ${PACKAGE_NAME}@${version()} instead (npm install -g ${PACKAGE_NAME} and run config again for a faster start).`,
    );
  if (values.userId === USER_ID_PLACEHOLDER)
    notes.push(
      `Replace "${USER_ID_PLACEHOLDER}" with your loomcycle user id (or set LOOMCYCLE_USER_ID / --user-id and run this again).`,
    );
  if (values.tokenFile === TOKEN_FILE_PLACEHOLDER && (host === "claude-desktop" || values.tokenFileGiven))
    notes.push(`Replace "${TOKEN_FILE_PLACEHOLDER}" with the token file's absolute path.`);
  notes.push("Check the setup with: loomcycle-mcp-bridge doctor");
  for (const n of notes) process.stderr.write(`# ${n}\n`);
  return 0;
}
