// The live tier: the built bridge, spawned over stdio as a host runs it, against a real
// loomcycle (tests/live/README.md). Every check compares what the bridge returned with what
// loomcycle itself records: its transcript, its run status, and a tail stream read directly
// from 0. `npm run test:live` skips the whole tier when LOOMCYCLE_LIVE_URL is unset.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, type StdioPeer } from "../stdio-peer.js";
import {
  count,
  digestText,
  items,
  liveEnv,
  Loomcycle,
  replicaCtl,
  restartLoomcycle,
  sameText,
  spawnBridge,
  textOf,
  until,
  type Frame,
  type LiveEnv,
  type ToolResult,
} from "./harness.js";

const env = liveEnv();
/** loomcycle's replicas sweeper stale limit in the cluster under test (LOOMCYCLE_REPLICAS_STALE_AFTER_MS; default 90 s). */
const REPLICAS_STALE_MS = Number(process.env.LOOMCYCLE_LIVE_REPLICAS_STALE_AFTER_MS ?? 90_000);
const live = "skip" in env ? undefined : env;
const d = live ? describe : describe.skip;

let lc: Loomcycle;
let peer: StdioPeer;
const peers: StdioPeer[] = [];

function bridge(opts: Parameters<typeof spawnBridge>[1] = {}): { peer: StdioPeer; stateDir: string } {
  const b = spawnBridge(live as LiveEnv, opts);
  peers.push(b.peer);
  return b;
}

async function call(p: StdioPeer, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  return p.callTool(name, args);
}

/** Raw frames the bridge holds for a run, from cursor 0, paged until has_more is false. */
async function rawAll(p: StdioPeer, runId: string): Promise<Array<{ cursor: number; event: Record<string, unknown> }>> {
  const out: Array<{ cursor: number; event: Record<string, unknown> }> = [];
  let cursor = 0;
  for (;;) {
    const r = await call(p, "read_run_events", { run_id: runId, cursor, format: "raw", max_events: 1000, max_chars: 40000 });
    expect(r.isError, r.text).toBe(false);
    out.push(...(r.sc.events as typeof out));
    cursor = r.sc.next_cursor as number;
    if (!r.sc.has_more) return out;
  }
}

/** The bridge's raw log for a run equals loomcycle's own replay of it, frame for frame. */
async function expectSameAsTail(p: StdioPeer, runId: string, done: (frames: Frame[]) => boolean): Promise<Frame[]> {
  const { frames } = await lc.tail(runId, done);
  const raw = await rawAll(p, runId);
  expect(raw.map((r) => r.cursor)).toEqual(raw.map((_, i) => i));
  expect(raw.map((r) => r.event)).toEqual(frames.map((f) => f.data));
  return frames;
}

const parks = (n: number) => (frames: Frame[]) => count(frames, "awaiting_input") >= n;

async function start(
  p: StdioPeer,
  agent: string,
  prompt: string,
  waitMs = 20_000,
): Promise<ToolResult & { runId: string; agentId: string; sessionId: string }> {
  const r = await call(p, "start_interactive_run", { agent, prompt, wait_ms: waitMs });
  expect(r.isError, r.text).toBe(false);
  return { ...r, runId: r.sc.run_id as string, agentId: r.sc.agent_id as string, sessionId: r.sc.session_id as string };
}

/** Steer directly on loomcycle, as another client would. In a cluster, a replica that does not
 * run the run refuses with 404 (loomcycle v1.59 does not pass an HTTP steer on): send again. */
async function steerDirect(runId: string, text: string): Promise<number> {
  let status = 0;
  for (let i = 0; i < 6; i++) {
    status = (await lc.json("POST", `/v1/runs/${runId}/input`, { text })).status;
    if (status !== 404) return status;
  }
  return status;
}

