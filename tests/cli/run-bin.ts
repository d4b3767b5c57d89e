// Run a CLI command the way the bin does: in process through runCli (src/cli/run.ts) with
// sinks for its lines, or, for the one smoke test each command keeps, by spawning the
// built binary (dist/cli/main.js) without blocking the event loop (the simulator the
// command talks to runs in this process).
import { fileURLToPath } from "node:url";
import { runCli } from "../../src/cli/run.js";
import { runProcess, type ProcessResult } from "../helpers.js";

export const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export type BinResult = ProcessResult;

/** Runs `node dist/cli/main.js …args` with only PATH and `env` in its environment. */
export function runBin(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<BinResult> {
  return runProcess(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, timeoutMs });
}

export interface CliResult {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Runs `loomcycle-mcp-bridge …args` in this process, as the bin would with only PATH and
 * `env` in its environment: what it prints to stdout and stderr, and its exit code. The
 * bridge's script it names or starts (config, demo) is the built bin, as when spawned.
 */
export async function runCommand(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(
    args,
    { PATH: process.env.PATH ?? "", ...env },
    {
      io: { out: (line) => void (stdout += `${line}\n`), err: (line) => void (stderr += `${line}\n`) },
      bin: BIN,
    },
  );
  return { code, stdout, stderr };
}
