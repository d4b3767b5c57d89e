// `loomcycle-mcp-bridge state [list | prune [BASE_URL…]]`: the state files that keep read
// positions across restarts (src/bridge/runs/state-file.ts), one per base URL and user.
// Each base URL gets its own, so a simulator on a random port would leave one behind per
// run of it: `sim` removes the files of its own runs when it stops (forgetRuns), and this
// command lists the rest and removes the stale ones, or those of the base URLs named.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { BridgeConfig } from "../config.js";
import { MAX_AGE_MS, readStateSummary, stateDir } from "../bridge/runs/state-file.js";
import { printLine } from "./terminal.js";

export interface StateEntry {
  file: string;
  path: string;
  baseUrl?: string;
  userId?: string;
  runs: string[];
  lastUsed?: number;
  /** Why the bridge has no use for it any more. */
  stale?: string;
}

/** The files in the state directory (none when it does not exist), oldest use first. */
export function listState(dir: string, now = Date.now()): StateEntry[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const out: StateEntry[] = [];
  for (const file of files) {
    const path = join(dir, file);
    if (file.endsWith(".tmp")) {
      out.push({ file, path, runs: [], stale: "an unfinished write" });
      continue;
    }
    if (!file.endsWith(".json")) continue;
    const s = readStateSummary(path);
    if (!s) {
      out.push({ file, path, runs: [], stale: "unreadable (the bridge starts afresh from it)" });
      continue;
    }
    const e: StateEntry = { file, path, baseUrl: s.baseUrl, userId: s.userId, runs: s.runs };
    if (s.lastUsed !== undefined) e.lastUsed = s.lastUsed;
    if (s.runs.length === 0) e.stale = "no runs";
    else if (s.lastUsed === undefined || now - s.lastUsed > MAX_AGE_MS) e.stale = "nothing used for 14 days";
    out.push(e);
  }
  return out.sort((a, b) => (a.lastUsed ?? 0) - (b.lastUsed ?? 0));
}

/**
 * Remove the state files whose runs are all runs `isOurs` knows (a simulator's, when it
 * stops: its runs are gone with it). A file that also holds another run is left alone.
 */
export function forgetRuns(dir: string, isOurs: (runId: string) => boolean): string[] {
  const removed: string[] = [];
  for (const e of listState(dir)) {
    if (e.runs.length === 0 || !e.runs.every(isOurs)) continue;
    try {
      rmSync(e.path, { force: true });
      removed.push(e.path);
    } catch {
      // left for `state prune`
    }
  }
  return removed;
}

function when(t: number | undefined): string {
  return t === undefined ? "never" : new Date(t).toISOString().replace(/\.\d+Z$/, "Z");
}

export function runState(cfg: BridgeConfig, env: NodeJS.ProcessEnv, print: (line: string) => void = printLine): number {
  const dir = stateDir(env);
  const entries = listState(dir);
  if (cfg.arg !== "prune") {
    if (entries.length === 0) {
      print(`no state files in ${dir}`);
      return 0;
    }
    print(`state files in ${dir}:`);
    const width = Math.max(...entries.map((e) => (e.baseUrl ?? "?").length));
    for (const e of entries) {
      const runs = `${e.runs.length} run${e.runs.length === 1 ? "" : "s"}`;
      print(
        `  ${(e.baseUrl ?? "?").padEnd(width)}  user ${JSON.stringify(e.userId ?? "")}  ${runs}  last used ${when(e.lastUsed)}  ${e.file}${e.stale ? `  (stale: ${e.stale})` : ""}`,
      );
    }
    const stale = entries.filter((e) => e.stale).length;
    if (stale > 0) print(`${stale} stale: \`loomcycle-mcp-bridge state prune\` removes them`);
    return 0;
  }
  const targets = cfg.targets ?? [];
  const doomed =
    targets.length > 0
      ? entries.filter((e) => e.baseUrl !== undefined && targets.includes(e.baseUrl))
      : entries.filter((e) => e.stale);
  let failed = 0;
  for (const e of doomed) {
    try {
      rmSync(e.path, { force: true });
      print(`removed ${e.file} (${e.baseUrl ?? "?"}: ${e.stale ?? "named"})`);
    } catch (err) {
      failed += 1;
      print(`could not remove ${e.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  for (const t of targets) if (!entries.some((e) => e.baseUrl === t)) print(`no state file for ${t}`);
  if (doomed.length === 0 && targets.length === 0) print(`nothing to prune in ${dir}`);
  return failed > 0 ? 1 : 0;
}
