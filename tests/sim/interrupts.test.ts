// Interruption.ask: the pending frame, listing defaults, every resolve error,
// answered / declined / free-text / expired / cancelled outcomes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { api, startInteractive } from "./sim-helpers.js";
import { waitFor } from "../helpers.js";

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0, seed: 4 });
});
afterAll(async () => {
  await sim.close();
});

type Run = Awaited<ReturnType<typeof startInteractive>>;

async function pending(r: Run, n = 1): Promise<string> {
  await r.sse.waitCount("interruption_pending", n);
  const f = r.sse.frames.filter((x) => x.event === "interruption_pending")[n - 1];
  return String((f?.data.interruption as { interrupt_id: string }).interrupt_id);
}

const resolve = (runId: string, id: string, body: unknown): ReturnType<typeof api> =>
  api(sim, "POST", `/v1/runs/${runId}/interrupts/${id}/resolve`, body);

describe("asker", () => {
  it("asks, blocks, takes an answer, replies, parks — and asks again next turn", async () => {
    const r = await startInteractive(sim, { agent: "asker", prompt: "do it", user_id: "u_ask" });
    const id = await pending(r);
    expect(id).toMatch(/^intr_[0-9a-f]{24}$/);
    await sim.waitForStopPoint(r.runId);
    const names = r.sse.names().filter((n) => n !== "text");
    expect(names).toEqual(["session", "agent", "steer", "started", "tool_call", "usage", "interruption_pending"]);
    expect(r.sse.frames.find((f) => f.event === "tool_call")?.data.tool_use).toMatchObject({
      name: "Interruption",
      input: { op: "ask", question: "Proceed?", options: ["yes", "no"] },
    });
    const intr = r.sse.frames.find((f) => f.event === "interruption_pending")?.data.interruption as Record<string, unknown>;
    expect(Object.keys(intr)).toEqual(["interrupt_id", "kind", "question", "options", "priority", "expires_at"]);
    expect(intr).toMatchObject({ kind: "question", question: "Proceed?", options: ["yes", "no"], priority: "normal" });

    // The record, via both lists.
    const byRun = (await api(sim, "GET", `/v1/runs/${r.runId}/interrupts`)).json() as {
      interrupts: Array<Record<string, unknown>>;
      total: number;
    };
    expect(byRun.total).toBe(1);
    const row = byRun.interrupts[0] as Record<string, unknown>;
    expect(Object.keys(row)).toEqual([
      "interrupt_id",
      "run_id",
      "kind",
      "status",
      "question",
      "options",
      "priority",
      "created_at",
      "expires_at",
      "resolved_at",
      "user_id",
      "agent_id",
    ]);
    expect(row).toMatchObject({
      interrupt_id: id,
      run_id: r.runId,
      status: "pending",
      resolved_at: "0001-01-01T00:00:00Z",
      user_id: "u_ask",
      agent_id: r.agentId,
    });
    const inbox = (await api(sim, "GET", "/v1/users/u_ask/interrupts")).json() as { total: number };
    expect(inbox.total).toBe(1);

    const ok = await resolve(r.runId, id, { kind: "question", answer: "yes" });
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(new RegExp(`^\\{"interrupt_id":"${id}","resolved_at":"[^"]+","status":"resolved"\\}\\n$`));
    await r.sse.waitFor((f) => f.event === "awaiting_input");
    const result = r.sse.frames.find((f) => f.event === "tool_result");
    expect(result?.data.is_error).toBeUndefined();
    const parsed = JSON.parse(String(result?.data.text)) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(["answer", "interrupt_id", "resolved_at", "resolved_by"]);
    expect(parsed).toMatchObject({ answer: "yes", interrupt_id: id, resolved_by: "api" });
    const after = r.sse.frames.slice(r.sse.frames.indexOf(result as never) + 1);
    expect(
      after
        .filter((f) => f.event === "text")
        .map((f) => f.data.text)
        .join(""),
    ).toBe("Answer was yes");
    expect(after.at(-1)?.data).toEqual({ type: "awaiting_input", awaiting_input: { since_turn: 1 } });
    expect((await resolve(r.runId, id, { answer: "no" })).text).toBe("interrupt already resolved\n");

    // Next turn asks again; decline it.
    await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text: "again" });
    const id2 = await pending(r, 2);
    const dec = await resolve(r.runId, id2, { disposition: "declined" });
    expect(dec.json()).toMatchObject({ status: "declined" });
    await r.sse.waitCount("awaiting_input", 2);
    const results = r.sse.frames.filter((f) => f.event === "tool_result");
    const declined = JSON.parse(String(results[1]?.data.text)) as Record<string, unknown>;
    expect(Object.keys(declined)).toEqual(["declined", "interrupt_id", "note", "resolved_by"]);
    expect(declined).toMatchObject({ declined: true, interrupt_id: id2 });
    expect(
      r.sse.frames
        .filter((f) => f.event === "text")
        .map((f) => f.data.text)
        .join(""),
    ).toContain("Declined");
    expect(r.sse.frames.at(-1)?.data).toEqual({ type: "awaiting_input", awaiting_input: { since_turn: 3 } });

    // List defaults: per run = all statuses, per user = pending only.
    expect(((await api(sim, "GET", `/v1/runs/${r.runId}/interrupts`)).json() as { total: number }).total).toBe(2);
    expect(((await api(sim, "GET", `/v1/runs/${r.runId}/interrupts?status=declined`)).json() as { total: number }).total).toBe(1);
    expect((await api(sim, "GET", "/v1/users/u_ask/interrupts")).text).toBe('{"interrupts":[],"total":0}\n');
    const all = (await api(sim, "GET", "/v1/users/u_ask/interrupts?status=all")).json() as {
      interrupts: Array<{ interrupt_id: string }>;
    };
    expect(all.interrupts.map((x) => x.interrupt_id)).toEqual([id2, id]);
    expect((await api(sim, "GET", "/v1/runs/r_0000000000000000/interrupts")).text).toBe('{"interrupts":[],"total":0}\n');
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
  });

  it("answers every resolve error with loomcycle's status and plain-text body", async () => {
    const r = await startInteractive(sim, { agent: "asker", prompt: "x" });
    const id = await pending(r);
    const other = await startInteractive(sim, { agent: "asker", prompt: "y" });
    const otherId = await pending(other);
    const cases: Array<[string, string, unknown, number, string]> = [
      [r.runId, "bad.id", { answer: "yes" }, 400, "run_id / interrupt_id must match [A-Za-z0-9_-]{1,128}"],
      [r.runId, id, "", 400, "invalid JSON body: EOF"],
      [r.runId, id, { kind: "poll", answer: "yes" }, 422, 'unsupported kind "poll" (v0.8.16 supports: question)'],
      [r.runId, id, { disposition: "maybe" }, 422, 'unsupported disposition "maybe" (valid: answer, declined)'],
      [r.runId, id, { disposition: "declined", answer: "yes" }, 422, "declined disposition must not carry an answer"],
      [r.runId, "intr_00000000000000000000000000", { answer: "yes" }, 404, "interrupt not found"],
      [r.runId, otherId, { answer: "yes" }, 404, "interrupt does not belong to that run"],
      [r.runId, id, { answer: "maybe" }, 422, 'answer "maybe" is not one of the declared options: [yes no]'],
      [r.runId, id, { answer: "" }, 422, 'answer "" is not one of the declared options: [yes no]'],
    ];
    for (const [runId, iid, body, status, text] of cases) {
      const res = await resolve(runId, iid, body);
      expect({ iid, status: res.status, text: res.text, ct: res.headers.get("content-type") }).toEqual({
        iid,
        status,
        text: text + "\n",
        ct: "text/plain; charset=utf-8",
      });
    }
    // Still pending after all that.
    expect((await resolve(r.runId, id, { answer: "no", resolved_by: "tester" })).status).toBe(200);
    const row = (
      (await api(sim, "GET", `/v1/runs/${r.runId}/interrupts`)).json() as { interrupts: Array<Record<string, unknown>> }
    ).interrupts[0];
    expect(row).toMatchObject({ status: "resolved", answer: "no", resolved_by: "tester" });
    for (const x of [r, other]) {
      await api(sim, "POST", `/v1/agents/${x.agentId}/cancel`);
      await x.sse.ended;
    }
  });

  it("questioner: a free-text question needs a non-empty answer, which is echoed", async () => {
    const r = await startInteractive(sim, { agent: "questioner", prompt: "hi" });
    const id = await pending(r);
    const intr = r.sse.frames.find((f) => f.event === "interruption_pending")?.data.interruption as Record<string, unknown>;
    expect(intr.options).toBeUndefined();
    expect((await resolve(r.runId, id, {})).text).toBe("answer is required for free-text interrupts\n");
    expect((await resolve(r.runId, id, { answer: "Bob" })).status).toBe(200);
    await r.sse.waitFor((f) => f.event === "awaiting_input");
    expect(
      r.sse.frames
        .filter((f) => f.event === "text")
        .map((f) => f.data.text)
        .join(""),
    ).toContain("You answered: Bob");
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
  });

  it("a whole-run cancel marks the pending interrupt cancelled (409 afterwards)", async () => {
    const r = await startInteractive(sim, { agent: "asker", prompt: "x" });
    const id = await pending(r);
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    expect(await r.sse.ended).toEqual({ kind: "eof" });
    await waitFor(() => sim.runStatus(r.runId) === "cancelled");
    const row = (
      (await api(sim, "GET", `/v1/runs/${r.runId}/interrupts`)).json() as { interrupts: Array<Record<string, unknown>> }
    ).interrupts[0];
    expect(row).toMatchObject({ status: "cancelled", resolved_by: "agent_cancel" });
    expect(await resolve(r.runId, id, { answer: "yes" })).toMatchObject({ status: 409, text: "interrupt already cancelled\n" });
  });

  it("a turn cancel ends the ask with an is_error result and parks", async () => {
    const r = await startInteractive(sim, { agent: "asker", prompt: "x" });
    const id = await pending(r);
    expect((await api(sim, "POST", `/v1/runs/${r.runId}/cancel`)).status).toBe(200);
    await r.sse.waitFor((f) => f.event === "awaiting_input");
    const names = r.sse.names();
    expect(names.slice(names.indexOf("interruption_pending"))).toEqual([
      "interruption_pending",
      "tool_result",
      "turn_cancelled",
      "awaiting_input",
    ]);
    expect(r.sse.frames.find((f) => f.event === "tool_result")?.data).toMatchObject({
      text: `interruption cancelled (id=${id}, resolved_by=agent_cancel)`,
      is_error: true,
    });
    expect(r.sse.frames.find((f) => f.event === "turn_cancelled")?.data).toEqual({
      type: "turn_cancelled",
      turn_cancelled: { since_turn: 0 },
    });
    await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
    await r.sse.ended;
  });
});

describe("expiry", () => {
  it("times out, reports it to the agent, and 410s a late resolve", async () => {
    const quick = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0, interruptTimeoutMs: 100 });
    try {
      const r = await startInteractive(quick, { agent: "asker", prompt: "x" });
      await r.sse.waitFor((f) => f.event === "interruption_pending");
      const id = String(
        (r.sse.frames.find((f) => f.event === "interruption_pending")?.data.interruption as { interrupt_id: string })
          .interrupt_id,
      );
      await r.sse.waitFor((f) => f.event === "awaiting_input", 3000);
      expect(r.sse.frames.find((f) => f.event === "tool_result")?.data).toMatchObject({
        is_error: true,
        text: `interruption timed_out (id=${id}) — no answer received in the allotted window`,
      });
      const late = await api(quick, "POST", `/v1/runs/${r.runId}/interrupts/${id}/resolve`, { answer: "yes" });
      expect(late).toMatchObject({ status: 410, text: "interrupt expired\n" });
      await api(quick, "POST", `/v1/agents/${r.agentId}/cancel`);
      await r.sse.ended;
    } finally {
      await quick.close();
    }
  });
});
