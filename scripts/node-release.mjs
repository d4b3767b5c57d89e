// Prints the bin directory of a Node release from the npm registry, installing it into
// .cache/node/<version> first when it is not there: the node-<platform>-<arch> package,
// which holds the release's own binary (the `node` package is a wrapper whose preinstall
// script installs that same package). When the running Node is that release, its own
// directory. .ci/run uses it for each version in .ci/node-versions; by hand:
//   PATH="$(node scripts/node-release.mjs 22.23.3):$PATH" npm test
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

const version = process.argv[2];
if (!/^\d+\.\d+\.\d+$/.test(version ?? "")) {
  process.stderr.write(`usage: node scripts/node-release.mjs <version>, e.g. 22.23.3 (got ${version ?? "nothing"})\n`);
  process.exit(2);
}
if (process.versions.node === version) {
  process.stdout.write(`${dirname(process.execPath)}\n`);
  process.exit(0);
}
const pkg = `node-${process.platform}-${process.arch}`;
const prefix = join(process.cwd(), ".cache", "node", version);
const bin = join(prefix, "node_modules", pkg, "bin");
if (!existsSync(join(bin, process.platform === "win32" ? "node.exe" : "node"))) {
  mkdirSync(prefix, { recursive: true });
  process.stderr.write(`installing Node ${version} (${pkg}) into ${prefix}\n`);
  execFileSync(
    "npm",
    ["install", "--prefix", prefix, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", `${pkg}@${version}`],
    { stdio: ["ignore", 2, 2] },
  );
}
const got = execFileSync(join(bin, "node"), ["--version"], { encoding: "utf8" }).trim();
if (got !== `v${version}`) {
  process.stderr.write(`${bin}/node says ${got}, not v${version}\n`);
  process.exit(1);
}
process.stdout.write(`${bin}\n`);
