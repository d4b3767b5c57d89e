import { describe, expect, it } from "vitest";
import { buildDigest, buildRaw, type DigestItem } from "../../src/bridge/runs/digest.js";
import type { LoomEvent } from "../../src/bridge/loomcycle/events.js";
import type { DigestMarks, InputSource } from "../../src/bridge/runs/run-marks.js";

/** Marks with only these inputs. */
function marksOf(inputs: Array<[number, InputSource]>): DigestMarks {
  return { inputs: new Map(inputs), turnCancels: new Map(), answers: new Map(), answerResults: new Map() };
}

const t = (text: string): LoomEvent => ({ type: "text", text });
const usage: LoomEvent = { type: "usage", usage: { input_tokens: 10, output_tokens: 5 } };
const park = (n: number): LoomEvent => ({ type: "awaiting_input", awaiting_input: { since_turn: n } });
const steer = (text: string): LoomEvent => ({ type: "steer", user_input: { text, source: "replay" } });

const conversation: LoomEvent[] = [
  steer("You are echo.\nhello"),
  { type: "started" },
  t("You "),
  t("said: "),
  t("hello"),
  usage,
  park(0),
  steer("again"),
  t("You said: "),
  { type: "thinking", text: "hmm" },
  t("again"),
  usage,
  park(1),
];

const base = { maxEvents: 200, maxChars: 20_000, streaming: false };

function allText(items: DigestItem[]): string {
  return items
    .filter((i) => i.kind === "text")
    .map((i) => (i as { text: string }).text)
    .join("");
}

