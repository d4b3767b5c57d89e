// Agent questions put to the person (questions: "human", MCP elicitation): a real SDK
// Client that declares form elicitation answers, declines, cancels or ignores the
// bridge's elicitation/create; a client without elicitation gets one line saying so.
import { afterEach, describe, expect, it } from "vitest";
import type { ElicitRequest, ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHarness, texts, type Harness } from "./harness.js";
import { startSimulator } from "../../src/sim/index.js";
import { waitFor } from "../helpers.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

type Asked = Array<Record<string, unknown>>;

function recorder(answer: (req: ElicitRequest, signal: AbortSignal) => Promise<ElicitResult> | ElicitResult) {
  const seen: ElicitRequest[] = [];
  return {
    seen,
    onElicit: async (req: ElicitRequest, extra: { signal: AbortSignal }) => {
      seen.push(req);
      return answer(req, extra.signal);
    },
  };
}

describe("questions: human, host with form elicitation", () => {
  it("accept: the person's choice resolves the interrupt and the same call waits on to the park", async () => {
    const r = recorder(() => ({ action: "accept", content: { answer: "yes" } }));
    h = await startHarness({}, { onElicit: r.onElicit });
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy", questions: "human" });
    expect(s.isError, s.text).toBe(false);
    expect(r.seen).toHaveLength(1);
    const params = r.seen[0]!.params as { message: string; requestedSchema: { properties: Record<string, { enum?: string[] }> } };
    expect(params.message).toContain('"asker"');
    expect(params.message).toContain("Proceed?");
    expect(params.requestedSchema.properties.answer!.enum).toEqual(["yes", "no"]);
    expect(s.sc.state).toBe("awaiting_input");
    expect(s.sc.pending_interrupts).toEqual([]);
    expect(texts(s.sc.events)).toContain("Answer was yes");
    const asked = s.sc.questions_to_person as Asked;
    expect(asked).toEqual([expect.objectContaining({ question: "Proceed?", outcome: "answered", answer: "yes" })]);
    expect(s.text).toMatch(/question intr_\S+ "Proceed\?" answered by the person: "yes"/);
    const resolve = h.sim.requests.find((q) => q.path.endsWith("/resolve"));
    expect(JSON.parse(String(resolve?.body))).toMatchObject({ answer: "yes", resolved_by: "mcp-elicitation" });
  });

  it("free text when the question has no options", async () => {
    const r = recorder(() => ({ action: "accept", content: { answer: "Ada" } }));
    h = await startHarness({}, { onElicit: r.onElicit });
    const s = await h.call("start_interactive_run", { agent: "questioner", prompt: "hi", questions: "human" });
    const schema = (r.seen[0]!.params as { requestedSchema: { properties: Record<string, { enum?: string[]; type: string }> } })
      .requestedSchema;
    expect(schema.properties.answer).toMatchObject({ type: "string" });
    expect(schema.properties.answer!.enum).toBeUndefined();
    expect(texts(s.sc.events)).toContain("You answered: Ada");
  });

  it("decline: the interrupt is declined and the call waits on", async () => {
    const r = recorder(() => ({ action: "decline" }));
    h = await startHarness({}, { onElicit: r.onElicit });
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy", questions: "human" });
    expect(s.sc.state).toBe("awaiting_input");
    expect(texts(s.sc.events)).toContain("Declined");
    expect(s.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "declined" })]);
    expect(s.text).toMatch(/declined by the person/);
  });

  it("cancel: the question stays pending and the result says so; the host can still answer it", async () => {
    const r = recorder(() => ({ action: "cancel" }));
    h = await startHarness({}, { onElicit: r.onElicit });
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy", questions: "human" });
    expect(s.sc.state).toBe("awaiting_answer");
    expect(s.sc.pending_interrupts).toHaveLength(1);
    expect(s.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "no_answer" })]);
    expect(s.text).toMatch(/still pending: the person cancelled/);
    expect(h.sim.requests.some((q) => q.path.endsWith("/resolve"))).toBe(false);
    const p = s.sc.pending_interrupts![0]!;
    const ok = await h.call("resolve_interrupt", { run_id: String(s.sc.run_id), interrupt_id: p.interrupt_id, answer: "no" });
    expect(ok.sc.status).toBe("resolved");
  });

  it("no answer within the call's wait: the elicitation is cancelled, the call returns in bound, the question stays pending", async () => {
    let aborted = false;
    let n = 0;
    const r = recorder((_req, signal) => {
      // The first request a server sends has id 0, which the SDK's cancel handling skips
      // (`if (!requestId) return`); answer it at once so the timed-out one has id 1.
      if (n++ === 0) return { action: "cancel" };
      return new Promise<ElicitResult>((_resolve, reject) => {
        signal.addEventListener("abort", () => {
          aborted = true;
          reject(new Error("cancelled"));
        });
      });
    });
    h = await startHarness({}, { onElicit: r.onElicit });
    await h.call("start_interactive_run", { agent: "asker", prompt: "first", questions: "human" });
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy", questions: "human", wait_ms: 1500 });
    expect(s.sc.state).toBe("awaiting_answer");
    expect(s.sc.pending_interrupts).toHaveLength(1);
    expect(s.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "no_answer" })]);
    expect(String((s.sc.questions_to_person as Asked)[0]!.note)).toMatch(/no answer within this call's wait/);
    await waitFor(() => aborted, { what: "the host's elicitation to be cancelled" });
  });

  it("keeps sending progress while the person takes their time", async () => {
    // The person answers only once the host has been told the call waits for them: without
    // that progress the call would return unanswered at the end of its wait.
    let toldWaiting: () => void = () => undefined;
    const waitingShown = new Promise<void>((res) => (toldWaiting = res));
    const r = recorder(async () => {
      await waitingShown;
      return { action: "accept", content: { answer: "yes" } };
    });
    h = await startHarness({}, { onElicit: r.onElicit, timings: { progressEveryMs: 50 } });
    const progress: string[] = [];
    const s = await h.call(
      "start_interactive_run",
      { agent: "asker", prompt: "deploy", questions: "human", wait_ms: 10_000 },
      {
        onprogress: (p) => {
          progress.push(String((p as { message?: string }).message));
          if (/waiting for the person to answer intr_/.test(progress.at(-1)!)) toldWaiting();
        },
      },
    );
    expect(texts(s.sc.events)).toContain("Answer was yes");
    expect(
      progress.some((m) => /waiting for the person to answer intr_/.test(m)),
      progress.join(" | "),
    ).toBe(true);
  });

  it("the default comes from the bridge (LOOMCYCLE_MCP_QUESTIONS); questions: host overrides it", async () => {
    const r = recorder(() => ({ action: "accept", content: { answer: "no" } }));
    h = await startHarness({}, { onElicit: r.onElicit, questions: "human" });
    const a = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy" });
    expect(texts(a.sc.events)).toContain("Answer was no");
    const b = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy", questions: "host" });
    expect(b.sc.state).toBe("awaiting_answer");
    expect(b.sc.questions_to_person).toBeUndefined();
    expect(r.seen).toHaveLength(1);
  });

  it("attach_run with questions: human puts a waiting question to the person on the next waiting call", async () => {
    const r = recorder(() => ({ action: "accept", content: { answer: "yes" } }));
    h = await startHarness({}, { onElicit: r.onElicit });
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy" });
    expect(s.sc.state).toBe("awaiting_answer");
    expect(r.seen).toHaveLength(0);
    const a = await h.call("attach_run", { run_id: String(s.sc.run_id), questions: "human", wait_ms: 10_000 });
    expect(r.seen).toHaveLength(1);
    expect(a.sc.state).toBe("awaiting_input");
    expect(a.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "answered", answer: "yes" })]);
  });

  it("wait_for_runs puts a human-mode run's question to the person and returns when the run parks after the answer", async () => {
    const r = recorder(() => ({ action: "accept", content: { answer: "yes" } }));
    h = await startHarness({}, { onElicit: r.onElicit });
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy" });
    expect(s.sc.state).toBe("awaiting_answer");
    const runId = String(s.sc.run_id);
    await h.call("attach_run", { run_id: runId, questions: "human" }); // wait_ms 0: nothing is asked yet
    expect(r.seen).toHaveLength(0);
    const w = await h.call("wait_for_runs", { run_ids: [runId], wait_ms: 10_000 });
    expect(w.isError, w.text).toBe(false);
    expect(r.seen).toHaveLength(1);
    expect(w.sc.ready).toEqual([runId]);
    expect((w.sc.runs as Array<Record<string, unknown>>)[0]!.state).toBe("awaiting_input");
    expect(w.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "answered", answer: "yes" })]);
    expect(w.text).toMatch(/answered by the person: "yes"/);
  });
});

