// Installs the MCP Inspector CLI (a real MCP host) for tests/hosts into .cache/inspector,
// exactly as scripts/inspector/package-lock.json pins it (npm ci).
// It is kept out of the project's package.json on purpose: every Inspector whose CLI has
// what tests/hosts/inspector.test.ts uses (--format json, --tool-args-json, --strict)
// needs Node >= 22.7.5, and 2.x (with its commander 15 and undici 8) >= 22.19, so as a
// devDependency it made `npm ci` warn EBADENGINE on Node 20, which the bridge supports.
// `npm run test:hosts` therefore needs Node >= 22.19 (.ci/run runs it on Node 24).
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "inspector");
const want = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `the MCP Inspector CLI that tests/hosts uses needs Node ${want.engines.node}, and this is ${process.version}: run npm run test:hosts with Node 22.19+ or 24\n`,
  );
  process.exit(1);
}
const version = want.dependencies["@modelcontextprotocol/inspector"];
const prefix = join(process.cwd(), ".cache", "inspector");
const pkg = join(prefix, "node_modules", "@modelcontextprotocol", "inspector", "package.json");
const sameLock =
  existsSync(join(prefix, "package-lock.json")) &&
  readFileSync(join(prefix, "package-lock.json"), "utf8") === readFileSync(join(here, "package-lock.json"), "utf8");
if (sameLock && existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).version === version) {
  process.stderr.write(`@modelcontextprotocol/inspector ${version} already in ${prefix}\n`);
} else {
  mkdirSync(prefix, { recursive: true });
  for (const f of ["package.json", "package-lock.json"]) copyFileSync(join(here, f), join(prefix, f));
  process.stderr.write(`installing @modelcontextprotocol/inspector ${version} into ${prefix}\n`);
  execFileSync("npm", ["ci", "--prefix", prefix, "--no-audit", "--no-fund"], { stdio: ["ignore", 2, 2] });
}
