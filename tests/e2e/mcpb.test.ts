// The MCP Bundle for Claude Desktop (issue 18, item 6): `npm run pack:mcpb`'s bundle is
// built (mcpb validate, then pack), unpacked with mcpb's own unpack, and started the way
// Claude Desktop starts it: the manifest's mcp_config with ${__dirname} and
// ${user_config.*} substituted by getMcpConfigForManifest — the code from @anthropic-ai/mcpb
// that Claude Desktop uses — and "node" run as Node. It completes initialize and
// list_agents against the simulator, also with the optional settings left unset or empty.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { getMcpConfigForManifest, unpackExtension, v0_2 } from "@anthropic-ai/mcpb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { packMcpb } from "../../scripts/pack-mcpb.js";
import { StdioPeer } from "../stdio-peer.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  description: string;
  engines: { node: string };
};
const TOKEN = "lc_tok_mcpb_0123456789abcdef";

type Manifest = Parameters<typeof getMcpConfigForManifest>[0]["manifest"];
let sim: Simulator;
let bundle: string;
let dir: string;
let manifest: Manifest;

beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.05, token: TOKEN });
  const out = mkdtempSync(join(tmpdir(), "lcb-mcpb-out-"));
  bundle = (await packMcpb(out)).path;
  dir = join(out, "unpacked");
  expect(await unpackExtension({ mcpbPath: bundle, outputDir: dir, silent: true })).toBe(true);
  manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
}, 60_000);
afterAll(async () => {
  await sim?.close();
});

/** The command Claude Desktop runs for this bundle with these settings. */
async function desktopCommand(userConfig: Record<string, string>): Promise<{ command: string[]; env: Record<string, string> }> {
  const cfg = await getMcpConfigForManifest({
    manifest,
    extensionPath: dir,
    systemDirs: { HOME: homedir(), DESKTOP: join(homedir(), "Desktop"), DOCUMENTS: join(homedir(), "Documents") },
    userConfig,
    pathSeparator: sep,
  });
  expect(cfg, "no required setting is missing").toBeDefined();
  expect(cfg!.command).toBe("node"); // Claude Desktop runs it with its own Node
  return { command: [process.execPath, ...(cfg!.args ?? [])], env: cfg!.env ?? {} };
}

async function start(userConfig: Record<string, string>): Promise<StdioPeer> {
  const { command, env } = await desktopCommand(userConfig);
  const state = mkdtempSync(join(tmpdir(), "lcb-mcpb-state-"));
  const p = new StdioPeer({ HOME: state, XDG_STATE_HOME: state, ...env }, [], { command });
  const init = await Promise.race([
    p.initialize(),
    p.exited.then((e) => {
      throw new Error(`the bundle exited (code ${e.code}): ${p.stderr.slice(-800)}`);
    }),
  ]);
  expect((init.result as { serverInfo: { version: string } }).serverInfo.version).toBe(pkg.version);
  return p;
}

// Each case starts bundles of its own: they run side by side.
describe.concurrent("the .mcpb bundle", () => {
  it("is named for the version, and its manifest validates and says what package.json says", () => {
    expect(bundle.endsWith(`loomcycle-mcp-bridge-${pkg.version}.mcpb`)).toBe(true);
    const strict = v0_2.McpbManifestSchema.safeParse(manifest); // MCPB manifest 0.2, strict
    expect(strict.error?.issues ?? []).toEqual([]);
    expect(manifest).toMatchObject({
      name: "loomcycle-mcp-bridge",
      version: pkg.version,
      description: pkg.description,
      server: { type: "node", entry_point: "dist/cli/main.js" },
      compatibility: { runtimes: { node: pkg.engines.node } },
    });
    expect(manifest.server.mcp_config.args).toEqual(["${__dirname}/dist/cli/main.js"]);
    // What the npm package runs, in its layout: the bin, its chunks, and the run console's page once the build makes one.
    const built = (d: string): string[] => readdirSync(join(d, "dist"), { recursive: true }).map(String);
    const wanted = built(ROOT).filter((f) => /^cli\/(main|chunk-.*)\.js$/.test(f) || f === "app/run-console.html");
    expect(built(dir).sort()).toEqual([...wanted, ...(wanted.some((f) => f.startsWith("app/")) ? ["app"] : []), "cli"].sort());
    const uc = manifest.user_config!;
    expect(uc.base_url).toMatchObject({ type: "string", default: "http://127.0.0.1:8787" });
    expect(uc.auth_token).toMatchObject({ type: "string", sensitive: true, required: false });
    expect(uc.user_id).toMatchObject({ type: "string", required: false });
    expect(uc.questions).toMatchObject({ type: "string", default: "host" });
  });

  it("serves initialize and list_agents as Claude Desktop starts it, and lists exactly the manifest's tools", async () => {
    const p = await start({ base_url: sim.url, auth_token: TOKEN, user_id: "u_mcpb", questions: "human" });
    try {
      const agents = await p.callTool("list_agents", {});
      expect(agents.isError, agents.text).toBe(false);
      expect(JSON.stringify(agents.sc)).toContain('"echo"');
      expect(agents.sc.sandbox).toBeUndefined();
      const listed = (await p.request("tools/list")).result as { tools: { name: string; description: string }[] };
      expect(manifest.tools).toEqual(listed.tools.map((t) => ({ name: t.name, description: t.description })));
      expect(manifest.tools!.length).toBeGreaterThanOrEqual(13);
      expect(p.nonJsonLines).toEqual([]);
      expect(p.stderr).not.toContain(TOKEN);
    } finally {
      p.kill();
    }
  });

  it("starts with the optional settings unset (their defaults) or cleared (empty strings)", async () => {
    const settings: Record<string, string>[] = [
      { base_url: sim.url, auth_token: TOKEN },
      { base_url: sim.url, auth_token: TOKEN, user_id: "", questions: "" },
    ];
    await Promise.all(
      settings.map(async (uc) => {
        const { env } = await desktopCommand(uc);
        expect(Object.values(env).join(" "), "every variable is substituted").not.toMatch(/\$\{/);
        const p = await start(uc);
        try {
          const agents = await p.callTool("list_agents", {});
          expect(agents.isError, agents.text).toBe(false);
        } finally {
          p.kill();
        }
      }),
    );
  });

  it("without a token it still starts, and a call says the token is missing", async () => {
    const p = await start({ base_url: sim.url });
    try {
      const agents = await p.callTool("list_agents", {});
      expect(agents.isError).toBe(true);
      expect(agents.text).toMatch(/token/i);
    } finally {
      p.kill();
    }
  });
});
