// What a new user hit (issue 11): the next step from everything not yet seen, lists that
// say when they were cut, the host's own inputs, error wording, and fields that keep
// their meaning across a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BadRequestError, NotFoundError, UnauthorizedError } from "../../src/bridge/loomcycle/errors.js";
import { errorResult } from "../../src/tool-kit/errors.js";
import { startInteractiveRun } from "../../src/tools/start-interactive-run.js";
import { startHarness, type Harness } from "./harness.js";

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), "lcb-newuser-"));
});
afterAll(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the next step", () => {
  it("says to read the rest first when a page was cut, and when a parked run has unread events", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "one", wait_ms: 10_000 });
    const runId = String(s.sc.run_id);
    expect(s.sc.state).toBe("awaiting_input");
    const other = await startHarness({}, { sim: h.sim }); // a bridge that has given the host nothing yet
    try {
      const page = await other.call("read_run_events", { run_id: runId, max_events: 1 });
      expect(page.sc.has_more).toBe(true);
      expect(String(page.sc.next_step)).toMatch(/^call read_run_events again now/);
      expect(page.text).toMatch(/next: call read_run_events again now/);
      const list = await other.call("list_runs", {});
      const entry = (list.sc.runs as Array<Record<string, unknown>>).find((r) => r.run_id === runId)!;
      expect(Number(entry.unread)).toBeGreaterThan(0);
      expect(String(entry.next_step)).toMatch(/^read_run_events to read its \d+ unread event/);
      const rest = await other.call("read_run_events", { run_id: runId });
      expect(rest.sc.has_more).toBe(false);
      expect(String(rest.sc.next_step)).toMatch(/^send_steer/);
    } finally {
      await other.close();
    }
  });

  it("says to read the events a cursor ahead of the read position left out", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "two", wait_ms: 10_000 });
    const runId = String(s.sc.run_id);
    const other = await startHarness({}, { sim: h.sim }); // a bridge that has given the host nothing yet
    try {
      const ahead = await other.call("read_run_events", { run_id: runId, cursor: 3 });
      expect(ahead.isError, ahead.text).toBe(false);
      expect(String(ahead.sc.next_step)).toMatch(
        /^call read_run_events without a cursor for the 3 earlier events you have not been given \(from position 0/,
      );
      const cont = await other.call("read_run_events", { run_id: runId });
      expect(cont.sc.events![0]).toMatchObject({ cursor: 0, kind: "input" });
    } finally {
      await other.close();
    }
  });
});

describe("lists say when they were cut", () => {
  it("list_snapshots with a limit below the number of snapshots says has_more", async () => {
    const cut = await h.call("list_snapshots", { limit: 1 });
    expect(cut.sc).toMatchObject({ count: 1, has_more: true });
    expect(cut.text).toMatch(/has_more=true/);
    const all = await h.call("list_snapshots", { limit: 50 });
    expect(all.sc.has_more).toBe(false);
    expect(Number(all.sc.count)).toBeGreaterThan(1);
  });
  it("every list tool returns has_more", async () => {
    for (const [tool, args] of [
      ["list_runs", {}],
      ["list_agents", {}],
      ["list_interrupts", { user_id: "u_test" }],
    ] as const) {
      const r = await h.call(tool, args);
      expect(r.isError, r.text).toBe(false);
      expect(r.sc.has_more, tool).toBe(false);
      expect(r.text, tool).toMatch(/has_more=false/);
    }
  });
});

describe("the host's own inputs", () => {
  it("carry source host (also after a restart) and a long prompt is echoed short", async () => {
    const path = join(dir, "inputs.json");
    const a = await startHarness({}, { sim: h.sim, stateFilePath: path });
    const prompt = "Please " + "x".repeat(5_000);
    let runId: string;
    try {
      const s = await a.call("start_interactive_run", { agent: "toolish", prompt, wait_ms: 10_000 });
      runId = String(s.sc.run_id);
      const input = s.sc.events!.find((e) => e.kind === "input")!;
      expect(input).toMatchObject({ source: "host", truncated: true });
      expect(String(input.text).length).toBeLessThanOrEqual(200);
      expect(s.text.length).toBeLessThan(2000);
      const st = await a.call("send_steer", { run_id: runId, text: "second message", wait_ms: 10_000 });
      expect(st.sc.events!.find((e) => e.kind === "input")).toMatchObject({ source: "host", text: "second message" });
      const all = await a.call("read_run_events", { run_id: runId, cursor: 0, max_chars: 40_000 });
      const inputs = all.sc.events!.filter((e) => e.kind === "input");
      expect(inputs.map((e) => e.source)).toEqual(["host", "host"]);
    } finally {
      await a.close();
    }
    const b = await startHarness({}, { sim: h.sim, stateFilePath: path });
    try {
      const again = await b.call("read_run_events", { run_id: runId, cursor: 0, max_chars: 40_000 });
      const inputs = again.sc.events!.filter((e) => e.kind === "input");
      expect(inputs.map((e) => e.source)).toEqual(["host", "host"]);
      expect(inputs[1]!.text).toBe("second message");
      // Another bridge's view of the same run (no state file): loomcycle's own source.
      const c = await startHarness({}, { sim: h.sim });
      try {
        const other = await c.call("read_run_events", { run_id: runId, cursor: 0, max_chars: 40_000 });
        expect(other.sc.events!.filter((e) => e.kind === "input").every((e) => e.source !== "host")).toBe(true);
      } finally {
        await c.close();
      }
    } finally {
      await b.close();
    }
  });
});

