// Control characters in prompts and agent output never reach a text block raw (issue 19 item
// 10): NUL, BEL, ANSI escapes, C1 controls, a lone carriage return and bidirectional overrides
// are written as visible escapes in every text block — run results (inputs, replies, raw
// events, turn-cancel reasons), errors, lists and resources — while structuredContent and a
// resource's JSON keep the exact strings; newlines and tabs stay.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { startHarness, texts, type Harness, type ToolOutcome } from "./harness.js";

/** Every kind of character that must not pass raw, and the ones that must stay. */
const NASTY =
  "NUL\u0000 BEL\u0007 \u001b[31mred\u001b[0m \u001b]0;title\u0007 C1\u0085\u009b DEL\u007f safe\rEVIL " +
  "\u202eRTL override\u202c \u2066isolate\u2069 mark\u200f tab\there\nnext line\r\nend";
/** Raw, any of them (an independent copy of the rule, so the test does not trust the code). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const RAW = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)/;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    snapshots: [{ label: `snap ${NASTY}`, byte_size: 10, created_at: "2026-12-01T00:00:00Z" }],
  });
});
afterAll(async () => {
  await h?.close();
});

function clean(what: string, text: string): void {
  const m = RAW.exec(text);
  expect(
    m,
    `${what}: a raw U+${m?.[0].charCodeAt(0).toString(16).padStart(4, "0")} at ${m?.index} in ${JSON.stringify(text)}`,
  ).toBeNull();
}

function cleanResult(what: string, r: ToolOutcome): void {
  for (const c of r.raw.content) if (c.type === "text") clean(what, c.text);
}

async function readResource(uri: string): Promise<{ text: string; json: string }> {
  const r = (await h.client.readResource({ uri })) as ReadResourceResult;
  const [t, j] = r.contents as Array<{ text: string }>;
  return { text: t!.text, json: j!.text };
}

describe("control characters", () => {
  it("in a prompt, a steer and the agent's replies: escaped in the text, exact in structuredContent", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: NASTY, wait_ms: 10_000 });
    expect(s.isError, s.text).toBe(false);
    cleanResult("start", s);
    expect(s.text).toContain("\\u001b[31mred\\u001b[0m");
    expect(s.text).toContain("\\u202eRTL override\\u202c");
    expect(s.text).toContain("tab\there\nnext line\r\nend"); // tabs and line ends stay
    expect(s.sc.events![0]).toMatchObject({ kind: "input", text: NASTY });
    expect(texts(s.sc.events)).toBe(`You said: ${NASTY}`);
    const runId = String(s.sc.run_id);

    const st = await h.call("send_steer", { run_id: runId, text: `again ${NASTY}`, wait_ms: 10_000 });
    cleanResult("send_steer", st);
    expect(texts(st.sc.events)).toBe(`You said: again ${NASTY}`);

    for (const format of ["digest", "raw"]) {
      const r = await h.call("read_run_events", { run_id: runId, cursor: 0, format });
      cleanResult(`read_run_events (${format})`, r);
    }
    cleanResult("attach_run", await h.call("attach_run", { run_id: runId }));

    const res = await readResource(`loomcycle://runs/${runId}`);
    clean("the run resource's text", res.text);
    expect(res.json).toContain(JSON.stringify(NASTY).slice(1, -1)); // the JSON keeps the exact string
  });

  it("in a turn-cancel reason read back from loomcycle", async () => {
    const s = await h.call("start_interactive_run", { agent: "longtalk", prompt: "talk", wait_ms: 0 });
    const runId = String(s.sc.run_id);
    const c = await h.call("cancel_turn", { run_id: runId, reason: NASTY });
    expect(c.isError, c.text).toBe(false);
    cleanResult("cancel_turn", c);
    const item = c.sc.events!.find((e) => e.kind === "turn_cancelled");
    expect(item).toMatchObject({ reason: NASTY });
  });

  it("in a snapshot label: the list's text and the resource's text are clean, their structured forms exact", async () => {
    const l = await h.call("list_snapshots", {});
    cleanResult("list_snapshots", l);
    expect((l.sc.snapshots as Array<{ label: string }>).map((x) => x.label)).toContain(`snap ${NASTY}`);
    clean("the snapshots resource", (await readResource("loomcycle://snapshots")).text);
  });

  it("in errors that quote what was given or what loomcycle said", async () => {
    const s = await h.call("start_interactive_run", { agent: `no such ${NASTY}`, prompt: "x" });
    expect(s.isError).toBe(true);
    cleanResult("unknown agent", s);
    const a = await h.call("start_interactive_run", { agent: "asker", prompt: "x", wait_ms: 10_000 });
    const iid = String(a.sc.pending_interrupts![0]!.interrupt_id);
    const r = await h.call("resolve_interrupt", { run_id: String(a.sc.run_id), interrupt_id: iid, answer: NASTY });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/must be one of the question's options/);
    cleanResult("a wrong option", r);
    const bad = await h.call("read_run_events", { run_id: "r_1", format: `x${NASTY}` });
    expect(bad.isError).toBe(true);
    cleanResult("a bad argument", bad);
  });

  it("lists and the other resources carry none either", async () => {
    for (const tool of ["list_runs", "list_interrupts", "list_agents"]) cleanResult(tool, await h.call(tool, {}));
    for (const uri of ["loomcycle://runs", "loomcycle://agents"]) clean(uri, (await readResource(uri)).text);
  });
});
