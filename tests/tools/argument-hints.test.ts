// "Did you mean" for arguments a tool does not take (issue 19, item 11): realistic model
// mistakes for every tool, through a real MCP client, each answered with the name the tool
// takes that the model meant — or no hint where none is safe to give. And what the model
// reads of a bad argument is our line, without the SDK's wrapping.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./harness.js";
import { TOOLS } from "../../src/tools/index.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const RUN = "r_0b1c2d3e4f5a6b7c";

/** [tool, the arguments as a model sent them, the unknown one, the hint (null: no hint)] */
const MISTAKES: ReadonlyArray<readonly [string, Record<string, unknown>, string, string | null]> = [
  // start_interactive_run: agent, prompt, user_id, session_id, metadata, wait_ms, questions
  ["start_interactive_run", { agent_name: "echo", prompt: "hi" }, "agent_name", "agent"],
  ["start_interactive_run", { agentName: "echo", prompt: "hi" }, "agentName", "agent"],
  ["start_interactive_run", { name: "echo", prompt: "hi" }, "name", "agent"],
  ["start_interactive_run", { agent_id: "echo", prompt: "hi" }, "agent_id", "agent"],
  ["start_interactive_run", { Agent: "echo", prompt: "hi" }, "Agent", "agent"],
  ["start_interactive_run", { agent: "echo", message: "hi" }, "message", "prompt"],
  ["start_interactive_run", { agent: "echo", content: "hi" }, "content", "prompt"],
  ["start_interactive_run", { agent: "echo", input: "hi" }, "input", "prompt"],
  ["start_interactive_run", { agent: "echo", text: "hi" }, "text", "prompt"],
  ["start_interactive_run", { agent: "echo", task: "hi" }, "task", "prompt"],
  ["start_interactive_run", { agent: "echo", prompt: "hi", timeout: 1000 }, "timeout", "wait_ms"],
  ["start_interactive_run", { agent: "echo", prompt: "hi", waitMs: 1000 }, "waitMs", "wait_ms"],
  ["start_interactive_run", { agent: "echo", prompt: "hi", userId: "u_1" }, "userId", "user_id"],
  ["start_interactive_run", { agent: "echo", prompt: "hi", user: "u_1" }, "user", "user_id"],
  ["start_interactive_run", { agent: "echo", prompt: "hi", sessionId: "s_1" }, "sessionId", "session_id"],
  ["start_interactive_run", { agent: "echo", prompt: "hi", conversation_id: "s_1" }, "conversation_id", "session_id"],
  ["start_interactive_run", { agent: "echo", prompt: "hi", meta: { a: "b" } }, "meta", "metadata"],
  ["start_interactive_run", { agent: "echo", prompt: "hi", question_mode: "human" }, "question_mode", "questions"],
  // read_run_events: run_id, cursor, wait_ms, wait_for, format, max_events, max_chars
  ["read_run_events", { runId: RUN }, "runId", "run_id"],
  ["read_run_events", { RunID: RUN }, "RunID", "run_id"],
  ["read_run_events", { "run-id": RUN }, "run-id", "run_id"],
  ["read_run_events", { id: RUN }, "id", "run_id"],
  ["read_run_events", { run: RUN }, "run", "run_id"],
  ["read_run_events", { agent_id: "a_0b1c2d3e4f5a6b7c" }, "agent_id", null],
  ["read_run_events", { run_id: RUN, timeout: 5000 }, "timeout", "wait_ms"],
  ["read_run_events", { run_id: RUN, wait_time: 5000 }, "wait_time", "wait_ms"],
  ["read_run_events", { run_id: RUN, timeoutMs: 5000 }, "timeoutMs", "wait_ms"],
  ["read_run_events", { run_id: RUN, from: 3 }, "from", "cursor"],
  ["read_run_events", { run_id: RUN, offset: 3 }, "offset", "cursor"],
  ["read_run_events", { run_id: RUN, since: 3 }, "since", "cursor"],
  ["read_run_events", { run_id: RUN, start_cursor: 3 }, "start_cursor", "cursor"],
  ["read_run_events", { run_id: RUN, limit: 10 }, "limit", "max_events"],
  ["read_run_events", { run_id: RUN, maxEvents: 10 }, "maxEvents", "max_events"],
  ["read_run_events", { run_id: RUN, max_length: 1000 }, "max_length", "max_chars"],
  ["read_run_events", { run_id: RUN, waitFor: "any" }, "waitFor", "wait_for"],
  ["read_run_events", { run_id: RUN, until: "any" }, "until", "wait_for"],
  ["read_run_events", { run_id: RUN, raw: true }, "raw", "format"],
  // send_steer: run_id, text, wait_ms
  ["send_steer", { run_id: RUN, message: "go on" }, "message", "text"],
  ["send_steer", { run_id: RUN, content: "go on" }, "content", "text"],
  ["send_steer", { run_id: RUN, input: "go on" }, "input", "text"],
  ["send_steer", { run_id: RUN, prompt: "go on" }, "prompt", "text"],
  ["send_steer", { run_id: RUN, msg: "go on" }, "msg", "text"],
  ["send_steer", { runId: RUN, text: "go on" }, "runId", "run_id"],
  ["send_steer", { run_id: RUN, text: "go on", wait: 1000 }, "wait", "wait_ms"],
  // resolve_interrupt: run_id, interrupt_id, answer, decline, wait_ms
  ["resolve_interrupt", { run_id: RUN, interruptId: "i_1", answer: "yes" }, "interruptId", "interrupt_id"],
  ["resolve_interrupt", { run_id: RUN, interrupt: "i_1", answer: "yes" }, "interrupt", "interrupt_id"],
  ["resolve_interrupt", { run_id: RUN, question_id: "i_1", answer: "yes" }, "question_id", "interrupt_id"],
  ["resolve_interrupt", { run_id: RUN, id: "i_1", answer: "yes" }, "id", null],
  ["resolve_interrupt", { run_id: RUN, interrupt_id: "i_1", response: "yes" }, "response", "answer"],
  ["resolve_interrupt", { run_id: RUN, interrupt_id: "i_1", reply: "yes" }, "reply", "answer"],
  ["resolve_interrupt", { run_id: RUN, interrupt_id: "i_1", choice: "yes" }, "choice", "answer"],
  ["resolve_interrupt", { run_id: RUN, interrupt_id: "i_1", text: "yes" }, "text", "answer"],
  ["resolve_interrupt", { run_id: RUN, interrupt_id: "i_1", message: "yes" }, "message", "answer"],
  ["resolve_interrupt", { run_id: RUN, interrupt_id: "i_1", declined: true }, "declined", "decline"],
  ["resolve_interrupt", { run_id: RUN, interrupt_id: "i_1", reject: true }, "reject", "decline"],
  // list_snapshots: limit, label_contains
  ["list_snapshots", { max: 5 }, "max", "limit"],
  ["list_snapshots", { count: 5 }, "count", "limit"],
  ["list_snapshots", { label: "nightly" }, "label", "label_contains"],
  ["list_snapshots", { labelContains: "nightly" }, "labelContains", "label_contains"],
  ["list_snapshots", { filter: "nightly" }, "filter", "label_contains"],
  // list_runs: state
  ["list_runs", { status: "running" }, "status", "state"],
  ["list_runs", { filter: "running" }, "filter", "state"],
  // attach_run: run_id, wait_ms, questions
  ["attach_run", { runId: RUN }, "runId", "run_id"],
  ["attach_run", { run_id: RUN, timeout: 1000 }, "timeout", "wait_ms"],
  ["attach_run", { run_id: RUN, mode: "human" }, "mode", "questions"],
  // wait_for_runs: run_ids, wait_ms
  ["wait_for_runs", { run_id: [RUN] }, "run_id", "run_ids"],
  ["wait_for_runs", { runIds: [RUN] }, "runIds", "run_ids"],
  ["wait_for_runs", { runs: [RUN] }, "runs", "run_ids"],
  ["wait_for_runs", { ids: [RUN] }, "ids", "run_ids"],
  ["wait_for_runs", { run_ids: [RUN], timeout: 1000 }, "timeout", "wait_ms"],
  // cancel_turn / cancel_run: run_id, reason
  ["cancel_turn", { runId: RUN }, "runId", "run_id"],
  ["cancel_turn", { run_id: RUN, message: "wrong way" }, "message", "reason"],
  ["cancel_run", { run_id: RUN, why: "done" }, "why", "reason"],
  ["cancel_run", { run_id: RUN, agent_id: "a_0b1c2d3e4f5a6b7c" }, "agent_id", null],
  // list_interrupts: run_id, user_id, status
  ["list_interrupts", { runId: RUN }, "runId", "run_id"],
  ["list_interrupts", { userId: "u_1" }, "userId", "user_id"],
  ["list_interrupts", { state: "pending" }, "state", "status"],
  // compact_run: run_id
  ["compact_run", { runId: RUN }, "runId", "run_id"],
  ["compact_run", { id: RUN }, "id", "run_id"],
  // list_agents: nothing
  ["list_agents", { verbose: true }, "verbose", null],
];

