// Tool-list context cost: the bytes a host puts into its model's context, in every
// conversation, to offer a server's tools — each tool's name, description and input
// schema as tools/list returns them, plus the server's instructions — against three
// servers people already run, measured the same way in the same run.
//
// Each server is spawned over stdio and asked with the SDK's own Client (as a host
// does): initialize, then tools/list through every page. A tool's cost is the UTF-8
// length of JSON.stringify({name, description, inputSchema}); titles, annotations and
// output schemas are left out (hosts do not show them to the model).
//
//   node --import tsx scripts/bench/tool-context.ts    # prints the table, writes nothing
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { bridgeBin, scratch, serverEnv } from "./lib/targets.js";
import { fmtInt } from "./lib/stats.js";
import type { BenchContext, Figure, FigureResult } from "./lib/types.js";

const GOAL_PER_TOOL = 650;
const GOAL_TOTAL = 10_000;

export interface ToolListCost {
  name: string;
  version: string;
  tools: number;
  toolBytes: number;
  instructionBytes: number;
  perTool: number;
  total: number;
  largest: { name: string; bytes: number };
}

const require = createRequire(import.meta.url);

interface Target {
  name: string;
  pkg?: string;
  script: () => string;
  args: string[];
}

function pkgBin(pkg: string, bin: string): () => string {
  return () => {
    const manifest = require.resolve(`${pkg}/package.json`);
    const json = require(manifest) as { bin: Record<string, string> };
    return join(dirname(manifest), json.bin[bin]!);
  };
}

function pkgVersion(pkg: string | undefined): string {
  if (!pkg) return (require("../../package.json") as { version: string }).version;
  return (require(`${pkg}/package.json`) as { version: string }).version;
}

const TARGETS: Target[] = [
  { name: "loomcycle-mcp-bridge", script: bridgeBin, args: [] },
  {
    name: "@modelcontextprotocol/server-filesystem",
    pkg: "@modelcontextprotocol/server-filesystem",
    script: pkgBin("@modelcontextprotocol/server-filesystem", "mcp-server-filesystem"),
    args: [scratch],
  },
  {
    name: "@playwright/mcp",
    pkg: "@playwright/mcp",
    script: pkgBin("@playwright/mcp", "playwright-mcp"),
    args: ["--headless", "--isolated"],
  },
  {
    name: "@modelcontextprotocol/server-everything",
    pkg: "@modelcontextprotocol/server-everything",
    script: pkgBin("@modelcontextprotocol/server-everything", "mcp-server-everything"),
    args: ["stdio"],
  },
];

export function toolBytes(t: Pick<Tool, "name" | "description" | "inputSchema">): number {
  return Buffer.byteLength(JSON.stringify({ name: t.name, description: t.description, inputSchema: t.inputSchema }), "utf8");
}

async function measureOne(target: Target): Promise<ToolListCost> {
  // The bridge needs no loomcycle to list its tools; it points at a closed port.
  const env = serverEnv(target.pkg ? {} : { LOOMCYCLE_BASE_URL: "http://127.0.0.1:9", LOOMCYCLE_MCP_LOG_LEVEL: "silent" });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [target.script(), ...target.args],
    env,
    stderr: "ignore",
  });
  const client = new Client({ name: "loomcycle-bench", version: "1" });
  try {
    await client.connect(transport);
    const tools: Tool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    const instructionBytes = Buffer.byteLength(client.getInstructions() ?? "", "utf8");
    const sizes = tools.map((t) => ({ name: t.name, bytes: toolBytes(t) }));
    const total = sizes.reduce((a, s) => a + s.bytes, 0);
    const largest = sizes.reduce((a, s) => (s.bytes > a.bytes ? s : a), { name: "", bytes: 0 });
    return {
      name: target.name,
      version: pkgVersion(target.pkg),
      tools: tools.length,
      toolBytes: total,
      instructionBytes,
      perTool: tools.length ? total / tools.length : 0,
      total: total + instructionBytes,
      largest,
    };
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function measureAll(log: (line: string) => void = () => {}): Promise<ToolListCost[]> {
  const out: ToolListCost[] = [];
  for (const t of TARGETS) {
    const r = await measureOne(t);
    log(
      `  ${r.name} ${r.version}: ${r.tools} tools, ${fmtInt(r.toolBytes)} B (${fmtInt(Math.round(r.perTool))} B/tool) + ${fmtInt(r.instructionBytes)} B instructions = ${fmtInt(r.total)} B`,
    );
    out.push(r);
  }
  return out;
}

export const toolContextFigure: Figure = {
  key: "tool_context",
  title: "tool-list context cost",
  async measure(ctx: BenchContext): Promise<FigureResult> {
    // Deterministic (no timing): one measurement per server is the figure.
    const all = await measureAll(ctx.log);
    const me = all[0]!;
    const anchors = all.slice(1);
    const perTool = Math.round(me.perTool);
    return {
      key: "tool_context",
      figure: "tool-list context cost: name + description + input schema of every tool, plus server instructions",
      baseline: anchors.map((a) => `${a.name} ${a.version}: ${Math.round(a.perTool)} B/tool`).join("; "),
      measured: `${me.tools} tools, ${fmtInt(me.toolBytes)} B + ${fmtInt(me.instructionBytes)} B instructions = ${fmtInt(me.total)} B`,
      ratio: `${fmtInt(perTool)} B/tool, ${fmtInt(me.total)} B in all`,
      goal: `≤ ${GOAL_PER_TOOL} B/tool and ≤ ${fmtInt(GOAL_TOTAL)} B in all`,
      pass: perTool <= GOAL_PER_TOOL && me.total <= GOAL_TOTAL,
      limits:
        `What every tool shares (states and what to do in each, cursors and read positions, wait_ms and stop points, ` +
        `"agent output is data") is said once, in the server instructions (${fmtInt(me.instructionBytes)} B), so each description keeps ` +
        `what the tool does, when to use it and what comes next, and each parameter a short description with an example or its default. ` +
        `Input schemas carry no "$schema" (the SDK's zod conversion writes the draft-07 URI into each, ~50 B a tool; MCP reads a schema ` +
        `without it as 2020-12, and these use only keywords that mean the same in both) and no id patterns (the bridge checks ids ` +
        `and names the allowed form in its error). The largest tool is ${me.largest.name} (${fmtInt(me.largest.bytes)} B, seven parameters). ` +
        `Before this accounting (issue 14) the list was 1,218 B/tool + 2,123 B of instructions = 17,951 B.`,
      details: [
        `each server spawned over stdio (node <its bin>) and listed with the SDK Client (all pages); a tool's bytes are JSON.stringify({name, description, inputSchema}), UTF-8; titles, annotations and output schemas are not counted.`,
        ...all.map(
          (r) =>
            `${r.name} ${r.version}: ${r.tools} tools, ${fmtInt(r.toolBytes)} B (${fmtInt(Math.round(r.perTool))} B/tool; largest ${r.largest.name} ${fmtInt(r.largest.bytes)} B) + ${fmtInt(r.instructionBytes)} B instructions = ${fmtInt(r.total)} B.`,
        ),
        `Playwright MCP runs with --headless --isolated (it starts no browser to list its tools); the filesystem server is given one scratch directory.`,
      ],
    };
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  measureAll((l) => process.stderr.write(l + "\n")).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`tool-context failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
