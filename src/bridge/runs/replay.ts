// Reading a run again from loomcycle: where its transcript says a re-attach resumes, and a
// range of log positions by replay. Both count positions exactly as the live log does.
import type { LoomEvent } from "../loomcycle/events.js";
import { NAME_RING } from "./run-stream-state.js";
import type { RunStreamClient, TranscriptRowLike } from "./run-stream-client.js";

/**
 * The transcript `seq` of the last frame we hold, or undefined when it cannot be
 * established with certainty. Streamable rows of this run, in seq order, map 1:1 to
 * frames; which rows stream differs across loomcycle versions (some turn user_input
 * rows into `steer` frames, some skip them), so the mapping is checked against the
 * names of the last frames we received before it is trusted.
 */
export function resumePoint(
  rows: readonly TranscriptRowLike[],
  runId: string,
  held: { framesSeen: number; names: readonly (string | undefined)[] },
): { seq: number; frames: number } | undefined {
  const mine = rows.filter((r) => r.run_id === runId);
  for (const userInputAsSteer of [true, false]) {
    const streamable: Array<{ seq: number; name: string }> = [];
    for (const r of mine) {
      if (r.type === "system_prompt") continue;
      if (r.type === "user_input") {
        if (userInputAsSteer && segmentsText(r.payload) !== "") streamable.push({ seq: r.seq, name: "steer" });
        continue;
      }
      streamable.push({ seq: r.seq, name: r.type });
    }
    const n = held.framesSeen;
    if (streamable.length < n) continue;
    let ok = true;
    for (let i = Math.max(0, n - NAME_RING); i < n; i++) {
      const have = held.names[i % NAME_RING];
      if (have !== streamable[i]?.name) {
        ok = false;
        break;
      }
    }
    const seq = streamable[n - 1]?.seq;
    if (ok && seq !== undefined) return { seq, frames: streamable.length };
  }
  return undefined;
}

/**
 * When the run's last stored event happened, and how many frames a tail from 0 replays: the
 * largest `ts_ns` among its transcript rows (Unix ns; µs precision on PostgreSQL), and its
 * rows that stream (all but `system_prompt`, and `user_input` without text). No frame carries
 * a time, so a replayed frame says nothing of when its event happened; this does.
 */
export function lastEventTime(rows: readonly TranscriptRowLike[], runId: string): { frames: number; at: number } | undefined {
  let frames = 0;
  let at = -Infinity;
  for (const r of rows) {
    if (r.run_id !== runId) continue;
    if (typeof r.ts_ns === "number" && Number.isFinite(r.ts_ns)) at = Math.max(at, Math.floor(r.ts_ns / 1e6));
    if (r.type === "system_prompt" || (r.type === "user_input" && segmentsText(r.payload) === "")) continue;
    frames += 1;
  }
  return Number.isFinite(at) ? { frames, at } : undefined;
}

/**
 * Re-read log positions [from, from + count) from loomcycle (for positions evicted
 * from memory): a replay of the run, counting positions exactly as the live log
 * does, closed as soon as the range is read. Bounded by `signal`.
 */
export async function replayRange(
  client: Pick<RunStreamClient, "streamRun">,
  runId: string,
  from: number,
  count: number,
  signal: AbortSignal,
): Promise<LoomEvent[]> {
  const stream = await client.streamRun(runId, 0, { signal });
  const out: LoomEvent[] = [];
  let pos = 0;
  try {
    for await (const f of stream.frames) {
      if (f.kind !== "event") continue;
      if (pos >= from) {
        out.push(f.event);
        if (out.length >= count) break;
      }
      pos += 1;
    }
  } finally {
    stream.close();
  }
  return out;
}

/** Text of a user_input payload as the tail joins it: every segment's text blocks, joined by "\n". */
export function segmentsText(payload: unknown): string {
  if (!Array.isArray(payload)) return "";
  const parts: string[] = [];
  for (const seg of payload) {
    const content = (seg as { content?: unknown })?.content;
    if (!Array.isArray(content)) continue;
    for (const b of content) {
      const t = (b as { text?: unknown })?.text;
      if (typeof t === "string" && t !== "") parts.push(t);
    }
  }
  return parts.join("\n");
}
