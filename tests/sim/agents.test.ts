// Each scripted agent does exactly what the README's table says (issue 19 item 6), one test
// per row, on the wire (POST /v1/runs and its stream). The rows are read from the README and
// docs/simulator.md, so an agent added, renamed or removed without its row — or a row without
// its test — fails here.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { AGENTS, UNICODE_REPLY } from "../../src/sim/agents.js";
import { api, startInteractive, type Frame } from "./sim-helpers.js";
import { waitFor } from "../helpers.js";

/** The agent names of the first markdown table whose header starts `| agent |` after `heading`. */
function agentRows(file: string, heading: string): Map<string, string> {
  const text = readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
  const from = text.indexOf(heading);
  expect(from, `${file} has "${heading}"`).toBeGreaterThanOrEqual(0);
  const lines = text.slice(from).split("\n");
  const start = lines.findIndex((l) => /^\| agent \|/.test(l));
  const rows = new Map<string, string>();
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith("|")) break;
    const [name, what] = l
      .split("|")
      .slice(1, 3)
      .map((c) => c.trim());
    rows.set(name!.replaceAll("`", ""), what!);
  }
  return rows;
}

const README = agentRows("README.md", "## Try it without loomcycle");
const SIM_DOC = agentRows("docs/simulator.md", "## Scripted agents");

let sim: Simulator; // as fast as possible
let timed: Simulator; // speed 1: scripted delays are real
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0, heartbeatMs: 50 });
  timed = await startSimulator({ tailPollMs: 10, speed: 1, keepaliveMs: 0 });
});
afterAll(async () => {
  await sim?.close();
  await timed?.close();
});

type Run = Awaited<ReturnType<typeof startInteractive>>;

const texts = (frames: Frame[]): string =>
  frames
    .filter((f) => f.event === "text")
    .map((f) => String(f.data.text))
    .join("");

/** Frames from index `from` up to and including the next `awaiting_input`. */
async function untilParked(r: Run, from = 0, timeoutMs = 10_000): Promise<Frame[]> {
  const park = await r.sse.waitFor((f) => f.event === "awaiting_input", timeoutMs, from);
  return r.sse.frames.slice(from, r.sse.frames.indexOf(park) + 1);
}

async function steer(on: Simulator, r: Run, text: string): Promise<Frame[]> {
  const from = r.sse.frames.length;
  expect((await api(on, "POST", `/v1/runs/${r.runId}/input`, { text })).status).toBe(200);
  return untilParked(r, from);
}

async function end(on: Simulator, r: Run): Promise<void> {
  await api(on, "POST", `/v1/agents/${r.agentId}/cancel`);
  await r.sse.ended;
}

async function pending(r: Run, from = 0): Promise<{ interrupt_id: string; question: string; options?: string[] }> {
  const f = await r.sse.waitFor((x) => x.event === "interruption_pending", 10_000, from);
  return f.data.interruption as { interrupt_id: string; question: string; options?: string[] };
}

const resolve = (r: Run, id: string, body: Record<string, unknown>): ReturnType<typeof api> =>
  api(sim, "POST", `/v1/runs/${r.runId}/interrupts/${id}/resolve`, { kind: "question", ...body });

