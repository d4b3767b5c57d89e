// Config is a pure function of argv and env (SPEC §5): flags override env of the same
// meaning; anything invalid is reported as one clear line (the CLI prints it and exits 2).
import { readFileSync } from "node:fs";
import { z } from "zod";

export type Command = "serve" | "help" | "version" | "doctor" | "config" | "demo";

export interface BridgeConfig {
  command: Command;
  /** Extra positional argument (e.g. the host for `config`). */
  arg?: string;
  baseUrl: string;
  token: string | undefined;
  userId: string | undefined;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  sandbox: boolean;
  /** LOOMCYCLE_MCP_PARK_RELEASE_MS: a parked run nobody needs releases its upstream stream after this long (0: never). */
  parkReleaseMs: number;
}

export class ConfigError extends Error {}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const Schema = z.object({
  baseUrl: z
    .string()
    .refine((s) => {
      try {
        const u = new URL(s);
        return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
      } catch {
        return false;
      }
    }, "LOOMCYCLE_BASE_URL must be an http:// or https:// URL, e.g. http://127.0.0.1:8787"),
  userId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/, "LOOMCYCLE_USER_ID must match [A-Za-z0-9_-]{1,128}")
    .optional(),
  logLevel: z.enum(LOG_LEVELS, { error: `LOOMCYCLE_MCP_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}` }),
  parkReleaseMs: z
    .string()
    .regex(/^\d{1,10}$/, "LOOMCYCLE_MCP_PARK_RELEASE_MS must be a whole number of milliseconds (0 = never release), e.g. 120000")
    .transform(Number),
});

const FLAG_TO_KEY: Record<string, "baseUrl" | "token" | "tokenFile" | "userId" | "logLevel"> = {
  "--base-url": "baseUrl",
  "--token-file": "tokenFile",
  "--user-id": "userId",
  "--log-level": "logLevel",
};

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): BridgeConfig {
  let command: Command = "serve";
  let arg: string | undefined;
  let sandbox = false;
  const flags: Partial<Record<"baseUrl" | "token" | "tokenFile" | "userId" | "logLevel", string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") command = "help";
    else if (a === "--version" || a === "-v") command = "version";
    else if (a === "--sandbox") sandbox = true;
    else if (a.startsWith("--")) {
      const [name, inline] = a.split("=", 2) as [string, string | undefined];
      const key = FLAG_TO_KEY[name];
      if (!key) throw new ConfigError(`unknown option ${name} (see --help)`);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new ConfigError(`option ${name} needs a value`);
      flags[key] = value;
    } else if (command === "serve" && ["doctor", "config", "demo"].includes(a)) command = a as Command;
    else if ((command === "config") && arg === undefined) arg = a;
    else if (command !== "help" && command !== "version") throw new ConfigError(`unexpected argument ${JSON.stringify(a)} (see --help)`);
  }
  const tokenFile = flags.tokenFile ?? env.LOOMCYCLE_AUTH_TOKEN_FILE;
  let token = env.LOOMCYCLE_AUTH_TOKEN?.trim() || undefined;
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, "utf8").trim() || undefined;
    } catch (err) {
      throw new ConfigError(`cannot read LOOMCYCLE_AUTH_TOKEN_FILE ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }
  const raw = {
    baseUrl: (flags.baseUrl ?? env.LOOMCYCLE_BASE_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, ""),
    userId: flags.userId ?? (env.LOOMCYCLE_USER_ID || undefined),
    logLevel: flags.logLevel ?? env.LOOMCYCLE_MCP_LOG_LEVEL ?? "info",
    parkReleaseMs: env.LOOMCYCLE_MCP_PARK_RELEASE_MS?.trim() || "120000",
  };
  const parsed = Schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ConfigError(first ? `${first.message} (got ${JSON.stringify(String((raw as Record<string, unknown>)[String(first.path[0])]))})` : "invalid configuration");
  }
  const cfg: BridgeConfig = {
    command,
    baseUrl: parsed.data.baseUrl,
    token,
    userId: parsed.data.userId,
    logLevel: parsed.data.logLevel,
    sandbox,
    parkReleaseMs: parsed.data.parkReleaseMs,
  };
  if (arg !== undefined) cfg.arg = arg;
  return cfg;
}
