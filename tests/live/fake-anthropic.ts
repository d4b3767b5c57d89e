// A scripted Anthropic Messages API for the live tier: loomcycle's `anthropic` driver,
// pointed here by `base_url`, streams replies shaped like a real model's (message_start,
// many small text_delta frames, tool_use blocks with input_json_delta, message_delta with
// usage and stop_reason). The `model` of the request picks the script, so one server
// serves every agent in tests/live/loomcycle.yaml. Run it on its own:
//   node --import tsx tests/live/fake-anthropic.ts --port 8799
// and it prints `fake anthropic listening on <url>`.
import { text } from "node:stream/consumers";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";

interface Block {
  type: string;
  text?: string;
  content?: unknown;
}
interface Message {
  role: string;
  content: string | Block[];
}
interface MessagesRequest {
  model: string;
  messages: Message[];
  system?: Array<{ text?: string }> | string;
}

export const MODELS = ["echo", "longtalk", "toolish", "compactfail", "failing"] as const;

/** The scripted reply text of one turn, before it is cut into deltas. */
type Turn =
  | { kind: "text"; text: string; deltaChars: number; delayMs: number }
  | { kind: "tool"; text: string; tool: string; input: Record<string, unknown> }
  | { kind: "http_error"; status: number; message: string };

function blocks(m: Message): Block[] {
  return typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
}

/** Text of the latest operator turn (a user message that is not tool results). */
function lastUserText(messages: Message[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== "user") continue;
    const bs = blocks(m);
    if (bs.some((b) => b.type === "tool_result")) continue;
    return bs
      .filter((b) => b.type === "text")
      .map((b) => b.text ?? "")
      .join("\n");
  }
  return "";
}

function endsWithToolResult(messages: Message[]): boolean {
  const last = messages[messages.length - 1];
  return last !== undefined && last.role === "user" && blocks(last).some((b) => b.type === "tool_result");
}

/** About `words` words of deterministic prose: "word1 word2 …" with a sentence every 12 words. */
export function longText(words: number): string {
  const out: string[] = [];
  for (let i = 1; i <= words; i++) out.push(i % 12 === 0 ? `word${i}.` : `word${i}`);
  return out.join(" ");
}

export interface FakeOptions {
  /** Delay between deltas of a long reply, ms. */
  longDeltaMs?: number;
}

export function script(req: MessagesRequest, opts: FakeOptions = {}): Turn {
  const first = req.messages[0];
  const firstText = first
    ? blocks(first)
        .map((b) => b.text ?? "")
        .join("")
    : "";
  const summarizing = firstText.startsWith("Conversation to compact:");
  if (summarizing) {
    return req.model === "compactfail"
      ? { kind: "http_error", status: 400, message: "scripted summary failure" }
      : { kind: "text", text: "Summary: the operator and the agent talked.", deltaChars: 8, delayMs: 1 };
  }
  const said = lastUserText(req.messages);
  const echo = (text: string): Turn => ({ kind: "text", text, deltaChars: 4, delayMs: 5 });
  switch (req.model) {
    case "failing":
      return { kind: "http_error", status: 400, message: "scripted model failure" };
    case "longtalk":
      // The opening turn and any steer asking for "long" get ~3,000 words in ~1,000 deltas.
      if (req.messages.length === 1 || /\blong\b/i.test(said)) {
        return { kind: "text", text: longText(3000), deltaChars: 24, delayMs: opts.longDeltaMs ?? 10 };
      }
      return echo(`You said: ${said}`);
    case "toolish":
      if (endsWithToolResult(req.messages)) return echo("The tool answered.");
      return { kind: "tool", text: "Let me look.", tool: "Context", input: { op: "self" } };
    case "compactfail":
      // Asks for its own compaction (Context op=compact); the summary call then fails, which
      // loomcycle reports as a non-terminal `error` frame before the next model call.
      if (endsWithToolResult(req.messages)) return echo("Still here after the compaction attempt.");
      if (/\bcompact\b/i.test(said)) return { kind: "tool", text: "Compacting.", tool: "Context", input: { op: "compact" } };
      return echo(`You said: ${said}`);
    default:
      return echo(`You said: ${said}`);
  }
}

function sse(res: ServerResponse, event: string, data: unknown): boolean {
  return res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

async function stream(
  res: ServerResponse,
  req: MessagesRequest,
  turn: Exclude<Turn, { kind: "http_error" }>,
  signal: AbortSignal,
): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const inputTokens = 40 + JSON.stringify(req.messages).length / 4;
  let outputTokens = 0;
  sse(res, "message_start", {
    type: "message_start",
    message: {
      id: `msg_${Date.now()}`,
      type: "message",
      role: "assistant",
      model: req.model,
      content: [],
      usage: { input_tokens: Math.round(inputTokens), output_tokens: 1 },
    },
  });
  sse(res, "content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
  const text = turn.text;
  const step = turn.kind === "text" ? turn.deltaChars : 4;
  const delay = turn.kind === "text" ? turn.delayMs : 2;
  for (let i = 0; i < text.length; i += step) {
    if (signal.aborted) return;
    sse(res, "content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: text.slice(i, i + step) },
    });
    outputTokens++;
    await sleep(delay, undefined, { signal }).catch(() => undefined);
  }
  sse(res, "content_block_stop", { type: "content_block_stop", index: 0 });
  let stopReason = "end_turn";
  if (turn.kind === "tool") {
    const id = `toolu_${Date.now().toString(36)}`;
    sse(res, "content_block_start", {
      type: "content_block_start",
      index: 1,
      content_block: { type: "tool_use", id, name: turn.tool, input: {} },
    });
    const json = JSON.stringify(turn.input);
    for (let i = 0; i < json.length; i += 5) {
      sse(res, "content_block_delta", {
        type: "content_block_delta",
        index: 1,
        delta: { type: "input_json_delta", partial_json: json.slice(i, i + 5) },
      });
    }
    sse(res, "content_block_stop", { type: "content_block_stop", index: 1 });
    stopReason = "tool_use";
  }
  sse(res, "message_delta", {
    type: "message_delta",
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { input_tokens: Math.round(inputTokens), output_tokens: outputTokens },
  });
  sse(res, "message_stop", { type: "message_stop" });
  res.end();
}

export interface FakeAnthropic {
  url: string;
  /** Models of the requests received, in order (summaries as "<model>:summary"). */
  calls: string[];
  close(): Promise<void>;
}

export async function startFakeAnthropic(port = 0, opts: FakeOptions = {}): Promise<FakeAnthropic> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === "GET" && req.url?.startsWith("/v1/models")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ data: MODELS.map((id) => ({ id, type: "model" })), has_more: false }));
        return;
      }
      if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: "not found" } }));
        return;
      }
      const body = JSON.parse(await text(req)) as MessagesRequest;
      const turn = script(body, opts);
      calls.push(body.model);
      if (turn.kind === "http_error") {
        res.writeHead(turn.status, { "content-type": "application/json" });
        res.end(JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: turn.message } }));
        return;
      }
      const ac = new AbortController();
      res.on("close", () => ac.abort());
      await stream(res, body, turn, ac.signal);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (isMain) {
  const { values } = parseArgs({
    options: { port: { type: "string", default: "8799" }, "long-delta-ms": { type: "string", default: "10" } },
  });
  const fake = await startFakeAnthropic(Number(values.port), { longDeltaMs: Number(values["long-delta-ms"]) });
  process.stdout.write(`fake anthropic listening on ${fake.url}\n`);
}
