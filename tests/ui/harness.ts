// The UI test tier's harness: Debian's Chromium (playwright-core, no browser download) shows
// a minimal MCP Apps host page (./host/host.ts) whose MCP Client talks, through a relay made
// of page bindings, to the BUILT bridge (node dist/cli/main.js) over stdio, the bridge pointed
// at a simulator started here, so a test can assert on what the simulator records as well
// as on the page. The host page and the sandbox proxy are served from two loopback origins
// (the spec has a web host keep the app on an origin of its own), the proxy with the app's
// CSP as a header. Everything the page and its frames request, every dialog and console line
// is recorded, and so is every tools/call that passes the relay, with who made it.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type BrowserContext, type Frame, type FrameLocator, type Page } from "playwright-core";
import { startSimulator, type Simulator, type SimOptions } from "../../src/sim/index.js";
import { BIN } from "../stdio-peer.js";

/** The host page's globals (tests/ui/host/host.ts), as the test sees them through evaluate. */
export interface HostWindow {
  relayReceive(line: string): void;
  host: {
    connect(): Promise<void>;
    toolNames(): string[];
    callTool(name: string, args: Record<string, unknown>): Promise<ToolResult>;
    callToolWithUi(
      name: string,
      args: Record<string, unknown>,
      opts?: { width?: number; theme?: "light" | "dark"; styles?: boolean },
    ): Promise<ToolResult>;
    setTheme(theme: "light" | "dark"): void;
    setWidth(width: number): void;
    appCalls: Array<{ name: string; arguments: unknown }>;
    refusedCalls: string[];
    modelContext: Array<{ content?: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown> }>;
    openedLinks: string[];
    close(): void;
  };
}

export interface ToolResult {
  isError?: boolean;
  content: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
}

export const CHROMIUM = process.env.UI_CHROMIUM ?? "/usr/bin/chromium";
const HOST_DIR = fileURLToPath(new URL("./host/", import.meta.url));

export interface RelayedCall {
  name: string;
  arguments: Record<string, unknown>;
  /** "model" when the test (as the host's model) made it, "app" when the console did. */
  caller: "model" | "app";
}

export interface UiHarness {
  sim: Simulator;
  page: Page;
  /** The console, inside the sandbox proxy inside the host page. */
  app: FrameLocator;
  appFrame(): Promise<Frame>;
  /** Every tools/call that went through the relay, in order. */
  calls: RelayedCall[];
  /** Every URL the page or any of its frames asked for. */
  requests: string[];
  dialogs: string[];
  consoleLines: string[];
  hostOrigin: string;
  sandboxOrigin: string;
  bridgeStderr(): string;
  close(): Promise<void>;
}

async function bundle(entry: string): Promise<string> {
  const r = await build({
    entryPoints: [join(HOST_DIR, entry)],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "chrome110",
    write: false,
    logLevel: "warning",
  });
  return r.outputFiles[0]!.text;
}

function serve(routes: Record<string, (url: URL) => { type: string; body: string; headers?: Record<string, string> }>): Promise<{
  server: Server;
  port: number;
}> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const route = routes[url.pathname];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const r = route(url);
    res.writeHead(200, { "content-type": r.type, "cache-control": "no-store", ...r.headers }).end(r.body);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port })),
  );
}