describe("error wording", () => {
  it("quotes loomcycle's words as their own sentence and names no argument it did not name", () => {
    const withDetail = errorResult(
      new BadRequestError("x", { status: 400, detail: "prompt is required" }),
      h.bridge,
      {},
      startInteractiveRun.errors,
    );
    const text = (withDetail.content[0] as { text: string }).text;
    expect(text).toMatch(/loomcycle said: "prompt is required"\. [A-Z]/);
    expect(text).not.toMatch(/argument it names/);
    const bare = (errorResult(new BadRequestError("x", { status: 400, detail: "" }), h.bridge).content[0] as { text: string })
      .text;
    expect(bare).toMatch(/without saying why \(HTTP 400\)/);
    expect(bare).not.toMatch(/argument it names/);
    const nf = (
      errorResult(new NotFoundError("x", { status: 404, detail: "not found" }), h.bridge, {}, startInteractiveRun.errors)
        .content[0] as { text: string }
    ).text;
    expect(nf).not.toMatch(/session_id/);
  });
  it("a refused token names where the token came from; no token says so", () => {
    const from = { ...h.bridge, config: { ...h.bridge.config, tokenSource: "--token-file /etc/loom/token" } } as typeof h.bridge;
    const refused = (errorResult(new UnauthorizedError("x", { status: 401, detail: "" }), from).content[0] as { text: string })
      .text;
    expect(refused).toMatch(/^loomcycle refused the bearer token from --token-file \/etc\/loom\/token \(401/);
    const none = { ...h.bridge, config: { ...h.bridge.config, token: undefined } } as typeof h.bridge;
    expect(
      (errorResult(new UnauthorizedError("x", { status: 401, detail: "" }), none).content[0] as { text: string }).text,
    ).toMatch(/^loomcycle requires a token and the bridge has none/);
  });
  it("a base URL with a path makes a start error that names the base URL, not session_id", async () => {
    const w = await startHarness({}, { sim: h.sim, baseUrl: `${h.sim.url}/v1` });
    try {
      const r = await w.call("start_interactive_run", { agent: "echo", prompt: "hi", wait_ms: 0 });
      expect(r.isError).toBe(true);
      expect(r.text).not.toMatch(/session_id/);
      expect(r.text).toMatch(/without \/v1/);
    } finally {
      await w.close();
    }
  });
});

describe("after a restart", () => {
  it("a parked run's last activity, unread count, questions, usage and opening prompt mean what they meant", async () => {
    const path = join(dir, "restart.json");
    const a = await startHarness({}, { sim: h.sim, stateFilePath: path });
    let runId: string;
    let before: Record<string, unknown>;
    let usage: unknown;
    try {
      const s = await a.call("start_interactive_run", { agent: "asker", prompt: "Deploy it.", wait_ms: 10_000 });
      runId = String(s.sc.run_id);
      expect(s.sc.state).toBe("awaiting_answer");
      usage = s.sc.usage;
      // Leave some unread: the host was given only the first event (the start's result got lost, say).
      const run = a.bridge.tracker.get(runId)!;
      run.readPos = 1;
      a.bridge.tracker.noteRead(run);
      before = (await a.call("list_runs", {})).sc.runs!.valueOf() as never;
      before = (before as unknown as Array<Record<string, unknown>>).find((r) => r.run_id === runId)!;
      expect(Number(before.unread)).toBeGreaterThan(0);
    } finally {
      await a.close();
    }
    // The file holds what the list showed; moved an hour back, it tells a restarted bridge's
    // own clock (its re-attach, its replay) apart from the saved last activity.
    const file = JSON.parse(readFileSync(path, "utf8")) as { runs: Record<string, { last_activity_at?: string }> };
    expect(file.runs[runId]!.last_activity_at).toBe(before.last_activity_at);
    const anHourBefore = new Date(Date.parse(String(before.last_activity_at)) - 3_600_000).toISOString();
    file.runs[runId]!.last_activity_at = anHourBefore;
    writeFileSync(path, JSON.stringify(file));
    before.last_activity_at = anHourBefore;
    const b = await startHarness({}, { sim: h.sim, stateFilePath: path });
    try {
      const listed = ((await b.call("list_runs", {})).sc.runs as Array<Record<string, unknown>>).find((r) => r.run_id === runId)!;
      expect(listed).toMatchObject({
        last_activity_at: before.last_activity_at,
        unread: before.unread,
        events: before.events,
        pending_interrupts: 1,
      });
      // Followed again (the replay arrives now, nothing is read): the same values, the last
      // activity now as loomcycle recorded it (its transcript's time of the last event, which
      // the first process saw up to a tail poll later).
      const w = await b.call("wait_for_runs", { run_ids: [runId], wait_ms: 0 });
      expect(w.isError, w.text).toBe(false);
      const after = ((await b.call("list_runs", {})).sc.runs as Array<Record<string, unknown>>).find((r) => r.run_id === runId)!;
      const lastRow = h.sim.rowsOfRun(runId).at(-1)!;
      expect(Date.parse(String(before.last_activity_at)) - Date.parse(String(after.last_activity_at))).toBeLessThan(1000);
      expect(after).toMatchObject({
        last_activity_at: new Date(Math.floor(lastRow.ts_ns / 1e6)).toISOString(),
        unread: before.unread,
        pending_interrupts: 1,
        state: "awaiting_answer",
      });
      const first = await b.call("read_run_events", { run_id: runId, cursor: 0, max_events: 1 });
      expect(first.sc.events![0]).toMatchObject({ kind: "input", text: "Deploy it.", source: "host" });
      expect(first.sc.usage).toEqual(usage);
    } finally {
      await b.close();
    }
  });
});