describe("unknown arguments get the name the model meant", () => {
  it("the table covers every tool", () => {
    expect(new Set(MISTAKES.map(([t]) => t))).toEqual(new Set(TOOLS.map((t) => t.name)));
  });

  it.each(MISTAKES)("%s %j: %s → %s", async (tool, args, wrong, hint) => {
    const r = await h.call(tool, args);
    expect(r.isError).toBe(true);
    const takes = Object.keys(TOOLS.find((t) => t.name === tool)!.config.inputSchema);
    const line = `unknown argument ${JSON.stringify(wrong)}${hint ? ` (did you mean ${hint}?)` : ""}; ${tool} takes ${takes.length > 0 ? takes.join(", ") : "no arguments"}`;
    // the unknown argument first; an argument it was hinted as is not also reported missing
    expect(r.text.split("\n")[0]).toBe(line);
    if (hint) expect(r.text).not.toMatch(new RegExp(`^${hint} is missing`, "m"));
  });
});

describe("a bad argument's result is our line(s), nothing else", () => {
  it.each([
    [
      "send_steer",
      { run_id: RUN, message: "hi" },
      'unknown argument "message" (did you mean text?); send_steer takes run_id, text, wait_ms',
    ],
    [
      "read_run_events",
      { run_id: RUN, format: "Raw", wait_ms: -1 },
      'wait_ms must be an integer number of milliseconds, 0 … 55000 (hosts cut tool calls off around 60 s), not -1\nformat must be "digest" or "raw", not the string "Raw"',
    ],
    [
      "wait_for_runs",
      { run_ids: [RUN, "nope!"] },
      'run_id must match [A-Za-z0-9_-]{1,128}, e.g. "r_0b1c2d3e4f5a6b7c", not the string "nope!" (at run_ids[1])',
    ],
    [
      "start_interactive_run",
      { agent: "echo", prompt: "hi", metadata: { repo: 5 } },
      "each metadata value must be a string, not 5 (at metadata.repo)",
    ],
    ["list_agents", { verbose: true }, 'unknown argument "verbose"; list_agents takes no arguments'],
  ] as const)("%s %j", async (tool, args, text) => {
    const r = await h.call(tool, args as Record<string, unknown>);
    expect(r.isError).toBe(true);
    expect(r.raw.content).toEqual([{ type: "text", text }]);
  });

  it("is labelled [sandbox] like every other error when serving the simulator", async () => {
    const s = await startHarness({}, { sandbox: true });
    try {
      const r = await s.call("send_steer", { run_id: RUN, message: "hi" });
      expect(r.isError).toBe(true);
      expect(r.text).toBe('[sandbox] unknown argument "message" (did you mean text?); send_steer takes run_id, text, wait_ms');
    } finally {
      await s.close();
    }
  });
});
