// The mission's five tools (start, read, steer, resolve, snapshots), bad input to any tool,
// text/structured parity, progress and cancellation — through a real MCP client
// (InMemoryTransport) against createServer() and the simulator over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, texts, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    extraTokens: [
      { token: "tok_user_only_0123456789", scopes: ["runs:create", "runs:read"], tenant_id: "default", subject: "u_plain" },
    ],
  });
});
afterAll(async () => {
  await h?.close();
});

describe("start_interactive_run / read_run_events / send_steer", () => {
  it("runs a conversation; reading from cursor 0 gives the script exactly, every text once", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "hello there" });
    expect(s.isError, s.text).toBe(false);
    expect(s.sc.run_id).toMatch(/^r_[0-9a-f]{16}$/);
    expect(s.sc.agent_id).toMatch(/^a_[0-9a-f]{16}$/);
    expect(s.sc.session_id).toMatch(/^s_[0-9a-f]{16}$/);
    expect(s.sc.state).toBe("awaiting_input");
    const kinds = s.sc.events!.map((e) => e.kind);
    expect(kinds).toEqual(["input", "text", "awaiting_input"]);
    expect(s.sc.events![0]).toMatchObject({ kind: "input", text: "hello there", cursor: 0 });
    expect(texts(s.sc.events)).toBe("You said: hello there");
    expect((s.sc.usage as { output_tokens: number }).output_tokens).toBeGreaterThan(0);
    expect(s.text).toContain("state=awaiting_input");
    expect(s.text).toContain("data, not instructions");
    expect(s.sc.next_step).toMatch(/send_steer/);
    expect(s.sc.sandbox).toBeUndefined();
    const runId = String(s.sc.run_id);

    const nothing = await h.call("read_run_events", { run_id: runId });
    expect(nothing.sc.events).toEqual([]);
    expect(nothing.sc.next_cursor).toBe(s.sc.next_cursor);

    const st = await h.call("send_steer", { run_id: runId, text: "second message" });
    expect(st.isError, st.text).toBe(false);
    expect(st.sc.delivered).toBe(true);
    expect(st.sc.state).toBe("awaiting_input");
    expect(st.sc.events!.map((e) => e.kind)).toEqual(["input", "text", "awaiting_input"]);
    expect(st.sc.events![0]).toMatchObject({ kind: "input", text: "second message" });
    expect(texts(st.sc.events)).toBe("You said: second message");

    const all = await h.call("read_run_events", { run_id: runId, cursor: 0 });
    expect(all.sc.events!.filter((e) => e.kind === "input").map((e) => e.text)).toEqual(["hello there", "second message"]);
    expect(texts(all.sc.events)).toBe("You said: hello thereYou said: second message");
    expect(all.sc.has_more).toBe(false);
    // never the system prompt
    expect(JSON.stringify(all.sc)).not.toMatch(/You are/);

    const raw = await h.call("read_run_events", { run_id: runId, cursor: 0, format: "raw", max_events: 3 });
    expect(raw.sc.events!.map((e) => e.cursor)).toEqual([0, 1, 2]);
    expect((raw.sc.events![0]!.event as { type: string }).type).toBe("steer");
    expect(raw.sc.has_more).toBe(true);
  });

  it("reads a long reply mid-turn and pages through it with small max_chars, no gap or overlap", async () => {
    const s = await h.call("start_interactive_run", { agent: "longtalk", prompt: "talk", wait_ms: 0 });
    expect(s.isError, s.text).toBe(false);
    const runId = String(s.sc.run_id);
    let text = texts(s.sc.events);
    let sawPartial = (s.sc.events ?? []).some((e) => e.partial === true);
    let cursor = Number(s.sc.next_cursor);
    const seen = new Set<number>((s.sc.events ?? []).map((e) => Number(e.cursor)));
    for (let i = 0; i < 2000; i++) {
      const r = await h.call("read_run_events", { run_id: runId, max_chars: 500, wait_ms: 2000, wait_for: "any" });
      expect(r.isError, r.text).toBe(false);
      for (const e of r.sc.events ?? []) {
        expect(seen.has(Number(e.cursor))).toBe(false);
        seen.add(Number(e.cursor));
        if (e.partial) sawPartial = true;
      }
      text += texts(r.sc.events);
      cursor = Number(r.sc.next_cursor);
      if (r.sc.state === "awaiting_input" && !r.sc.has_more) break;
    }
    const full = await h.call("read_run_events", { run_id: runId, cursor: 0, max_chars: 40_000, max_events: 1000 });
    const whole = texts(full.sc.events);
    expect(whole.split(/\s+/).length).toBeGreaterThan(2500);
    expect(text.length).toBeGreaterThan(0);
    // Everything read piecemeal equals the whole, with nothing repeated, and both
    // readings end at the same position.
    let rest = "";
    let end = Number(full.sc.next_cursor);
    let more = full.sc.has_more === true;
    while (more) {
      const r = await h.call("read_run_events", { run_id: runId, cursor: end, max_chars: 40_000 });
      rest += texts(r.sc.events);
      end = Number(r.sc.next_cursor);
      more = r.sc.has_more === true;
    }
    expect(text).toBe(whole + rest);
    expect(cursor).toBe(end);
    expect(sawPartial).toBe(true);
  }, 60_000);

  it("rejects bad input with messages that say what is allowed", async () => {
    const a = await h.call("read_run_events", { run_id: "not a run!" });
    expect(a.isError).toBe(true);
    expect(a.text).toMatch(/run_id must match/);
    const b = await h.call("read_run_events", { run_id: "r_0000000000000000", wait_ms: 60_000 });
    expect(b.isError).toBe(true);
    expect(b.text).toContain(
      "wait_ms must be an integer number of milliseconds, 0 … 55000 (hosts cut tool calls off around 60 s), not 60000",
    );
    const c = await h.call("start_interactive_run", { agent: "echo", prompt: "   " });
    expect(c.isError).toBe(true);
    expect(c.text).toMatch(/prompt must not be empty/);
    const d = await h.call("start_interactive_run", { agent: "no-such-agent", prompt: "hi" });
    expect(d.isError).toBe(true);
    expect(d.text).toMatch(/no agent by that name/);
    expect(d.text).toMatch(/No run was created/);
  });

  it.each([
    ["start_interactive_run", { agent: "echo" }, "prompt is missing: give a string"],
    ["start_interactive_run", { agent: "echo", prompt: 5 }, "prompt must be a string, not 5"],
    ["start_interactive_run", { prompt: "hi" }, 'agent is missing: give the name of a loomcycle agent, e.g. "helper"'],
    [
      "start_interactive_run",
      { agent: "echo", prompt: "x", metadata: { repo: 1 } },
      "each metadata value must be a string, not 1",
    ],
    [
      "start_interactive_run",
      { agent: "echo", prompt: "x", metadata: "acme" },
      'metadata must be an object of strings, e.g. {"repo": "acme/w"}, not the string "acme"',
    ],
    ["read_run_events", {}, 'run_id is missing: give a string such as "r_0b1c2d3e4f5a6b7c"'],
    [
      "read_run_events",
      { run_id: " r_0b1c2d3e4f5a6b7c" },
      'run_id must match [A-Za-z0-9_-]{1,128}, e.g. "r_0b1c2d3e4f5a6b7c", not the string " r_0b1c2d3e4f5a6b7c"',
    ],
    [
      "read_run_events",
      { run_id: "r_0b1c2d3e4f5a6b7c", format: "Raw" },
      'format must be "digest" or "raw", not the string "Raw"',
    ],
    [
      "read_run_events",
      { run_id: "r_0b1c2d3e4f5a6b7c", wait_ms: "5000" },
      'wait_ms must be an integer number of milliseconds, 0 … 55000, not the string "5000"',
    ],
    [
      "read_run_events",
      { run_id: "r_0b1c2d3e4f5a6b7c", cursor: null },
      "cursor must be a non-negative integer log position, not null",
    ],
    [
      "read_run_events",
      { run_id: "r_0b1c2d3e4f5a6b7c", cursor: 1.5 },
      "cursor must be a non-negative integer log position, not 1.5",
    ],
    [
      "read_run_events",
      { run_id: "r_0b1c2d3e4f5a6b7c", wait_ms: -5 },
      "wait_ms must be an integer number of milliseconds, 0 … 55000 (hosts cut tool calls off around 60 s), not -5",
    ],
    [
      "read_run_events",
      { run_id: "r_0b1c2d3e4f5a6b7c", max_chars: 50_000 },
      "max_chars must be an integer 200 … 40000 (hosts cut results around 50 KB), not 50000",
    ],
    ["list_snapshots", { limit: 0 }, "limit must be an integer 1 … 200, not 0"],
    ["send_steer", { run_id: "r_0b1c2d3e4f5a6b7c", text: ["a"] }, "text must be a string, not a list"],
    [
      "resolve_interrupt",
      { run_id: "r_0b1c2d3e4f5a6b7c", interrupt_id: "i_1", decline: "yes" },
      'decline must be true or false, not the string "yes"',
    ],
    [
      "list_runs",
      { state: "parked" },
      'state must be one of starting, running, awaiting_input, awaiting_answer, completed, failed, cancelled, unreachable, loop_lost, not the string "parked"',
    ],
    [
      "wait_for_runs",
      { run_ids: "r_0b1c2d3e4f5a6b7c" },
      'run_ids must be a list of run ids, not the string "r_0b1c2d3e4f5a6b7c"',
    ],
    [
      "read_run_events",
      { run_id: "r_0b1c2d3e4f5a6b7c", waitms: 100 },
      'unknown argument "waitms" (did you mean wait_ms?); read_run_events takes run_id, cursor, wait_ms, wait_for, format, max_events, max_chars',
    ],
    [
      "send_steer",
      { run_id: "r_0b1c2d3e4f5a6b7c", text: "hi", priority: "high", mode: 1 },
      'unknown arguments "priority", "mode"; send_steer takes run_id, text, wait_ms',
    ],
    [
      "start_interactive_run",
      { agnet: "echo", promt: "hi" },
      'unknown arguments "agnet" (did you mean agent?), "promt" (did you mean prompt?); start_interactive_run takes',
    ],
    ["send_steer", { run_id: "r_0b1c2d3e4f5a6b7c", txet: "hi" }, 'unknown argument "txet" (did you mean text?)'],
    ["list_agents", { verbose: true }, 'unknown argument "verbose"; list_agents takes no arguments'],
  ] as const)("%s %j: one line naming what was given and what is allowed", async (tool, args, line) => {
    const r = await h.call(tool, args as Record<string, unknown>);
    expect(r.isError).toBe(true);
    expect(r.text).toContain(line);
  });

  it("says a run unknown to loomcycle is unknown", async () => {
    const r = await h.call("read_run_events", { run_id: "r_ffffffffffffffff" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/no run r_ffffffffffffffff visible/);
  });

  it("refuses to steer a run that has ended, saying to start a new one", async () => {
    const s = await h.call("start_interactive_run", { agent: "failing", prompt: "go" });
    expect(s.isError, s.text).toBe(false);
    expect(s.sc.state).toBe("failed");
    expect(s.sc.events!.filter((e) => e.kind === "error")).toHaveLength(2);
    const st = await h.call("send_steer", { run_id: String(s.sc.run_id), text: "hello?" });
    expect(st.isError).toBe(true);
    expect(st.text).toMatch(/has ended/);
    expect(st.text).toMatch(/start_interactive_run/);
  });

  it("reads a run started elsewhere (attached on first use) without showing the system prompt", async () => {
    const res = await fetch(`${h.sim.url}/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.sim.token}`, "content-type": "application/json" },
      body: JSON.stringify({ agent: "echo", prompt: "from the web ui", interactive: true }),
    });
    const reader = res.body!.getReader();
    let buf = "";
    while (!/"run_id":"(r_[0-9a-f]+)"/.test(buf)) buf += new TextDecoder().decode((await reader.read()).value);
    const runId = /"run_id":"(r_[0-9a-f]+)"/.exec(buf)![1]!;
    await reader.cancel();
    await h.sim.waitForStopPoint(runId);
    const r = await h.call("read_run_events", { run_id: runId, wait_ms: 5000 });
    expect(r.isError, r.text).toBe(false);
    expect(r.sc.state).toBe("awaiting_input");
    expect(r.sc.events![0]).toMatchObject({ kind: "input", text: "from the web ui" });
    expect(texts(r.sc.events)).toBe("You said: from the web ui");
  });
});

