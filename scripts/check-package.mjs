// The published package, checked as a user gets it (issue 11): `npm pack` builds first
// (prepack), the tarball installs into an empty prefix with nothing else, the installed
// footprint is the bundle's (at most 3 MB), and the installed command answers --version,
// serves MCP over stdio (--sandbox) and runs `demo` without writing to HOME.
// Run: npm run check:package (CI runs it on a fresh clone).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MAX_BYTES = 3 * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), "lcb-package-"));
const prefix = join(work, "prefix");
const home = join(work, "home"); // HOME for the installed command: must stay empty
mkdirSync(home);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
let failed = 0;

function check(ok, what) {
  process.stdout.write(`${ok ? "ok  " : "FAIL"} ${what}\n`);
  if (!ok) failed += 1;
}

function size(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, f) => n + size(join(path, f)), 0);
}

try {
  const packed = JSON.parse(
    execFileSync(npm, ["pack", "--json", "--pack-destination", work], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  const tarball = join(work, packed[0].filename);
  const files = packed[0].files.map((f) => f.path);
  check(
    files.includes("dist/cli/main.js"),
    `npm pack built the bin (${files.length} files, ${Math.round(packed[0].unpackedSize / 1024)} KiB unpacked)`,
  );

  execFileSync(npm, ["install", "-g", "--prefix", prefix, tarball, "--no-audit", "--no-fund"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const installed = join(prefix, "lib", "node_modules");
  const pkgs = readdirSync(installed);
  check(pkgs.length === 1 && pkgs[0] === "loomcycle-mcp-bridge", `installs one package, nothing else (${pkgs.join(", ")})`);
  const bytes = size(join(installed, "loomcycle-mcp-bridge"));
  check(bytes <= MAX_BYTES, `installed footprint ${(bytes / 1024 / 1024).toFixed(2)} MB (at most 3 MB)`);

  const bin = join(prefix, "bin", "loomcycle-mcp-bridge");
  const env = { PATH: process.env.PATH ?? "", HOME: home };
  const v = execFileSync(bin, ["--version"], { encoding: "utf8", env }).trim();
  check(/^\d+\.\d+\.\d+/.test(v), `--version prints ${v}`);

  // Serve: initialize over stdio against the built-in simulator.
  const reply = await new Promise((resolve) => {
    const p = spawn(bin, ["--sandbox"], { env, stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    const timer = setTimeout(() => p.kill(), 15_000);
    p.stdout.on("data", (d) => {
      out += d;
      if (out.includes("\n")) {
        clearTimeout(timer);
        p.kill();
      }
    });
    p.on("exit", () => resolve(out));
    p.stdin.write(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "check", version: "1" } },
      }) + "\n",
    );
  });
  check(/"serverInfo"/.test(String(reply)), "the installed bin answers initialize over stdio (--sandbox)");

  const demo = execFileSync(bin, ["demo"], { encoding: "utf8", env, timeout: 90_000 });
  check(/Done\./.test(demo), "demo runs from the installed package");
  check(readdirSync(home).length === 0, `demo and --sandbox leave HOME empty (${readdirSync(home).join(", ") || "nothing"})`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failed > 0) {
  process.stdout.write(`${failed} check(s) failed\n`);
  process.exit(1);
}
