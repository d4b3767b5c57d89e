// loomcycle://runs/{run_id} renders a run exactly as the tools do (issue 19 item 8): the same
// keys (pending_interrupts, next_step, events), the host's inputs marked as the host's and the
// opening prompt without the system prompt in a bridge that never started the run; and resource
// reads fail with MCP's codes: -32002 "Resource not found" for an unknown run or URI, -32602 for
// a URI that is not one or names a malformed run id.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

type Json = Record<string, unknown>;
async function readRunResource(x: Harness, runId: string): Promise<{ text: string; json: Json }> {
  const r = await x.client.readResource({ uri: `loomcycle://runs/${runId}` });
  return {
    text: String((r.contents[0] as { text: string }).text),
    json: JSON.parse(String((r.contents[1] as { text: string }).text)) as Json,
  };
}

describe("loomcycle://runs/{run_id}: one rendering of a run, as the tools give it", () => {
  it("has the tools' keys and values: state, events, pending_interrupts, next_step, usage (no pending, next or recent_events)", async () => {
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "ask me something" });
    const runId = String(s.sc.run_id);
    const { json, text } = await readRunResource(h, runId);
    for (const k of ["pending", "next", "recent_events"]) expect(json, k).not.toHaveProperty(k);
    expect(json).toMatchObject({
      run_id: runId,
      agent_id: s.sc.agent_id,
      session_id: s.sc.session_id,
      state: "awaiting_answer",
      pending_interrupts: s.sc.pending_interrupts,
      usage: s.sc.usage,
      from_cursor: 0,
      next_cursor: s.sc.next_cursor,
      unread: 0,
    });
    // The same events as a read of the same range, and the same next step as a result.
    const read = await h.call("read_run_events", { run_id: runId, cursor: 0 });
    expect(json.events).toEqual(read.sc.events);
    expect(json.next_step).toBe(read.sc.next_step);
    expect(text).toMatch(/^Run r_\w+ — the last \d+ events \(from cursor 0\)/);
    expect(text).toContain("pending_interrupts:\n- ");
    expect(text).toContain(`next: ${String(read.sc.next_step)}`);
  });

  it("in a bridge that did not start the run: the host's inputs stay the host's, the opening prompt is the prompt alone", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "lcb-res-")), "state.json");
    const a = await startHarness({}, { sim: h.sim, stateFilePath: path });
    let runId: string;
    try {
      const s = await a.call("start_interactive_run", { agent: "echo", prompt: "the opening prompt" });
      runId = String(s.sc.run_id);
      await a.call("send_steer", { run_id: runId, text: "a steer of the host's" });
    } finally {
      await a.close();
    }
    // A new process, with the same state file, that reads only the resource.
    const b = await startHarness({}, { sim: h.sim, stateFilePath: path });
    try {
      const { json, text } = await readRunResource(b, runId);
      const inputs = (json.events as Json[]).filter((e) => e.kind === "input");
      expect(inputs).toEqual([
        expect.objectContaining({ text: "the opening prompt", source: "host" }),
        expect.objectContaining({ text: "a steer of the host's", source: "host" }),
      ]);
      expect(text).toContain("input (host): the opening prompt");
      expect(text).not.toMatch(/could not be separated|replay/);
    } finally {
      await b.close();
    }
    // A bridge with no state at all: the prompt is still separated from the system prompt.
    const c = await startHarness({}, { sim: h.sim });
    try {
      const { json } = await readRunResource(c, runId);
      expect((json.events as Json[])[0]).toMatchObject({ kind: "input", text: "the opening prompt", source: "replay" });
    } finally {
      await c.close();
    }
  });
});

describe("resource read errors carry MCP's JSON-RPC codes", () => {
  const fails = async (uri: string): Promise<McpError> => {
    const err = await h.client.readResource({ uri }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, uri).toBeInstanceOf(McpError);
    return err as McpError;
  };

  it("an unknown run: -32002 Resource not found, with the URI", async () => {
    const e = await fails("loomcycle://runs/r_0123456789abcdef");
    expect(e.code).toBe(-32002);
    expect(e.message).toBe("MCP error -32002: Resource not found");
    expect(e.data).toMatchObject({ uri: "loomcycle://runs/r_0123456789abcdef" });
  });

  it("a URI no resource has: -32002", async () => {
    const e = await fails("loomcycle://nothing-here");
    expect(e.code).toBe(-32002);
    expect(e.data).toMatchObject({ uri: "loomcycle://nothing-here" });
  });

  it("a malformed run id, or a string that is not a URI: -32602", async () => {
    const bad = await fails("loomcycle://runs/no%20spaces%20here");
    expect(bad.code).toBe(-32602);
    expect(bad.message).toMatch(/run_id/);
    const notUri = await fails("not a uri at all");
    expect(notUri.code).toBe(-32602);
    expect(notUri.message).toMatch(/is not a URI/);
    const sub = await h.client.subscribeResource({ uri: "loomcycle://runs/bad%21id" }).then(
      () => undefined,
      (e: unknown) => e as McpError,
    );
    expect(sub?.code).toBe(-32602);
  });
});