describe("digest", () => {
  it("marks the inputs that are a compaction's summary delivered as a message, and the host's", () => {
    const d = buildDigest(conversation, {
      ...base,
      from: 0,
      opening: { position: 0, text: "hello" },
      marks: marksOf([
        [0, "host"],
        [7, "compaction"],
      ]),
    });
    expect(d.items.filter((i) => i.kind === "input")).toEqual([
      { kind: "input", cursor: 0, text: "hello", source: "host" },
      { kind: "input", cursor: 7, text: "again", source: "compaction" },
    ]);
  });

  it("merges text deltas across silent frames, keeps cursors at first frames, hides the system prompt", () => {
    const d = buildDigest(conversation, { ...base, from: 0, opening: { position: 0, text: "hello" } });
    expect(d.items).toEqual([
      { kind: "input", cursor: 0, text: "hello", source: "replay" },
      { kind: "text", cursor: 2, text: "You said: hello" },
      { kind: "awaiting_input", cursor: 6 },
      { kind: "input", cursor: 7, text: "again", source: "replay" },
      { kind: "text", cursor: 8, text: "You said: again" },
      { kind: "awaiting_input", cursor: 12 },
    ]);
    expect(d.next).toBe(13);
    expect(d.hasMore).toBe(false);
  });

  it("marks a text run at the end of the log partial while the turn streams, and continues without repeating", () => {
    const midTurn = conversation.slice(0, 4); // steer, started, "You ", "said: "
    const a = buildDigest(midTurn, { ...base, from: 0, streaming: true });
    expect(a.items.at(-1)).toEqual({ kind: "text", cursor: 2, text: "You said: ", partial: true });
    expect(a.next).toBe(4);
    const b = buildDigest(conversation, { ...base, from: a.next });
    expect(b.items[0]).toEqual({ kind: "text", cursor: 4, text: "hello" });
    expect(allText(a.items) + allText(b.items)).toBe("You said: hello" + "You said: again");
  });

  it("pages through a run with tiny max_chars with no gap and no overlap", () => {
    const many: LoomEvent[] = [steer("go")];
    let expected = "";
    for (let i = 0; i < 300; i++) {
      const s = `w${i} ☃ `;
      expected += s;
      many.push(t(s));
      if (i % 50 === 49) many.push(usage);
    }
    many.push(park(0));
    let from = 0;
    let text = "";
    let pages = 0;
    const cursors = new Set<number>();
    for (;;) {
      const d = buildDigest(many, { ...base, maxChars: 200, from });
      pages++;
      for (const it of d.items) {
        expect(cursors.has(it.cursor)).toBe(false);
        cursors.add(it.cursor);
      }
      text += allText(d.items);
      expect(d.next).toBeGreaterThan(from);
      from = d.next;
      if (!d.hasMore) break;
    }
    expect(text).toBe(expected);
    expect(pages).toBeGreaterThan(10);
    expect(from).toBe(many.length);
  });

  it("marks a text run cut by max_chars partial", () => {
    const d = buildDigest([t("aaaa"), t("bbbb"), t("cccc")], { ...base, maxChars: 200, from: 0 });
    expect(d.items).toHaveLength(1);
    const small = buildDigest([t("a".repeat(150)), t("b".repeat(150))], { ...base, maxChars: 200, from: 0 });
    expect(small.items).toEqual([{ kind: "text", cursor: 0, text: "a".repeat(150), partial: true }]);
    expect(small.next).toBe(1);
    expect(small.hasMore).toBe(true);
  });

  it("returns a single frame longer than max_chars shortened with truncated: true", () => {
    const d = buildDigest([{ type: "error", error: "x".repeat(1000) }, t("after")], { ...base, maxChars: 200, from: 0 });
    expect(d.items).toHaveLength(1);
    const it0 = d.items[0] as { kind: string; message: string; truncated?: boolean };
    expect(it0.kind).toBe("error");
    expect(it0.truncated).toBe(true);
    expect(it0.message.length).toBeLessThanOrEqual(200);
    expect(d.next).toBe(1);
  });

  it("honours max_events and counts items, not frames", () => {
    const d = buildDigest(conversation, { ...base, maxEvents: 2, from: 0 });
    expect(d.items.map((i) => i.kind)).toEqual(["input", "text"]);
    expect(d.next).toBe(6); // after the usage frame that follows the text
    expect(d.hasMore).toBe(true);
    const e = buildDigest(conversation, { ...base, from: d.next });
    expect(e.items[0]).toEqual({ kind: "awaiting_input", cursor: 6 });
  });

  it("maps every kind of frame", () => {
    const frames: LoomEvent[] = [
      { type: "tool_call", tool_use: { id: "toolu_1", name: "Read", input: { path: "README.md" } } },
      { type: "tool_result", tool_use: { id: "toolu_1", name: "Read" }, text: "# hi", is_error: true },
      {
        type: "interruption_pending",
        interruption: {
          interrupt_id: "intr_1",
          question: "Proceed?",
          options: ["yes", "no"],
          expires_at: "0001-01-01T00:00:00Z",
        },
      },
      { type: "turn_cancelled", turn_cancelled: { reason: "stop", since_turn: 1 } },
      { type: "context_compaction", context_compaction: { summary: "s", before_tokens: 100, after_tokens: 10 } },
      { type: "retry", retry: { provider: "anthropic", attempt: 2, wait_ms: 500, reason: "retry-after header" } } as LoomEvent,
      { type: "something_new", text: "hello" },
      { type: "error", error: "compaction summary failed (x)" },
      { type: "done", stop_reason: "end_turn" },
    ];
    const d = buildDigest(frames, { ...base, from: 0 });
    expect(d.items).toEqual([
      { kind: "tool_call", cursor: 0, id: "toolu_1", tool: "Read", input: '{"path":"README.md"}' },
      { kind: "tool_result", cursor: 1, id: "toolu_1", tool: "Read", ok: false, output: "# hi" },
      { kind: "interrupt", cursor: 2, interrupt_id: "intr_1", question: "Proceed?", options: ["yes", "no"] },
      { kind: "turn_cancelled", cursor: 3, reason: "stop" },
      { kind: "compaction", cursor: 4, before_tokens: 100, after_tokens: 10 },
      { kind: "notice", cursor: 5, text: "provider retry (anthropic): attempt 2, waiting 500 ms, retry-after header" },
      { kind: "notice", cursor: 6, text: "something_new: hello" },
      { kind: "error", cursor: 7, message: "compaction summary failed (x)" },
      { kind: "done", cursor: 8, stop_reason: "end_turn" },
    ]);
  });

  it("raw format returns events untouched with cursors and pages exactly", () => {
    const r1 = buildRaw(conversation, { from: 0, maxEvents: 5, maxChars: 20_000 });
    expect(r1.items.map((i) => i.cursor)).toEqual([0, 1, 2, 3, 4]);
    expect(r1.items[2]!.event).toBe(conversation[2]);
    const r2 = buildRaw(conversation, { from: r1.next, maxEvents: 500, maxChars: 20_000 });
    expect(r2.items[0]!.cursor).toBe(5);
    expect(r2.next).toBe(conversation.length);
    expect(r2.hasMore).toBe(false);
  });
});