/** One check per row of the README's table: what that row promises. */
const ROWS: Record<string, () => Promise<void>> = {
  // replies `You said: <input>` and parks, every turn
  async echo() {
    const r = await startInteractive(sim, { agent: "echo", prompt: "hello" });
    const first = await untilParked(r);
    expect(texts(first)).toBe("You said: hello");
    expect(first.filter((f) => f.event === "text").length).toBeGreaterThan(1); // in several deltas
    for (const t of ["again", "and again"]) expect(texts(await steer(sim, r, t))).toBe(`You said: ${t}`);
    await end(sim, r);
  },

  // asks "Proceed?" (options yes / no), then replies `Answer was <answer>` (or `Declined`) and parks; every turn
  async asker() {
    for (const [body, reply] of [
      [{ answer: "yes" }, "Answer was yes"],
      [{ disposition: "declined" }, "Declined"],
    ] as const) {
      const r = await startInteractive(sim, { agent: "asker", prompt: "deploy" });
      const q = await pending(r);
      expect(q).toMatchObject({ question: "Proceed?", options: ["yes", "no"] });
      const from = r.sse.frames.length;
      expect((await resolve(r, q.interrupt_id, body)).status).toBe(200);
      const after = await untilParked(r, from);
      expect(texts(after)).toBe(reply);
      // The next turn asks again.
      await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text: "next" });
      expect(await pending(r, r.sse.frames.indexOf(after.at(-1)!) + 1)).toMatchObject({ question: "Proceed?" });
      await end(sim, r);
    }
    // A message sent while it asks waits behind the question, and is read after the answer.
    const r = await startInteractive(sim, { agent: "asker", prompt: "deploy" });
    const q = await pending(r);
    expect((await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text: "then tell me" })).status).toBe(200);
    const from = r.sse.frames.length;
    expect(r.sse.frames.filter((f) => f.event === "steer")).toHaveLength(1); // only the opening one so far
    await resolve(r, q.interrupt_id, { answer: "no" });
    const after = await untilParked(r, from);
    expect(after.filter((f) => f.event === "steer").map((f) => (f.data.user_input as { text: string }).text)).toEqual([
      "then tell me",
    ]);
    expect(texts(after)).toBe("Answer was no. You said: then tell me");
    await end(sim, r);
  },

  // asks a free-text question ("What should I call you?"), then replies `You answered: <answer>` (or `Declined`) and parks
  async questioner() {
    const r = await startInteractive(sim, { agent: "questioner", prompt: "hi" });
    const q = await pending(r);
    expect(q.question).toBe("What should I call you?");
    expect(q.options ?? []).toEqual([]);
    const from = r.sse.frames.length;
    await resolve(r, q.interrupt_id, { answer: "Ann" });
    expect(texts(await untilParked(r, from))).toBe("You answered: Ann");
    await end(sim, r);
  },

  // one tool call and its result, a short summary, then parks
  async toolish() {
    const r = await startInteractive(sim, { agent: "toolish", prompt: "read" });
    const frames = await untilParked(r);
    const calls = frames.filter((f) => f.event === "tool_call");
    const results = frames.filter((f) => f.event === "tool_result");
    expect(calls).toHaveLength(1);
    expect(results).toHaveLength(1);
    expect(results[0]!.data.is_error).toBeUndefined();
    const summary = texts(frames.slice(frames.indexOf(results[0]!)));
    expect(summary).toBe("The README says this is the simulator.");
    await end(sim, r);
  },

  // about 3,000 words in about 1,000 deltas, slow enough to read mid-turn, then parks
  async longtalk() {
    const r = await startInteractive(sim, { agent: "longtalk", prompt: "talk" });
    const frames = await untilParked(r);
    const deltas = frames.filter((f) => f.event === "text");
    expect(deltas.length).toBe(1000);
    expect(texts(frames).split(/\s+/).length).toBe(3000);
    await end(sim, r);
    // Slow enough to read mid-turn: at speed 1, the first words are there while the turn goes on.
    const t = await startInteractive(timed, { agent: "longtalk", prompt: "talk" });
    await t.sse.waitFor((f) => f.event === "text");
    expect(t.sse.names()).not.toContain("awaiting_input");
    expect(timed.runStatus(t.runId)).toBe("running");
    await end(timed, t);
  },

  // ten words, one every 300 ms, then parks
  async slow() {
    const r = await startInteractive(sim, { agent: "slow", prompt: "go" });
    const frames = await untilParked(r);
    const deltas = frames.filter((f) => f.event === "text").map((f) => String(f.data.text));
    expect(deltas).toHaveLength(10);
    for (const d of deltas) expect(d.trim().split(/\s+/)).toHaveLength(1);
    await end(sim, r);
  },

  // `flood N`: N one-word deltas as fast as possible, then parks
  async flood() {
    for (const [prompt, n] of [
      ["flood 50", 50],
      ["flood 7 words, 3 times over", 7],
      ["flood", 1000],
    ] as const) {
      const r = await startInteractive(sim, { agent: "flood", prompt });
      const deltas = (await untilParked(r)).filter((f) => f.event === "text").map((f) => String(f.data.text));
      expect(deltas, prompt).toHaveLength(n);
      for (const d of deltas) expect(d.trim().split(/\s+/)).toHaveLength(1);
      await end(sim, r);
    }
  },

  // a reply in many scripts and emoji, then parks
  async unicode() {
    const r = await startInteractive(sim, { agent: "unicode", prompt: "x" });
    const reply = texts(await untilParked(r));
    expect(reply).toBe(UNICODE_REPLY);
    for (const script of [/\p{Script=Han}/u, /\p{Script=Greek}/u, /\p{Script=Hiragana}/u, /\p{Extended_Pictographic}/u])
      expect(reply).toMatch(script);
    await end(sim, r);
  },

  // fails its first turn (two `error` frames); the run ends `failed`
  async failing() {
    const r = await startInteractive(sim, { agent: "failing", prompt: "x" });
    expect(await r.sse.ended).toEqual({ kind: "eof" });
    expect(r.sse.frames.filter((f) => f.event === "error")).toHaveLength(2);
    expect(r.sse.names()).not.toContain("awaiting_input");
    expect(sim.runStatus(r.runId)).toBe("failed");
  },

  // replies `Still here: <input>` and parks; compacting its context fails: compact_run gets
  // loomcycle's 502, and a message with "compact" asks to compact itself, which fails with a
  // non-terminal `error` before its reply
  async compactfail() {
    const r = await startInteractive(sim, { agent: "compactfail", prompt: "hello" });
    const first = await untilParked(r);
    expect(texts(first)).toBe("Still here: hello");
    expect(first.map((f) => f.event)).not.toContain("error"); // no error of its own on an ordinary turn
    for (const t of ["two", "three"]) expect(texts(await steer(sim, r, t))).toBe(`Still here: ${t}`);
    // Long enough to compact: the summary fails, as loomcycle reports it, and nothing changes.
    const c = await api(sim, "POST", `/v1/runs/${r.runId}/compact`);
    expect(c.status).toBe(502);
    expect(c.text).toBe("summarize: sim-provider 529: overloaded_error: Overloaded\n");
    expect(r.sse.names()).not.toContain("context_compaction");
    // It asks for its own compaction, which fails before its next model call; the run goes on.
    const self = await steer(sim, r, "please compact now");
    expect(self.map((f) => f.event).filter((n) => n !== "text" && n !== "usage")).toEqual([
      "steer",
      "tool_call",
      "tool_result",
      "error",
      "awaiting_input",
    ]);
    expect(self.find((f) => f.event === "tool_call")!.data.tool_use).toMatchObject({ name: "Context", input: { op: "compact" } });
    expect(String(self.find((f) => f.event === "error")!.data.error)).toBe(
      "compaction summary failed (self): sim-provider 529: overloaded_error: Overloaded",
    );
    expect(texts(self.slice(self.findIndex((f) => f.event === "error")))).toBe("Still here: please compact now");
    expect(sim.runStatus(r.runId)).toBe("running");
    await end(sim, r);
    // A short conversation has nothing to summarize (loomcycle: noop, before any summary call).
    const s = await startInteractive(sim, { agent: "compactfail", prompt: "hi" });
    await untilParked(s);
    expect((await api(sim, "POST", `/v1/runs/${s.runId}/compact`)).json()).toMatchObject({ compacted: false, applied: "noop" });
    await end(sim, s);
  },

  // starts a reply, then stalls with a fresh heartbeat (shows up as `stuck`)
  async hang() {
    // As fast as possible (speed 0), and still it stalls: no scripted delay ends it.
    const r = await startInteractive(sim, { agent: "hang", prompt: "think" });
    await r.sse.waitFor((f) => f.event === "text");
    await waitFor(() => texts(r.sse.frames) === "Let me think about that...", { timeoutMs: 5000, what: "its first words" });
    const status = async (): Promise<{ last_heartbeat_at: string }> =>
      (await api(sim, "GET", `/v1/agents/${r.agentId}`)).json() as { last_heartbeat_at: string };
    const before = (await status()).last_heartbeat_at;
    // Fresh heartbeats keep coming (every 50 ms here) while nothing else does.
    for (let i = 0; i < 400 && (await status()).last_heartbeat_at === before; i++) await new Promise((x) => setImmediate(x));
    expect((await status()).last_heartbeat_at).not.toBe(before);
    const n = r.sse.frames.length;
    await api(sim, "GET", `/v1/agents/${r.agentId}`);
    expect(r.sse.frames.slice(n).filter((f) => f.event !== "usage")).toEqual([]);
    expect(r.sse.names()).not.toContain("awaiting_input");
    // A turn cancel ends the stall, and it parks.
    expect((await api(sim, "POST", `/v1/runs/${r.runId}/cancel`)).status).toBe(200);
    await r.sse.waitFor((f) => f.event === "awaiting_input", 5000, n);
    await end(sim, r);
  },

  // replies once and ends the run (`completed`) instead of parking
  async oneshot() {
    const r = await startInteractive(sim, { agent: "oneshot", prompt: "just once" });
    expect(await r.sse.ended).toEqual({ kind: "eof" });
    expect(texts(r.sse.frames)).toBe("Done: just once");
    expect(r.sse.frames.at(-1)?.data).toMatchObject({ type: "done", stop_reason: "end_turn" });
    expect(r.sse.names()).not.toContain("awaiting_input");
    expect(sim.runStatus(r.runId)).toBe("completed");
  },
};

describe("the simulator's agents, as the README's table says", () => {
  it("the README, docs/simulator.md and the simulator list the same agents, each with a check here", () => {
    const names = [...AGENTS.keys()].sort();
    expect([...README.keys()].sort()).toEqual(names);
    expect([...SIM_DOC.keys()].sort()).toEqual(names);
    expect(Object.keys(ROWS).sort()).toEqual(names);
  });

  it.each([...README.keys()])("%s", async (name) => {
    await ROWS[name]!();
  });
});