/** Start a run directly on loomcycle (as the Web UI or another host would), returning its ids. */
async function startOutside(agent: string, prompt: string, userId: string): Promise<{ runId: string; agentId: string }> {
  const ac = new AbortController();
  const res = await fetch(`${lc.url}/v1/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${(live as LiveEnv).token}`, "content-type": "application/json" },
    body: JSON.stringify({ agent, prompt, interactive: true, user_id: userId }),
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  let text = "";
  while (!/"run_id":"(r_[0-9a-f]+)"/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  ac.abort(); // an interactive run is detached: closing the stream does not stop it
  const runId = /"run_id":"(r_[0-9a-f]+)"/.exec(text)![1]!;
  const agentId = /"agent_id":"(a_[0-9a-f]+)"/.exec(text)![1]!;
  return { runId, agentId };
}

d("live loomcycle", () => {
  beforeAll(async () => {
    lc = new Loomcycle(live!.url, live!.token);
    const h = await fetch(`${live!.url}/healthz`);
    expect(h.status).toBe(200);
    peer = bridge().peer;
    await peer.initialize();
  });
  afterAll(() => {
    for (const p of peers) p.kill();
  });

  it("start: ids, the first turn, the opening prompt without the system prompt, state", async () => {
    const r = await start(peer, "lc-chat", "hello live loomcycle");
    const st = await lc.status(r.agentId);
    expect(st.run_id).toBe(r.runId);
    expect(st.session_id).toBe(r.sessionId);
    expect(st.status).toBe("running");
    expect(r.sc.state).toBe("awaiting_input");
    const frames = await expectSameAsTail(peer, r.runId, parks(1));
    const evs = items(r);
    expect(evs[0]).toMatchObject({ kind: "input", cursor: 0, text: await lc.openingPrompt(r.sessionId, r.runId) });
    expect(String(evs[0]!.text)).toBe("hello live loomcycle");
    expect(digestText(evs)).toBe(textOf(frames));
    // usage is the sum of loomcycle's per-call usage frames
    const usage = frames
      .filter((f) => f.event === "usage")
      .map((f) => f.data.usage as { input_tokens: number; output_tokens: number });
    expect(r.sc.usage).toEqual({
      input_tokens: usage.reduce((a, u) => a + u.input_tokens, 0),
      output_tokens: usage.reduce((a, u) => a + u.output_tokens, 0),
    });
  });

  it("an opening prompt with leading and trailing whitespace is shown exactly as sent (issue 19 item 4)", async () => {
    for (const [agent, prompt] of [
      ["lc-chat", "  hi  \n"],
      ["lc-echo", "\n\n  echo me  \n"],
    ] as const) {
      const r = await start(peer, agent, prompt);
      // loomcycle keeps it untrimmed: the transcript's user segment is the prompt as sent.
      expect(await lc.openingPrompt(r.sessionId, r.runId)).toBe(prompt);
      expect(items(r)[0]).toMatchObject({ kind: "input", cursor: 0, text: prompt, source: "host" });
      expect(r.text).not.toMatch(/could not be separated/);
      // A bridge that did not send it learns it from the transcript.
      const other = bridge().peer;
      await other.initialize();
      const o = await call(other, "read_run_events", { run_id: r.runId, cursor: 0, wait_ms: 5000 });
      expect(items(o)[0]).toMatchObject({ kind: "input", cursor: 0, text: prompt });
      other.kill();
    }
  });

  it("a long reply read mid-turn (partial) and to its park, exactly once", async () => {
    const r = await start(peer, "lc-longtalk", "talk at length", 0);
    expect(["running", "starting"]).toContain(r.sc.state);
    let text = digestText(items(r));
    let sawPartial = items(r).some((e) => e.partial === true);
    let state = r.sc.state;
    let reads = 0;
    let more = false;
    while (state !== "awaiting_input" || more) {
      const rr = await call(peer, "read_run_events", { run_id: r.runId, wait_ms: 700, wait_for: "any" });
      more = rr.sc.has_more === true;
      expect(rr.isError, rr.text).toBe(false);
      text += digestText(items(rr));
      if (items(rr).some((e) => e.kind === "text" && e.partial === true)) sawPartial = true;
      state = rr.sc.state;
      reads++;
      expect(reads).toBeLessThan(400);
    }
    expect(sawPartial).toBe(true);
    const frames = await expectSameAsTail(peer, r.runId, parks(1));
    sameText(text, textOf(frames));
    expect(text.split(" ").length).toBeGreaterThan(2900);
  }, 90_000);

  it("steer: delivered, the echo of the steer, the reply, as loomcycle recorded them", async () => {
    const r = await start(peer, "lc-chat", "first");
    const s = await call(peer, "send_steer", { run_id: r.runId, text: "second message", wait_ms: 20_000 });
    expect(s.isError, s.text).toBe(false);
    expect(s.sc.delivered).toBe(true);
    expect(s.sc.state).toBe("awaiting_input");
    const evs = items(s);
    expect(evs[0]).toMatchObject({ kind: "input", text: "second message" });
    expect(digestText(evs)).toBe("You said: second message");
    const frames = await expectSameAsTail(peer, r.runId, parks(2));
    const steers = frames.filter((f) => f.event === "steer").map((f) => (f.data.user_input as { text: string }).text);
    expect(steers[1]).toBe("second message");
    const rows = await lc.transcript(r.sessionId, r.runId);
    expect(rows.filter((x) => x.type === "user_input")).toHaveLength(2);
  });

  it("an agent question: a wrong option refused locally, then answered", async () => {
    const r = await start(peer, "lc-asker", "may I?");
    expect(r.sc.state).toBe("awaiting_answer");
    const pending = r.sc.pending_interrupts as Array<{ interrupt_id: string; question: string; options: string[] }>;
    const listed = (await lc.json("GET", `/v1/runs/${r.runId}/interrupts`)).body as {
      interrupts: Array<Record<string, unknown>>;
    };
    expect(pending.map((p) => p.interrupt_id)).toEqual(listed.interrupts.map((i) => i.interrupt_id));
    expect(pending[0]).toMatchObject({ question: "Proceed?", options: ["yes", "no"] });
    const iid = pending[0]!.interrupt_id;
    const wrong = await call(peer, "resolve_interrupt", { run_id: r.runId, interrupt_id: iid, answer: "maybe" });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toMatch(/yes.*no/);
    const still = (await lc.json("GET", `/v1/runs/${r.runId}/interrupts`)).body as { interrupts: Array<Record<string, unknown>> };
    expect(still.interrupts[0]!.status).toBe("pending");
    const ok = await call(peer, "resolve_interrupt", { run_id: r.runId, interrupt_id: iid, answer: "yes", wait_ms: 20_000 });
    expect(ok.isError, ok.text).toBe(false);
    expect(ok.sc).toMatchObject({ status: "resolved", state: "awaiting_input", pending_interrupts: [] });
    expect(digestText(items(ok))).toBe("Answer was yes. You said: may I?");
    const after = (await lc.json("GET", `/v1/runs/${r.runId}/interrupts`)).body as { interrupts: Array<Record<string, unknown>> };
    expect(after.interrupts[0]).toMatchObject({ status: "resolved", answer: "yes" });
    await expectSameAsTail(peer, r.runId, parks(1));
  });

  it("an agent question declined", async () => {
    const r = await start(peer, "lc-asker", "decline this");
    const iid = (r.sc.pending_interrupts as Array<{ interrupt_id: string }>)[0]!.interrupt_id;
    const dec = await call(peer, "resolve_interrupt", { run_id: r.runId, interrupt_id: iid, decline: true, wait_ms: 20_000 });
    expect(dec.isError, dec.text).toBe(false);
    expect(dec.sc).toMatchObject({ status: "declined", state: "awaiting_input" });
    expect(digestText(items(dec))).toBe("Declined. You said: decline this");
    const after = (await lc.json("GET", `/v1/runs/${r.runId}/interrupts`)).body as { interrupts: Array<Record<string, unknown>> };
    expect(after.interrupts[0]!.status).toBe("declined");
  });

  it("a tool call and its result, as loomcycle recorded them", async () => {
    const r = await start(peer, "lc-toolish", "use a tool");
    expect(r.sc.state).toBe("awaiting_input");
    const frames = await expectSameAsTail(peer, r.runId, parks(1));
    const call1 = frames.find((f) => f.event === "tool_call")!.data.tool_use as { id: string; name: string };
    const evs = items(r);
    expect(evs.find((e) => e.kind === "tool_call")).toMatchObject({ id: call1.id, tool: "Context" });
    expect(evs.find((e) => e.kind === "tool_result")).toMatchObject({ id: call1.id, tool: "Context", ok: true });
    expect(digestText(evs)).toBe(textOf(frames));
  });

  it("turn cancel mid-turn: the run parks again", async () => {
    const r = await start(peer, "lc-longtalk", "long story", 0);
    await until(
      "text mid-turn",
      () => call(peer, "read_run_events", { run_id: r.runId, wait_ms: 500, wait_for: "any" }),
      (x) => digestText(items(x)).length > 0,
    );
    const c = await call(peer, "cancel_turn", { run_id: r.runId, reason: "enough now" });
    expect(c.isError, c.text).toBe(false);
    const rr = await call(peer, "read_run_events", { run_id: r.runId, wait_ms: 10_000 });
    expect(rr.sc.state).toBe("awaiting_input");
    const frames = await expectSameAsTail(peer, r.runId, parks(1));
    expect(frames.find((f) => f.event === "turn_cancelled")!.data.turn_cancelled).toMatchObject({ reason: "enough now" });
    const all = await call(peer, "read_run_events", { run_id: r.runId, cursor: 0, max_events: 1000, max_chars: 40000 });
    expect(items(all).find((e) => e.kind === "turn_cancelled")).toMatchObject({ reason: "enough now" });
    expect((await lc.status(r.agentId)).status).toBe("running");
  }, 60_000);

  it("whole-run cancel: cancelled, as loomcycle's status says", async () => {
    const r = await start(peer, "lc-chat", "to be cancelled");
    const c = await call(peer, "cancel_run", { run_id: r.runId, reason: "live test done" });
    expect(c.isError, c.text).toBe(false);
    expect(c.sc.state).toBe("cancelled");
    const st = await lc.status(r.agentId);
    expect(st).toMatchObject({ status: "cancelled", stop_reason: "live test done" });
    const { ended } = await lc.tail(r.runId, () => false, 10_000);
    expect(ended).toBe(true);
    const rr = await call(peer, "read_run_events", { run_id: r.runId, wait_ms: 5000 });
    expect(rr.sc.state).toBe("cancelled");
  });

  it("a run that fails (code agent throws): failed, with loomcycle's error frames", async () => {
    const r = await start(peer, "lc-failing", "fail please");
    expect(r.sc.state).toBe("failed");
    const { frames, ended } = await lc.tail(r.runId, () => false, 10_000);
    expect(ended).toBe(true);
    const errs = frames.filter((f) => f.event === "error").map((f) => f.data.error);
    expect(
      items(r)
        .filter((e) => e.kind === "error")
        .map((e) => e.message),
    ).toEqual(errs);
    expect((await lc.status(r.agentId)).status).toBe("failed");
  });

  it("a run whose model call fails: failed", async () => {
    const r = await start(peer, "lc-model-failing", "fail at the model");
    expect(r.sc.state).toBe("failed");
    expect((await lc.status(r.agentId)).status).toBe("failed");
    expect(items(r).some((e) => e.kind === "error" && /scripted model failure/.test(String(e.message)))).toBe(true);
  });

  it("a non-terminal error (failed self-compaction): shown, and the run goes on", async () => {
    const r = await start(peer, "lc-compactfail", "hello");
    const s = await call(peer, "send_steer", { run_id: r.runId, text: "please compact now", wait_ms: 20_000 });
    expect(s.isError, s.text).toBe(false);
    expect(s.sc.state).toBe("awaiting_input");
    const err = items(s).find((e) => e.kind === "error");
    expect(String(err?.message)).toMatch(/^compaction summary failed \(self\)/);
    expect(digestText(items(s))).toContain("Still here after the compaction attempt.");
    expect((await lc.status(r.agentId)).status).toBe("running");
    await expectSameAsTail(peer, r.runId, parks(2));
  });

  it("list_snapshots with the admin token equals loomcycle's list", async () => {
    await lc.json("POST", "/v1/_snapshots", { label: `live-${Date.now()}` });
    const direct = (await lc.json("GET", "/v1/_snapshots?limit=5")).body as { entries: Array<Record<string, unknown>> };
    const r = await call(peer, "list_snapshots", { limit: 5 });
    expect(r.isError, r.text).toBe(false);
    expect((r.sc.snapshots as Array<Record<string, unknown>>).map((s) => s.id)).toEqual(direct.entries.map((e) => e.id));
    const lbl = String(direct.entries[0]!.label);
    const f = await call(peer, "list_snapshots", { label_contains: lbl.toUpperCase() });
    expect((f.sc.snapshots as Array<Record<string, unknown>>).map((s) => s.label)).toEqual([lbl]);
  });

  it.skipIf(!live?.userToken)("a non-admin token: list_snapshots names the scope; runs are forced to its user", async () => {
    const u = bridge({ token: live!.userToken!, userId: "someone-else" }).peer;
    await u.initialize();
    const s = await call(u, "list_snapshots", {});
    expect(s.isError).toBe(true);
    expect(s.text).toContain("substrate:admin");
    const r = await start(u, "lc-echo", "as a user");
    expect(r.sc.state).toBe("awaiting_input");
    expect((await lc.status(r.agentId)).user_id).toBe(live!.userTokenSubject);
    const agents = await call(u, "list_agents", {});
    expect(agents.isError, agents.text).toBe(false);
    const lr = await call(u, "list_runs", {});
    expect(lr.isError, lr.text).toBe(false);
    expect((lr.sc.runs as Array<{ run_id: string }>).some((x) => x.run_id === r.runId)).toBe(true);
  });

  it("a second bridge process reads a run from cursor 0: identical items and cursors", async () => {
    const r = await start(peer, "lc-chat", "shared run");
    await call(peer, "send_steer", { run_id: r.runId, text: "more", wait_ms: 20_000 });
    const other = bridge().peer;
    await other.initialize();
    const a = await call(peer, "read_run_events", { run_id: r.runId, cursor: 0, max_events: 1000 });
    const b = await call(other, "read_run_events", { run_id: r.runId, cursor: 0, max_events: 1000, wait_ms: 5000 });
    // The same items at the same cursors; only `source` differs: "host" for the inputs the
    // first process sent, loomcycle's own "replay" for a process that did not send them.
    const noSource = (evs: unknown) => (evs as Array<Record<string, unknown>>).map(({ source: _s, ...rest }) => rest);
    expect(noSource(b.sc.events)).toEqual(noSource(a.sc.events));
    expect(
      items(a)
        .filter((e) => e.kind === "input")
        .map((e) => e.source),
    ).toEqual(["host", "host"]);
    expect(
      items(b)
        .filter((e) => e.kind === "input")
        .map((e) => e.source),
    ).toEqual(["replay", "replay"]);
    expect(b.sc.next_cursor).toBe(a.sc.next_cursor);
    expect(await rawAll(other, r.runId)).toEqual(await rawAll(peer, r.runId));
    other.kill();
  });

  it("the bridge restarted mid-turn: read position kept, nothing lost or repeated", async () => {
    const first = bridge();
    await first.peer.initialize();
    const r = await start(first.peer, "lc-longtalk", "a long one to survive a restart", 0);
    let text = digestText(items(r));
    const mid = await until(
      "text mid-turn",
      () => call(first.peer, "read_run_events", { run_id: r.runId, wait_ms: 500, wait_for: "any" }),
      (x) => digestText(items(x)).length > 0,
    );
    text += digestText(items(mid));
    expect(mid.sc.state).toBe("running");
    first.peer.proc.stdin.end();
    await first.peer.exited;
    const second = bridge({ stateDir: first.stateDir });
    await second.peer.initialize();
    let state = "running";
    let more = false;
    while (state !== "awaiting_input" || more) {
      const rr = await call(second.peer, "read_run_events", { run_id: r.runId, wait_ms: 20_000 });
      expect(rr.isError, rr.text).toBe(false);
      text += digestText(items(rr));
      state = rr.sc.state as string;
      more = rr.sc.has_more === true;
    }
    const { frames } = await lc.tail(r.runId, parks(1));
    sameText(text, textOf(frames));
  }, 90_000);

  it("a run started outside the bridge: attached, with its state and digest", async () => {
    const { runId, agentId } = await startOutside("lc-chat", "from the web ui", live!.userId);
    const { frames } = await lc.tail(runId, parks(1));
    const a = await call(peer, "attach_run", { run_id: runId, wait_ms: 10_000 });
    expect(a.isError, a.text).toBe(false);
    expect(a.sc).toMatchObject({ run_id: runId, agent_id: agentId, state: "awaiting_input" });
    expect(digestText(items(a))).toBe(textOf(frames));
    const lr = await call(peer, "list_runs", {});
    const row = (lr.sc.runs as Array<Record<string, unknown>>).find((x) => x.run_id === runId);
    expect(row).toMatchObject({ state: "awaiting_input", agent_id: agentId });
  });

  it("list_runs shows the user's runs on loomcycle that the bridge does not follow", async () => {
    const { runId } = await startOutside("lc-echo", "not followed yet", live!.userId);
    await lc.tail(runId, parks(1));
    const lr = await call(peer, "list_runs", {});
    expect(lr.isError, lr.text).toBe(false);
    const direct = (await lc.json("GET", `/v1/users/${live!.userId}/agents?status=running`)).body as {
      agents: Array<{ run_id: string }>;
    };
    const mine = new Set((lr.sc.runs as Array<{ run_id: string }>).map((x) => x.run_id));
    for (const a of direct.agents) expect(mine.has(a.run_id)).toBe(true);
  });

  it("list_interrupts: the pending question, as loomcycle lists it", async () => {
    const r = await start(peer, "lc-asker", "list me");
    const li = await call(peer, "list_interrupts", { run_id: r.runId });
    expect(li.isError, li.text).toBe(false);
    const direct = (await lc.json("GET", `/v1/runs/${r.runId}/interrupts?status=pending`)).body as {
      interrupts: Array<Record<string, unknown>>;
    };
    expect((li.sc.interrupts as Array<Record<string, unknown>>).map((i) => i.interrupt_id)).toEqual(
      direct.interrupts.map((i) => i.interrupt_id),
    );
    const byUser = await call(peer, "list_interrupts", {});
    expect(
      (byUser.sc.interrupts as Array<Record<string, unknown>>).some((i) => i.interrupt_id === direct.interrupts[0]!.interrupt_id),
    ).toBe(true);
  });

  it("list_agents equals loomcycle's runnable agents", async () => {
    const r = await call(peer, "list_agents", {});
    const direct = (await lc.json("GET", "/v1/_runnable-agents")).body as { agents: Array<{ name: string }> };
    expect((r.sc.agents as Array<{ name: string }>).map((a) => a.name)).toEqual(direct.agents.map((a) => a.name));
  });

  it("compact_run on a parked run: loomcycle compacts, the run stays parked", async () => {
    const r = await start(peer, "lc-chat", "one");
    for (const t of ["two", "three"]) await call(peer, "send_steer", { run_id: r.runId, text: t, wait_ms: 20_000 });
    let c = await call(peer, "compact_run", { run_id: r.runId });
    // In a cluster, a replica that does not run the run passes the compaction on as a message
    // (the run replies to it); the bridge says so (docs/conformance.md), and calling again
    // once the run is parked is what it advises.
    if (c.isError && /as an ordinary message/.test(c.text)) {
      await call(peer, "read_run_events", { run_id: r.runId, wait_ms: 20_000 });
      c = await call(peer, "compact_run", { run_id: r.runId });
    }
    expect(c.isError, c.text).toBe(false);
    expect(c.sc).toMatchObject({ compacted: true, applied: "live" });
    const { frames } = await lc.tail(r.runId, (f) => count(f, "context_compaction") >= 1);
    expect(count(frames, "context_compaction")).toBe(1);
    const rr = await call(peer, "read_run_events", { run_id: r.runId, wait_ms: 3000, wait_for: "any" });
    expect(rr.sc.state).toBe("awaiting_input");
    expect(items(rr).some((e) => e.kind === "compaction")).toBe(true);
  });

  it("wait_for_runs returns the run steered by someone else", async () => {
    const a = await start(peer, "lc-chat", "watch a");
    const b = await start(peer, "lc-chat", "watch b");
    await call(peer, "read_run_events", { run_id: a.runId });
    await call(peer, "read_run_events", { run_id: b.runId });
    const waiting = call(peer, "wait_for_runs", { run_ids: [a.runId, b.runId], wait_ms: 20_000 });
    await new Promise((res) => setTimeout(res, 500));
    expect(await steerDirect(b.runId, "from elsewhere")).toBe(200);
    const w = await waiting;
    expect(w.isError, w.text).toBe(false);
    expect(w.sc.ready).toEqual([b.runId]);
  });

  it("resources: runs, one run, agents, snapshots — and a subscription told of a steer from elsewhere", async () => {
    const r = await start(peer, "lc-chat", "resource run");
    const one = await peer.request("resources/read", { uri: `loomcycle://runs/${r.runId}` });
    const contents = (one.result as { contents: Array<{ mimeType?: string; text: string }> }).contents;
    const json = JSON.parse(contents.find((c) => c.mimeType === "application/json")!.text) as Record<string, unknown>;
    expect(json).toMatchObject({ run_id: r.runId, state: "awaiting_input" });
    for (const uri of ["loomcycle://runs", "loomcycle://agents", "loomcycle://snapshots"]) {
      const rr = await peer.request("resources/read", { uri });
      expect(rr.error, JSON.stringify(rr.error)).toBeUndefined();
    }
    await peer.request("resources/subscribe", { uri: `loomcycle://runs/${r.runId}` });
    const before = peer.messages.length;
    expect(await steerDirect(r.runId, "poke")).toBe(200);
    await until(
      "resources/updated",
      async () =>
        peer.messages
          .slice(before)
          .filter(
            (m) =>
              m.method === "notifications/resources/updated" &&
              (m.params as { uri: string }).uri === `loomcycle://runs/${r.runId}`,
          ).length,
      (n) => n > 0,
    );
  });

  it("progress notifications while a call waits on a real turn", async () => {
    const r = await start(peer, "lc-longtalk", "long for progress", 0);
    const res = await peer.request("tools/call", {
      name: "read_run_events",
      arguments: { run_id: r.runId, wait_ms: 30_000 },
      _meta: { progressToken: "live-progress" },
    });
    expect((res.result as { isError?: boolean }).isError).not.toBe(true);
    const progress = peer.messages.filter(
      (m) => m.method === "notifications/progress" && (m.params as { progressToken: string }).progressToken === "live-progress",
    );
    expect(progress.length).toBeGreaterThan(0);
  }, 60_000);

  it("invoked by another agent as tools: a loomcycle agent drives lc-asker through the bridge", async () => {
    const r = await start(peer, "lc-driver", "drive lc-asker", 55_000);
    expect(r.sc.state).toBe("awaiting_input");
    const calls = items(r)
      .filter((e) => e.kind === "tool_call")
      .map((e) => e.tool);
    expect(calls).toEqual([
      "mcp__bridge__start_interactive_run",
      "mcp__bridge__resolve_interrupt",
      "mcp__bridge__send_steer",
      "mcp__bridge__read_run_events",
    ]);
    const report = JSON.parse(digestText(items(r))) as Record<string, unknown>;
    expect(report).toMatchObject({ asked: true, answered: true, steered: true, log_has_both: true });
    // What the driven run looks like to loomcycle itself.
    const runId = String(report.run_id);
    const interrupts = (await lc.json("GET", `/v1/runs/${runId}/interrupts`)).body as {
      interrupts: Array<Record<string, unknown>>;
    };
    expect(interrupts.interrupts[0]).toMatchObject({ interrupt_id: report.interrupt_id, status: "resolved", answer: "yes" });
    const { frames } = await lc.tail(runId, parks(2));
    expect(
      frames
        .filter((f) => f.event === "steer")
        .map((f) => (f.data.user_input as { text: string }).text)
        .slice(1),
    ).toEqual(["and once more"]);
    expect(textOf(frames)).toContain("Answer was yes. You said: and once more");
  }, 90_000);

  it("an agent question put to the person (questions: human, elicitation), answered and declined", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN],
      env: {
        PATH: process.env.PATH ?? "",
        XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "bridge-live-q-")),
        LOOMCYCLE_BASE_URL: live!.url,
        LOOMCYCLE_AUTH_TOKEN: live!.token,
        LOOMCYCLE_USER_ID: live!.userId,
        LOOMCYCLE_MCP_LOG_LEVEL: "warn",
      },
      stderr: "pipe",
    });
    const host = new Client({ name: "live-host", version: "1" }, { capabilities: { elicitation: { form: {} } } });
    const replies: Array<{ action: "accept" | "decline"; content?: { answer: string } }> = [
      { action: "accept", content: { answer: "yes" } },
      { action: "decline" },
    ];
    const asked: string[] = [];
    host.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push((req.params as { message: string }).message);
      return replies.shift()!;
    });
    try {
      await host.connect(transport);
      for (const [want, text] of [
        ["resolved", "Answer was yes. You said: ask the person"],
        ["declined", "Declined. You said: ask the person"],
      ] as const) {
        const res = (await host.callTool({
          name: "start_interactive_run",
          arguments: { agent: "lc-asker", prompt: "ask the person", questions: "human", wait_ms: 20_000 },
        })) as CallToolResult;
        const sc = res.structuredContent as Record<string, unknown>;
        expect(res.isError ?? false).toBe(false);
        expect(sc.state).toBe("awaiting_input");
        expect(digestText(sc.events as Array<Record<string, unknown>>)).toBe(text);
        const intr = (
          (await lc.json("GET", `/v1/runs/${String(sc.run_id)}/interrupts`)).body as {
            interrupts: Array<Record<string, unknown>>;
          }
        ).interrupts[0]!;
        expect(intr).toMatchObject({ status: want, resolved_by: "mcp-elicitation" });
      }
      expect(asked).toHaveLength(2);
      expect(asked[0]).toContain("Proceed?");
      expect(asked[0]).toContain("lc-asker");
    } finally {
      await host.close();
    }
  });

  it("send_steer {wait_ms: 0} to a parked run: the state says a turn is coming until loomcycle shows it (item 12)", async () => {
    const r = await start(peer, "lc-chat", "steer me without waiting");
    for (let i = 0; i < 5; i++) {
      const s = await call(peer, "send_steer", { run_id: r.runId, text: `no wait ${i}`, wait_ms: 0 });
      expect(s.isError, s.text).toBe(false);
      expect(s.sc.delivered).toBe(true);
      // loomcycle's tail shows the steer 7–256 ms after the 200: until then the turn is coming.
      const echoed = items(s).some((e) => e.kind === "input" && e.text === `no wait ${i}`);
      if (!echoed) expect(s.sc.state).toBe("running");
      else expect(["running", "awaiting_input"]).toContain(s.sc.state);
      const rr = await call(peer, "read_run_events", { run_id: r.runId, wait_ms: 20_000 });
      expect(rr.sc.state).toBe("awaiting_input");
      expect(digestText([...items(s), ...items(rr)])).toBe(`You said: no wait ${i}`);
    }
  });

  it("a run attached by a bridge that never saw it: last_activity_at is loomcycle's time of its last event (item 16)", async () => {
    const { runId } = await startOutside("lc-chat", "my last event is older than your attach", live!.userId);
    const { frames } = await lc.tail(runId, parks(1));
    expect(count(frames, "awaiting_input")).toBe(1);
    await new Promise((res) => setTimeout(res, 1500)); // the attach comes well after the last event
    const fresh = bridge().peer;
    await fresh.initialize();
    const a = await call(fresh, "attach_run", { run_id: runId });
    expect(a.sc.state).toBe("awaiting_input");
    const sessionId = String(a.sc.session_id);
    const rows = await lc.transcript(sessionId, runId);
    const lastMs = Math.max(...rows.map((x) => Math.floor(Number(x.ts_ns) / 1e6)));
    const lr = await call(fresh, "list_runs", {});
    const row = (lr.sc.runs as Array<Record<string, unknown>>).find((x) => x.run_id === runId)!;
    expect(row.last_activity_at).toBe(new Date(lastMs).toISOString());
    fresh.kill();
  });

  it.skipIf(!live?.userToken)(
    "a non-admin token listing another user's runs and questions: the lists say why they are empty (item 17)",
    async () => {
      const u = bridge({ token: live!.userToken!, userId: "someone-else" }).peer;
      await u.initialize();
      const lr = await call(u, "list_runs", {});
      expect(lr.isError, lr.text).toBe(false);
      expect((lr.sc.notes as string[]).join("\n")).toContain(
        `loomcycle lists only the runs of its own subject "${live!.userTokenSubject}"`,
      );
      expect(lr.text).toMatch(/note: this token is not an admin/);
      const li = await call(u, "list_interrupts", {});
      expect((li.sc.notes as string[]).join("\n")).toContain(`its subject is "${live!.userTokenSubject}"`);
      const own = bridge({ token: live!.userToken!, userId: live!.userTokenSubject }).peer;
      await own.initialize();
      expect((await call(own, "list_runs", {})).sc.notes).toBeUndefined();
    },
  );

  describe.skipIf((live?.replicaUrls.length ?? 0) < 2)("a cluster behind a load balancer", () => {
    /** loomcycle's status through the balancer, which answers 502 for a moment after a replica dies. */
    const statusOf = (agentId: string): Promise<Record<string, unknown>> =>
      until(
        "a status through the balancer",
        () => lc.status(agentId).catch(() => ({}) as Record<string, unknown>),
        (x) => typeof x?.status === "string",
        30_000,
      );
    /** After a replica restart, until every replica and the balancer answer again. */
    const balancerReady = async (): Promise<void> => {
      for (const url of live!.replicaUrls)
        await until(
          "the replica answers",
          () =>
            fetch(`${url}/healthz`).then(
              (x) => x.status,
              () => 0,
            ),
          (x) => x === 200,
          60_000,
        );
      for (let ok = 0; ok < 4;)
        ok =
          (await fetch(`${live!.url}/healthz`).then(
            (x) => x.status,
            () => 0,
          )) === 200
            ? ok + 1
            : 0;
    };
    it("a run started through one replica is steered through the balancer and re-attached through the other replica", async () => {
      const r = await start(peer, "lc-chat", "cluster run");
      const owner = String((await lc.status(r.agentId)).replica_id);
      expect(owner).not.toBe("undefined");
      for (let i = 0; i < 6; i++) {
        const s = await call(peer, "send_steer", { run_id: r.runId, text: `cluster steer ${i}`, wait_ms: 20_000 });
        expect(s.isError, s.text).toBe(false);
        expect(digestText(items(s))).toBe(`You said: cluster steer ${i}`);
      }
      const rows = await lc.transcript(r.sessionId, r.runId);
      expect(rows.filter((x) => x.type === "user_input")).toHaveLength(7);
      // Re-attach through each replica directly: the same log, position for position.
      const ours = await rawAll(peer, r.runId);
      for (const url of live!.replicaUrls) {
        const other = bridge({ extraEnv: { LOOMCYCLE_BASE_URL: url } }).peer;
        await other.initialize();
        const h = (await (await fetch(`${url}/healthz`)).json()) as { replica_id?: string };
        const read = await call(other, "read_run_events", { run_id: r.runId, cursor: 0, max_events: 1000, wait_ms: 5000 });
        expect(read.isError, `${h.replica_id}: ${read.text}`).toBe(false);
        expect(await rawAll(other, r.runId)).toEqual(ours);
        other.kill();
      }
    }, 120_000);

    it("a compaction through the replica that does not run the run: loomcycle delivers the summary as a message, shown as the compaction's (issue 19 item 19)", async () => {
      const r = await start(peer, "lc-chat", "one");
      for (const t of ["two", "three"]) {
        const s = await call(peer, "send_steer", { run_id: r.runId, text: t, wait_ms: 20_000 });
        expect(s.isError, s.text).toBe(false);
      }
      const owner = String((await lc.status(r.agentId)).replica_id);
      let otherUrl: string | undefined;
      for (const url of live!.replicaUrls) {
        const h = (await (await fetch(`${url}/healthz`)).json()) as { replica_id?: string };
        if (h.replica_id !== owner) otherUrl = url;
      }
      expect(otherUrl, `a replica other than ${owner}`).toBeDefined();
      // A bridge that talks to that replica only, as a balancer may route it.
      const b = bridge({ extraEnv: { LOOMCYCLE_BASE_URL: otherUrl! } }).peer;
      await b.initialize();
      const first = await call(b, "read_run_events", { run_id: r.runId, wait_ms: 5000 });
      expect(first.isError, first.text).toBe(false);
      await call(b, "compact_run", { run_id: r.runId }); // what compact_run says of it is its own business
      const { frames } = await lc.tail(r.runId, parks(4));
      expect(count(frames, "context_compaction")).toBe(0);
      const summary = String((frames.filter((f) => f.event === "steer").at(-1)!.data.user_input as { text: string }).text);
      expect(summary).toMatch(/^Summary: /);
      const rr = await until(
        "the reply to the summary",
        () => call(b, "read_run_events", { run_id: r.runId, wait_ms: 5000 }),
        (x) => items(x).some((e) => e.kind === "awaiting_input"),
      );
      const input = items(rr).find((e) => e.kind === "input");
      expect(input).toMatchObject({ kind: "input", text: summary, source: "compaction" });
      expect(rr.text).toContain("input (compaction: loomcycle's summary of the conversation");
      expect(digestText(items(rr))).toBe(`You said: ${summary}`);
      b.kill();
    }, 120_000);

    it.skipIf(!live?.replicaCmd)(
      "the replica running a run stopped mid-turn: the run is reported failed as loomcycle marks it",
      async () => {
        const r = await start(peer, "lc-longtalk", "long, then my replica dies", 0);
        await until(
          "text mid-turn",
          () => call(peer, "read_run_events", { run_id: r.runId, wait_ms: 500, wait_for: "any" }),
          (x) => digestText(items(x)).length > 0,
        );
        const owner = String((await lc.status(r.agentId)).replica_id);
        replicaCtl(live!, "stop", owner);
        try {
          const st = await until(
            "loomcycle marks the run failed",
            () => lc.status(r.agentId),
            (x) => x.status === "failed",
            REPLICAS_STALE_MS + 65_000,
          );
          const rr = await until(
            "the bridge reports it failed",
            () => call(peer, "read_run_events", { run_id: r.runId, wait_ms: 5000 }),
            (x) => x.sc.state === "failed",
            30_000,
          );
          expect(rr.sc.next_step).toBeDefined();
          expect(String(st.error ?? "")).toMatch(/replica/);
        } finally {
          replicaCtl(live!, "start", owner);
        }
      },
      REPLICAS_STALE_MS + 150_000,
    );

    it.skipIf(!live?.replicaCmd)(
      "the owner replica of a parked run killed: attach, read, list and steer say what is true, and the run fails with loomcycle's reason (items 14, 18)",
      async () => {
        await balancerReady();
        const r = await start(peer, "lc-chat", "parked, then my replica dies");
        const owner = String((await lc.status(r.agentId)).replica_id);
        let survivor = "";
        for (const url of live!.replicaUrls) {
          const h = (await (await fetch(`${url}/healthz`)).json()) as { replica_id?: string };
          if (h.replica_id !== owner) survivor = url;
        }
        expect(survivor).not.toBe("");
        /** How long ago the owner last reported, by loomcycle's clock (undefined: no row any more). */
        const ownerAge = async (): Promise<number | undefined> => {
          const res = await fetch(`${survivor}/healthz`);
          const h = (await res.json()) as { replicas?: Array<{ id: string; last_heartbeat_at: string }> };
          const row = h.replicas?.find((x) => x.id === owner);
          return row ? Date.parse(res.headers.get("date")!) + 500 - Date.parse(row.last_heartbeat_at) : undefined;
        };
        replicaCtl(live!, "stop", owner);
        let checkedSuspect = false;
        let sawLost = false;
        try {
          for (;;) {
            const age = await ownerAge();
            const read = await call(peer, "read_run_events", { run_id: r.runId, wait_ms: 2000 });
            const st = await statusOf(r.agentId);
            if (st.status === "failed") break;
            if (age !== undefined && age > 60_000 && age < 85_000 && !checkedSuspect) {
              // Not dead by loomcycle's rule yet, but it has missed a report: no blind "send it again".
              const steer = await call(peer, "send_steer", { run_id: r.runId, text: "anyone there?", wait_ms: 2000 });
              expect(steer.isError).toBe(true);
              expect(steer.text).toMatch(/NOT (delivered|sent)/);
              expect(steer.text).not.toMatch(/Send it again, or point/);
              checkedSuspect = true;
            }
            // loomcycle counts the owner dead 90 s after its last report; the bridge's readings
            // may be up to two cache periods (2 × 10 s) older than this one.
            if (age !== undefined && age > 115_000) {
              expect(read.sc.state).toBe("loop_lost");
              expect(String(read.sc.next_step)).toContain(`the replica that ran it, ${owner}, stopped reporting to the cluster`);
              expect(String(read.sc.next_step)).toContain('"owner replica died"');
              const lr = await call(peer, "list_runs", {});
              expect((lr.sc.runs as Array<Record<string, unknown>>).find((x) => x.run_id === r.runId)?.state).toBe("loop_lost");
              const fresh = bridge().peer;
              await fresh.initialize();
              const att = await call(fresh, "attach_run", { run_id: r.runId, wait_ms: 5000 });
              fresh.kill();
              if ((await statusOf(r.agentId)).status === "running") expect(att.sc.state).toBe("loop_lost");
              const steer = await call(peer, "send_steer", { run_id: r.runId, text: "still?", wait_ms: 2000 });
              expect(steer.isError).toBe(true);
              expect(steer.text).toMatch(/cannot take input \(state loop_lost\)|has ended/);
              sawLost = true;
            }
            await new Promise((res) => setTimeout(res, 2000));
          }
          const f = await until(
            "the bridge reports it failed",
            () => call(peer, "read_run_events", { run_id: r.runId, wait_ms: 3000 }),
            (x) => x.sc.state === "failed",
            30_000,
          );
          expect(f.sc).toMatchObject({ state: "failed", error: "owner replica died" });
          expect(String(f.sc.next_step)).toContain('loomcycle recorded "owner replica died"');
          expect((await call(peer, "list_runs", {})).sc.runs as Array<Record<string, unknown>>).toContainEqual(
            expect.objectContaining({ run_id: r.runId, state: "failed", error: "owner replica died" }),
          );
          // With a reaper slower than loomcycle's 90 s rule, there is a window to see loop_lost in.
          if (REPLICAS_STALE_MS >= 140_000) {
            expect(sawLost).toBe(true);
            expect(checkedSuspect).toBe(true);
          }
        } finally {
          replicaCtl(live!, "start", owner);
        }
      },
      REPLICAS_STALE_MS + 180_000,
    );

    it("compact_run through a replica that does not run the run: reported as a message delivered, not a compaction (item 19)", async () => {
      await balancerReady();
      const r = await start(peer, "lc-chat", "one");
      for (const t of ["two", "three"]) await call(peer, "send_steer", { run_id: r.runId, text: t, wait_ms: 20_000 });
      const owner = String((await lc.status(r.agentId)).replica_id);
      let other = "";
      for (const url of live!.replicaUrls) {
        const h = (await (await fetch(`${url}/healthz`)).json()) as { replica_id?: string };
        if (h.replica_id !== owner) other = url;
      }
      const b = bridge({ extraEnv: { LOOMCYCLE_BASE_URL: other } }).peer;
      await b.initialize();
      await call(b, "attach_run", { run_id: r.runId });
      const c = await call(b, "compact_run", { run_id: r.runId });
      expect(c.isError).toBe(true);
      expect(c.text).toMatch(/passed the summary on to it as an ordinary message \(log position (\d+)\)/);
      const pos = Number(/log position (\d+)/.exec(c.text)![1]);
      const { frames } = await lc.tail(r.runId, parks(4));
      expect(count(frames, "context_compaction")).toBe(0);
      const raw = await rawAll(b, r.runId);
      expect(raw[pos]!.event).toMatchObject({ type: "steer" });
      b.kill();
    }, 60_000);
  });

  describe.skipIf(!live?.restartCmd)("loomcycle restarted", () => {
    it("while runs are parked, asking and mid-turn: loop_lost, for this bridge and a fresh one (attach, read, wait, list), nothing sent; failed with loomcycle's reason once its sweeper runs (items 14, 15)", async () => {
      const parked = await start(peer, "lc-chat", "parked across a restart");
      const asking = await start(peer, "lc-asker", "asking across a restart");
      const elsewhere = await startOutside("lc-chat", "started elsewhere, across a restart", live!.userId);
      await lc.tail(elsewhere.runId, parks(1));
      const mid = await start(peer, "lc-longtalk", "mid-turn across a restart", 0);
      await until(
        "text mid-turn",
        () => call(peer, "read_run_events", { run_id: mid.runId, wait_ms: 500, wait_for: "any" }),
        (x) => digestText(items(x)).length > 0,
      );
      restartLoomcycle(live!);
      for (const run of [parked, asking, mid]) {
        const st = await lc.status(run.agentId);
        expect(st).toMatchObject({ status: "running", live: false });
      }
      // The bridge re-attaches; its state says no loop drives the runs any more.
      for (const run of [parked, asking, mid]) {
        const r = await until(
          "re-attached",
          () => call(peer, "read_run_events", { run_id: run.runId, wait_ms: 3000 }),
          (x) => x.sc.state !== "unreachable",
        );
        expect(r.sc.state, run.runId).toBe("loop_lost");
        expect(r.sc.stuck).toBeUndefined();
        expect(String(r.sc.next_step)).toMatch(
          /^start a new run to go on\. loomcycle no longer runs this run's loop: loomcycle restarted/,
        );
      }
      const steer = await call(peer, "send_steer", { run_id: parked.runId, text: "are you there?", wait_ms: 1000 });
      expect(steer.isError).toBe(true);
      expect(steer.text).toMatch(/cannot take input \(state loop_lost\).*The message was NOT sent/);
      expect((await lc.transcript(parked.sessionId, parked.runId)).filter((x) => x.type === "user_input")).toHaveLength(1);

      // A bridge that first meets these runs: loop_lost at once, on every path.
      const fresh = bridge().peer;
      await fresh.initialize();
      const att = await call(fresh, "attach_run", { run_id: parked.runId });
      expect(att.sc.state).toBe("loop_lost");
      const rd = await call(fresh, "read_run_events", { run_id: asking.runId });
      expect(rd.sc).toMatchObject({ state: "loop_lost", pending_interrupts: [] });
      const fresh2 = bridge().peer;
      await fresh2.initialize();
      const w = await call(fresh2, "wait_for_runs", { run_ids: [parked.runId, asking.runId], wait_ms: 20_000 });
      expect(w.sc.timed_out).toBe(false);
      for (const x of w.sc.runs as Array<Record<string, unknown>>) expect(x.state).toBe("loop_lost");
      const fresh3 = bridge().peer;
      await fresh3.initialize();
      const lr = await call(fresh3, "list_runs", {});
      const row = (lr.sc.runs as Array<Record<string, unknown>>).find((x) => x.run_id === elsewhere.runId);
      expect(row).toMatchObject({ state: "loop_lost", followed: false });

      // loomcycle's heartbeat sweeper fails them with no event; with a short stale limit
      // (LOOMCYCLE_LIVE_HEARTBEAT_STALE_MS, the value loomcycle runs with) the tier waits for it.
      const staleMs = Number(process.env.LOOMCYCLE_LIVE_HEARTBEAT_STALE_MS ?? 600_000);
      const sweepMs = Number(process.env.LOOMCYCLE_LIVE_HEARTBEAT_SWEEP_MS ?? 60_000);
      if (staleMs + sweepMs > 120_000) return;
      const st = await until(
        "loomcycle's sweep",
        () => lc.status(parked.agentId),
        (x) => x.status === "failed",
        staleMs + sweepMs + 30_000,
      );
      expect(st).toMatchObject({ error: "heartbeat timeout", stop_reason: "heartbeat_timeout" });
      for (const [p, run] of [
        [peer, parked],
        [peer, asking],
        [fresh, parked],
      ] as const) {
        const f = await until(
          "the bridge sees the sweep",
          () => call(p, "read_run_events", { run_id: run.runId, wait_ms: 3000 }),
          (x) => x.sc.state === "failed",
          30_000,
        );
        expect(f.sc).toMatchObject({ state: "failed", error: "heartbeat timeout", pending_interrupts: [] });
        expect(String(f.sc.next_step)).toMatch(/loomcycle recorded "heartbeat timeout"/);
        expect(items(f).some((e) => e.kind === "error")).toBe(false);
      }
      const lr2 = await call(peer, "list_runs", {});
      expect((lr2.sc.runs as Array<Record<string, unknown>>).find((x) => x.run_id === parked.runId)).toMatchObject({
        state: "failed",
        error: "heartbeat timeout",
      });
      const one = await peer.request("resources/read", { uri: `loomcycle://runs/${parked.runId}` });
      const json = JSON.parse(
        (one.result as { contents: Array<{ mimeType?: string; text: string }> }).contents.find(
          (c) => c.mimeType === "application/json",
        )!.text,
      ) as Record<string, unknown>;
      expect(json).toMatchObject({ state: "failed", error: "heartbeat timeout" });
      // loomcycle keeps the question pending and would take an answer: the bridge sends none.
      const iid = String((asking.sc.pending_interrupts as Array<{ interrupt_id: string }>)[0]!.interrupt_id);
      const ans = await call(peer, "resolve_interrupt", { run_id: asking.runId, interrupt_id: iid, answer: "yes" });
      expect(ans.isError).toBe(true);
      expect(ans.text).toMatch(/has ended \(state failed\); loomcycle recorded "heartbeat timeout".*The answer was NOT sent/);
    }, 300_000);

    it("with a question pending: loomcycle keeps it pending and would take an answer no loop reads; the bridge does not send one", async () => {
      const asked = await start(peer, "lc-asker", "asking across a restart");
      expect(asked.sc.state).toBe("awaiting_answer");
      const iid = String((asked.sc.pending_interrupts as Array<{ interrupt_id: string }>)[0]!.interrupt_id);
      restartLoomcycle(live!);
      expect(await lc.status(asked.agentId)).toMatchObject({ status: "running", live: false });
      const pending = async (): Promise<unknown> =>
        (
          (await lc.json("GET", `/v1/runs/${asked.runId}/interrupts?status=all`)).body as {
            interrupts: Array<Record<string, unknown>>;
          }
        ).interrupts.find((i) => i.interrupt_id === iid)?.status;
      expect(await pending()).toBe("pending");
      const r = await call(peer, "resolve_interrupt", { run_id: asked.runId, interrupt_id: iid, answer: "yes", wait_ms: 3000 });
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/no longer runs this run's loop/);
      expect(r.text).toMatch(/The answer was NOT sent/);
      expect(await pending()).toBe("pending");
    }, 120_000);
  });
});
