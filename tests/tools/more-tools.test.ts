// The tools beyond the five, the resources, stuck detection and restart-proof read
// positions, through a real MCP client against createServer() and the simulator.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { startHarness, texts, type Harness } from "./harness.js";
import { waitFor } from "../helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({}, { userId: "u_test" });
});
afterAll(async () => {
  await h?.close();
});

/** Start a run directly against loomcycle, as the Web UI would. */
async function startElsewhere(agent: string, prompt: string, userId = "u_test"): Promise<string> {
  const res = await fetch(`${h.sim.url}/v1/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${h.sim.token}`, "content-type": "application/json" },
    body: JSON.stringify({ agent, prompt, interactive: true, user_id: userId }),
  });
  const reader = res.body!.getReader();
  let buf = "";
  while (!/"run_id":"(r_[0-9a-f]+)"/.test(buf)) buf += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  return /"run_id":"(r_[0-9a-f]+)"/.exec(buf)![1]!;
}

describe("list_runs and attach_run", () => {
  it("lists followed runs and the user's interactive runs started elsewhere, grouped by state", async () => {
    const mine = await h.call("start_interactive_run", { agent: "echo", prompt: "mine" });
    const other = await startElsewhere("echo", "from the web ui");
    const l = await h.call("list_runs", {});
    expect(l.isError, l.text).toBe(false);
    const runs = l.sc.runs as Array<Record<string, unknown>>;
    const m = runs.find((r) => r.run_id === mine.sc.run_id)!;
    expect(m).toMatchObject({ state: "awaiting_input", followed: true, agent: "echo" });
    expect(String(m.next_step)).toMatch(/send_steer/);
    const o = runs.find((r) => r.run_id === other)!;
    expect(o).toMatchObject({ followed: false, state: "running" });
    expect(String(o.next_step)).toMatch(/attach_run/);
    expect(l.text).toMatch(/awaiting_input \(\d+\):/);
    const only = await h.call("list_runs", { state: "awaiting_input" });
    expect((only.sc.runs as Array<{ state: string }>).every((r) => r.state === "awaiting_input")).toBe(true);

    const a = await h.call("attach_run", { run_id: other });
    expect(a.isError, a.text).toBe(false);
    expect(a.sc.state).toBe("awaiting_input");
    expect(a.sc.events![0]).toMatchObject({ kind: "input", text: "from the web ui" });
    const after = await h.call("read_run_events", { run_id: other });
    expect(after.sc.events).toEqual([]);
    const l2 = await h.call("list_runs", {});
    expect((l2.sc.runs as Array<Record<string, unknown>>).find((r) => r.run_id === other)).toMatchObject({
      followed: true,
      state: "awaiting_input",
    });
  });
});

describe("cancel_turn, cancel_run, compact_run", () => {
  it("stops a turn and parks the run; a second stop says it is not mid-turn", async () => {
    const s = await h.call("start_interactive_run", { agent: "hang", prompt: "think hard", wait_ms: 300 });
    expect(s.sc.state).toBe("running");
    const c = await h.call("cancel_turn", { run_id: String(s.sc.run_id), reason: "enough" });
    expect(c.isError, c.text).toBe(false);
    expect(c.sc.state).toBe("awaiting_input");
    expect(c.sc.events!.some((e) => e.kind === "turn_cancelled" && e.reason === "enough")).toBe(true);
    const again = await h.call("cancel_turn", { run_id: String(s.sc.run_id) });
    expect(again.isError).toBe(true);
    expect(again.text).toMatch(/not mid-turn/);
  });

  it("ends a run, confirms the state, and is idempotent", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "bye" });
    const c = await h.call("cancel_run", { run_id: String(s.sc.run_id), reason: "done with it" });
    expect(c.isError, c.text).toBe(false);
    expect(c.sc).toMatchObject({ cancelled: true, final_state: "cancelled", state: "cancelled" });
    expect(h.sim.runStatus(String(s.sc.run_id))).toBe("cancelled");
    const again = await h.call("cancel_run", { run_id: String(s.sc.run_id) });
    expect(again.isError, again.text).toBe(false);
    expect(again.sc).toMatchObject({ cancelled: false, final_state: "cancelled" });
    const steer = await h.call("send_steer", { run_id: String(s.sc.run_id), text: "hello?" });
    expect(steer.isError).toBe(true);
  });

  it("compacts a parked run and refuses mid-turn", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "one" });
    const runId = String(s.sc.run_id);
    await h.call("send_steer", { run_id: runId, text: "two" });
    await h.call("send_steer", { run_id: runId, text: "three" });
    const c = await h.call("compact_run", { run_id: runId });
    expect(c.isError, c.text).toBe(false);
    expect(c.sc).toMatchObject({ compacted: true, applied: "live" });
    const r = await h.call("read_run_events", { run_id: runId, wait_ms: 2000, wait_for: "any" });
    expect(r.sc.events!.some((e) => e.kind === "compaction")).toBe(true);
    expect(r.sc.state).toBe("awaiting_input"); // a compaction keeps a parked run parked

    const busy = await h.call("start_interactive_run", { agent: "hang", prompt: "x", wait_ms: 200 });
    const b = await h.call("compact_run", { run_id: String(busy.sc.run_id) });
    expect(b.isError).toBe(true);
    expect(b.text).toMatch(/mid-turn/);
    await h.call("cancel_run", { run_id: String(busy.sc.run_id) });
  });
});

