// `npm run bench`: measure every figure against its baseline (same process tree, same
// minute, alternated, median of ≥ 5 runs) and write docs/benchmarks.md.
//
//   node --import tsx scripts/bench/run.ts [--runs N] [--only key,key] [--out FILE] [--no-write]
//
// Keys: cold_start, round_trip, wake_latency, rss, ingest, context_cost, tool_context, upstream_cost, reattach_latency, rss_followed, app_size.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem, type as osType, release } from "node:os";
import { join } from "node:path";
import { appSizeFigure } from "./app-size.js";
import { coldStartFigure } from "./cold-start.js";
import { contextCostFigure } from "./context-cost.js";
import { ingestFigure } from "./ingest.js";
import { toolContextFigure } from "./tool-context.js";
import { cleanup, ROOT } from "./lib/targets.js";
import type { BenchContext, Figure, FigureResult } from "./lib/types.js";
import { roundTripFigure } from "./round-trip.js";
import { rssFigure, rssFollowedFigure } from "./rss.js";
import { reattachLatencyFigure, upstreamCostFigure } from "./upstream.js";
import { wakeLatencyFigure } from "./wake-latency.js";

const FIGURES: Figure[] = [
  coldStartFigure,
  roundTripFigure,
  wakeLatencyFigure,
  rssFigure,
  rssFollowedFigure,
  ingestFigure,
  contextCostFigure,
  toolContextFigure,
  upstreamCostFigure,
  reattachLatencyFigure,
  appSizeFigure,
];

function args(argv: string[]): { runs: number; only?: Set<string>; out: string; write: boolean } {
  let runs = 5;
  let only: Set<string> | undefined;
  let out = join(ROOT, "docs", "benchmarks.md");
  let write = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a.startsWith("--runs")) runs = Number(val());
    else if (a.startsWith("--only")) only = new Set(val().split(","));
    else if (a.startsWith("--out")) out = val();
    else if (a === "--no-write") write = false;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer");
  return { runs, ...(only ? { only } : {}), out, write };
}

/** Heading of the section scripts/bench/live.ts's figures go in (kept across `npm run bench`). */
const LIVE_SECTION = "## Against a real loomcycle";

function machine(): string[] {
  const cpu = cpus();
  return [
    `- machine: ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${osType()} ${release()}`,
    `- Node ${process.version}`,
    `- date: ${new Date().toISOString().replace(/\.\d+Z$/, "Z")}`,
  ];
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function markdown(results: FigureResult[], runs: number, seconds: number): string {
  const lines: string[] = [];
  lines.push("# Benchmarks");
  lines.push("");
  lines.push("Written by `npm run bench` (scripts/bench/); do not edit by hand. Every ratio compares the bridge with a baseline");
  lines.push("measured in the same process tree within the same minute, the two alternated, and reports the median over");
  lines.push(
    `${runs} runs (the machine is shared and noisy). The bridge is always spawned as users run it: \`node <bin>\` with the`,
  );
  lines.push("`bin` of package.json. No figure uses inputs shaped for the benchmark: the frames are the simulator's wire bytes.");
  lines.push("");
  lines.push(...machine());
  lines.push(`- one full run: ${Math.round(seconds)} s`);
  lines.push("");
  lines.push("| figure | baseline | measured | ratio / value | goal | result |");
  lines.push("|---|---|---|---|---|---|");
  for (const r of results) {
    lines.push(
      `| ${cell(r.figure)} | ${cell(r.baseline)} | ${cell(r.measured)} | ${cell(r.ratio)} | ${cell(r.goal)} | ${r.pass ? "pass" : "**miss**"} |`,
    );
  }
  lines.push("");
  lines.push("## What limits each figure");
  lines.push("");
  for (const r of results) {
    lines.push(`### ${r.figure.replace(/`/g, "")}`);
    lines.push("");
    lines.push(`${r.pass ? "Meets its goal" : "**Misses its goal**"} (${r.ratio}; goal ${r.goal}). ${r.limits}`);
    lines.push("");
    for (const d of r.details) lines.push(`- ${d}`);
    lines.push("");
  }
  lines.push("## Running it");
  lines.push("");
  lines.push("```sh");
  lines.push("npm run bench                      # builds, runs every figure, rewrites this file");
  lines.push("npm run bench -- --only rss,ingest --no-write");
  lines.push("```");
  lines.push("");
  return lines.join("\n");
}

async function main(): Promise<void> {
  const opts = args(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(line + "\n");
  const ctx: BenchContext = { runs: opts.runs, log };
  const results: FigureResult[] = [];
  const t0 = performance.now();
  try {
    for (const f of FIGURES) {
      if (opts.only && !opts.only.has(f.key)) continue;
      log(`${f.title} …`);
      const t = performance.now();
      const r = await f.measure(ctx);
      results.push(r);
      log(
        `  → ${r.measured}: ${r.ratio} (goal ${r.goal}) ${r.pass ? "pass" : "MISS"} [${((performance.now() - t) / 1000).toFixed(1)} s]`,
      );
    }
  } finally {
    cleanup();
  }
  const seconds = (performance.now() - t0) / 1000;
  let md = markdown(results, opts.runs, seconds);
  // The figures measured against a real loomcycle (scripts/bench/live.ts) are not re-measured here: keep them.
  const prev = existsSync(opts.out) ? readFileSync(opts.out, "utf8") : "";
  const live = prev.indexOf(LIVE_SECTION);
  if (live >= 0) md += "\n" + prev.slice(live);
  if (opts.write) {
    writeFileSync(opts.out, md);
    log(`wrote ${opts.out}`);
  } else {
    process.stdout.write(md);
  }
  const table = results.map((r) => `${r.pass ? "pass" : "MISS"}  ${r.key.padEnd(13)} ${r.ratio.padEnd(28)} goal ${r.goal}`);
  log(["", ...table].join("\n"));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
