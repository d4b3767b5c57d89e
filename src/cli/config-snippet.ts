// `loomcycle-mcp-bridge config <claude-desktop|claude-code|opencode>`: print a
// ready-to-paste host config entry for this bridge. stdout gets the JSON only (so it
// can be redirected into a file); a short "where to paste it" hint goes to stderr.
// The command is absolute (this node binary and this build's dist/cli/main.js); env
// values are filled from the current LOOMCYCLE_BASE_URL / LOOMCYCLE_USER_ID (env or
// flags) when set, placeholders otherwise. A token value is never printed: each host
// gets the way it can pass a secret without writing it into the file (a token file for
// Claude Desktop, env expansion for Claude Code and OpenCode).
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BridgeConfig } from "../config.js";
import { printLine } from "./terminal.js";

export const HOSTS = ["claude-desktop", "claude-code", "opencode"] as const;
export type Host = (typeof HOSTS)[number];

export const DEFAULT_BASE_URL = "http://127.0.0.1:8787";
export const USER_ID_PLACEHOLDER = "your-user-id";
export const TOKEN_FILE_PLACEHOLDER = "/path/to/loomcycle-token";
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
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of dist/cli/main.js. */
  main: string;
  baseUrl: string;
  userId: string;
  tokenFile: string;
}

export function isHost(s: string | undefined): s is Host {
  return s !== undefined && (HOSTS as readonly string[]).includes(s);
}

/** The entry for `host`, exactly as it goes into that host's config file. */
export function snippetFor(host: Host, v: SnippetValues): Record<string, unknown> {
  switch (host) {
    case "claude-desktop":
      return {
        mcpServers: {
          [SERVER_NAME]: {
            command: v.node,
            args: [v.main],
            env: { LOOMCYCLE_BASE_URL: v.baseUrl, LOOMCYCLE_AUTH_TOKEN_FILE: v.tokenFile, LOOMCYCLE_USER_ID: v.userId },
          },
        },
      };
    case "claude-code":
      return {
        mcpServers: {
          [SERVER_NAME]: {
            type: "stdio",
            command: v.node,
            args: [v.main],
            env: { LOOMCYCLE_BASE_URL: v.baseUrl, LOOMCYCLE_AUTH_TOKEN: "${LOOMCYCLE_AUTH_TOKEN}", LOOMCYCLE_USER_ID: v.userId },
          },
        },
      };
    case "opencode":
      return {
        $schema: "https://opencode.ai/config.json",
        mcp: {
          [SERVER_NAME]: {
            type: "local",
            command: [v.node, v.main],
            enabled: true,
            timeout: OPENCODE_TIMEOUT_MS,
            environment: { LOOMCYCLE_BASE_URL: v.baseUrl, LOOMCYCLE_AUTH_TOKEN: "{env:LOOMCYCLE_AUTH_TOKEN}", LOOMCYCLE_USER_ID: v.userId },
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

/** Whether an option was given on the command line (as `--name value` or `--name=value`). */
function flagGiven(argv: readonly string[], name: string): boolean {
  return argv.some((a) => a === name || a.startsWith(`${name}=`));
}

function tokenFileArg(argv: readonly string[]): string | undefined {
  const i = argv.findIndex((a) => a === "--token-file" || a.startsWith("--token-file="));
  if (i < 0) return undefined;
  const a = argv[i]!;
  return a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[i + 1];
}

/** The values `config` prints: real ones when configured, placeholders otherwise. */
export function snippetValues(cfg: BridgeConfig, argv: readonly string[], env: NodeJS.ProcessEnv, main?: string): SnippetValues {
  const baseUrlSet = flagGiven(argv, "--base-url") || Boolean(env.LOOMCYCLE_BASE_URL);
  const tokenFile = tokenFileArg(argv) ?? env.LOOMCYCLE_AUTH_TOKEN_FILE;
  return {
    node: process.execPath,
    main: main ?? fileURLToPath(new URL("./main.js", import.meta.url)),
    baseUrl: baseUrlSet ? cfg.baseUrl : DEFAULT_BASE_URL,
    userId: cfg.userId ?? USER_ID_PLACEHOLDER,
    // A path is not a secret; make it absolute, since the host starts the bridge in another directory.
    tokenFile: tokenFile ? (isAbsolute(tokenFile) ? tokenFile : resolve(tokenFile)) : TOKEN_FILE_PLACEHOLDER,
  };
}

export function runConfig(cfg: BridgeConfig, argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const host = cfg.arg;
  if (!isHost(host)) {
    const what = host === undefined ? "config needs a host" : `unknown host ${JSON.stringify(host)} for config`;
    process.stderr.write(`loomcycle-mcp-bridge: ${what}: use one of ${HOSTS.join(", ")}\n`);
    return 2;
  }
  const values = snippetValues(cfg, argv, env);
  printLine(JSON.stringify(snippetFor(host, values), null, 2));
  const notes = [...HINTS[host]];
  if (values.userId === USER_ID_PLACEHOLDER) notes.push(`Replace "${USER_ID_PLACEHOLDER}" with your loomcycle user id (or set LOOMCYCLE_USER_ID / --user-id and run this again).`);
  if (host === "claude-desktop" && values.tokenFile === TOKEN_FILE_PLACEHOLDER) notes.push(`Replace "${TOKEN_FILE_PLACEHOLDER}" with the token file's absolute path.`);
  notes.push("Check the setup with: loomcycle-mcp-bridge doctor");
  for (const n of notes) process.stderr.write(`# ${n}\n`);
  return 0;
}