/** The ext-apps spec's CSP for a UI resource: its restrictive default plus what the resource declared. */
export function cspFor(declared: {
  connectDomains?: string[];
  resourceDomains?: string[];
  frameDomains?: string[];
  baseUriDomains?: string[];
}): string {
  const clean = (list?: string[]): string => (list ?? []).filter((d) => /^[\w.:/*-]+$/.test(d)).join(" ");
  const res = clean(declared.resourceDomains);
  const frames = clean(declared.frameDomains);
  const bases = clean(declared.baseUriDomains);
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline' ${res}`.trim(),
    `style-src 'self' 'unsafe-inline' ${res}`.trim(),
    `img-src 'self' data: ${res}`.trim(),
    `font-src 'self' ${res}`.trim(),
    `media-src 'self' data: ${res}`.trim(),
    `connect-src ${clean(declared.connectDomains) || "'none'"}`,
    `frame-src ${frames || "'none'"}`,
    "object-src 'none'",
    `base-uri ${bases || "'self'"}`,
  ].join("; ");
}

export async function startUi(simOpts: SimOptions = {}): Promise<UiHarness> {
  const sim = await startSimulator({ tailPollMs: 10, ...simOpts });
  const [hostJs, sandboxJs] = await Promise.all([bundle("host.ts"), bundle("sandbox.ts")]);

  const sandboxSide = await serve({
    "/sandbox.html": (url) => {
      let declared = {};
      try {
        declared = JSON.parse(url.searchParams.get("csp") ?? "{}") as object;
      } catch {
        declared = {};
      }
      return {
        type: "text/html",
        headers: { "content-security-policy": cspFor(declared) },
        body: '<!doctype html><html><head><meta charset="utf-8"><style>html,body{margin:0;height:100%;overflow:hidden;background:transparent}iframe{border:0;width:100%;height:100%;display:block}</style></head><body><script src="/sandbox.js"></script></body></html>',
      };
    },
    "/sandbox.js": () => ({ type: "text/javascript", body: sandboxJs }),
  });
  const sandboxOrigin = `http://localhost:${sandboxSide.port}`;
  const hostSide = await serve({
    "/host.html": () => ({
      type: "text/html",
      body: `<!doctype html><html><head><meta charset="utf-8"><title>UI test host</title><style>html{color-scheme:light}body{margin:0;padding:16px;background:light-dark(#f3f2ee,#141413);font-family:sans-serif}#stage iframe{display:block;background:transparent}</style></head><body data-sandbox-origin="${sandboxOrigin}"><div id="stage"></div><script src="/host.js"></script></body></html>`,
    }),
    "/host.js": () => ({ type: "text/javascript", body: hostJs }),
  });
  const hostOrigin = `http://127.0.0.1:${hostSide.port}`;

  const stateHome = mkdtempSync(join(tmpdir(), "ui-bridge-state-"));
  const bridge: ChildProcessWithoutNullStreams = spawn(process.execPath, [BIN], {
    env: {
      PATH: process.env.PATH ?? "",
      XDG_STATE_HOME: stateHome,
      LOOMCYCLE_BASE_URL: sim.url,
      LOOMCYCLE_AUTH_TOKEN: sim.token,
      LOOMCYCLE_USER_ID: "u_ui",
      LOOMCYCLE_MCP_LOG_LEVEL: "warn",
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  bridge.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-50_000)));

  const userData = mkdtempSync(join(tmpdir(), "ui-chromium-"));
  const context: BrowserContext = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 1000 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] ?? (await context.newPage());

  const calls: RelayedCall[] = [];
  const requests: string[] = [];
  const dialogs: string[] = [];
  const consoleLines: string[] = [];
  context.on("request", (r) => requests.push(r.url()));
  page.on("dialog", (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));

  // The relay. Page → bridge: a binding; bridge → page: one evaluate per line, in order.
  let toPage = Promise.resolve();
  const deliver = (line: string): void => {
    toPage = toPage.then(() =>
      page.evaluate((l) => (globalThis as unknown as HostWindow).relayReceive(l), line).catch(() => undefined),
    );
  };
  let buf = "";
  bridge.stdout.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      deliver(line);
    }
  });
  await page.exposeBinding("relaySend", (_source, line: string) => {
    const m = JSON.parse(line) as {
      method?: string;
      params?: { name?: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> };
    };
    if (m.method === "tools/call") {
      calls.push({
        name: String(m.params?.name),
        arguments: m.params?.arguments ?? {},
        caller: m.params?._meta?.["ui-test/caller"] === "model" ? "model" : "app",
      });
    }
    bridge.stdin.write(line + "\n");
  });

  await page.goto(`${hostOrigin}/host.html`);
  await page.evaluate(() => (globalThis as unknown as HostWindow).host.connect());

  const app = page.frameLocator("#app-frame").frameLocator("#app");
  return {
    sim,
    page,
    app,
    async appFrame() {
      const outer = await page.locator("#app-frame").elementHandle();
      const outerFrame = await outer?.contentFrame();
      const inner = await (await outerFrame?.$("#app"))?.contentFrame();
      if (!inner) throw new Error("the console's frame is not there");
      return inner;
    },
    calls,
    requests,
    dialogs,
    consoleLines,
    hostOrigin,
    sandboxOrigin,
    bridgeStderr: () => stderr,
    async close() {
      await context.close().catch(() => undefined);
      bridge.stdin.end();
      bridge.kill();
      await new Promise<void>((resolve) => (bridge.exitCode !== null ? resolve() : bridge.once("exit", () => resolve())));
      await new Promise<void>((resolve) => hostSide.server.close(() => resolve()));
      await new Promise<void>((resolve) => sandboxSide.server.close(() => resolve()));
      await sim.close();
      rmSync(userData, { recursive: true, force: true });
      rmSync(stateHome, { recursive: true, force: true });
    },
  };
}
