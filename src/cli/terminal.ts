// The one place allowed to write to stdout. Only the human-facing CLI commands
// (--help, --version, doctor, config, demo, the standalone simulator) use it; the
// MCP server itself never does, because stdout is its JSON-RPC channel.
export function printLine(line = ""): void {
  process.stdout.write(line + "\n");
}

/** Call `fn` when stdout breaks (the host went away): the server should stop. */
export function onStdoutClosed(fn: () => void): void {
  process.stdout.on("error", fn);
}
