// Turns a slice of a run's event log into the compact items ("digest"),
// or into `{cursor, event}` pairs ("raw"). Paging is exact: items are cut only at
// frame boundaries, `next` is the position right after the last frame returned, and
// a text run cut by a limit is marked `partial` so the next read carries on after it
// without repeating a character.
import type { LoomEvent } from "../loomcycle/events.js";
import type { EventSource } from "./event-log.js";
import { pendingInterrupt } from "./run-state.js";
import type { Actor, Answerer, DigestMarks } from "./run-marks.js";

export type DigestItem =
  | { kind: "input"; cursor: number; text: string; source: string; truncated?: true }
  | { kind: "text"; cursor: number; text: string; partial?: true; truncated?: true }
  | { kind: "tool_call"; cursor: number; id: string; tool: string; input: string; truncated?: true }
  | {
      kind: "tool_result";
      cursor: number;
      id: string;
      tool: string;
      ok: boolean;
      output: string;
      /** The result of a question answered through this bridge, and by whom. */
      answered_by?: Answerer;
      truncated?: true;
    }
  | {
      kind: "interrupt";
      cursor: number;
      interrupt_id: string;
      question: string;
      options?: string[];
      expires_at?: string;
      /** Answered (or declined) through this bridge, and by whom. */
      answer?: string;
      declined?: true;
      answered_by?: Answerer;
      truncated?: true;
    }
  | { kind: "awaiting_input"; cursor: number }
  | { kind: "turn_cancelled"; cursor: number; reason?: string; source?: Actor }
  | { kind: "compaction"; cursor: number; before_tokens?: number; after_tokens?: number }
  | { kind: "notice"; cursor: number; text: string; truncated?: true }
  | { kind: "error"; cursor: number; message: string; truncated?: true }
  | { kind: "done"; cursor: number; stop_reason: string };

export interface RawItem {
  cursor: number;
  event: Record<string, unknown>;
  truncated?: true;
}

export interface DigestOptions {
  from: number;
  maxEvents: number;
  maxChars: number;
  /** The turn is still streaming (run state `running`): a text run that reaches the
   * end of the log is `partial`. */
  streaming: boolean;
  /** Position of the run's opening `steer` and the user's prompt to show for it
   * (never the system prompt loomcycle prepends). */
  opening?: { position: number; text: string };
  /** Bound on tool input / output previews, in characters. */
  previewChars?: number;
  /** Who sent the inputs, stopped the turns and answered the questions that went through
   * this bridge: an input's `source` is "host" or "person", a turn cancel's `source` too,
   * and an answered question carries its answer and `answered_by`. */
  marks?: DigestMarks;
  /** Shorten the host's own inputs to this many characters (the result of the call that
   * sent them: the host has the text, echoing a long prompt back only costs context). */
  hostEchoChars?: number;
}

export interface DigestResult<T> {
  items: T[];
  next: number;
  hasMore: boolean;
}

/** Frames that make no item (usage is summed separately). */
const SILENT = new Set(["started", "thinking", "usage", "session", "agent"]);
const DEFAULT_PREVIEW = 400;

export function isSilent(e: LoomEvent): boolean {
  return SILENT.has(e.type);
}

/** The text an item is charged for against `max_chars`. */
function itemChars(item: DigestItem): number {
  switch (item.kind) {
    case "input":
    case "text":
    case "notice":
      return item.text.length;
    case "tool_call":
      return item.input.length + item.tool.length;
    case "tool_result":
      return item.output.length + item.tool.length;
    case "interrupt":
      return item.question.length + (item.options?.join("").length ?? 0) + (item.answer?.length ?? 0);
    case "error":
      return item.message.length;
    default:
      return 0;
  }
}

export function shorten(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 1) return "…";
  return s.slice(0, max - 1) + "…";
}

