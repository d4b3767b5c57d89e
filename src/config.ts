// Config is a pure function of argv and env, parsed here and nowhere else:
// node:util parseArgs splits the command line, flags override the environment variables
// of the same meaning, and every mistake is one ConfigError line that names what the
// person typed (the flag or the variable, as given) and how to fix it. The CLI prints
// it and exits 2.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { isId } from "./ids.js";
import { DEFAULT_TIMINGS } from "./bridge/timings.js";
import { didYouMean } from "./did-you-mean.js";

export type Command = "serve" | "help" | "version" | "doctor" | "config" | "demo" | "sim" | "state";

/** Commands given as a word (help and version are flags). */
export const COMMANDS = ["doctor", "config", "demo", "sim", "state"] as const;
/** What `state` does: list the state files, or prune them. */
export const STATE_ACTIONS = ["list", "prune"] as const;
/** Hosts `config` prints an entry for. */
export const HOSTS = ["claude-desktop", "claude-code", "opencode"] as const;
export type Host = (typeof HOSTS)[number];

export const DEFAULT_BASE_URL = "http://127.0.0.1:8787";
/** The user `--sandbox` runs as: its simulator is the user's own, so user-scoped lists work without a setting. */
export const SANDBOX_USER_ID = "sandbox";
/**
 * What `--sandbox` never reads: the settings that describe a real loomcycle (where it is,
 * its token, whose runs). The sandbox brings its own simulator, token and user, so a
 * value here (a placeholder, an empty token file, another loomcycle's URL) cannot stop it.
 * It honours the bridge's own settings, LOOMCYCLE_MCP_* (log level, questions, park release).
 */
export const SANDBOX_IGNORES = [
  "LOOMCYCLE_BASE_URL",
  "LOOMCYCLE_AUTH_TOKEN",
  "LOOMCYCLE_AUTH_TOKEN_FILE",
  "LOOMCYCLE_USER_ID",
] as const;
/** The flags of those settings: given with --sandbox, refused (a flag is asked for, and cannot be honoured). */
const SANDBOX_REFUSES = ["base-url", "token-file", "user-id"] as const;
/** Placeholders `config` prints when a value is not configured; doctor reports them. */
export const USER_ID_PLACEHOLDER = "your-user-id";
export const TOKEN_FILE_PLACEHOLDER = "/path/to/loomcycle-token";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Flags given on the command line, as given (`config` writes them into the entry). */
export interface GivenFlags {
  baseUrl?: string;
  tokenFile?: string;
  userId?: string;
  logLevel?: LogLevel;
  sandbox?: boolean;
}

export interface BridgeConfig {
  command: Command;
  /** The host for `config`, the action for `state`, the command whose usage `help` prints. */
  arg?: string;
  /** The base URLs `state prune` names. */
  targets?: string[];
  baseUrl: string;
  token: string | undefined;
  /** Where the token came from, without its value ("LOOMCYCLE_AUTH_TOKEN", "--token-file /p", …). */
  tokenSource?: string;
  /** The token file, absolute or as given, when one was named (flag or env). */
  tokenFile?: string;
  userId: string | undefined;
  logLevel: LogLevel;
  sandbox: boolean;
  /** What came from flags (the rest came from the environment or defaults). */
  flags: GivenFlags;
  /** Who answers agents' questions by default (LOOMCYCLE_MCP_QUESTIONS): the host model, or the person via elicitation. */
  questions: "host" | "human";
  /** LOOMCYCLE_MCP_PARK_RELEASE_MS: a parked run nobody needs releases its upstream stream after this long (0: never). */
  parkReleaseMs: number;
  /** `demo --speed X`: multiplies the demo's simulated delays and its own short waits (default 1). */
  speed?: number;
}

export class ConfigError extends Error {}

const QUESTIONS = ["host", "human"] as const;

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
  sandbox: { type: "boolean" },
  "base-url": { type: "string" },
  "token-file": { type: "string" },
  "user-id": { type: "string" },
  "log-level": { type: "string" },
  speed: { type: "string" },
} as const;
type OptionName = keyof typeof OPTIONS;

