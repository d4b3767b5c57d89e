// `npm run pack:mcpb`: the bridge as an MCP Bundle for Claude Desktop's one-click install
// (issue 18, item 6): loomcycle-mcp-bridge-<version>.mcpb, built with @anthropic-ai/mcpb's
// CLI (validate, then pack) from the built bin (npm run build first).
//
// Nothing in the manifest is copied by hand: name, version, description, author, licence
// and the Node range (compatibility.runtimes.node = engines.node) come from package.json,
// and the tool list (names and descriptions) from the built server itself — its tools/list
// for a client without the MCP Apps extension, as a host that shows the manifest sees it.
// The bundle holds what the npm package runs (dist/cli/main.js and its chunks, in the same
// layout, plus dist/app/run-console.html when the build made one) and a package.json that
// marks the files as ES modules. Claude Desktop runs `node ${__dirname}/dist/cli/main.js` with
// its own Node and the user_config values as the bridge's environment variables; every
// optional value has a default (an empty string at worst), so an unset field reaches the
// bridge as an empty variable, which it reads as unset, never as a literal ${user_config.…}.
//
// Usage: node --import tsx scripts/pack-mcpb.ts [--out DIR]   (default: the repository root)
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_BASE_URL = "http://127.0.0.1:8787";

interface PackageJson {
  name: string;
  version: string;
  description: string;
  license?: string;
  author?: string | { name: string; email?: string; url?: string };
  keywords?: string[];
  engines: { node: string };
}

export interface ManifestTool {
  name: string;
  description: string;
}

export function readPackageJson(root = ROOT): PackageJson {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson;
}

/** The tools the built server lists to a client without extensions (what the manifest names). */
export async function servedTools(root = ROOT): Promise<ManifestTool[]> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(root, "dist", "cli", "main.js"), "--sandbox"],
    env: { PATH: process.env.PATH ?? "", LOOMCYCLE_MCP_LOG_LEVEL: "silent" },
    stderr: "ignore",
  });
  const client = new Client({ name: "pack-mcpb", version: "1" });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    return tools.map((t) => ({ name: t.name, description: t.description ?? "" }));
  } finally {
    await client.close();
  }
}

/** The bundle's manifest.json (MCPB manifest 0.2). */
export function manifest(pkg: PackageJson, tools: ManifestTool[]): Record<string, unknown> {
  const author = typeof pkg.author === "string" ? { name: pkg.author } : (pkg.author ?? { name: pkg.name });
  return {
    manifest_version: "0.2",
    name: pkg.name,
    display_name: "loomcycle",
    version: pkg.version,
    description: pkg.description,
    long_description:
      "Start interactive loomcycle agent runs, read what they did since last time, steer them and answer their questions, one short tool call at a time. Needs a loomcycle server (its URL below); agents' output is treated as data.",
    author,
    ...(pkg.license ? { license: pkg.license } : {}),
    ...(pkg.keywords ? { keywords: pkg.keywords } : {}),
    server: {
      type: "node",
      entry_point: "dist/cli/main.js",
      mcp_config: {
        command: "node",
        args: ["${__dirname}/dist/cli/main.js"],
        env: {
          LOOMCYCLE_BASE_URL: "${user_config.base_url}",
          LOOMCYCLE_AUTH_TOKEN: "${user_config.auth_token}",
          LOOMCYCLE_USER_ID: "${user_config.user_id}",
          LOOMCYCLE_MCP_QUESTIONS: "${user_config.questions}",
        },
      },
    },
    tools,
    tools_generated: false,
    compatibility: { platforms: ["darwin", "win32", "linux"], runtimes: { node: pkg.engines.node } },
    user_config: {
      base_url: {
        type: "string",
        title: "loomcycle URL",
        description: `Where loomcycle listens: scheme, host and port, no path (a load balancer in front of a cluster works too). Default ${DEFAULT_BASE_URL}.`,
        default: DEFAULT_BASE_URL,
        required: false,
      },
      auth_token: {
        type: "string",
        title: "loomcycle token",
        description: "The bearer token for loomcycle's API (kept in the OS keychain). Leave empty if your loomcycle needs none.",
        sensitive: true,
        default: "",
        required: false,
      },
      user_id: {
        type: "string",
        title: "User id",
        description:
          "The loomcycle user_id for new runs and your lists of runs and questions (letters, digits, _ and -). Optional.",
        default: "",
        required: false,
      },
      questions: {
        type: "string",
        title: "Who answers agents' questions",
        description:
          'host: Claude answers them; human: you are asked, in a form, when Claude supports it. Write "host" or "human".',
        default: "host",
        required: false,
      },
    },
  };
}

/** Copy what the npm package runs into `dir`, in the same layout, and write manifest.json and package.json. */
export function stage(dir: string, pkg: PackageJson, tools: ManifestTool[], root = ROOT): string[] {
  const cli = join(root, "dist", "cli");
  const files = [
    "dist/cli/main.js",
    ...readdirSync(cli)
      .filter((f) => /^chunk-.*\.js$/.test(f))
      .map((f) => `dist/cli/${f}`),
  ];
  if (existsSync(join(root, "dist", "app", "run-console.html"))) files.push("dist/app/run-console.html");
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(join(root, f), join(dir, f));
  }
  const bundlePkg = { name: pkg.name, version: pkg.version, description: pkg.description, type: "module", private: true };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(bundlePkg, null, 2)}\n`);
  writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest(pkg, tools), null, 2)}\n`);
  return files;
}

/** mcpb's own CLI, run with this Node: validate the manifest, then pack the folder. */
function mcpb(args: string[], cwd: string): string {
  const cli = join(dirname(createRequire(import.meta.url).resolve("@anthropic-ai/mcpb")), "cli", "cli.js");
  return execFileSync(process.execPath, [cli, ...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Build loomcycle-mcp-bridge-<version>.mcpb in `outDir`; returns its path. */
export async function packMcpb(outDir = ROOT, root = ROOT): Promise<{ path: string; files: string[]; log: string }> {
  if (!existsSync(join(root, "dist", "cli", "main.js"))) throw new Error("dist/cli/main.js is missing: run npm run build first");
  const pkg = readPackageJson(root);
  const tools = await servedTools(root);
  const dir = mkdtempSync(join(tmpdir(), "lcb-mcpb-"));
  try {
    const files = stage(dir, pkg, tools, root);
    const out = join(resolve(outDir), `${pkg.name}-${pkg.version}.mcpb`);
    // In the staged folder: mcpb names the files it packs relative to the working directory.
    let log = mcpb(["validate", "manifest.json"], dir);
    log += mcpb(["pack", ".", out], dir);
    return { path: out, files, log };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--out");
  const outDir = i > 0 ? process.argv[i + 1] : ROOT;
  packMcpb(outDir).then(
    ({ path, log }) => {
      process.stderr.write(log);
      process.stderr.write(`\nbuilt ${path}: open it in Claude Desktop to install\n`);
    },
    (err: unknown) => {
      process.stderr.write(`pack:mcpb: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
