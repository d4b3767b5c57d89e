// Real host #2: OpenCode (opencode-ai from the npm registry) runs the built bridge as a
// local MCP server, configured with exactly what `loomcycle-mcp-bridge config opencode`
// prints, and a scripted fake OpenAI-compatible model (tests/hosts/fake-openai.ts)
// drives it: start_interactive_run → read_run_events → send_steer → final answer.
//
// Isolation: OpenCode's HOME and XDG dirs live in a temp dir; auto-update, models.dev,
// LSP downloads, default plugins and sharing are off; its background npm install of
// @opencode-ai/plugin is kept offline by an .npmrc in that HOME. Every HTTP(S) proxy
// variable points at a loopback "egress trap" (loopback itself is exempt via NO_PROXY),
// and the test fails if anything tried to leave 127.0.0.1 through it.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess } from "../helpers.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { contentText, startFakeModel, type FakeModel } from "./fake-openai.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, "dist", "cli", "main.js");
const TOKEN = "lc_tok_opencode_admin_0123456789";
const USER = "u_opencode";
const PROMPT = "hello from opencode";
const STEER = "now steer it from opencode";

/** The opencode binary: the package's bin once its postinstall ran, else the platform package's binary. */
function findOpencode(): string {
  // Installed by scripts/install-opencode.mjs (npm run test:hosts), outside the lockfile.
  const prefix = join(ROOT, ".cache", "opencode");
  const require = createRequire(join(prefix, "package.json"));
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const exe = process.platform === "win32" ? "opencode.exe" : "opencode";
  const candidates = [join(prefix, "node_modules", ".bin", exe)];
  for (const suffix of ["", "-baseline", "-musl", "-baseline-musl"]) {
    try {
      candidates.push(join(dirname(require.resolve(`opencode-${platform}-${process.arch}${suffix}/package.json`)), "bin", exe));
    } catch {
      // not installed for this platform
    }
  }
  for (const c of candidates) {
    const r = spawnSync(c, ["--version"], {
      encoding: "utf8",
      timeout: 20_000,
      env: { PATH: process.env.PATH ?? "", HOME: tmpdir() },
    });
    if (r.status === 0 && /^\d+\.\d+\.\d+/.test(r.stdout.trim())) return c;
  }
  throw new Error(
    `no working opencode binary (tried ${candidates.join(", ")}); run npm run test:hosts (it installs opencode-ai into .cache/opencode)`,
  );
}

let sim: Simulator;
let model: FakeModel;
let trap: Server;
const egress: string[] = [];
let root: string;
let project: string;
let opencode: string;
let opencodeVersion: string;
let env: Record<string, string>;
let snippet: Record<string, unknown>;

// stdin closed: `opencode run` reads piped stdin as part of the message and would wait for it
const run = (cmd: string, args: string[], opts: { cwd?: string; env: Record<string, string>; timeoutMs?: number }) =>
  runProcess(cmd, args, opts);

beforeAll(async () => {
  opencode = findOpencode();
  sim = await startSimulator({ tailPollMs: 20, speed: 0.05, token: TOKEN });
  model = await startFakeModel([
    { tool: "start_interactive_run", args: () => ({ agent: "echo", prompt: PROMPT }) },
    { tool: "read_run_events", args: (c) => ({ run_id: c.runId, cursor: 0 }) },
    { tool: "send_steer", args: (c) => ({ run_id: c.runId, text: STEER }) },
    { text: (c) => `The echo agent answered twice; run ${c.runId} is parked, waiting for input.` },
  ]);
  // Anything that honours the proxy variables and tries to leave loopback lands here.
  trap = createServer((req, res) => {
    req.socket.on("error", () => undefined);
    egress.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  trap.on("connect", (req, socket) => {
    socket.on("error", () => undefined);
    egress.push(`CONNECT ${req.url}`);
    socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
  });
  await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
  const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;

  root = mkdtempSync(join(tmpdir(), "lc-opencode-"));
  project = join(root, "project");
  const home = join(root, "home");
  mkdirSync(project, { recursive: true });
  mkdirSync(home, { recursive: true });
  // OpenCode installs @opencode-ai/plugin into its config dir in the background: keep npm offline.
  writeFileSync(join(home, ".npmrc"), `offline=true\nregistry=${trapUrl}/\naudit=false\nfund=false\nupdate-notifier=false\n`);
  env = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    USERPROFILE: home,
    XDG_CONFIG_HOME: join(root, "xdg", "config"),
    XDG_DATA_HOME: join(root, "xdg", "data"),
    XDG_CACHE_HOME: join(root, "xdg", "cache"),
    XDG_STATE_HOME: join(root, "xdg", "state"),
    TMPDIR: join(root, "tmp"),
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    OPENCODE_DISABLE_MODELS_FETCH: "1",
    OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
    OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
    OPENCODE_DISABLE_SHARE: "1",
    OPENCODE_DISABLE_CLAUDE_CODE: "1",
    OPENCODE_DISABLE_EXTERNAL_SKILLS: "1",
    HTTP_PROXY: trapUrl,
    HTTPS_PROXY: trapUrl,
    ALL_PROXY: trapUrl,
    http_proxy: trapUrl,
    https_proxy: trapUrl,
    all_proxy: trapUrl,
    NO_PROXY: "127.0.0.1,localhost,::1",
    no_proxy: "127.0.0.1,localhost,::1",
    // the secret reaches the bridge only through the snippet's {env:LOOMCYCLE_AUTH_TOKEN}
    LOOMCYCLE_AUTH_TOKEN: TOKEN,
  };
  mkdirSync(env.TMPDIR!, { recursive: true });

  // The snippet exactly as `config opencode` prints it for this loomcycle and user.
  const cfg = await run(process.execPath, [BIN, "config", "opencode"], {
    env: { PATH: env.PATH!, LOOMCYCLE_BASE_URL: sim.url, LOOMCYCLE_USER_ID: USER },
  });
  expect(cfg.code, cfg.stderr).toBe(0);
  snippet = JSON.parse(cfg.stdout) as Record<string, unknown>;
  const config = {
    ...snippet,
    model: "fake/scripted",
    small_model: "fake/scripted",
    autoupdate: false,
    share: "disabled",
    provider: {
      fake: {
        npm: "@ai-sdk/openai-compatible",
        name: "Scripted fake model (tests/hosts/fake-openai.ts)",
        options: { baseURL: model.url, apiKey: "fake-key" },
        models: { scripted: { name: "Scripted", tool_call: true, limit: { context: 128_000, output: 4096 } } },
      },
    },
  };
  writeFileSync(join(project, "opencode.json"), JSON.stringify(config, null, 2));
  opencodeVersion = (await run(opencode, ["--version"], { env })).stdout.trim();
}, 60_000);

afterAll(async () => {
  await model?.close();
  await sim?.close();
  if (trap) await new Promise((resolve) => trap.close(resolve));
  if (root) rmSync(root, { recursive: true, force: true });
});

const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ""); // eslint-disable-line no-control-regex

