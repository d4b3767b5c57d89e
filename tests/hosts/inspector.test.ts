// Real host #1: the MCP Inspector CLI (@modelcontextprotocol/inspector, from the npm
// registry; installed outside the project's lockfile by scripts/install-inspector.mjs,
// as it needs Node >= 22.19) drives the built bridge over stdio against the simulator.
// Data-driven from tools/list and resources/list + resources/templates/list: every listed tool is called
// with example arguments from TOOL_EXAMPLES (a listed tool without an entry fails the
// test), every listed resource and resource template is read. Entries for tools or
// resources the bridge does not list (yet) are skipped, and the skips are printed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess, type ProcessResult } from "../helpers.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";

const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
/** The Inspector's bin, installed by scripts/install-inspector.mjs (npm run test:hosts), called directly per call. */
const INSPECTOR = fileURLToPath(new URL("../../.cache/inspector/node_modules/.bin/mcp-inspector", import.meta.url));
const TOKEN = "lc_tok_inspector_admin_0123456789";
const USER = "u_inspector";

let sim: Simulator;
let home: string;

beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 20, speed: 0.05, token: TOKEN });
  home = mkdtempSync(join(tmpdir(), "lc-inspector-home-"));
});
afterAll(async () => {
  await sim?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

type Json = Record<string, unknown>;

interface InspectorResult extends ProcessResult {
  out: Json | undefined;
}

/** One `mcp-inspector --cli` invocation: it spawns the bridge, does one method, prints one JSON object. */
function inspector(method: string, extra: string[] = []): Promise<InspectorResult> {
  const args = [
    "--cli",
    "--format",
    "json",
    "-e",
    `LOOMCYCLE_BASE_URL=${sim.url}`,
    "-e",
    `LOOMCYCLE_AUTH_TOKEN=${TOKEN}`,
    "-e",
    `LOOMCYCLE_USER_ID=${USER}`,
    "-e",
    "LOOMCYCLE_MCP_LOG_LEVEL=warn",
    "-e",
    `XDG_STATE_HOME=${join(home, "state")}`,
    "--method",
    method,
    ...extra,
    process.execPath,
    BIN,
  ];
  return runProcess(INSPECTOR, args, { env: { PATH: process.env.PATH ?? "", HOME: home }, timeoutMs: 70_000 }).then((r) => {
    let out: Json | undefined;
    try {
      out = JSON.parse(r.stdout) as Json;
    } catch {
      out = undefined;
    }
    return { ...r, out };
  });
}

interface ToolResult {
  isError: boolean;
  text: string;
  sc: Json;
  ms: number;
}

async function callTool(name: string, args: Json): Promise<ToolResult> {
  const r = await inspector("tools/call", ["--tool-name", name, "--tool-args-json", JSON.stringify(args)]);
  const result = r.out?.result as
    { isError?: boolean; content?: Array<{ type: string; text?: string }>; structuredContent?: Json } | undefined;
  if (!result)
    throw new Error(
      `tools/call ${name}: no result (exit ${r.code}); stdout: ${r.stdout.slice(0, 1500)}; stderr: ${r.stderr.slice(-1500)}`,
    );
  const first = result.content?.[0];
  return {
    isError: result.isError === true,
    text: first?.type === "text" ? (first.text ?? "") : "",
    sc: result.structuredContent ?? {},
    ms: r.ms,
  };
}

// ---- the example table --------------------------------------------------------------

/** Runs the examples need, created on first use (through the bridge, via the inspector). */
class Ctx {
  private memo = new Map<string, Promise<Json>>();
  /** An echo run, parked after its first turn. */
  echo = (): Promise<Json> =>
    this.once("echo", () => this.start({ agent: "echo", prompt: "hello from the inspector", wait_ms: 10_000 }));
  /** An asker run, waiting for its question "Proceed?" to be answered. */
  asker = (): Promise<Json> => this.once("asker", () => this.start({ agent: "asker", prompt: "go", wait_ms: 10_000 }));
  /** A run whose turn never ends on its own (simulator agent `hang`). */
  midTurn = (): Promise<Json> => this.once("hang", () => this.start({ agent: "hang", prompt: "think", wait_ms: 500 }));
  /** A run of its own, to be cancelled. */
  doomed = (): Promise<Json> => this.once("doomed", () => this.start({ agent: "echo", prompt: "cancel me", wait_ms: 10_000 }));

  private once(key: string, make: () => Promise<Json>): Promise<Json> {
    let p = this.memo.get(key);
    if (!p) {
      p = make();
      this.memo.set(key, p);
    }
    return p;
  }

  private async start(args: Json): Promise<Json> {
    const r = await callTool("start_interactive_run", args);
    if (r.isError || typeof r.sc.run_id !== "string")
      throw new Error(`setup: start_interactive_run ${JSON.stringify(args)} failed: ${r.text}`);
    return r.sc;
  }
}

interface ToolExample {
  /** Valid arguments (may create the runs they need through ctx). */
  args: (ctx: Ctx) => Promise<Json>;
  /** Extra checks on a successful result. */
  check?: (r: ToolResult) => void;
}

const runId = async (p: Promise<Json>): Promise<string> => String((await p).run_id);

/**
 * Valid example arguments for every tool the bridge has or will have. A tool
 * that tools/list shows and this table lacks fails the test: add its entry here.
 */
const TOOL_EXAMPLES: Record<string, ToolExample> = {
  start_interactive_run: {
    args: async () => ({ agent: "echo", prompt: "hello from the inspector", wait_ms: 10_000 }),
    check: (r) => {
      expect(r.sc).toMatchObject({ state: "awaiting_input" });
      expect(r.text).toContain("You said: hello from the inspector");
      expect(r.text).toContain(String(r.sc.run_id));
    },
  },
  read_run_events: {
    args: async (c) => ({ run_id: await runId(c.echo()), cursor: 0, wait_ms: 0, max_events: 50 }),
    check: (r) => {
      expect(r.sc.state).toBe("awaiting_input");
      expect(r.text).toContain("You said: hello from the inspector");
    },
  },
  send_steer: {
    args: async (c) => ({ run_id: await runId(c.echo()), text: "a steer from the inspector", wait_ms: 10_000 }),
    check: (r) => {
      expect(r.sc).toMatchObject({ delivered: true, state: "awaiting_input" });
      expect(r.text).toContain("You said: a steer from the inspector");
    },
  },
  resolve_interrupt: {
    args: async (c) => {
      const a = await c.asker();
      const pending = a.pending_interrupts as Array<{ interrupt_id: string }>;
      return { run_id: String(a.run_id), interrupt_id: pending[0]!.interrupt_id, answer: "yes", wait_ms: 10_000 };
    },
    check: (r) => {
      expect(r.sc.status).toBe("resolved");
      expect(r.text).toContain("Answer was yes");
    },
  },
  list_snapshots: {
    args: async () => ({ limit: 5, label_contains: "backup" }),
    check: (r) => expect(Number(r.sc.count)).toBeGreaterThanOrEqual(1),
  },
  list_runs: { args: async (c) => (await c.echo(), {}) },
  attach_run: { args: async (c) => ({ run_id: await runId(c.echo()), wait_ms: 0 }) },
  cancel_turn: {
    args: async (c) => ({ run_id: await runId(c.midTurn()), reason: "inspector test: stop this turn" }),
  },
  cancel_run: {
    args: async (c) => ({ run_id: await runId(c.doomed()), reason: "inspector test: end this run" }),
    check: (r) => expect(r.sc.state).toBe("cancelled"),
  },
  list_interrupts: { args: async (c) => ({ run_id: await runId(c.asker()), status: "all" }) },
  compact_run: { args: async (c) => ({ run_id: await runId(c.echo()) }) },
  list_agents: {
    args: async () => ({}),
    check: (r) => expect(r.text).toContain("echo"),
  },
  wait_for_runs: { args: async (c) => ({ run_ids: [await runId(c.echo())], wait_ms: 1000 }) },
};

/** Resources the bridge has or will have; a listed resource not here is still read. */
const KNOWN_RESOURCES = ["loomcycle://runs", "loomcycle://snapshots", "loomcycle://agents"];
/** Values for the variables of resource templates. */
const TEMPLATE_VARS: Record<string, (ctx: Ctx) => Promise<string>> = {
  run_id: (c) => runId(c.echo()),
};
const KNOWN_TEMPLATES = ["loomcycle://runs/{run_id}"];

// ---- the test ------------------------------------------------------------------------

describe("MCP Inspector CLI → built bridge → simulator", () => {
  it("calls every listed tool with valid arguments and reads every listed resource", async () => {
    const ctx = new Ctx();
    const report: string[] = [];

    // --strict prints every schema-portability problem (path, issue, fix) to stderr.
    const tl = await inspector("tools/list", ["--strict"]);
    expect(tl.stderr, "Inspector --strict found schema-portability problems").not.toMatch(/^(Warning|Error): tool /m);
    const tools = (tl.out?.result as { tools?: Array<{ name: string; outputSchema?: unknown }> } | undefined)?.tools ?? [];
    expect(tools.length, `tools/list: ${tl.stdout.slice(0, 500)} ${tl.stderr.slice(-500)}`).toBeGreaterThanOrEqual(5);
    const listed = tools.map((t) => t.name);
    const missing = listed.filter((n) => !(n in TOOL_EXAMPLES));
    expect(
      missing,
      `tools listed by the bridge without example arguments in TOOL_EXAMPLES (tests/hosts/inspector.test.ts): ${missing.join(", ")}`,
    ).toEqual([]);
    const skippedTools = Object.keys(TOOL_EXAMPLES).filter((n) => !listed.includes(n));

    for (const [name, ex] of Object.entries(TOOL_EXAMPLES)) {
      if (!listed.includes(name)) continue;
      const args = await ex.args(ctx);
      const r = await callTool(name, args);
      expect(r.isError, `${name} ${JSON.stringify(args)} → error: ${r.text}`).toBe(false);
      expect(r.text.length, `${name}: empty text block`).toBeGreaterThan(0);
      if (tools.find((t) => t.name === name)?.outputSchema)
        expect(Object.keys(r.sc).length, `${name}: no structuredContent`).toBeGreaterThan(0);
      ex.check?.(r);
      report.push(`  ✓ tool ${name.padEnd(22)} ${String(r.ms).padStart(5)} ms  ${r.text.split("\n")[0]!.slice(0, 90)}`);
    }

    const rl = await inspector("resources/list");
    const resources = ((rl.out?.result as { resources?: Array<{ uri: string }> } | undefined)?.resources ?? []).map((r) => r.uri);
    const tpl = await inspector("resources/templates/list");
    const templates = (
      (tpl.out?.result as { resourceTemplates?: Array<{ uriTemplate: string }> } | undefined)?.resourceTemplates ?? []
    ).map((t) => t.uriTemplate);

    const uris: string[] = [...resources];
    for (const t of templates) {
      let uri = t;
      for (const v of t.match(/\{[^}]+\}/g) ?? []) {
        const fill = TEMPLATE_VARS[v.slice(1, -1)];
        expect(fill, `resource template ${t}: no value for ${v} in TEMPLATE_VARS`).toBeDefined();
        uri = uri.replace(v, encodeURIComponent(await fill!(ctx)));
      }
      uris.push(uri);
    }
    for (const uri of uris) {
      const r = await inspector("resources/read", ["--uri", uri]);
      const contents = (r.out?.result as { contents?: Array<{ uri: string; text?: string; blob?: string }> } | undefined)
        ?.contents;
      expect(contents?.length, `resources/read ${uri}: ${r.stdout.slice(0, 500)} ${r.stderr.slice(-500)}`).toBeGreaterThan(0);
      expect(
        contents!.every((c) => (c.text ?? c.blob ?? "").length > 0),
        `resources/read ${uri}: empty content`,
      ).toBe(true);
      report.push(
        `  ✓ read ${uri.padEnd(43)} ${String(r.ms).padStart(5)} ms  ${(contents![0]!.text ?? "").split("\n")[0]!.slice(0, 70)}`,
      );
    }
    const skippedResources = [
      ...KNOWN_RESOURCES.filter((u) => !resources.includes(u)),
      ...KNOWN_TEMPLATES.filter((u) => !templates.includes(u)),
    ];

    const lines = [
      `MCP Inspector CLI drove ${listed.length} tools and read ${uris.length} resources of the built bridge:`,
      ...report,
      skippedTools.length
        ? `  skipped (not listed by the bridge yet): tools ${skippedTools.join(", ")}`
        : "  skipped tools: none",
      skippedResources.length
        ? `  skipped (not listed by the bridge yet): resources ${skippedResources.join(", ")}`
        : "  skipped resources: none",
    ];
    console.log(lines.join("\n"));
  });
});
