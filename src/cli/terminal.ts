// The one place allowed to touch stdout. Only the human-facing CLI commands (--help,
// --version, doctor, config, demo, the standalone simulator) print with it; the MCP
// server hands stdout to its transport (src/cli/stdio.ts), which writes JSON-RPC and
// nothing else, because stdout is its channel.
import type { Writable } from "node:stream";

export function printLine(line = ""): void {
  process.stdout.write(line + "\n");
}

/** stdout as a stream, for the MCP transport only. */
export function mcpChannel(): Writable {
  return process.stdout;
}