/** Which options each command takes; others are refused, never silently dropped. */
const TAKES: Record<Command, ReadonlySet<OptionName>> = {
  serve: new Set(["sandbox", "base-url", "token-file", "user-id", "log-level"]),
  doctor: new Set(["base-url", "token-file", "user-id", "log-level"]),
  config: new Set(["sandbox", "base-url", "token-file", "user-id", "log-level"]),
  demo: new Set(["speed"]),
  sim: new Set([]),
  state: new Set([]),
  help: new Set(Object.keys(OPTIONS) as OptionName[]),
  version: new Set(Object.keys(OPTIONS) as OptionName[]),
};

const WHY_NOT: Partial<Record<Command, string>> = {
  doctor: "doctor checks the configured loomcycle; to try the simulator, run `loomcycle-mcp-bridge demo`",
  demo: "demo always runs against its own built-in simulator, with nothing to configure but its --speed",
  sim: "sim takes only its own options (--port, --token, …), written after the word sim",
  state: "state works on the state directory ($XDG_STATE_HOME or ~/.local/state) and nothing else",
};

/** The options `command` takes, as typed, for the line that refuses another one. */
function optionsOf(command: Command): string {
  const own = [...TAKES[command]].map((k) => `--${k}`);
  if (command === "help" || command === "version") return `options: ${own.join(", ")}`;
  const all = [...own, "--help", ...(command === "serve" ? ["--version"] : [])];
  return command === "serve"
    ? `options: ${all.join(", ")}`
    : `${command} takes ${own.length > 0 ? all.join(", ") : "no options but --help"}`;
}

/** "see --help", or "see doctor --help" for a command. */
function seeHelp(command: Command): string {
  return `see ${command === "serve" || command === "help" || command === "version" ? "" : `${command} `}--help`;
}

const q = (s: string): string => JSON.stringify(s);

function unknownOption(raw: string, name: string, command: Command): ConfigError {
  if (name === "token")
    return new ConfigError(
      `there is no ${raw} option (a token on the command line is visible to other users): set LOOMCYCLE_AUTH_TOKEN in the environment, or put the token in a file and pass --token-file PATH`,
    );
  const takes = [...TAKES[command], "help"].map((k) => `--${k}`);
  const guess = didYouMean(raw.startsWith("--") ? raw : `--${name}`, takes);
  return new ConfigError(
    `unknown option ${raw}${guess ? `; did you mean ${guess}?` : ""} (${optionsOf(command)}; ${seeHelp(command)})`,
  );
}

const BOOL_TRUE = new Set(["true", "1", "yes", "on"]);
const BOOL_FALSE = new Set(["false", "0", "no", "off"]);

interface Parsed {
  command: Command;
  arg: string | undefined;
  targets?: string[];
  flags: Partial<Record<OptionName, string | boolean>>;
}

