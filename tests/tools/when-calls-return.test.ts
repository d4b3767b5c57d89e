// Every tool in every state a run can be in: does the call return at once, or wait (issue 19
// item 3)? The table is docs/architecture.md's "When a call returns", read from there, so the
// document and the behaviour cannot drift apart.
//
// How a cell is judged, without a clock: each call gets a progress token and the bridge sends
// progress every 250 ms while it waits on a run, never otherwise. "at once" and "refused": the
// result arrives before any progress (a call that waited would send some first; a quarter of a
// second tells the two apart on a busy machine too, where a refused start once took longer
// than the 10 ms this allowed). "waits": a progress notification arrives while the run stays
// as it is (the call is then cancelled by the host). "→ state": the call does what it does and
// returns once loomcycle shows it, in that state (progress allowed). Each cell has runs of
// its own, so the cells run side by side.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import type { TrackedRun } from "../../src/bridge/runs/tracked-run.js";
import { TOOLS } from "../../src/tools/index.js";
import { waitFor } from "../helpers.js";
import { startHarness, texts, type Harness, type ToolOutcome } from "./harness.js";

const STATES = [
  "running",
  "awaiting_input",
  "awaiting_answer",
  "completed",
  "failed",
  "cancelled",
  "unreachable",
  "stuck",
  "loop lost",
] as const;
type State = (typeof STATES)[number];

type Expected =
  { kind: "at once" } | { kind: "refused" } | { kind: "waits" } | { kind: "until"; state: string } | { kind: "n/a" };

