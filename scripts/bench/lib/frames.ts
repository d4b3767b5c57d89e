// Realistic SSE bytes for the ingest and memory benchmarks, captured from the
// simulator's wire (its framing and JSON are loomcycle's): a `longtalk` run (a reply
// of ~3,000 words in ~1,000 deltas) steered once, replayed with
// GET /v1/runs/{id}/stream?from_seq=0 — exactly what the bridge receives when it
// attaches to a run started elsewhere.
import { startSimulator } from "../../../src/sim/index.js";

export interface CapturedRun {
  /** The `agent` frame's data object (ids are rewritten per fake run). */
  agent: Record<string, unknown>;
  /** Event frames in wire form ("event: …\ndata: …\n\n"), `agent` excluded. */
  frames: string[];
}

const decoder = new TextDecoder();

async function readUntil(res: Response, done: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader();
  let text = "";
  try {
    while (!done(text)) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** Capture a longtalk run with `turns` turns, then shape it to exactly `frameCount`
 * event frames by dropping text deltas from the middle of the last turn (it still
 * ends parked at `awaiting_input`). */
export async function captureLongtalk(frameCount: number, turns = 2, seed = 7): Promise<CapturedRun> {
  const sim = await startSimulator({ tailPollMs: 5, speed: 0, seed, keepaliveMs: 0 });
  try {
    const auth = { authorization: `Bearer ${sim.token}` };
    const start = await fetch(`${sim.url}/v1/runs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ agent: "longtalk", prompt: "Tell me everything about weaving.", interactive: true }),
    });
    const head = await readUntil(start, (t) => t.includes("event: awaiting_input"));
    const runId = /"run_id":"([^"]+)"/.exec(head)?.[1];
    if (!runId) throw new Error("capture: no run id in the start stream");
    for (let turn = 2; turn <= turns; turn++) {
      const r = await fetch(`${sim.url}/v1/runs/${runId}/input`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ text: `Go on, part ${turn}.` }),
      });
      if (!r.ok) throw new Error(`capture: steer answered ${r.status}`);
      const until = Date.now() + 30_000;
      while (sim.rowsOfRun(runId).filter((row) => row.type === "awaiting_input").length < turn) {
        if (Date.now() > until) throw new Error("capture: the run did not park again");
        await new Promise((res) => setTimeout(res, 5));
      }
    }
    const replay = await fetch(`${sim.url}/v1/runs/${runId}/stream?from_seq=0`, { headers: auth });
    const text = await readUntil(replay, (t) => count(t, "event: awaiting_input") >= turns && t.endsWith("\n\n"));
    const blocks = text.split("\n\n").filter((b) => b !== "");
    const agentBlock = blocks.shift();
    if (!agentBlock?.startsWith("event: agent\n")) throw new Error("capture: the replay did not start with the agent frame");
    const agent = JSON.parse(agentBlock.slice(agentBlock.indexOf("data: ") + 6)) as Record<string, unknown>;
    const frames = blocks.map((b) => b + "\n\n");
    if (frames.length < frameCount) throw new Error(`capture: only ${frames.length} frames, wanted ${frameCount}`);
    // Drop text deltas from the middle of the last turn until the count is exact.
    const lastSteer = frames.findLastIndex((f) => f.startsWith("event: steer\n"));
    let i = lastSteer + Math.floor((frames.length - lastSteer) / 2);
    while (frames.length > frameCount) {
      if (frames[i]?.startsWith("event: text\n")) frames.splice(i, 1);
      else i -= 1;
      if (i <= lastSteer) throw new Error("capture: not enough text frames to trim");
    }
    return { agent, frames };
  } finally {
    await sim.close();
  }
}

/** The captured frames as one byte buffer, cut into `chunkBytes` chunks as a socket
 * would deliver a replay. */
export function chunked(bytes: Uint8Array, chunkBytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunkBytes) out.push(bytes.subarray(i, Math.min(bytes.length, i + chunkBytes)));
  return out;
}

export function agentFrame(
  agent: Record<string, unknown>,
  ids: { run_id: string; agent_id: string; session_id: string },
): string {
  return `event: agent\ndata: ${JSON.stringify({ ...agent, ...ids })}\n\n`;
}
