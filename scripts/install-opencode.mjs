// Installs the OpenCode CLI (a real MCP host) for tests/hosts into .cache/opencode.
// It is kept out of package.json/package-lock.json on purpose: opencode-ai lists a
// binary package per platform as optional dependencies, and a lockfile written on one
// platform (or against a registry mirror that lacks some of them) makes `npm ci` fail
// everywhere. Installed separately, npm simply picks this platform's binary.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const OPENCODE_VERSION = "1.18.33";
const prefix = join(process.cwd(), ".cache", "opencode");
const pkg = join(prefix, "node_modules", "opencode-ai", "package.json");
if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).version === OPENCODE_VERSION) {
  process.stderr.write(`opencode-ai ${OPENCODE_VERSION} already in ${prefix}\n`);
} else {
  mkdirSync(prefix, { recursive: true });
  process.stderr.write(`installing opencode-ai ${OPENCODE_VERSION} into ${prefix}\n`);
  execFileSync(
    "npm",
    [
      "install",
      "--prefix",
      prefix,
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      `opencode-ai@${OPENCODE_VERSION}`,
    ],
    { stdio: ["ignore", 2, 2] },
  );
}
