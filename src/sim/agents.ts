// Scripted agents. Each one plays the part of a model provider: given the
// conversation so far it streams one model call's worth of text deltas and
// tool calls and ends with a stop reason (or a provider error). The engine
// (engine.ts) runs loomcycle's loop around it: usage frames, tools, parking,
// steering, cancels. Names and reply texts are public: the README and tests rely on them.
import { chunkCodePoints, wordDeltas, type Rng } from "./util.js";

export type Json = Record<string, unknown>;

export type Block =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Json }
  | { type: "tool_result"; tool_use_id: string; name: string; text: string; is_error: boolean };

export interface ConvMessage {
  role: "user" | "assistant";
  blocks: Block[];
}

export type ProviderEvent =
  | { type: "text"; text: string }
  | { type: "tool_call"; name: string; input: Json }
  | { type: "done"; stop_reason: "end_turn" | "tool_use" }
  | { type: "error"; error: string };

export interface CallContext {
  /** 0-based loop iteration (one per model call; a park/resume also consumes one). */
  iter: number;
  messages: readonly ConvMessage[];
  /** Scripted delay in ms at speed 1 (scaled by the engine; resolves early on cancel). */
  sleep(ms: number): Promise<void>;
  /** A call that never returns: resolves only when the turn or the run is cancelled (whatever the speed). */
  stall(): Promise<void>;
  rng: Rng;
}

export interface AgentDef {
  name: string;
  systemPrompt: string;
  /** The run ends with `done` at end_turn even when interactive (the `oneshot` agent). */
  endsRunOnEndTurn?: boolean;
  /** Every summary of its conversation fails: a compaction asked through the API answers
   * 502 (`summarize: …`), one it asks for itself (the Context tool) a non-terminal `error`. */
  summaryFails?: boolean;
  call(ctx: CallContext): AsyncGenerator<ProviderEvent>;
}

// ---- conversation helpers ---------------------------------------------------

/** Text of the latest operator turn (a user message that is not tool results). */
export function lastUserText(messages: readonly ConvMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as ConvMessage;
    if (m.role !== "user" || m.blocks.some((b) => b.type === "tool_result")) continue;
    return m.blocks
      .filter((b): b is Extract<Block, { type: "text" }> => b.type === "text")
      .map((b) => b.text)
      .join("\n");
  }
  return "";
}

/** Tool results of the previous round: those after the model's last message (a message the
 * operator queued meanwhile may follow them, as loomcycle drains it before the next call). */
function lastToolResults(messages: readonly ConvMessage[]): Array<Extract<Block, { type: "tool_result" }>> {
  const out: Array<Extract<Block, { type: "tool_result" }>> = [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as ConvMessage;
    if (m.role === "assistant") break;
    out.unshift(...m.blocks.filter((b): b is Extract<Block, { type: "tool_result" }> => b.type === "tool_result"));
  }
  return out;
}

/** Operator messages queued while a tool ran: the text after the tool results of the last round. */
function queuedAfterTools(messages: readonly ConvMessage[]): string {
  const parts: string[] = [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as ConvMessage;
    if (m.role === "assistant" || m.blocks.some((b) => b.type === "tool_result")) break;
    parts.unshift(m.blocks.map((b) => (b.type === "text" ? b.text : "")).join(""));
  }
  return parts.join("\n");
}

const FIRST_TOKEN_MS = 40;
const DELTA_MS = 20;

async function* say(ctx: CallContext, deltas: string[], perDeltaMs = DELTA_MS): AsyncGenerator<ProviderEvent> {
  await ctx.sleep(FIRST_TOKEN_MS);
  for (const d of deltas) {
    yield { type: "text", text: d };
    await ctx.sleep(perDeltaMs);
  }
}

