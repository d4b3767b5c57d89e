// The SSE reader's hand-written frame checks must accept exactly what the zod schemas
// accept: compared on generated values that mix valid fields, wrong types, null,
// arrays and unknown fields at every level.
import { describe, expect, it } from "vitest";
import { AgentFrame, LoomEvent, agentFrameIssue, loomEventIssue } from "../../src/bridge/loomcycle/events.js";
import { rng } from "../helpers.js";

type Gen = () => unknown;

function generators(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const junk: Gen = () =>
    pick<Gen>([
      () => null,
      () => 42,
      () => "s",
      () => "",
      () => true,
      () => [],
      () => ["a"],
      () => ({}),
      () => ({ x: 1 }),
      () => 1.5,
      () => -0,
    ])();
  const str: Gen = () => (chance(0.85) ? pick(["", "x", "héllo 😀", "end_turn"]) : junk());
  const num: Gen = () => (chance(0.85) ? pick([0, 1, 2202, -3, 0.5]) : junk());
  const bool: Gen = () => (chance(0.85) ? chance(0.5) : junk());
  const strArr: Gen = () =>
    chance(0.8) ? (chance(0.1) ? null : [str(), str()].filter((s) => chance(0.9) || typeof s !== "string")) : junk();
  const obj =
    (fields: Record<string, Gen>, required: readonly string[] = []): Gen =>
    () => {
      if (chance(0.07)) return junk();
      const o: Record<string, unknown> = {};
      for (const [k, g] of Object.entries(fields)) {
        if (required.includes(k) ? chance(0.95) : chance(0.45)) o[k] = g();
      }
      if (chance(0.3)) o["extra_" + Math.floor(r() * 3)] = junk();
      return o;
    };
  const event = obj(
    {
      type: () => (chance(0.9) ? pick(["text", "usage", "steer", "x"]) : junk()),
      text: str,
      tool_use: obj({ id: str, name: str, input: junk }, ["id", "name"]),
      usage: obj({
        input_tokens: num,
        output_tokens: num,
        cache_creation_input_tokens: num,
        cache_read_input_tokens: num,
        model: str,
        provider: str,
        max_context_tokens: num,
      }),
      error: str,
      is_error: bool,
      interruption: obj(
        { interrupt_id: str, kind: str, question: str, options: strArr, context: junk, priority: str, expires_at: str },
        ["interrupt_id"],
      ),
      user_input: obj({ text: str, source: str, seen_at: str }, ["text"]),
      awaiting_input: obj({ since_turn: num }),
      turn_cancelled: obj({ reason: str, since_turn: num }),
      context_compaction: obj({ summary: str, before_tokens: num, after_tokens: num }),
      stop_reason: str,
    },
    ["type"],
  );
  const agent = obj(
    { agent_id: str, run_id: str, session_id: str, parent_agent_id: () => (chance(0.3) ? null : str()), parent_context: junk },
    ["agent_id", "run_id", "session_id"],
  );
  return { event, agent };
}

describe("hot-path frame checks", () => {
  it("accept exactly what LoomEvent accepts", () => {
    const { event } = generators(1234);
    let accepted = 0;
    // Every value is compared; only a disagreement is written out (one expect per value
    // cost more than the checks themselves).
    const disagreements: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const v = event();
      const want = LoomEvent.safeParse(v).success;
      const issue = loomEventIssue(v);
      if ((issue === undefined) !== want)
        disagreements.push(`${JSON.stringify(v)} → ${issue ?? "ok"}, zod: ${want ? "ok" : "refused"}`);
      if (want) accepted++;
    }
    expect(disagreements.slice(0, 10)).toEqual([]);
    // Both outcomes are well represented.
    expect(accepted).toBeGreaterThan(1000);
    expect(accepted).toBeLessThan(19_000);
  });

  it("accept exactly what AgentFrame accepts", () => {
    const { agent } = generators(99);
    let accepted = 0;
    const disagreements: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      const v = agent();
      const want = AgentFrame.safeParse(v).success;
      if ((agentFrameIssue(v) === undefined) !== want)
        disagreements.push(`${JSON.stringify(v)}, zod: ${want ? "ok" : "refused"}`);
      if (want) accepted++;
    }
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(accepted).toBeGreaterThan(500);
  });

  it("name the field at fault", () => {
    expect(loomEventIssue({ type: "text", text: 42 })).toBe("text: expected string");
    expect(loomEventIssue({ type: "x", interruption: { interrupt_id: "i", options: ["a", 1] } })).toBe(
      "interruption.options.1: expected string",
    );
    expect(loomEventIssue([1, 2])).toBe("(root): expected object");
    expect(agentFrameIssue({ agent_id: "a_1" })).toBe("run_id: expected string");
  });
});
