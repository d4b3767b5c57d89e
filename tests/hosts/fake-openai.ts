// A tiny scripted OpenAI-compatible model endpoint for host tests: POST
// /v1/chat/completions (streaming SSE or plain JSON) on 127.0.0.1. It plays a fixed
// script of tool calls against the loomcycle bridge's tools, deciding each step from
// the conversation it is sent (how many tool results it has seen), and records every
// request so a test can check exactly what the model was shown.
import { text } from "node:stream/consumers";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: Array<{ id: string; type?: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

export interface ChatRequest {
  model?: string;
  stream?: boolean;
  messages: ChatMessage[];
  tools?: Array<{ type: string; function: { name: string } }>;
}

/** One step of the script: call a tool (by the bridge's tool name) or answer with text. */
export type Step = { tool: string; args: (ctx: StepContext) => Record<string, unknown> } | { text: (ctx: StepContext) => string };

export interface StepContext {
  /** Texts of the tool results seen so far, oldest first (what the model was given). */
  toolResults: string[];
  /** The run_id found in the first tool result (start_interactive_run's). */
  runId: string | undefined;
}

export interface FakeModel {
  url: string;
  /** Every chat request received. */
  requests: ChatRequest[];
  /** Requests that carried the bridge's tools (the scripted conversation). */
  scripted: ChatRequest[];
  /** Tool names the host exposed (from the last scripted request). */
  toolNames: string[];
  close(): Promise<void>;
}

/** Text of a message's content, whatever shape the host sent (string or parts). */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) => (typeof p === "object" && p !== null && "text" in p ? String((p as { text: unknown }).text) : ""))
      .join("");
  }
  return content === undefined || content === null ? "" : JSON.stringify(content);
}

let seq = 0;

function reply(
  res: ServerResponse,
  stream: boolean,
  model: string,
  msg: { text?: string; toolCall?: { name: string; args: string } },
): void {
  const id = `chatcmpl-fake-${++seq}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 };
  const finish = msg.toolCall ? "tool_calls" : "stop";
  const callId = `call_fake_${seq}`;
  if (!stream) {
    const message: Record<string, unknown> = { role: "assistant", content: msg.text ?? null };
    if (msg.toolCall)
      message.tool_calls = [
        { id: callId, type: "function", function: { name: msg.toolCall.name, arguments: msg.toolCall.args } },
      ];
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message, finish_reason: finish }],
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  const chunk = (delta: Record<string, unknown>, finishReason: string | null, extra: Record<string, unknown> = {}): void => {
    res.write(
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finishReason }], ...extra })}\n\n`,
    );
  };
  chunk({ role: "assistant", content: "" }, null);
  if (msg.text) {
    // a few deltas, like a real model
    const words = msg.text.split(/(?<= )/);
    for (const w of words) chunk({ content: w }, null);
  }
  if (msg.toolCall) {
    chunk(
      { tool_calls: [{ index: 0, id: callId, type: "function", function: { name: msg.toolCall.name, arguments: "" } }] },
      null,
    );
    chunk({ tool_calls: [{ index: 0, function: { arguments: msg.toolCall.args } }] }, null);
  }
  chunk({}, finish, { usage });
  res.write("data: [DONE]\n\n");
  res.end();
}

/**
 * Starts the fake model. `script` is played in order: step i runs when the request holds
 * i tool results. Requests without the bridge's tools (e.g. a host's title generation)
 * get a short plain answer.
 */
export async function startFakeModel(script: Step[], opts: { toolSuffix?: string } = {}): Promise<FakeModel> {
  const suffix = opts.toolSuffix ?? "start_interactive_run";
  const requests: ChatRequest[] = [];
  const scripted: ChatRequest[] = [];
  let toolNames: string[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? "").split("?")[0];
      if (req.method === "GET" && path?.endsWith("/models")) {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "scripted", object: "model", owned_by: "fake" }] }));
        return;
      }
      if (req.method !== "POST" || !path?.endsWith("/chat/completions")) {
        res.writeHead(404, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { message: `fake model: no route ${req.method} ${req.url}` } }));
        return;
      }
      const body = JSON.parse(await text(req)) as ChatRequest;
      requests.push(body);
      const model = body.model ?? "scripted";
      const stream = body.stream === true;
      const names = (body.tools ?? []).map((t) => t.function.name);
      const startTool = names.find((n) => n.endsWith(suffix));
      if (!startTool) {
        reply(res, stream, model, { text: "loomcycle bridge test" });
        return;
      }
      scripted.push(body);
      toolNames = names;
      const prefix = startTool.slice(0, startTool.length - suffix.length);
      const toolResults = body.messages.filter((m) => m.role === "tool").map((m) => contentText(m.content));
      const runId = /\br_[0-9a-f]{16}\b/.exec(toolResults[0] ?? "")?.[0];
      const ctx: StepContext = { toolResults, runId };
      const step = script[Math.min(toolResults.length, script.length - 1)]!;
      if ("tool" in step)
        reply(res, stream, model, { toolCall: { name: prefix + step.tool, args: JSON.stringify(step.args(ctx)) } });
      else reply(res, stream, model, { text: step.text(ctx) });
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    scripted,
    get toolNames() {
      return toolNames;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