/** The table of docs/architecture.md, "When a call returns": tool → state → expected. */
function documentedTable(): Map<string, Map<State, Expected>> {
  const doc = readFileSync(new URL("../../docs/architecture.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("## When a call returns"));
  const lines = section.split("\n").filter((l) => l.startsWith("|"));
  const head = lines[0]!
    .split("|")
    .slice(2, -1)
    .map((c) => c.trim().replaceAll("`", ""));
  expect(head).toEqual([...STATES]);
  const table = new Map<string, Map<State, Expected>>();
  for (const line of lines.slice(2)) {
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    const tool = cells[0]!.replaceAll("`", "");
    const row = new Map<State, Expected>();
    cells.slice(1).forEach((c, i) => {
      const state = STATES[i]!;
      const m = /^→ `?(\w+)`?$/.exec(c);
      if (m) row.set(state, { kind: "until", state: m[1]! });
      else if (c === "at once" || c === "refused" || c === "waits" || c === "n/a") row.set(state, { kind: c });
      else throw new Error(`docs/architecture.md: ${tool} × ${state}: unknown cell "${c}"`);
    });
    table.set(tool, row);
  }
  return table;
}

const table = documentedTable();

// The runs of each state live in one of three simulators: the main one, one that becomes
// unreachable, and one that restarts (its runs' loops are lost).
let main: Simulator;
let gone: Simulator;
let restarted: Simulator;
let h: Harness; // the main bridge
let hStuck: Harness; // the same simulator, a bridge that calls a run silent for 1 ms stuck
let hGone: Harness;
let hLost: Harness;

const FAST = { progressEveryMs: 250 };
/** Runs made before the simulator went away or restarted, by tool. */
const goneRuns = new Map<string, string>();
const lostRuns = new Map<string, string>();

async function start(on: Harness, agent: string, waitMs = 10_000): Promise<ToolOutcome> {
  const s = await on.call("start_interactive_run", { agent, prompt: `a ${agent} run`, wait_ms: waitMs });
  expect(s.isError, s.text).toBe(false);
  return s;
}

function tracked(on: Harness, runId: string): TrackedRun {
  return on.bridge.tracker.get(runId)!;
}

/** A fresh run in `state`, followed by the bridge `on` and read to its end. */
async function runIn(state: State, tool: string): Promise<{ on: Harness; runId: string }> {
  switch (state) {
    case "running": {
      const s = await start(h, "hang", 0);
      const runId = String(s.sc.run_id);
      await waitFor(
        () =>
          tracked(h, runId)
            .events.slice(0)
            .some((e) => e.type === "text"),
        { timeoutMs: 10_000, what: "its turn to start" },
      );
      await h.call("read_run_events", { run_id: runId });
      return { on: h, runId };
    }
    case "stuck": {
      const s = await start(hStuck, "hang", 0);
      const runId = String(s.sc.run_id);
      // Silent for stuckAfterMs (1 ms) once its first words are out: reads report it stuck.
      for (let i = 0; i < 100; i++) {
        const r = await hStuck.call("read_run_events", { run_id: runId });
        if (r.sc.stuck) {
          expect(r.sc.stuck).toMatchObject({ verdict: "stuck" });
          return { on: hStuck, runId };
        }
      }
      throw new Error("the hang run never read stuck");
    }
    case "awaiting_input":
      return { on: h, runId: String((await start(h, "echo")).sc.run_id) };
    case "awaiting_answer":
      return { on: h, runId: String((await start(h, "asker")).sc.run_id) };
    case "completed":
      return { on: h, runId: String((await start(h, "oneshot")).sc.run_id) };
    case "failed":
      return { on: h, runId: String((await start(h, "failing")).sc.run_id) };
    case "cancelled": {
      const s = await start(h, "echo");
      const runId = String(s.sc.run_id);
      await fetch(`${main.url}/v1/agents/${String(s.sc.agent_id)}/cancel`, {
        method: "POST",
        headers: { authorization: `Bearer ${main.token}` },
      });
      await waitFor(() => tracked(h, runId).state === "cancelled", { timeoutMs: 10_000, what: "the run to read cancelled" });
      await h.call("read_run_events", { run_id: runId });
      return { on: h, runId };
    }
    case "unreachable":
      return { on: hGone, runId: goneRuns.get(tool)! };
    case "loop lost":
      return { on: hLost, runId: lostRuns.get(tool)! };
  }
}

/** The arguments of `tool` for a run (wait_ms at its largest where the tool takes one). */
function argsFor(tool: string, on: Harness, runId: string | undefined): Record<string, unknown> {
  const run = runId ? tracked(on, runId) : undefined;
  const interruptId = run ? ([...run.pending.keys()][0] ?? "intr_000000000000000000000000") : "intr_000000000000000000000000";
  switch (tool) {
    case "start_interactive_run":
      return { agent: "echo", prompt: "hello", wait_ms: 55_000 };
    case "read_run_events":
    case "attach_run":
      return { run_id: runId, wait_ms: 55_000 };
    case "send_steer":
      return { run_id: runId, text: "a message", wait_ms: 55_000 };
    case "resolve_interrupt":
      return { run_id: runId, interrupt_id: interruptId, answer: "yes", wait_ms: 55_000 };
    case "wait_for_runs":
      return { run_ids: [runId], wait_ms: 55_000 };
    case "cancel_turn":
    case "cancel_run":
    case "compact_run":
    case "list_interrupts":
      return { run_id: runId };
    default:
      return {};
  }
}

/** The agent start_interactive_run meets each state with. */
const START_AGENT: Partial<Record<State, string>> = {
  running: "hang",
  stuck: "hang",
  awaiting_input: "echo",
  awaiting_answer: "asker",
  completed: "oneshot",
  failed: "failing",
  unreachable: "echo",
};

beforeAll(async () => {
  main = await startSimulator({ tailPollMs: 10, speed: 0.05 });
  gone = await startSimulator({ tailPollMs: 10, speed: 0.05 });
  restarted = await startSimulator({ tailPollMs: 10, speed: 0.05 });
  h = await startHarness({}, { sim: main, timings: FAST });
  hStuck = await startHarness({}, { sim: main, timings: { ...FAST, stuckAfterMs: 1 } });
  hGone = await startHarness({}, { sim: gone, timings: FAST });
  hLost = await startHarness({}, { sim: restarted, timings: FAST });
  // One run per tool, on the simulators about to go away and to restart.
  for (const t of TOOLS) {
    goneRuns.set(t.name, String((await start(hGone, "echo")).sc.run_id));
    lostRuns.set(t.name, String((await start(hLost, t.name === "resolve_interrupt" ? "asker" : "echo")).sc.run_id));
  }
  await gone.faults.refuseConnections(24 * 3600_000);
  await waitFor(() => [...goneRuns.values()].every((id) => tracked(hGone, id).state === "unreachable"), {
    timeoutMs: 10_000,
    what: "the runs to read unreachable",
  });
  await restarted.restart(20);
  await waitFor(() => [...lostRuns.values()].every((id) => tracked(hLost, id).loopLost), {
    timeoutMs: 10_000,
    what: "the runs' loops to read lost",
  });
});

afterAll(async () => {
  for (const x of [h, hStuck, hGone, hLost]) await x?.close();
  for (const s of [main, gone, restarted]) await s?.close();
});

describe("when a call returns", () => {
  it("the table covers every tool and every state", () => {
    expect([...table.keys()].sort()).toEqual(TOOLS.map((t) => t.name).sort());
  });

  const cells: Array<[string, State]> = [];
  for (const t of TOOLS) for (const s of STATES) cells.push([t.name, s]);

  it.concurrent.each(cells)("%s × %s", async (tool, state) => {
    const expected = table.get(tool)?.get(state);
    expect(expected, `docs/architecture.md has no cell for ${tool} × ${state}`).toBeDefined();
    if (expected!.kind === "n/a") return;
    let on: Harness;
    let runId: string | undefined;
    if (tool === "start_interactive_run") {
      on = state === "unreachable" ? hGone : state === "stuck" ? hStuck : h;
    } else {
      ({ on, runId } = await runIn(state, tool));
    }
    const args = argsFor(tool, on, runId);
    if (tool === "start_interactive_run") args.agent = START_AGENT[state];
    const before = runId ? tracked(on, runId).state : undefined;

    const ac = new AbortController();
    let progressed: () => void = () => {};
    const progress = new Promise<"progress">((resolve) => (progressed = () => resolve("progress")));
    const call = on.call(tool, args, { signal: ac.signal, onprogress: () => progressed() });
    const first = await Promise.race([call, progress]);
    const what = `${tool} × ${state}`;

    if (expected!.kind === "waits") {
      expect(first, `${what}: returned at once, expected it to wait: ${first === "progress" ? "" : first.text}`).toBe("progress");
      if (runId) expect(tracked(on, runId).state, `${what}: the run changed while the call waited`).toBe(before);
      ac.abort();
      await call.catch(() => undefined);
      return;
    }
    if (expected!.kind === "until") {
      const r = await call;
      expect(r.isError, `${what}: ${r.text}`).toBe(false);
      expect(r.sc.state ?? r.sc.final_state, `${what}: ${r.text}`).toBe(expected!.state);
      return;
    }
    if (first === "progress") {
      ac.abort();
      await call.catch(() => undefined);
      expect.fail(`${what}: the call waited; expected it to return at once (${expected!.kind})`);
    }
    const r = first as ToolOutcome;
    expect(r.isError, `${what}: ${r.text}`).toBe(expected!.kind === "refused");
    if (r.isError) expect(r.text, `${what}: the refusal says why`).toMatch(refusal(tool, state));
  });
});

/** What a refusal must say, by why it is refused. */
function refusal(tool: string, state: State): RegExp {
  if (state === "unreachable") return /^Cannot reach loomcycle at /;
  if (state === "loop lost") return /loomcycle no longer runs this run's loop.*(NOT delivered|NOT sent|Nothing was stopped)/;
  if (tool === "resolve_interrupt") return /has no interrupt .* It has no pending question/;
  if (state === "completed" || state === "failed" || state === "cancelled") return new RegExp(`has ended \\(state ${state}\\)`);
  if (tool === "cancel_turn") return /is not mid-turn/;
  if (tool === "compact_run")
    return state === "awaiting_answer" ? /is waiting for an answer to its question.*resolve_interrupt/ : /is mid-turn/;
  throw new Error(`no refusal expected for ${tool} × ${state}`);
}

describe("a message to a run that is asking", () => {
  it("is queued: send_steer returns at once saying so, and the answer's call returns the reply to both", async () => {
    const s = await start(h, "asker");
    const runId = String(s.sc.run_id);
    const iid = String(s.sc.pending_interrupts![0]!.interrupt_id);
    const st = await h.call("send_steer", { run_id: runId, text: "and then deploy", wait_ms: 55_000 });
    expect(st.isError, st.text).toBe(false);
    expect(st.sc).toMatchObject({ delivered: true, state: "awaiting_answer", events: [] });
    expect(String(st.sc.next_step)).toMatch(
      new RegExp(`waiting for an answer to its question \\(${iid}\\): your message is queued .* resolve_interrupt`),
    );
    expect(st.text).toContain(`next: the run is waiting for an answer to its question (${iid}): your message is queued`);
    const a = await h.call("resolve_interrupt", { run_id: runId, interrupt_id: iid, answer: "yes", wait_ms: 10_000 });
    expect(a.isError, a.text).toBe(false);
    expect(a.sc.state).toBe("awaiting_input");
    const kinds = a.sc.events!.map((e) => e.kind);
    expect(kinds.slice(kinds.indexOf("input"))).toEqual(["input", "text", "awaiting_input"]);
    expect(a.sc.events!.find((e) => e.kind === "input")).toMatchObject({ text: "and then deploy", source: "host" });
    expect(texts(a.sc.events)).toBe("Answer was yes. You said: and then deploy");
  });
});