interface ToolPart {
  tool: string;
  state: {
    status: string;
    input?: Record<string, unknown>;
    output?: string;
    error?: string;
    time?: { start: number; end: number };
  };
}

describe("OpenCode → built bridge → simulator", () => {
  it("opencode mcp list shows the bridge connected, from the `config opencode` snippet", async () => {
    const r = await run(opencode, ["mcp", "list"], { cwd: project, env });
    const out = stripAnsi(r.stdout + r.stderr);
    expect(r.code, out).toBe(0);
    expect(out).toMatch(/✓ loomcycle\s+connected/);
    expect(out).toContain(BIN);
    expect(egress, "traffic that tried to leave loopback").toEqual([]);
  });

  it("opencode run --format json: a scripted model starts, reads and steers a run through the bridge", async () => {
    const r = await run(opencode, ["run", "--format", "json", "Talk to the loomcycle echo agent, then steer it once."], {
      cwd: project,
      env,
      timeoutMs: 120_000,
    });
    expect(r.code, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`).toBe(0);
    const events = r.stdout
      .split("\n")
      .filter((l) => l.trim().startsWith("{"))
      .map((l) => JSON.parse(l) as { type: string; part: Record<string, unknown> });
    const tools = events.filter((e) => e.type === "tool_use").map((e) => e.part as unknown as ToolPart);
    const texts = events.filter((e) => e.type === "text").map((e) => String(e.part.text));

    // readable transcript (the lead pastes it into a note)
    const lines = [
      `OpenCode ${opencodeVersion} → loomcycle-mcp-bridge (config opencode snippet) → simulator; model: scripted fake at ${model.url}`,
    ];
    for (const t of tools) {
      const ms = t.state.time ? ` (${t.state.time.end - t.state.time.start} ms)` : "";
      lines.push("", `▶ ${t.tool} ${JSON.stringify(t.state.input)}  [${t.state.status}${ms}]`);
      for (const l of String(t.state.output ?? t.state.error ?? "").split("\n")) lines.push(`    ${l}`);
    }
    for (const t of texts) lines.push("", `◀ model: ${t}`);
    lines.push(
      "",
      `model requests: ${model.requests.length} (${model.scripted.length} with the bridge's tools); egress outside loopback: ${egress.length ? egress.join(", ") : "none"}`,
    );
    console.log(lines.join("\n"));

    // the three tool calls happened, in order, and completed
    expect(tools.map((t) => t.tool)).toEqual([
      "loomcycle_start_interactive_run",
      "loomcycle_read_run_events",
      "loomcycle_send_steer",
    ]);
    for (const t of tools) expect(t.state.status, `${t.tool}: ${t.state.error ?? ""}`).toBe("completed");
    const [start, read, steer] = tools.map((t) => String(t.state.output));
    const runId = /\brun_id=(r_[0-9a-f]{16})\b/.exec(start!)?.[1];
    expect(runId, start).toBeDefined();
    // what the model needs is in the text OpenCode shows it
    expect(start).toContain(`You said: ${PROMPT}`);
    expect(start).toMatch(/state=awaiting_input/);
    expect(read).toContain(`run_id=${runId}`);
    expect(read).toContain(`You said: ${PROMPT}`);
    expect(steer).toContain("delivered=true");
    expect(steer).toContain(`You said: ${STEER}`);
    expect(steer).toMatch(/state=awaiting_input/);
    expect(tools[1]!.state.input).toEqual({ run_id: runId, cursor: 0 });
    expect(texts.join(" ")).toContain(runId!);

    // and the model was given exactly those texts as tool results
    const last = model.scripted[model.scripted.length - 1]!;
    const seen = last.messages.filter((m) => m.role === "tool").map((m) => contentText(m.content));
    expect(seen).toHaveLength(3);
    expect(seen[0]).toContain(`You said: ${PROMPT}`);
    expect(seen[2]).toContain(`You said: ${STEER}`);

    // loomcycle's side: the run is parked after the steer, started for the configured user
    expect(sim.runStatus(runId!)).toBe("running"); // a parked interactive run reads "running"
    const steers = sim.expectedTailFrames(runId!).filter(([type]) => type === "steer");
    expect(steers.length).toBe(2);
    expect(sim.requests.find((q) => q.method === "POST" && q.path === "/v1/runs")?.body).toContain(`"user_id":"${USER}"`);
    expect(egress, "traffic that tried to leave loopback").toEqual([]);
  });
});
