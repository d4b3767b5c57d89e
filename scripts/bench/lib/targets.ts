// What the benchmarks spawn: the bridge exactly as users run it (package.json `bin`),
// and the baseline bare SDK echo server, compiled by the bench from
// fixtures/echo-server.ts into node_modules/.cache (so its imports resolve the same
// node_modules as the bridge).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export function bridgeBin(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin?: Record<string, string> | string };
  const rel = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.["loomcycle-mcp-bridge"];
  if (!rel) throw new Error("package.json has no bin for loomcycle-mcp-bridge");
  const abs = join(ROOT, rel);
  if (!existsSync(abs)) throw new Error(`${rel} does not exist: run \`npm run build\` first`);
  return abs;
}

let echoPath: string | undefined;

/** Compile the baseline echo server (once per process) and return its path. */
export async function echoServer(): Promise<string> {
  if (echoPath) return echoPath;
  const outDir = join(ROOT, "node_modules", ".cache", "loomcycle-bench");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, "echo-server.mjs");
  await build({
    entryPoints: [join(ROOT, "scripts/bench/fixtures/echo-server.ts")],
    outfile: out,
    bundle: false,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
  });
  echoPath = out;
  return out;
}

/** A scratch directory for one bench run (state files, HOME); removed by `cleanup()`. */
export const scratch = mkdtempSync(join(tmpdir(), "loomcycle-bench-"));
export function cleanup(): void {
  rmSync(scratch, { recursive: true, force: true });
}

/** The environment every spawned server gets: nothing inherited but PATH, an isolated
 * HOME/XDG_STATE_HOME (so no read-position state leaks between runs), plus `extra`. */
export function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(scratch, "home-"));
  return { PATH: process.env.PATH ?? "", HOME: dir, XDG_STATE_HOME: dir, ...extra };
}
