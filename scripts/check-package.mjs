// The published package, checked as a user gets it (issue 11): `npm pack` builds first
// (prepack), the tarball installs into an empty prefix with nothing else, the installed
// footprint is the bundle's (at most 3 MB), and the installed command answers --version,
// serves MCP over stdio (--sandbox) and runs `demo` without writing to HOME. The entry
// `config` prints names what runs (issue 19, defect 5) and starts as printed: from the
// installed package, node and the installed file; run through `npx -y <tarball>`, npx and
// that tarball, never a package name that is in no registry.
// Run: npm run check:package (CI runs it on a fresh clone, on each Node of .ci/node-versions).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MAX_BYTES = 3 * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), "lcb-package-"));
const prefix = join(work, "prefix");
const home = join(work, "home"); // HOME for the installed command: must stay empty
mkdirSync(home);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const npx = process.platform === "win32" ? "npx.cmd" : "npx";
let failed = 0;

function check(ok, what) {
  process.stdout.write(`${ok ? "ok  " : "FAIL"} ${what}\n`);
  if (!ok) failed += 1;
}

/** The Claude Desktop entry `config claude-desktop` printed, as command + env. */
function desktopEntry(stdout) {
  const e = JSON.parse(stdout).mcpServers.loomcycle;
  return { command: [e.command, ...(e.args ?? [])], env: e.env ?? {} };
}

/** Start `command` as a host does, complete initialize and call list_agents; { ok } or { ok: false, why }. */
function session(command, env) {
  return new Promise((resolve) => {
    const p = spawn(command[0], command.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const done = (r) => {
      clearTimeout(timer);
      p.kill();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, why: `no answer within 60 s; stderr: ${err.slice(-500)}` }), 60_000);
    const send = (m) => p.stdin.write(JSON.stringify({ jsonrpc: "2.0", ...m }) + "\n");
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => done({ ok: false, why: `exited ${code}; stderr: ${err.slice(-500)}` }));
    p.stdout.on("data", (d) => {
      out += d;
      for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
        const m = JSON.parse(out.slice(0, nl));
        out = out.slice(nl + 1);
        if (m.id === 1) {
          send({ method: "notifications/initialized" });
          send({ id: 2, method: "tools/call", params: { name: "list_agents", arguments: {} } });
        } else if (m.id === 2) {
          const ok = m.result !== undefined && !m.result.isError && JSON.stringify(m.result.structuredContent).includes('"echo"');
          done(ok ? { ok } : { ok, why: JSON.stringify(m).slice(0, 500) });
        }
      }
    });
    send({
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "check", version: "1" } },
    });
  });
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
  check(files.includes("dist/app/run-console.html"), "the run console's page is packed (dist/app/run-console.html)");

  execFileSync(npm, ["install", "-g", "--prefix", prefix, tarball, "--no-audit", "--no-fund"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const installed = join(prefix, "lib", "node_modules");
  const pkgs = readdirSync(installed);
  check(pkgs.length === 1 && pkgs[0] === "loomcycle-mcp-bridge", `installs one package, nothing else (${pkgs.join(", ")})`);
  check(
    existsSync(join(installed, "loomcycle-mcp-bridge", "package.json")) &&
      existsSync(join(installed, "loomcycle-mcp-bridge", "dist", "app", "run-console.html")),
    "installed beside the bin: package.json and dist/app/run-console.html (the console's page is found from package.json)",
  );
  const bytes = size(join(installed, "loomcycle-mcp-bridge"));
  check(bytes <= MAX_BYTES, `installed footprint ${(bytes / 1024 / 1024).toFixed(2)} MB (at most 3 MB)`);

  const bin = join(prefix, "bin", "loomcycle-mcp-bridge");
  const env = { PATH: process.env.PATH ?? "", HOME: home };
  const v = execFileSync(bin, ["--version"], { encoding: "utf8", env }).trim();
  check(/^\d+\.\d+\.\d+/.test(v), `--version prints ${v}`);

  // Serve: initialize over stdio against the built-in simulator, and a tool call.
  const served = await session([bin, "--sandbox"], env);
  check(
    served.ok,
    `the installed bin answers initialize and list_agents over stdio (--sandbox)${served.ok ? "" : `: ${served.why}`}`,
  );

  const demo = execFileSync(bin, ["demo", "--speed", "0.05"], { encoding: "utf8", env, timeout: 90_000 });
  check(/Done\./.test(demo), "demo runs from the installed package");
  check(readdirSync(home).length === 0, `demo and --sandbox leave HOME empty (${readdirSync(home).join(", ") || "nothing"})`);

  // The entry `config` prints from the installed package names node and the installed file, and starts as printed.
  const installedMain = join(installed, "loomcycle-mcp-bridge", "dist", "cli", "main.js");
  const entry = desktopEntry(
    execFileSync(bin, ["config", "claude-desktop", "--sandbox"], { encoding: "utf8", env, stdio: ["ignore", "pipe", "pipe"] }),
  );
  check(
    entry.command.length === 3 && isAbsolute(entry.command[0]) && entry.command[1] === realpathSync(installedMain),
    `installed: config names node and the installed file (${entry.command.join(" ")})`,
  );
  const fromInstalled = await session(entry.command, { ...env, ...entry.env });
  check(
    fromInstalled.ok,
    `installed: the printed entry starts and answers list_agents${fromInstalled.ok ? "" : `: ${fromInstalled.why}`}`,
  );

  // Run through `npx -y ./<tarball>` (its cache in the work folder): the entry names npx and the tarball.
  const npxEnv = {
    PATH: process.env.PATH ?? "",
    HOME: join(work, "npx-home"),
    npm_config_cache: join(work, "npm-cache"),
    npm_config_update_notifier: "false",
  };
  mkdirSync(npxEnv.HOME);
  const viaNpx = desktopEntry(
    execFileSync(npx, ["-y", `./${packed[0].filename}`, "config", "claude-desktop", "--sandbox"], {
      encoding: "utf8",
      env: npxEnv,
      cwd: work,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  check(
    viaNpx.command.slice(1).join(" ") === `-y --package=${tarball} loomcycle-mcp-bridge --sandbox` &&
      !/loomcycle-mcp-bridge@/.test(viaNpx.command.join(" ")),
    `npx -y <tarball>: config names npx and the tarball, no unpublished package (${viaNpx.command.join(" ")})`,
  );
  const fromNpx = await session(viaNpx.command, { ...npxEnv, ...viaNpx.env });
  check(fromNpx.ok, `npx -y <tarball>: the printed entry starts and answers list_agents${fromNpx.ok ? "" : `: ${fromNpx.why}`}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failed > 0) {
  process.stdout.write(`${failed} check(s) failed\n`);
  process.exit(1);
}
