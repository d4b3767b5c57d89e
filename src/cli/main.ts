#!/usr/bin/env node
// The bin: argv and the environment to src/cli/run.ts, its exit code to the process.
// Nothing else happens here (run.ts parses and runs the command; serve.ts serves MCP).
import { runCli } from "./run.js";

runCli(process.argv.slice(2), process.env).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`loomcycle-mcp-bridge: fatal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