function parseCommandLine(argv: readonly string[]): Parsed {
  const { tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const flags: Parsed["flags"] = {};
  const positionals: string[] = [];
  // An unknown option is reported once the command is known, naming that command's options.
  let unknown: { rawName: string; name: string } | undefined;
  for (const t of tokens) {
    if (t.kind === "option-terminator") continue;
    if (t.kind === "positional") {
      positionals.push(t.value);
      continue;
    }
    const name = t.name as OptionName;
    const spec = (OPTIONS as Record<string, { type: "string" | "boolean" }>)[t.name];
    if (!spec) {
      unknown ??= t;
      continue;
    }
    if (spec.type === "boolean") {
      if (t.value === undefined) flags[name] = true;
      else if (BOOL_TRUE.has(t.value.toLowerCase())) flags[name] = true;
      else if (BOOL_FALSE.has(t.value.toLowerCase())) flags[name] = false;
      else
        throw new ConfigError(
          `${t.rawName} takes no value, or true/false (got ${t.rawName}=${t.value}): write ${t.rawName} alone`,
        );
      continue;
    }
    const v = t.value;
    if (v === undefined || (!t.inlineValue && v.startsWith("-") && v.length > 1))
      throw new ConfigError(
        `${t.rawName} needs a value${v === undefined ? "" : ` (got the option ${v} instead)`}: write ${t.rawName} VALUE or ${t.rawName}=VALUE`,
      );
    if (v.trim() === "") throw new ConfigError(`${t.rawName} is empty: give it a value, or leave the option out`);
    flags[name] = v;
  }
  let command: Command = "serve";
  let arg: string | undefined;
  let targets: string[] | undefined;
  const rest = [...positionals];
  const isCommand = (w: string): boolean => (COMMANDS as readonly string[]).includes(w);
  if (rest.length > 0) {
    const word = rest[0]!;
    if (word === "serve" || word === "help" || word === "version" || isCommand(word)) {
      rest.shift();
      command = word as Command; // help and version also as words, as the flags
    } else if (!unknown) {
      const guess = didYouMean(word, [...COMMANDS, "help", "version"]);
      throw new ConfigError(
        `unknown command ${q(word)}${guess ? `; did you mean ${q(guess)}?` : ""} (commands: ${COMMANDS.join(", ")}, or none to serve; see --help)`,
      );
    }
  }
  if (unknown) throw unknownOption(unknown.rawName, unknown.name, command);
  // --help after a command (or `help COMMAND`) is that command's usage.
  if (command === "help" || flags.help) {
    const about = command === "help" ? rest.shift() : command;
    if (about !== undefined && about !== "serve" && !isCommand(about)) {
      const guess = didYouMean(about, COMMANDS);
      throw new ConfigError(
        `no help for ${q(about)}${guess ? `; did you mean ${q(guess)}?` : ""} (commands: ${COMMANDS.join(", ")})`,
      );
    }
    return { command: "help", arg: about === "serve" ? undefined : about, flags };
  }
  if (flags.version) return { command: "version", arg: undefined, flags };
  if (command === "config") {
    arg = rest.shift();
    if (arg === undefined)
      throw new ConfigError(`config needs a host: use one of ${HOSTS.join(", ")} (e.g. loomcycle-mcp-bridge config claude-code)`);
    if (!(HOSTS as readonly string[]).includes(arg)) {
      const guess = didYouMean(arg, HOSTS);
      throw new ConfigError(
        `unknown host ${q(arg)} for config${guess ? ` (did you mean ${q(guess)}?)` : ""}: use one of ${HOSTS.join(", ")}`,
      );
    }
  }
  if (command === "state") {
    arg = rest.shift() ?? "list";
    if (!(STATE_ACTIONS as readonly string[]).includes(arg)) {
      const guess = didYouMean(arg, STATE_ACTIONS);
      throw new ConfigError(
        `unknown action ${q(arg)} for state${guess ? ` (did you mean ${q(guess)}?)` : ""}: use state list, or state prune [BASE_URL…]`,
      );
    }
    if (arg === "prune") targets = rest.splice(0).map((u) => checkBaseUrl(u, "state prune"));
  }
  if (rest.length > 0 && command !== "version") {
    throw new ConfigError(
      `unexpected argument ${q(rest[0]!)} after ${command === "serve" ? "the options" : command}${arg !== undefined ? ` ${arg}` : ""} (${seeHelp(command)})`,
    );
  }
  for (const k of Object.keys(flags) as OptionName[]) {
    if (!TAKES[command].has(k)) {
      const why = WHY_NOT[command];
      throw new ConfigError(`${command} does not take --${k}${why ? `: ${why}` : ""} (${optionsOf(command)})`);
    }
  }
  return { command, arg, flags, ...(targets ? { targets } : {}) };
}

/** A token goes into an HTTP header: no spaces, line breaks or control characters. */
function headerSafe(token: string): boolean {
  if (/\s/.test(token)) return false;
  for (const ch of token) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** Read the token file: every way it can be wrong is one line naming where it was set. */
function readTokenFile(path: string, from: string): string {
  if (path === TOKEN_FILE_PLACEHOLDER) {
    throw new ConfigError(
      `${from} is the placeholder ${q(path)} from the config snippet: replace it with the path of a file holding your loomcycle token`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "there is no such file"
        : code === "EACCES" || code === "EPERM"
          ? "this user may not read it (permission denied)"
          : code === "EISDIR"
            ? "it is a directory, not a file"
            : `it cannot be read (${code ?? "error"})`;
    throw new ConfigError(`${from} names ${q(path)}, but ${why}: point it at a readable file that holds the token`);
  }
  const token = text.trim();
  if (token === "") {
    throw new ConfigError(
      `${from} names ${q(path)}, which is empty: put the token in it (one line), or unset ${from.startsWith("--") ? "--token-file" : "LOOMCYCLE_AUTH_TOKEN_FILE"} to use LOOMCYCLE_AUTH_TOKEN`,
    );
  }
  if (!headerSafe(token)) {
    throw new ConfigError(`${from} names ${q(path)}, which holds more than one word or line: it must hold the token alone`);
  }
  return token;
}

/** demo's --speed: a factor on its delays, 0 (as fast as possible) or more. */
function parseSpeed(raw: string): number {
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n < 0 || raw.trim() === "")
    throw new ConfigError(
      `--speed ${q(raw)} is not a factor: give a number of 0 or more (1: the demo's own pace, 0.05: twenty times faster, 0: as fast as possible)`,
    );
  return n;
}

function checkBaseUrl(raw: string, from: string): string {
  const shown = `${from} ${q(raw)}`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`${shown} is not a URL: give loomcycle's address, e.g. ${DEFAULT_BASE_URL}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new ConfigError(`${shown} must start with http:// or https://, e.g. ${DEFAULT_BASE_URL}`);
  if (u.hostname === "") throw new ConfigError(`${shown} has no host: give loomcycle's address, e.g. ${DEFAULT_BASE_URL}`);
  if (u.username || u.password) {
    const safe = `${u.protocol}//${u.username ? `${u.username}:***@` : "***@"}${u.host}${u.pathname === "/" ? "" : u.pathname}`;
    throw new ConfigError(
      `${from} ${q(safe)} carries credentials: remove them from the URL and set LOOMCYCLE_AUTH_TOKEN (or --token-file) instead`,
    );
  }
  if (u.search || u.hash)
    throw new ConfigError(`${shown} has a query or fragment: give only scheme, host and port, e.g. ${u.origin}`);
  const path = u.pathname.replace(/\/+$/, "");
  if (path !== "") {
    throw new ConfigError(`${shown} has a path (${path}): give loomcycle's root URL, ${u.origin} (the bridge adds /v1/… itself)`);
  }
  return u.origin;
}

export function parseConfig(argv: readonly string[], processEnv: NodeJS.ProcessEnv): BridgeConfig {
  const { command, arg, targets, flags: f } = parseCommandLine(argv);
  const flags: GivenFlags = {};
  // These use none of the configuration: a mistake in it must not stop them.
  if (command === "demo" || command === "help" || command === "version" || command === "state") {
    const speed = command === "demo" && typeof f.speed === "string" ? parseSpeed(f.speed) : undefined;
    return {
      ...(speed !== undefined ? { speed } : {}),
      command,
      ...(arg !== undefined ? { arg } : {}),
      ...(targets ? { targets } : {}),
      baseUrl: DEFAULT_BASE_URL,
      token: undefined,
      userId: undefined,
      logLevel: "info",
      sandbox: false,
      questions: "host",
      parkReleaseMs: DEFAULT_TIMINGS.parkReleaseMs,
      flags,
    };
  }
  // --sandbox (serving, or the entry `config` prints) reads none of the settings of a real loomcycle.
  const sandbox = f.sandbox === true;
  if (sandbox)
    for (const k of SANDBOX_REFUSES)
      if (f[k] !== undefined)
        throw new ConfigError(
          `--sandbox does not take --${k}: the sandbox serves its own simulator, with its own URL, token and user; leave --${k} out, or drop --sandbox to use your loomcycle`,
        );
  const env: NodeJS.ProcessEnv = sandbox
    ? Object.fromEntries(Object.entries(processEnv).filter(([k]) => !(SANDBOX_IGNORES as readonly string[]).includes(k)))
    : processEnv;

  const pick = (flag: OptionName, envName: string, fallback?: string): { value: string | undefined; from: string } => {
    const v = f[flag];
    if (typeof v === "string") return { value: v, from: `--${flag}` };
    const e = env[envName];
    if (e !== undefined && e.trim() !== "") return { value: e.trim(), from: envName };
    return { value: fallback, from: envName };
  };

  const base = pick("base-url", "LOOMCYCLE_BASE_URL", DEFAULT_BASE_URL);
  const baseUrl = checkBaseUrl(base.value!, base.from);
  if (typeof f["base-url"] === "string") flags.baseUrl = baseUrl;

  const user = pick("user-id", "LOOMCYCLE_USER_ID");
  if (user.value !== undefined && !isId(user.value)) {
    throw new ConfigError(
      `${user.from} ${q(user.value)} is not a loomcycle user id: it may hold letters, digits, _ and - (1 … 128 characters)`,
    );
  }
  if (typeof f["user-id"] === "string") flags.userId = user.value!;

  const level = pick("log-level", "LOOMCYCLE_MCP_LOG_LEVEL", "info");
  const parsedLevel = z.enum(LOG_LEVELS).safeParse(level.value!.toLowerCase());
  if (!parsedLevel.success) {
    const guess = didYouMean(level.value!, LOG_LEVELS);
    throw new ConfigError(
      `${level.from} ${q(level.value!)} is not a log level${guess ? ` (did you mean ${q(guess)}?)` : ""}: use one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  if (typeof f["log-level"] === "string") flags.logLevel = parsedLevel.data;

  // The token: a token file (flag, then env) wins over LOOMCYCLE_AUTH_TOKEN; a named file
  // that is missing, unreadable or empty is a mistake, never a silent "no token".
  const file = pick("token-file", "LOOMCYCLE_AUTH_TOKEN_FILE");
  let token: string | undefined;
  let tokenSource: string | undefined;
  if (file.value !== undefined) {
    token = readTokenFile(file.value, file.from);
    tokenSource = file.from.startsWith("--") ? `${file.from} ${file.value}` : `${file.from} (${file.value})`;
    if (typeof f["token-file"] === "string") flags.tokenFile = file.value;
  } else if (env.LOOMCYCLE_AUTH_TOKEN !== undefined && env.LOOMCYCLE_AUTH_TOKEN.trim() !== "") {
    token = env.LOOMCYCLE_AUTH_TOKEN.trim();
    tokenSource = "LOOMCYCLE_AUTH_TOKEN";
    // It goes into an HTTP header: spaces, line breaks or control characters cannot.
    if (!headerSafe(token))
      throw new ConfigError("LOOMCYCLE_AUTH_TOKEN holds spaces, line breaks or control characters: it must hold the token alone");
  }
  const questionsRaw = (env.LOOMCYCLE_MCP_QUESTIONS ?? "").trim();
  const questions = questionsRaw === "" ? "host" : questionsRaw.toLowerCase();
  if (questions !== "host" && questions !== "human") {
    const guess = didYouMean(questionsRaw, QUESTIONS);
    throw new ConfigError(
      `LOOMCYCLE_MCP_QUESTIONS ${q(questionsRaw)} is not host or human${guess ? ` (did you mean ${q(guess)}?)` : ""}: host lets the host's model answer agents' questions, human puts them to the person`,
    );
  }

  const releaseRaw = (env.LOOMCYCLE_MCP_PARK_RELEASE_MS ?? "").trim();
  if (releaseRaw !== "" && !/^\d{1,10}$/.test(releaseRaw)) {
    throw new ConfigError(
      `LOOMCYCLE_MCP_PARK_RELEASE_MS ${q(releaseRaw)} is not a whole number of milliseconds: e.g. 120000 (the default), or 0 to never release a parked run's stream`,
    );
  }
  const parkReleaseMs = releaseRaw === "" ? DEFAULT_TIMINGS.parkReleaseMs : Number(releaseRaw);

  if (f.sandbox !== undefined) flags.sandbox = sandbox;

  const cfg: BridgeConfig = {
    command,
    baseUrl,
    token,
    userId: sandbox ? SANDBOX_USER_ID : user.value,
    logLevel: parsedLevel.data,
    sandbox,
    questions,
    parkReleaseMs,
    flags,
  };
  if (tokenSource) cfg.tokenSource = tokenSource;
  if (file.value !== undefined) cfg.tokenFile = file.value;
  if (arg !== undefined) cfg.arg = arg;
  return cfg;
}