describe("questions: human, host without elicitation", () => {
  it("behaves as today, plus one line saying the question could not be put to the person", async () => {
    h = await startHarness();
    const s = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy", questions: "human" });
    expect(s.sc.state).toBe("awaiting_answer");
    expect(s.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "not_asked" })]);
    const lines = s.text.split("\n").filter((l) => /could not be put to the person/.test(l));
    expect(lines).toHaveLength(1);
    const host = await h.call("start_interactive_run", { agent: "asker", prompt: "deploy" });
    expect(host.text).not.toMatch(/could not be put/);
  });
});

describe("questions: human across a restart of the bridge", () => {
  it("a run started in human mode stays in it when the next bridge process follows it", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "lcb-q-")), "state.json");
    // The first process, whose host cannot ask the person, starts the run in human mode.
    const sim = await startSimulator({ tailPollMs: 10, speed: 0.05 });
    const a = await startHarness({}, { sim, stateFilePath: path });
    let runId = "";
    try {
      const s = await a.call("start_interactive_run", { agent: "asker", prompt: "deploy", questions: "human" });
      expect(s.sc.state).toBe("awaiting_answer");
      expect(s.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "not_asked" })]);
      runId = String(s.sc.run_id);
    } finally {
      await a.close();
    }
    // The next process (default: host) has a host that can: the person is asked.
    const r = recorder(() => ({ action: "accept", content: { answer: "yes" } }));
    h = await startHarness({}, { stateFilePath: path, onElicit: r.onElicit, sim });
    try {
      const read = await h.call("read_run_events", { run_id: runId, wait_ms: 10_000 });
      expect(read.isError, read.text).toBe(false);
      expect(r.seen).toHaveLength(1);
      expect(read.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "answered", answer: "yes" })]);
      expect(read.sc.state).toBe("awaiting_input");
      expect(texts(read.sc.events)).toContain("Answer was yes");
    } finally {
      await h.close();
      h = undefined;
      await sim.close();
    }
  });
});
