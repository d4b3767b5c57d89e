// Every registered tool at once: a tool added without its annotations, its row in the
// read-only table, a mention in the server instructions, or the sandbox banner fails here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_TOOLS, TOOLS } from "../../src/tools/index.js";
import { INSTRUCTIONS } from "../../src/server.js";
import { startHarness, type Harness } from "./harness.js";

/** The tools that change nothing on loomcycle, and those that do. */
const READ_ONLY: Record<string, boolean> = {
  start_interactive_run: false,
  send_steer: false,
  read_run_events: true,
  resolve_interrupt: false,
  list_snapshots: true,
  list_runs: true,
  attach_run: true,
  cancel_turn: false,
  cancel_run: false,
  list_interrupts: true,
  compact_run: false,
  list_agents: true,
  wait_for_runs: true,
  console_read: true,
  console_act: false,
};

/** Arguments each tool accepts; `RUN` stands for a run started in the sandbox. */
const RUN = "<run>";
const ARGS: Record<string, Record<string, unknown>> = {
  start_interactive_run: { agent: "echo", prompt: "hello", wait_ms: 5000 },
  send_steer: { run_id: RUN, text: "again", wait_ms: 5000 },
  read_run_events: { run_id: RUN },
  resolve_interrupt: { run_id: RUN, interrupt_id: "intr_none", answer: "yes", wait_ms: 0 },
  list_snapshots: {},
  list_runs: {},
  attach_run: { run_id: RUN },
  cancel_turn: { run_id: RUN },
  cancel_run: { run_id: RUN },
  list_interrupts: { run_id: RUN },
  compact_run: { run_id: RUN },
  list_agents: {},
  wait_for_runs: { run_ids: [RUN], wait_ms: 0 },
  console_read: { run_id: RUN },
  console_act: { run_id: RUN, action: "steer", text: "from the console" },
};

/** The run console's tools (listed only to hosts with MCP Apps) count as tools here too. */
const ALL = [...TOOLS, ...APP_TOOLS];
const names = ALL.map((t) => t.name);

describe("every tool", () => {
  it("is in the read-only table and says the same in its annotations", () => {
    expect(Object.keys(READ_ONLY).sort()).toEqual([...names].sort());
    for (const t of ALL) {
      const a = t.config.annotations;
      expect(a.readOnlyHint, t.name).toBe(READ_ONLY[t.name]);
      for (const k of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const)
        expect(typeof a[k], `${t.name}.${k}`).toBe("boolean");
      // A read-only tool destroys nothing.
      if (a.readOnlyHint) expect(a.destructiveHint, t.name).toBe(false);
    }
  });

  it("is named in the server instructions (but the console's own, which no model sees)", () => {
    for (const t of TOOLS) expect(INSTRUCTIONS, t.name).toContain(t.name);
    for (const t of APP_TOOLS) expect(INSTRUCTIONS, t.name).not.toContain(t.name);
  });

  describe("in --sandbox", () => {
    let h: Harness;
    let runId: string;
    beforeAll(async () => {
      h = await startHarness({}, { sandbox: true, apps: true });
      const s = await h.call("start_interactive_run", { agent: "echo", prompt: "first", wait_ms: 5000 });
      runId = String(s.sc.run_id);
    });
    afterAll(async () => {
      await h?.close();
    });

    it("opens every result with the sandbox banner, in its text and its structured content", async () => {
      expect(Object.keys(ARGS).sort()).toEqual([...names].sort());
      for (const name of names) {
        const args = JSON.parse(JSON.stringify(ARGS[name]).replaceAll(RUN, runId)) as Record<string, unknown>;
        const r = await h.call(name, args);
        if (r.isError) expect(r.text, name).toMatch(/^\[sandbox\] /);
        else {
          expect(r.text.split("\n")[0], name).toMatch(/^\[sandbox: these results come from the built-in loomcycle simulator/);
          expect(r.sc.sandbox, name).toBe(true);
        }
      }
    });
  });
});
