// Conversation arithmetic shared by the loop and the compact handler: how the
// loop builds its first user message from prompt segments (splitSegments /
// flattenContent), image validation, server.go's replayTranscript over a run's
// rows, and the compaction split / token estimate of loop.go.
import type { Block, ConvMessage, Json } from "./agents.js";
import type { SegmentIn } from "./body.js";
import type { RowRec } from "./store.js";
import { goJSON } from "./util.js";

/** loop.flattenContent for text blocks. */
function flattenText(c: { type?: string; text?: string; kind?: string }): string | undefined {
  if (c.type === "image") return undefined;
  if (c.type === "untrusted-block") {
    const allowed = [
      "untrusted",
      "web_content",
      "uploaded_cv",
      "qa_question",
      "user_input",
      "tool_output",
      "search_result",
      "run_metadata",
    ];
    const kind = c.kind && allowed.includes(c.kind) ? c.kind : "untrusted";
    return `<${kind}>\n${(c.text ?? "").split("<").join("&lt;")}\n</${kind}>`;
  }
  return c.text ?? "";
}

/** The first user message the loop builds from the segments (splitSegments). */
export function firstUserMessage(segments: SegmentIn[]): ConvMessage[] {
  const blocks: Block[] = [];
  for (const s of segments) {
    if (s?.role !== "user") continue;
    for (const c of s.content ?? []) {
      const t = c ? flattenText(c) : undefined;
      if (t !== undefined) blocks.push({ type: "text", text: t });
    }
  }
  return blocks.length > 0 ? [{ role: "user", blocks }] : [];
}

/** loop.validateImageSegments. */
export function validateImages(segments: SegmentIn[]): string | undefined {
  for (const s of segments) {
    for (const c of s?.content ?? []) {
      if (c?.type !== "image") continue;
      if (s?.role !== "user")
        return `image content is only allowed in user-role segments (got role ${JSON.stringify(s?.role ?? "")})`;
      const mt = c.media_type ?? "";
      if (!["image/png", "image/jpeg", "image/gif", "image/webp"].includes(mt)) {
        return `unsupported image media_type ${JSON.stringify(mt)} (allowed: image/png, image/jpeg, image/gif, image/webp)`;
      }
      if (!c.data) return "image content block has empty data";
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(c.data) || c.data.length % 4 !== 0) {
        return "image content block data is not valid base64: illegal base64 data at input byte 0";
      }
    }
  }
  return undefined;
}

// ---- compaction arithmetic (loop.go / server.go) -------------------------------

function blockBytes(b: Block): number {
  if (b.type === "text") return Buffer.byteLength(b.text);
  if (b.type === "tool_use") return Buffer.byteLength(goJSON(b.input));
  return Buffer.byteLength(b.text);
}
export function estimateTokens(msgs: readonly ConvMessage[]): number {
  let n = 0;
  for (const m of msgs) for (const b of m.blocks) n += blockBytes(b);
  return Math.floor(n / 4);
}
function isFreshUserTurn(m: ConvMessage): boolean {
  return m.role === "user" && (m.blocks.length === 0 || m.blocks[0]?.type !== "tool_result");
}
/** loop.CompactionSplit with the defaults keep_last_n=4, keep_first=true. */
export function compactionSplit(
  msgs: readonly ConvMessage[],
  keepLastN = 4,
  keepFirst = true,
): { firstIdx: number; cut: number; ok: boolean } {
  const n = msgs.length;
  const firstIdx = keepFirst && n > 0 && isFreshUserTurn(msgs[0] as ConvMessage) ? 1 : 0;
  const target = n - keepLastN;
  if (target <= firstIdx) return { firstIdx, cut: firstIdx, ok: false };
  let cut = -1;
  for (let i = target; i > firstIdx; i--) {
    if (isFreshUserTurn(msgs[i] as ConvMessage)) {
      cut = i;
      break;
    }
  }
  if (cut < 0) cut = n;
  return { firstIdx, cut, ok: cut > firstIdx };
}
function messageText(m: ConvMessage | undefined): string {
  return (m?.blocks ?? []).map((b) => (b.type === "text" ? b.text : "")).join("");
}
export function compactionMessages(pinned: string, summary: string, tail: readonly ConvMessage[]): ConvMessage[] {
  let text = "";
  if (pinned.trim() !== "") text += "[Original task — preserved verbatim:]\n" + pinned + "\n\n";
  text +=
    "[Conversation so far, compacted to a summary — treat it as established context for everything before this point:]\n\n" +
    summary;
  return [
    { role: "user", blocks: [{ type: "text", text }] },
    { role: "assistant", blocks: [{ type: "text", text: "Understood — I'll continue from the summary above." }] },
    ...tail,
  ];
}
export function applyCompaction(msgs: readonly ConvMessage[], summary: string, keepN: number, keepFirst: boolean): ConvMessage[] {
  const k = Math.max(0, Math.min(keepN, msgs.length));
  const pinned = keepFirst && msgs.length > 0 ? messageText(msgs[0]) : "";
  return compactionMessages(pinned, summary, msgs.slice(msgs.length - k));
}

/** server.go replayTranscript over one run's rows (enough for compaction arithmetic). */
export function replayMessages(rows: readonly RowRec[]): ConvMessage[] {
  let msgs: ConvMessage[] = [];
  let asst: Block[] = [];
  let asstText = "";
  let pending: Block[] = [];
  const flushAsst = (): void => {
    if (asstText === "" && asst.length === 0) return;
    msgs.push({ role: "assistant", blocks: [...(asstText ? [{ type: "text", text: asstText } as Block] : []), ...asst] });
    asst = [];
    asstText = "";
  };
  const flushPending = (): void => {
    if (pending.length === 0) return;
    msgs.push({ role: "user", blocks: pending });
    pending = [];
  };
  for (const r of rows) {
    const ev = r.event as {
      text?: string;
      tool_use?: { id: string; name: string; input: Json };
      is_error?: boolean;
      context_compaction?: { summary: string; keep_n?: number; keep_first?: boolean };
    };
    switch (r.type) {
      case "user_input": {
        flushAsst();
        flushPending();
        const m = firstUserMessage(Array.isArray(r.payload) ? (r.payload as SegmentIn[]) : []);
        msgs.push(...m);
        break;
      }
      case "text":
        flushPending();
        asstText += ev.text ?? "";
        break;
      case "tool_call":
        flushPending();
        if (ev.tool_use) asst.push({ type: "tool_use", id: ev.tool_use.id, name: ev.tool_use.name, input: ev.tool_use.input });
        break;
      case "tool_result":
        flushAsst();
        if (ev.tool_use)
          pending.push({
            type: "tool_result",
            tool_use_id: ev.tool_use.id,
            name: ev.tool_use.name,
            text: ev.text ?? "",
            is_error: !!ev.is_error,
          });
        break;
      case "done":
        flushAsst();
        flushPending();
        break;
      case "context_compaction": {
        flushAsst();
        flushPending();
        const cc = ev.context_compaction;
        if (cc) msgs = applyCompaction(msgs, cc.summary, cc.keep_n ?? 0, !!cc.keep_first);
        break;
      }
    }
  }
  flushAsst();
  flushPending();
  return msgs;
}
