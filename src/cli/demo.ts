// `loomcycle-mcp-bridge demo`: start the built-in loomcycle simulator, spawn this
// bridge over stdio as a host would, and drive a short session with the MCP SDK
// client, printing it as a transcript a newcomer can follow. `--speed X` runs it at X
// times the pace of its agents (the tests use 0.05).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { startSimulator } from "../sim/index.js";
import { terminal, type CliIo } from "./terminal.js";

type Structured = Record<string, unknown> & { events?: Array<Record<string, unknown>> };

function short(s: string, n = 110): string {
  const one = s.replace(/\s+/g, " ");
  return one.length <= n ? one : `${one.slice(0, n)}… (${one.length} chars)`;
}

export interface DemoOptions {
  /** Multiplies the simulated agents' delays and the demo's own short waits (default 1). */
  speed?: number;
  /** The environment it runs in: none of its LOOMCYCLE_* settings reach the demo's bridge. */
  env?: NodeJS.ProcessEnv;
  io?: CliIo;
  /** The bridge's script it starts over stdio (the bin). */
  bin: string;
}

function showEvents(sc: Structured, printLine: (line: string) => void): void {
  for (const e of sc.events ?? []) {
    const k = String(e.kind);
    const body =
      k === "text"
        ? `${short(String(e.text))}${e.partial ? "  [partial: still streaming]" : ""}`
        : k === "input"
          ? `"${short(String(e.text))}"`
          : k === "interrupt"
            ? `${String(e.question)} options=${JSON.stringify(e.options)} id=${String(e.interrupt_id)}`
            : k === "tool_call"
              ? `${String(e.tool)} ${short(String(e.input), 60)}`
              : k === "tool_result"
                ? `${String(e.tool)} ok=${String(e.ok)} ${short(String(e.output), 60)}`
                : "";
    printLine(`      [${String(e.cursor)}] ${k}${body ? ": " + body : ""}`);
  }
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const { bin } = opts;
  const speed = opts.speed ?? 1;
  const printLine = (line = ""): void => (opts.io ?? terminal).out(line);
  // A wait that is meant to end mid-turn keeps that meaning at any speed.
  const scaled = (ms: number): number => Math.round(ms * speed);
  const sim = await startSimulator({ tailPollMs: Math.max(5, Math.min(50, scaled(50))), speed });
  // The demo's bridge keeps its read positions in a directory of its own, removed at the
  // end: nothing it does touches the user's state (~/.local/state), and none of the
  // user's LOOMCYCLE_* settings (a token file, say) reach it.
  const stateHome = mkdtempSync(join(tmpdir(), "loomcycle-demo-"));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? process.env)) if (v !== undefined && !k.startsWith("LOOMCYCLE_")) env[k] = v;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin],
    env: {
      ...env,
      XDG_STATE_HOME: stateHome,
      LOOMCYCLE_BASE_URL: sim.url,
      LOOMCYCLE_AUTH_TOKEN: sim.token,
      LOOMCYCLE_USER_ID: "demo-user",
      LOOMCYCLE_MCP_LOG_LEVEL: "warn",
    },
    stderr: "inherit",
  });
  const client = new Client({ name: "demo-host", version: "1.0.0" });
  let step = 0;
  const call = async (what: string, name: string, args: Record<string, unknown>): Promise<Structured> => {
    step += 1;
    printLine("");
    printLine(`${step}. ${what}`);
    printLine(`   → ${name} ${JSON.stringify(args)}`);
    const t0 = Date.now();
    const res = (await client.callTool({ name, arguments: args })) as CallToolResult;
    const ms = Date.now() - t0;
    if (res.isError) {
      const first = res.content[0];
      printLine(`   ← error (${ms} ms): ${first && first.type === "text" ? first.text : "?"}`);
      return {};
    }
    const sc = (res.structuredContent ?? {}) as Structured;
    const head = ["state", "next_cursor", "has_more", "delivered", "status", "count"]
      .filter((k) => sc[k] !== undefined)
      .map((k) => `${k}=${JSON.stringify(sc[k])}`)
      .join(" ");
    printLine(`   ← (${ms} ms) ${head}`);
    showEvents(sc, printLine);
    for (const snap of (sc.snapshots as Array<Record<string, unknown>> | undefined) ?? []) {
      printLine(
        `      ${String(snap.id)}  label=${JSON.stringify(snap.label)}  ${String(snap.byte_size)} bytes  ${String(snap.created_at)}`,
      );
    }
    return sc;
  };

  try {
    await client.connect(transport);
    const tools = await client.listTools();
    printLine(`loomcycle-mcp-bridge demo — simulator at ${sim.url}, bridge spawned over stdio`);
    printLine(`tools: ${tools.tools.map((t) => t.name).join(", ")}`);

    const started = await call(
      `Start a run with the slow-talking agent; return after ${scaled(1000) / 1000} s even though it is mid-turn`,
      "start_interactive_run",
      {
        agent: "slow",
        prompt: "Tell me about the weather on Mars.",
        wait_ms: scaled(1000),
      },
    );
    const runId = String(started.run_id);
    printLine(`   run_id=${runId} agent_id=${String(started.agent_id)} session_id=${String(started.session_id)}`);
    await call("Read again as soon as anything new arrives (still mid-turn: the text is partial)", "read_run_events", {
      run_id: runId,
      wait_ms: 5000,
      wait_for: "any",
    });
    await call("Wait until it parks at the end of its turn", "read_run_events", { run_id: runId, wait_ms: 25000 });
    await call("Steer it: send the next instruction and wait for the answer", "send_steer", {
      run_id: runId,
      text: "Now in one sentence, please.",
      wait_ms: 25000,
    });

    const asked = await call("Start an agent that asks a question before going on", "start_interactive_run", {
      agent: "asker",
      prompt: "Deploy the new build.",
      wait_ms: 25000,
    });
    const pending = (asked.pending_interrupts as Array<{ interrupt_id: string }> | undefined)?.[0];
    if (pending) {
      await call("Answer with something that is not one of its options (the bridge checks first)", "resolve_interrupt", {
        run_id: String(asked.run_id),
        interrupt_id: pending.interrupt_id,
        answer: "maybe",
      });
      await call("Answer properly", "resolve_interrupt", {
        run_id: String(asked.run_id),
        interrupt_id: pending.interrupt_id,
        answer: "yes",
        wait_ms: 25000,
      });
    }
    await call("List loomcycle's snapshots", "list_snapshots", { limit: 5 });
    printLine("");
    printLine("Done. The simulator stops with the demo; a real loomcycle keeps parked runs until they are cancelled.");
    return 0;
  } finally {
    await client.close().catch(() => {});
    await sim.close();
    rmSync(stateHome, { recursive: true, force: true });
  }
}
