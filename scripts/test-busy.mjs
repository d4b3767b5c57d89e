#!/usr/bin/env node
// `npm run test:busy`: the default suite (vitest.config.ts) three times in a row while two
// busy processes hold both cores of the machine, to show that no test depends on the
// machine being idle. A test that fails only on a busy machine blocks a landing for nothing:
// the bar is 0 failures. Reports each run's failures and vitest's time under that load, and
// writes the figures into docs/reliability.md between the test:busy markers (the fault
// suite's reporter keeps that block when it rewrites the file). The busy processes are
// killed at the end, whatever happens. Exit code 0 only when every run passed.
//
//   npm run test:busy                      (builds first, as npm test does)
//   TEST_BUSY_RUNS=5 TEST_BUSY_HOGS=3 node scripts/test-busy.mjs   (other counts; not recorded)
//   TEST_BUSY_NO_REPORT=1 …               (leave docs/reliability.md alone)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = Number(process.env.TEST_BUSY_RUNS ?? 3);
const HOGS = Number(process.env.TEST_BUSY_HOGS ?? 2);
const REPORT = join(ROOT, "docs", "reliability.md");
// tests/faults/reliability-reporter.ts keeps what lies between these (from "<!-- test:busy").
const BEGIN = "<!-- test:busy: written by `npm run test:busy` (scripts/test-busy.mjs); the fault suite's report keeps it -->";
const END = "<!-- /test:busy -->";

/** Two (HOGS) processes that spin for ever: each holds one core. */
function startHogs() {
  return Array.from({ length: HOGS }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
}

let hogs = [];
function killHogs() {
  for (const h of hogs) if (h.exitCode === null && h.signalCode === null) h.kill("SIGKILL");
  hogs = [];
}

/** One run of the default suite; its output goes through to ours. */
function runSuite(n, out) {
  return new Promise((resolvePromise) => {
    const json = join(out, `run-${n}.json`);
    const vitest = join(ROOT, "node_modules", "vitest", "vitest.mjs");
    const child = spawn(process.execPath, [vitest, "run", "--reporter=default", "--reporter=json", `--outputFile.json=${json}`], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    let text = "";
    child.stdout.on("data", (d) => {
      text += d.toString("utf8");
      process.stdout.write(d);
    });
    child.on("close", (code) => {
      text = stripVTControlCharacters(text); // in case colours came anyway
      const failed = [];
      const failedFiles = [];
      let total = 0;
      if (existsSync(json)) {
        const r = JSON.parse(readFileSync(json, "utf8"));
        total = r.numTotalTests;
        for (const file of r.testResults) {
          const name = file.name.replace(`${ROOT}/`, "");
          if (file.status === "failed" && file.assertionResults.every((a) => a.status !== "failed"))
            failedFiles.push(`${name}: ${String(file.message).split("\n")[0]}`);
          for (const a of file.assertionResults)
            if (a.status === "failed")
              failed.push(`${name} > ${a.fullName}: ${String(a.failureMessages?.[0] ?? "").split("\n")[0]}`);
        }
      } else failedFiles.push(`no report from vitest (exit code ${code})`);
      // Every test passed, yet vitest failed (an unhandled error, a fork that died): a failure too.
      if (code !== 0 && failed.length === 0 && failedFiles.length === 0)
        failedFiles.push(
          `vitest exited with code ${code}: ${/Unhandled \w+[^\n]*\n[^\n]*\n?([^\n]*)/.exec(text)?.[1]?.trim() ?? "see its output"}`,
        );
      const m = /Duration\s+([\d.]+)s/.exec(text);
      resolvePromise({ n, code, total, failed, failedFiles, seconds: m ? Number(m[1]) : Number.NaN });
    });
  });
}

function median(xs) {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)];
}

function block(results, loadBefore) {
  const cpu = cpus();
  const failures = results.reduce((k, r) => k + r.failed.length + r.failedFiles.length, 0);
  const lines = [
    BEGIN,
    "## Calm under load (`npm run test:busy`)",
    "",
    `The default suite (\`npm test\`'s vitest run) ${results.length} times in a row while ${HOGS} busy processes (\`node -e "for (;;) {}"\`) held ` +
      `the machine's cores: ${new Date().toISOString()}, Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${process.platform}; ` +
      `load average ${loadBefore.toFixed(1)} before the busy processes started (other work on the machine adds to theirs).`,
    "",
    `**${failures === 0 ? "0 failures" : `${failures} FAILED`} in ${results.length} runs** (the bar: 0). Vitest's time under that load: ` +
      `${results.map((r) => `${r.seconds.toFixed(1)} s`).join(", ")} (median ${median(results.map((r) => r.seconds)).toFixed(1)} s).`,
    "",
    "| run | tests | failed | vitest time under load |",
    "|---|---|---|---|",
    ...results.map((r) => `| ${r.n} | ${r.total} | ${r.failed.length + r.failedFiles.length} | ${r.seconds.toFixed(1)} s |`),
    "",
    ...results.flatMap((r) => [...r.failed, ...r.failedFiles].map((f) => `- run ${r.n}: ${f.replace(/\|/g, "\\|")}`)),
    END,
  ];
  return lines.join("\n");
}

/** docs/reliability.md with the block replaced (or appended). */
function withBlock(text, blockText) {
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) return text.slice(0, a) + blockText + text.slice(b + END.length);
  return `${text.replace(/\n*$/, "")}\n\n${blockText}\n`;
}

async function main() {
  if (!existsSync(join(ROOT, "dist", "cli", "main.js"))) {
    process.stderr.write("test:busy: dist/cli/main.js is missing: run npm run build first (npm run test:busy does)\n");
    process.exit(2);
  }
  // Whatever ends this script ends the hogs too: a normal exit, an error, Ctrl-C, a kill.
  process.on("exit", killHogs);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"])
    process.on(sig, () => {
      killHogs();
      process.exit(130);
    });
  const out = mkdtempSync(join(tmpdir(), "lcb-test-busy-"));
  const results = [];
  const loadBefore = loadavg()[0];
  try {
    hogs = startHogs();
    process.stderr.write(`test:busy: ${HOGS} busy processes (pids ${hogs.map((h) => h.pid).join(", ")}) hold the cores\n`);
    for (let n = 1; n <= RUNS; n++) {
      process.stderr.write(`\ntest:busy: run ${n} of ${RUNS}\n`);
      results.push(await runSuite(n, out));
    }
  } finally {
    killHogs();
    rmSync(out, { recursive: true, force: true });
  }
  process.stderr.write("\ntest:busy: results\n");
  for (const r of results) {
    const bad = [...r.failed, ...r.failedFiles];
    process.stderr.write(`  run ${r.n}: ${r.total} tests, ${bad.length} failed, vitest ${r.seconds.toFixed(1)} s under load\n`);
    for (const f of bad) process.stderr.write(`    ✗ ${f}\n`);
  }
  const failures = results.reduce((k, r) => k + r.failed.length + r.failedFiles.length, 0);
  const recorded = RUNS === 3 && HOGS === 2 && !process.env.TEST_BUSY_NO_REPORT;
  if (recorded) {
    writeFileSync(REPORT, withBlock(existsSync(REPORT) ? readFileSync(REPORT, "utf8") : "", block(results, loadBefore)));
    process.stderr.write(`test:busy: figures written to ${REPORT}\n`);
  }
  process.stderr.write(`test:busy: ${failures === 0 ? "0 failures" : `${failures} failures`} in ${results.length} runs\n`);
  process.exitCode = failures === 0 && results.every((r) => r.code === 0) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
