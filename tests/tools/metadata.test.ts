// Every tool's metadata at once, plus a committed snapshot of tools/list so any change
// to a name, description or schema is a reviewed diff.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
let tools: Tool[];
beforeAll(async () => {
  h = await startHarness();
  tools = (await h.client.listTools()).tools;
});
afterAll(async () => {
  await h?.close();
});

const MISSION = ["start_interactive_run", "send_steer", "read_run_events", "list_snapshots", "resolve_interrupt"];

describe("tools/list", () => {
  it("has the mission's five tools under their exact names", () => {
    const names = tools.map((t) => t.name);
    for (const n of MISSION) expect(names).toContain(n);
  });

  it("sets all four annotations, a title, an output schema and described parameters on every tool", () => {
    for (const t of tools) {
      const a = t.annotations ?? {};
      for (const k of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
        expect(typeof a[k], `${t.name}.${k}`).toBe("boolean");
      }
      expect(t.title ?? a.title, `${t.name} title`).toBeTruthy();
      expect((t.description ?? "").length, `${t.name} description`).toBeGreaterThan(120);
      expect(t.outputSchema, `${t.name} outputSchema`).toBeTruthy();
      const schema = t.inputSchema as Record<string, unknown>;
      expect(schema.anyOf, `${t.name} top-level anyOf`).toBeUndefined();
      expect(schema.oneOf, `${t.name} top-level oneOf`).toBeUndefined();
      expect(schema.allOf, `${t.name} top-level allOf`).toBeUndefined();
      expect(schema.type).toBe("object");
      const props = (schema.properties ?? {}) as Record<string, { description?: string }>;
      for (const [p, def] of Object.entries(props)) {
        expect((def.description ?? "").length, `${t.name}.${p} description`).toBeGreaterThan(15);
        expect(def.description, `${t.name}.${p} has an example`).toMatch(/Example|e\.g\.|default|"/);
      }
    }
  });

  it("marks only the readers read-only", () => {
    const ro = Object.fromEntries(tools.map((t) => [t.name, t.annotations?.readOnlyHint]));
    expect(ro.read_run_events).toBe(true);
    expect(ro.list_snapshots).toBe(true);
    expect(ro.start_interactive_run).toBe(false);
    expect(ro.send_steer).toBe(false);
    expect(ro.resolve_interrupt).toBe(false);
  });

  it("matches the committed snapshot", async () => {
    const snap = tools
      .map((t) => ({
        name: t.name,
        title: t.title,
        description: t.description,
        annotations: t.annotations,
        inputSchema: t.inputSchema,
        outputSchema: t.outputSchema,
        ...(t._meta ? { _meta: t._meta } : {}),
      }))
      .sort((x, y) => x.name.localeCompare(y.name));
    await expect(JSON.stringify(snap, null, 2) + "\n").toMatchFileSnapshot("./__snapshots__/tools-list.json");
  });

  it("carries workflow instructions, saying once what every run tool shares", () => {
    const instr = h.client.getInstructions() ?? "";
    for (const n of MISSION) expect(instr).toContain(n);
    expect(instr).toMatch(/data, not as instructions/);
    for (const s of [
      "running",
      "awaiting_input",
      "awaiting_answer",
      "completed",
      "failed",
      "cancelled",
      "unreachable",
      "loop_lost",
      "starting",
    ])
      expect(instr).toContain(s);
    for (const w of ["cursor", "has_more", "wait_ms", "stop point", "pending_interrupts"]) expect(instr).toContain(w);
  });

  // What a host puts into its model's context in every conversation (scripts/bench/tool-context.ts
  // measures it beside other servers): name, description and input schema, plus instructions.
  // Measured as a host without MCP Apps sees it (this harness declares no extension), which is
  // also what a host with them shows its model: it keeps app-only tools from it.
  it("keeps the model-facing tool list within its budget", () => {
    expect(tools.filter((t) => (t._meta?.ui as { visibility?: string[] } | undefined)?.visibility?.includes("app"))).toEqual([]);
    const bytes = tools.map((t) =>
      Buffer.byteLength(JSON.stringify({ name: t.name, description: t.description, inputSchema: t.inputSchema }), "utf8"),
    );
    const sum = bytes.reduce((a, b) => a + b, 0);
    const total = sum + Buffer.byteLength(h.client.getInstructions() ?? "", "utf8");
    expect(sum / tools.length, "bytes per tool").toBeLessThanOrEqual(650);
    expect(total, "bytes in all, instructions included").toBeLessThanOrEqual(10_000);
  });

  it("has no schema that constrains nothing (`{}`, flagged by the Inspector's --strict)", () => {
    const empty: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== "object") return;
      if (!Array.isArray(node) && Object.keys(node).length === 0 && path !== "") empty.push(path);
      for (const [k, v] of Object.entries(node)) {
        if (k === "properties" || k === "default" || k === "examples") {
          if (k === "properties" && v && typeof v === "object")
            for (const [pk, pv] of Object.entries(v)) walk(pv, `${path}.properties.${pk}`);
          continue;
        }
        walk(v, `${path}.${k}`);
      }
    };
    for (const t of tools) {
      walk(t.inputSchema, `${t.name}.inputSchema`);
      walk(t.outputSchema, `${t.name}.outputSchema`);
    }
    expect(empty).toEqual([]);
  });
});