describe("list_interrupts, list_agents", () => {
  it("lists pending questions per run and per user, newest first", async () => {
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy?" });
    const runId = String(s.sc.run_id);
    const byRun = await h.call("list_interrupts", { run_id: runId });
    expect(byRun.isError, byRun.text).toBe(false);
    expect(byRun.sc.interrupts).toEqual([
      expect.objectContaining({ run_id: runId, status: "pending", question: "Proceed?", options: ["yes", "no"] }),
    ]);
    const byUser = await h.call("list_interrupts", {});
    expect((byUser.sc.interrupts as Array<{ run_id: string }>).some((i) => i.run_id === runId)).toBe(true);
    const id = (byRun.sc.interrupts as Array<{ interrupt_id: string }>)[0]!.interrupt_id;
    await h.call("resolve_interrupt", { run_id: runId, interrupt_id: id, answer: "no" });
    const pending = await h.call("list_interrupts", { run_id: runId });
    expect(pending.sc.count).toBe(0);
    const all = await h.call("list_interrupts", { run_id: runId, status: "all" });
    expect(all.sc.interrupts).toEqual([expect.objectContaining({ status: "resolved", answer: "no" })]);
  });

  it("lists runnable agents", async () => {
    const a = await h.call("list_agents", {});
    expect(a.isError, a.text).toBe(false);
    const names = (a.sc.agents as Array<{ name: string }>).map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(["echo", "asker", "toolish", "longtalk", "failing"]));
  });
});

describe("wait_for_runs", () => {
  it("returns when any run needs the host, saying which", async () => {
    const parked = await h.call("start_interactive_run", { agent: "echo", prompt: "already read" });
    const slow = await h.call("start_interactive_run", { agent: "slow", prompt: "take your time", wait_ms: 0 });
    const w = await h.call("wait_for_runs", { run_ids: [parked.sc.run_id, slow.sc.run_id], wait_ms: 20_000 });
    expect(w.isError, w.text).toBe(false);
    expect(w.sc).toMatchObject({ ready: [slow.sc.run_id], timed_out: false });
    const nothing = await h.call("wait_for_runs", { run_ids: [parked.sc.run_id], wait_ms: 300 });
    expect(nothing.sc).toMatchObject({ ready: [], timed_out: true });
    const bad = await h.call("wait_for_runs", { run_ids: [] });
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/at least 1/);
  });
});

describe("stuck detection", () => {
  it("reports a silent run with a fresh heartbeat as stuck, and one with an old heartbeat as likely dead", async () => {
    // Silent for 50 ms counts as stuck here; heartbeat readings are kept 10 s (the default),
    // but never longer than that stuck window.
    const q = await startHarness({}, { sim: h.sim, timings: { stuckAfterMs: 50 } });
    try {
      const s = await q.call("start_interactive_run", { agent: "hang", prompt: "stall", wait_ms: 200 });
      const runId = String(s.sc.run_id);
      expect(s.sc.state).toBe("running");
      // Reading the run until its silence counts: the stall, not the start, makes it stuck.
      const r = await waitFor(
        async () => {
          const read = await q.call("read_run_events", { run_id: runId });
          return read.sc.stuck ? read : undefined;
        },
        { what: "the silent run to be reported stuck" },
      );
      expect(r.sc.state).toBe("running");
      expect(r.sc.stuck).toMatchObject({ verdict: "stuck" });
      expect(String((r.sc.stuck as { remedy: string }).remedy)).toMatch(/cancel_turn/);
      expect(r.text).toMatch(/stuck: stuck/);
      const l = await q.call("list_runs", {});
      expect((l.sc.runs as Array<Record<string, unknown>>).find((x) => x.run_id === runId)?.stuck).toMatchObject({
        verdict: "stuck",
      });

      h.sim.freezeHeartbeat(runId, 11 * 60_000);
      // A reading kept for heartbeatCacheMs (10 s) would miss this bound.
      const d = await waitFor(
        async () => {
          const read = await q.call("read_run_events", { run_id: runId });
          return (read.sc.stuck as { verdict?: string } | undefined)?.verdict === "likely_dead" ? read : undefined;
        },
        { timeoutMs: 5_000, what: "the run to be reported likely dead once its heartbeat reading expired (after 50 ms)" },
      );
      expect(d.sc.stuck).toMatchObject({ verdict: "likely_dead" });
      expect((d.sc.stuck as { heartbeat_age_seconds: number }).heartbeat_age_seconds).toBeGreaterThanOrEqual(600);
      await q.call("cancel_run", { run_id: runId });
    } finally {
      await q.close();
    }
  });
});

