// One logger, on stderr (fd 2): stdout is the MCP JSON-RPC channel. The bearer token
// is scrubbed from every line, wherever it appears (message, error, nested field),
// not only from the fields we thought of.
import pino from "pino";

export type Logger = pino.Logger;
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface LoggerOptions {
  level?: LogLevel;
  /** Secrets to scrub from every log line (the bearer token). */
  secrets?: readonly string[];
  /** Where lines go; defaults to stderr. Tests pass a stream to capture lines. */
  destination?: pino.DestinationStream;
}

/** What is scrubbed from every line the bridge writes or returns: the bearer token (too short a value is not scrubbed, or it would mangle ordinary text). */
export function secretsOf(token: string | undefined): string[] {
  return token && token.length >= 4 ? [token] : [];
}

export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length >= 4) out = out.split(s).join("[REDACTED]");
  }
  return out;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = (opts.secrets ?? []).filter((s) => s.length >= 4);
  const dest = opts.destination ?? pino.destination({ fd: 2, sync: true });
  const scrubbing: pino.DestinationStream =
    secrets.length === 0 ? dest : { write: (line: string) => dest.write(redactSecrets(line, secrets)) };
  return pino(
    {
      level: opts.level ?? "info",
      base: { name: "loomcycle-mcp-bridge" },
      redact: { paths: ["authorization", "headers.authorization", "*.authorization", "token", "*.token"], censor: "[REDACTED]" },
    },
    scrubbing,
  );
}

let silent: Logger | undefined;

/** A logger that drops everything (tests, library use). One shared instance: building
 * a pino logger costs about a millisecond, and readers of every stream ask for one. */
export function silentLogger(): Logger {
  silent ??= pino({ level: "silent" });
  return silent;
}
