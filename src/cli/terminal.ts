// The one place allowed to touch stdout. Only the human-facing CLI commands (--help,
// --version, doctor, config, demo, the standalone simulator) print with it; the MCP
// server hands stdout to its transport (src/cli/stdio.ts), which writes JSON-RPC and
// nothing else, because stdout is its channel.
import type { Writable } from "node:stream";

/**
 * Where a human-facing command's lines go: `out` is its output (stdout: what a script or
 * a redirect takes), `err` what is said to the person beside it (stderr: mistakes,
 * notes). The bin gives the process's own (`terminal`); tests give sinks and run each
 * command in process, as the bin would (src/cli/run.ts).
 */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

let piped = false;

export function printLine(line = ""): void {
  if (!piped) {
    piped = true;
    // A reader that stops early (`doctor | head`) closes the pipe: stop quietly, as Unix
    // tools do, rather than with an unhandled EPIPE and a stack trace.
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  process.stdout.write(line + "\n");
}

/** The process's stdout and stderr, one line at a time. */
export const terminal: CliIo = {
  out: printLine,
  err: (line) => void process.stderr.write(line + "\n"),
};

/** stdout as a stream, for the MCP transport only. */
export function mcpChannel(): Writable {
  return process.stdout;
}