function jsonPreview(v: unknown, max: number): string {
  if (v === undefined) return "";
  let s: string;
  try {
    s = typeof v === "string" ? v : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return shorten(s ?? "", max);
}

function noticeText(e: LoomEvent): string {
  const r = e as Record<string, unknown>;
  switch (e.type) {
    case "retry": {
      const x = (r.retry ?? {}) as Record<string, unknown>;
      return `provider retry${x.provider ? ` (${String(x.provider)})` : ""}: attempt ${String(x.attempt ?? "?")}, waiting ${String(x.wait_ms ?? "?")} ms${x.reason ? `, ${String(x.reason)}` : ""}`;
    }
    case "provider_fallback": {
      const x = (r.fallback ?? {}) as Record<string, unknown>;
      return `provider fallback: ${String(x.failed_provider ?? "?")}/${String(x.failed_model ?? "?")} failed (${String(x.reason ?? "?")})${x.new_provider ? `, now ${String(x.new_provider)}/${String(x.new_model ?? "?")}` : ""}`;
    }
    case "limit": {
      const x = (r.limit ?? {}) as Record<string, unknown>;
      return `token budget ${String(x.severity ?? "")} limit (${String(x.scope ?? "?")}): used ${String(x.used ?? "?")} of ${String(x.limit ?? "?")} per ${String(x.window ?? "?")}${x.message ? ` — ${String(x.message)}` : ""}`;
    }
    default:
      return e.text ? `${e.type}: ${e.text}` : e.type;
  }
}

/** Build the item a single frame makes (text frames are merged by the caller). */
function itemFor(e: LoomEvent, cursor: number, opts: DigestOptions): DigestItem | undefined {
  const preview = opts.previewChars ?? DEFAULT_PREVIEW;
  switch (e.type) {
    case "steer": {
      const text = opts.opening && opts.opening.position === cursor ? opts.opening.text : (e.user_input?.text ?? "");
      const by = opts.marks?.inputs.get(cursor);
      if (by) {
        // The host has the text of its own input; the person's is news to it, in full.
        const max = by === "host" ? opts.hostEchoChars : undefined;
        if (max !== undefined && text.length > max)
          return { kind: "input", cursor, text: shorten(text, max), source: by, truncated: true };
        return { kind: "input", cursor, text, source: by };
      }
      return { kind: "input", cursor, text, source: e.user_input?.source ?? "replay" };
    }
    case "tool_call":
      return {
        kind: "tool_call",
        cursor,
        id: e.tool_use?.id ?? "",
        tool: e.tool_use?.name ?? "",
        input: jsonPreview(e.tool_use?.input, preview),
      };
    case "tool_result": {
      const item: DigestItem = {
        kind: "tool_result",
        cursor,
        id: e.tool_use?.id ?? "",
        tool: e.tool_use?.name ?? "",
        ok: e.is_error !== true,
        output: shorten(e.text ?? "", preview),
      };
      const question = opts.marks?.answerResults.get(cursor);
      const answered = question !== undefined ? opts.marks?.answers.get(question) : undefined;
      if (answered) item.answered_by = answered.by;
      return item;
    }
    case "interruption_pending": {
      const item: DigestItem = { kind: "interrupt", cursor, ...pendingInterrupt(e.interruption ?? { interrupt_id: "" }) };
      const answered = e.interruption ? opts.marks?.answers.get(e.interruption.interrupt_id) : undefined;
      if (answered) {
        if (answered.declined) item.declined = true;
        else item.answer = answered.answer ?? "";
        item.answered_by = answered.by;
      }
      return item;
    }
    case "awaiting_input":
      return { kind: "awaiting_input", cursor };
    case "turn_cancelled": {
      const item: DigestItem = { kind: "turn_cancelled", cursor };
      if (e.turn_cancelled?.reason) item.reason = e.turn_cancelled.reason;
      const by = opts.marks?.turnCancels.get(cursor);
      if (by) item.source = by;
      return item;
    }
    case "context_compaction": {
      const item: DigestItem = { kind: "compaction", cursor };
      const c = e.context_compaction;
      if (c?.before_tokens !== undefined) item.before_tokens = c.before_tokens;
      if (c?.after_tokens !== undefined) item.after_tokens = c.after_tokens;
      return item;
    }
    case "error":
      return { kind: "error", cursor, message: e.error ?? e.text ?? "error" };
    case "done":
      return { kind: "done", cursor, stop_reason: e.stop_reason ?? "" };
    default:
      return { kind: "notice", cursor, text: noticeText(e) };
  }
}

/** Shorten the text fields of an item so that it fits in `max` characters. */
function truncateItem(item: DigestItem, max: number): DigestItem {
  const over = itemChars(item) - max;
  if (over <= 0) return item;
  switch (item.kind) {
    case "input":
    case "text":
    case "notice":
      return { ...item, text: shorten(item.text, Math.max(1, item.text.length - over)), truncated: true };
    case "tool_call":
      return { ...item, input: shorten(item.input, Math.max(1, item.input.length - over)), truncated: true };
    case "tool_result":
      return { ...item, output: shorten(item.output, Math.max(1, item.output.length - over)), truncated: true };
    case "interrupt":
      return { ...item, question: shorten(item.question, Math.max(1, item.question.length - over)), truncated: true };
    case "error":
      return { ...item, message: shorten(item.message, Math.max(1, item.message.length - over)), truncated: true };
    default:
      return item;
  }
}

export function buildDigest(events: EventSource, opts: DigestOptions): DigestResult<DigestItem> {
  const items: DigestItem[] = [];
  let chars = 0;
  let i = Math.max(0, opts.from);
  let next = i;
  let open: Extract<DigestItem, { kind: "text" }> | undefined; // text item being merged
  let framesTaken = 0;

  while (i < events.length) {
    // Fast paths on a compact log: plain text deltas and silent frames need no object.
    let t = events.textAt?.(i);
    if (t === undefined) {
      const type = events.typeAt?.(i);
      if (type !== undefined && SILENT.has(type)) {
        i += 1;
        next = i;
        continue;
      }
    }
    const e = t === undefined ? events.at(i) : undefined;
    if (t === undefined && !e) break; // not held (evicted): the caller re-fetches and reads again
    if (e && isSilent(e)) {
      // Makes no item: consumed silently (does not break a text run).
      i += 1;
      next = i;
      continue;
    }
    if (t !== undefined || e!.type === "text") {
      t ??= e!.text ?? "";
      const budget = opts.maxChars - chars;
      if (open) {
        if (t.length > budget) {
          open.partial = true; // cut by max_chars; the next read carries on here
          break;
        }
        open.text += t;
      } else {
        if (items.length >= opts.maxEvents) break;
        if (t.length > budget && framesTaken > 0) break;
        open = { kind: "text", cursor: i, text: t.length > budget ? shorten(t, Math.max(1, budget)) : t };
        if (t.length > budget) open.truncated = true;
        items.push(open);
      }
      chars += Math.min(t.length, Math.max(0, budget));
      framesTaken += 1;
      i += 1;
      next = i;
      continue;
    }
    // Any other item-making frame ends a text run.
    open = undefined;
    if (items.length >= opts.maxEvents) break;
    let item = itemFor(e!, i, opts);
    if (!item) {
      i += 1;
      next = i;
      continue;
    }
    const cost = itemChars(item);
    if (chars + cost > opts.maxChars) {
      if (framesTaken > 0) break;
      item = truncateItem(item, opts.maxChars);
    }
    items.push(item);
    chars += Math.min(cost, opts.maxChars);
    framesTaken += 1;
    i += 1;
    next = i;
  }

  // A text run that reaches the end of what we return while the turn may still add to
  // it: more text deltas follow in the log (cut by a limit), or the log ends mid-turn.
  const last = items[items.length - 1];
  if (last && last.kind === "text" && !last.partial) {
    const following = nextItemFrame(events, next);
    if (following === undefined ? opts.streaming : (events.typeAt?.(following) ?? events.at(following)?.type) === "text")
      last.partial = true;
  }
  const hasMore = nextItemFrame(events, next) !== undefined;
  return { items, next, hasMore };
}

/** Position of the next frame at or after `from` that makes an item. */
function nextItemFrame(events: EventSource, from: number): number | undefined {
  for (let j = from; j < events.length; j++) {
    const type = events.typeAt?.(j) ?? events.at(j)?.type;
    if (type === undefined || !SILENT.has(type)) return j;
  }
  return undefined;
}

export function buildRaw(
  events: EventSource,
  opts: Pick<DigestOptions, "from" | "maxEvents" | "maxChars">,
): DigestResult<RawItem> {
  const items: RawItem[] = [];
  let chars = 0;
  let i = Math.max(0, opts.from);
  while (i < events.length && items.length < opts.maxEvents) {
    const at = events.at(i);
    if (!at) break;
    const e = at as Record<string, unknown>;
    const size = JSON.stringify(e).length;
    if (chars + size > opts.maxChars && items.length > 0) break;
    if (size > opts.maxChars) {
      items.push({ cursor: i, event: shortenStrings(e, Math.max(64, Math.floor(opts.maxChars / 2))), truncated: true });
    } else {
      items.push({ cursor: i, event: e });
    }
    chars += Math.min(size, opts.maxChars);
    i += 1;
  }
  return { items, next: i, hasMore: i < events.length };
}

function shortenStrings(v: Record<string, unknown>, max: number): Record<string, unknown> {
  const walk = (x: unknown): unknown => {
    if (typeof x === "string") return shorten(x, max);
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y)]));
    return x;
  };
  return walk(v) as Record<string, unknown>;
}