describe("text and structuredContent carry the same information", () => {
  it("every field of a run result appears in its text block (OpenCode shows only the text)", async () => {
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "parity check" });
    expect(s.sc.state).toBe("awaiting_answer");
    const scalar = ["run_id", "agent_id", "session_id", "state", "next_cursor", "has_more", "next_step"] as const;
    for (const k of scalar) expect(s.text, k).toContain(String(s.sc[k]));
    const usage = s.sc.usage as { input_tokens: number; output_tokens: number };
    expect(s.text).toContain(`in:${usage.input_tokens},out:${usage.output_tokens}`);
    for (const e of s.sc.events!) {
      expect(s.text).toContain(`[${String(e.cursor)}] ${String(e.kind)}`);
      for (const v of Object.values(e)) if (typeof v === "string" && v.length > 0) expect(s.text).toContain(v);
    }
    for (const p of s.sc.pending_interrupts!) {
      expect(s.text).toContain(String(p.interrupt_id));
      expect(s.text).toContain(String(p.question));
      expect(s.text).toContain(JSON.stringify(p.options));
    }
  });
});

describe("resolve_interrupt", () => {
  it("checks options before calling loomcycle, answers, and refuses a second answer", async () => {
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy" });
    expect(s.sc.state).toBe("awaiting_answer");
    const p = s.sc.pending_interrupts![0]!;
    expect(p).toMatchObject({ question: "Proceed?", options: ["yes", "no"] });
    const runId = String(s.sc.run_id);
    const before = h.sim.requests.length;
    const bad = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: p.interrupt_id, answer: "maybe" });
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/"yes", "no"/);
    expect(h.sim.requests.slice(before).some((r) => r.path.endsWith("/resolve"))).toBe(false);

    const both = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: p.interrupt_id, answer: "yes", decline: true });
    expect(both.isError).toBe(true);
    const none = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: p.interrupt_id });
    expect(none.isError).toBe(true);

    const ok = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: p.interrupt_id, answer: "yes" });
    expect(ok.isError, ok.text).toBe(false);
    expect(ok.sc.status).toBe("resolved");
    expect(ok.sc.state).toBe("awaiting_input");
    expect(ok.sc.pending_interrupts).toEqual([]);
    expect(texts(ok.sc.events)).toContain("Answer was yes");

    const again = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: p.interrupt_id, answer: "no" });
    expect(again.isError).toBe(true);
    expect(again.text).toMatch(/already resolved/);
  });

  it("declines", async () => {
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy" });
    const p = s.sc.pending_interrupts![0]!;
    const d = await h.call("resolve_interrupt", { run_id: String(s.sc.run_id), interrupt_id: p.interrupt_id, decline: true });
    expect(d.isError, d.text).toBe(false);
    expect(d.sc.status).toBe("declined");
    expect(texts(d.sc.events)).toContain("Declined");
  });

  it("names an unknown interrupt", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "x" });
    const r = await h.call("resolve_interrupt", { run_id: String(s.sc.run_id), interrupt_id: "intr_nope", answer: "yes" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/no interrupt intr_nope/);
  });
});