/** Describe an Interruption tool result the way the asking agents react to it. */
function interruptOutcome(
  r: Extract<Block, { type: "tool_result" }>,
): { kind: "answer"; answer: string } | { kind: "declined" } | { kind: "failed" } {
  if (r.is_error) return { kind: "failed" };
  try {
    const v = JSON.parse(r.text) as { answer?: unknown; declined?: unknown };
    if (v.declined === true) return { kind: "declined" };
    if (typeof v.answer === "string") return { kind: "answer", answer: v.answer };
  } catch {
    // fall through
  }
  return { kind: "failed" };
}

// ---- the agents -------------------------------------------------------------

const echo: AgentDef = {
  name: "echo",
  systemPrompt: "You are echo, a test agent. Repeat the user's message back to them.",
  async *call(ctx) {
    yield* say(ctx, wordDeltas(`You said: ${lastUserText(ctx.messages)}`));
    yield { type: "done", stop_reason: "end_turn" };
  },
};

function askingAgent(name: string, systemPrompt: string, ask: Json, reply: (answer: string) => string): AgentDef {
  return {
    name,
    systemPrompt,
    async *call(ctx) {
      const results = lastToolResults(ctx.messages).filter((r) => r.name === "Interruption");
      const last = results[results.length - 1];
      if (last) {
        const o = interruptOutcome(last);
        const text = o.kind === "answer" ? reply(o.answer) : o.kind === "declined" ? "Declined" : "I did not get an answer.";
        // A message sent while it asked waited behind the question: it is read now.
        const queued = queuedAfterTools(ctx.messages);
        yield* say(ctx, wordDeltas(queued ? `${text}. You said: ${queued}` : text));
        yield { type: "done", stop_reason: "end_turn" };
        return;
      }
      yield* say(ctx, wordDeltas("I need to check with you first."));
      yield { type: "tool_call", name: "Interruption", input: ask };
      yield { type: "done", stop_reason: "tool_use" };
    },
  };
}

const asker = askingAgent(
  "asker",
  "You are asker, a test agent. Ask the operator before doing anything.",
  { op: "ask", question: "Proceed?", options: ["yes", "no"] },
  (a) => `Answer was ${a}`,
);

const questioner = askingAgent(
  "questioner",
  "You are questioner, a test agent. Ask the operator a free-text question.",
  { op: "ask", question: "What should I call you?" },
  (a) => `You answered: ${a}`,
);

const toolish: AgentDef = {
  name: "toolish",
  systemPrompt: "You are toolish, a test agent. Read a file, then summarize it.",
  async *call(ctx) {
    const results = lastToolResults(ctx.messages);
    if (results.length > 0) {
      const ok = results.every((r) => !r.is_error);
      yield* say(ctx, wordDeltas(ok ? "The README says this is the simulator." : "I could not read the file."));
      yield { type: "done", stop_reason: "end_turn" };
      return;
    }
    yield* say(ctx, wordDeltas("Let me read the README."));
    yield { type: "tool_call", name: "Read", input: { path: "README.md" } };
    yield { type: "done", stop_reason: "tool_use" };
  },
};

const WORDS =
  "the loom weaves a long thread of words across the warp while the shuttle runs back and forth carrying colour pattern and time into cloth that nobody asked for but everybody reads".split(
    " ",
  );

const longtalk: AgentDef = {
  name: "longtalk",
  systemPrompt: "You are longtalk, a test agent. Answer at great length.",
  async *call(ctx) {
    // About 3,000 words in about 1,000 deltas of three words each.
    const deltas: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const w = [0, 1, 2].map(() => WORDS[ctx.rng.int(0, WORDS.length - 1)]);
      deltas.push((i === 0 ? "" : " ") + w.join(" ") + (i % 25 === 24 ? "." : ""));
    }
    yield* say(ctx, deltas, 5);
    yield { type: "done", stop_reason: "end_turn" };
  },
};