describe("resources", () => {
  it("lists and reads every resource as text and JSON; a run subscription reports state changes", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "resource me" });
    const runId = String(s.sc.run_id);
    const list = await h.client.listResources();
    const uris = list.resources.map((r) => r.uri);
    expect(uris).toEqual(
      expect.arrayContaining(["loomcycle://runs", "loomcycle://snapshots", "loomcycle://agents", `loomcycle://runs/${runId}`]),
    );
    const templates = await h.client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toContain("loomcycle://runs/{run_id}");
    for (const uri of ["loomcycle://runs", "loomcycle://snapshots", "loomcycle://agents", `loomcycle://runs/${runId}`]) {
      const r = await h.client.readResource({ uri });
      const kinds = r.contents.map((c) => c.mimeType);
      expect(kinds, uri).toEqual(["text/plain", "application/json"]);
      expect(() => JSON.parse(String((r.contents[1] as { text: string }).text))).not.toThrow();
    }
    const run = await h.client.readResource({ uri: `loomcycle://runs/${runId}` });
    expect(String((run.contents[0] as { text: string }).text)).toMatch(/You said: resource me/);
    const json = JSON.parse(String((run.contents[1] as { text: string }).text)) as { state: string; next: string };
    expect(json.state).toBe("awaiting_input");
    // reading a resource does not move the host's read position
    const before = await h.call("read_run_events", { run_id: runId });
    expect(before.sc.events).toEqual([]);

    const done = await h.client.complete({
      ref: { type: "ref/resource", uri: "loomcycle://runs/{run_id}" },
      argument: { name: "run_id", value: runId.slice(0, 4) },
    });
    expect(done.completion.values).toContain(runId);

    const updates: string[] = [];
    h.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    await h.client.subscribeResource({ uri: `loomcycle://runs/${runId}` });
    // A whole turn may arrive in one batch (awaiting_input before and after): the
    // subscriber is still told, because a new stop point was reached.
    await h.call("send_steer", { run_id: runId, text: "change state", wait_ms: 10_000 });
    await waitFor(() => updates.includes(`loomcycle://runs/${runId}`), { what: "an update after the turn" });
    const after = await h.client.readResource({ uri: `loomcycle://runs/${runId}` });
    expect(String((after.contents[0] as { text: string }).text)).toMatch(/You said: change state/);
    const n = updates.length;
    await h.client.unsubscribeResource({ uri: `loomcycle://runs/${runId}` });
    const unobserved = await h.call("send_steer", { run_id: runId, text: "unobserved", wait_ms: 10_000 });
    expect(unobserved.sc.state).toBe("awaiting_input");
    // An update for that turn would have been sent before the steer's result (as the one
    // above was), and the transport keeps order: a round trip after it brings anything sent.
    await h.client.ping();
    expect(updates.length).toBe(n);
  });
});

describe("read positions survive a restart", () => {
  it("continues where the host left off in a new bridge; a corrupt file is a warning and a fresh start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lcb-state-"));
    const path = join(dir, "state.json");
    const a = await startHarness({}, { sim: h.sim, stateFilePath: path });
    const s = await a.call("start_interactive_run", { agent: "echo", prompt: "remember me" });
    const runId = String(s.sc.run_id);
    await a.call("send_steer", { run_id: runId, text: "second" });
    const pos = Number((await a.call("read_run_events", { run_id: runId })).sc.next_cursor);
    await a.close(); // flushes the state file
    const saved = JSON.parse(readFileSync(path, "utf8")) as { runs: Record<string, { read_pos: number }> };
    expect(saved.runs[runId]!.read_pos).toBe(pos);

    const b = await startHarness({}, { sim: h.sim, stateFilePath: path });
    try {
      await b.call("read_run_events", { run_id: runId, wait_ms: 0 });
      const cont = await b.call("read_run_events", { run_id: runId });
      expect(cont.sc.events).toEqual([]);
      expect(cont.sc.next_cursor).toBe(pos);
      await b.call("send_steer", { run_id: runId, text: "third" });
      const l = await b.call("read_run_events", { run_id: runId, cursor: 0 });
      expect(texts(l.sc.events)).toBe("You said: remember meYou said: secondYou said: third");
    } finally {
      await b.close();
    }

    writeFileSync(path, "{not json");
    const c = await startHarness({}, { sim: h.sim, stateFilePath: path });
    try {
      const fresh = await c.call("read_run_events", { run_id: runId });
      expect(fresh.isError).toBe(false);
      expect(fresh.sc.events![0]).toMatchObject({ cursor: 0 });
    } finally {
      await c.close();
    }
  });
});

describe("unknown run ids", () => {
  it("are not kept by the tracker after loomcycle says they do not exist", async () => {
    const before = h.bridge.tracker.list().length;
    for (let i = 0; i < 20; i++) {
      const r = await h.call("read_run_events", { run_id: `r_unknown${i}` });
      expect(r.isError).toBe(true);
    }
    expect(h.bridge.tracker.list().length).toBe(before);
  });
});