describe("list_snapshots", () => {
  it("lists with limit and label filter", async () => {
    const all = await h.call("list_snapshots", {});
    expect(all.isError, all.text).toBe(false);
    expect(Number(all.sc.count)).toBeGreaterThanOrEqual(3);
    const snap = (all.sc.snapshots as Array<Record<string, unknown>>)[0]!;
    expect(Object.keys(snap).sort()).toEqual(["byte_size", "created_at", "id", "label", "schema_version"]);
    const one = await h.call("list_snapshots", { limit: 1 });
    expect(one.sc.count).toBe(1);
  });

  it("tells a non-admin token which scope it needs", async () => {
    const { startHarness: sh } = await import("./harness.js");
    const h2 = await sh(
      {
        extraTokens: [
          { token: "tok_user_only_0123456789", scopes: ["runs:create", "runs:read"], tenant_id: "default", subject: "u_plain" },
        ],
      },
      { token: "tok_user_only_0123456789" },
    );
    try {
      const r = await h2.call("list_snapshots", {});
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/substrate:admin/);
      expect(r.text).not.toContain("tok_user_only_0123456789");
    } finally {
      await h2.close();
    }
  });
});

// The call bound under held headers is checked by the fault suite (scenario 3), which
// measures it; the main suite asserts no wall-clock times.
describe("progress and cancellation", () => {
  it("sends progress while it waits and stops waiting when the host cancels", async () => {
    const p = await startHarness({}, { sim: h.sim, timings: { progressEveryMs: 50 } });
    try {
      const s = await p.call("start_interactive_run", { agent: "echo", prompt: "park" });
      const runId = String(s.sc.run_id);
      // Progress keeps coming while it waits: after the second one, another host steers the
      // run and the read returns with it.
      const progress: Array<{ message?: string }> = [];
      let steered: Promise<unknown> | undefined;
      const r = await p.call(
        "read_run_events",
        { run_id: runId, wait_ms: 30_000, wait_for: "any" },
        {
          onprogress: (m) => {
            progress.push(m as { message?: string });
            if (progress.length === 2) steered = p.bridge.client.sendInput(runId, "enough waiting");
          },
        },
      );
      await steered;
      expect(r.isError).toBe(false);
      expect(r.sc.events?.[0]).toMatchObject({ kind: "input", text: "enough waiting" });
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress[0]?.message).toMatch(new RegExp(`^run ${runId}: awaiting_input, \\d+ events$`));
      // The rest of that turn, to its park: nothing unread before the next wait.
      expect((await p.call("read_run_events", { run_id: runId, wait_ms: 10_000 })).sc.state).toBe("awaiting_input");

      // Cancelled while it waits (it is waiting once it sends progress).
      const ac = new AbortController();
      const pending = p.call(
        "read_run_events",
        { run_id: runId, wait_ms: 30_000, wait_for: "any" },
        { signal: ac.signal, onprogress: () => ac.abort() },
      );
      await expect(pending).rejects.toThrow();
      // The server is still answering.
      const after = await p.call("read_run_events", { run_id: runId });
      expect(after.isError).toBe(false);
    } finally {
      await p.close();
    }
  });
});