const failing: AgentDef = {
  name: "failing",
  systemPrompt: "You are failing, a test agent whose provider always breaks.",
  async *call(ctx) {
    yield* say(ctx, ["Let me", " think"]);
    yield { type: "error", error: "sim-provider 529: overloaded_error: Overloaded" };
  },
};

/**
 * Its context can never be compacted: every summary of its conversation fails. compact_run
 * (POST /v1/runs/{id}/compact) answers loomcycle's 502; a message with the word "compact"
 * makes it ask for its own compaction (the Context tool, op compact), which loomcycle then
 * reports as a non-terminal `error` before its next model call. It replies `Still here:
 * <input>` and parks, every turn.
 */
const compactfail: AgentDef = {
  name: "compactfail",
  systemPrompt: "You are compactfail, a test agent whose context compaction fails.",
  summaryFails: true,
  async *call(ctx) {
    const said = lastUserText(ctx.messages);
    if (lastToolResults(ctx.messages).length === 0 && /\bcompact\b/i.test(said)) {
      yield* say(ctx, wordDeltas("Let me compact my context first."));
      yield { type: "tool_call", name: "Context", input: { op: "compact" } };
      yield { type: "done", stop_reason: "tool_use" };
      return;
    }
    yield* say(ctx, wordDeltas(`Still here: ${said}`));
    yield { type: "done", stop_reason: "end_turn" };
  },
};

const slow: AgentDef = {
  name: "slow",
  systemPrompt: "You are slow, a test agent that takes its time.",
  async *call(ctx) {
    yield* say(ctx, wordDeltas("This reply arrives one slow word at a time: ten."), 300);
    yield { type: "done", stop_reason: "end_turn" };
  },
};

/** `flood N`: N one-word text deltas as fast as the loop can write them (the first number in the message; 1,000 without one), then park. */
const flood: AgentDef = {
  name: "flood",
  systemPrompt: "You are flood, a test agent that writes a very long reply very fast.",
  async *call(ctx) {
    const n = Math.min(5_000_000, Math.max(1, Number.parseInt(/\d+/.exec(lastUserText(ctx.messages))?.[0] ?? "", 10) || 1000));
    for (let i = 0; i < n; i++) {
      yield { type: "text", text: `w${i} ` };
      if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
    }
    yield { type: "done", stop_reason: "end_turn" };
  },
};

const hang: AgentDef = {
  name: "hang",
  systemPrompt: "You are hang, a test agent whose turn stalls (a tool or model call that never returns).",
  async *call(ctx) {
    yield* say(ctx, wordDeltas("Let me think about that..."));
    // Silent until the turn or the run is cancelled, while the loop stays alive (heartbeat
    // fresh): a stall is no scripted delay, so no --speed shortens it.
    await ctx.stall();
    yield { type: "done", stop_reason: "end_turn" };
  },
};

const UNICODE_TEXT = "Ünïcödé ✓ — 日本語のテキスト 🚀🎉 café naïve 😀 中文字符 ✨ Ελληνικά 👩‍💻";

const unicode: AgentDef = {
  name: "unicode",
  systemPrompt: "You are unicode, a test agent that answers in many scripts.",
  async *call(ctx) {
    yield* say(ctx, chunkCodePoints(UNICODE_TEXT, 3));
    yield { type: "done", stop_reason: "end_turn" };
  },
};

const oneshot: AgentDef = {
  name: "oneshot",
  systemPrompt: "You are oneshot, a test agent that answers once and finishes.",
  endsRunOnEndTurn: true,
  async *call(ctx) {
    yield* say(ctx, wordDeltas(`Done: ${lastUserText(ctx.messages)}`));
    yield { type: "done", stop_reason: "end_turn" };
  },
};

export const AGENTS: ReadonlyMap<string, AgentDef> = new Map(
  [echo, asker, questioner, toolish, longtalk, failing, compactfail, slow, unicode, oneshot, hang, flood].map((a) => [a.name, a]),
);

export const UNICODE_REPLY = UNICODE_TEXT;
