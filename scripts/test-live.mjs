// `npm run test:live`: the live tier against a real loomcycle, or one line saying why it
// was skipped (exit 0) when LOOMCYCLE_LIVE_URL / LOOMCYCLE_LIVE_TOKEN are not set.
import { spawnSync } from "node:child_process";

const missing = ["LOOMCYCLE_LIVE_URL", "LOOMCYCLE_LIVE_TOKEN"].filter((k) => !process.env[k]?.trim());
if (missing.length > 0) {
  process.stdout.write(`live tier skipped: ${missing.join(" and ")} not set (see tests/live/README.md)\n`);
  process.exit(0);
}
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const build = spawnSync(npm, ["run", "build"], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(
  process.execPath,
  ["node_modules/vitest/vitest.mjs", "run", "-c", "vitest.live.config.ts", ...process.argv.slice(2)],
  { stdio: "inherit" },
);
process.exit(run.status ?? 1);
