// Spawn the built binary (dist/cli/main.js) for a one-shot CLI command, without
// blocking the event loop (the simulator the command talks to runs in this process).
import { fileURLToPath } from "node:url";
import { runProcess, type ProcessResult } from "../helpers.js";

export const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export type BinResult = ProcessResult;

/** Runs `node dist/cli/main.js …args` with only PATH and `env` in its environment. */
export function runBin(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<BinResult> {
  return runProcess(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, timeoutMs });
}
