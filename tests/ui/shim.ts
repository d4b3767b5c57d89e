// TEMPORARY stand-in for the server side of the run console (branch `console`), relay-side:
// console_read / console_act as calls of the model's tools, the ui:// resource from dist/app,
// and the tools/list additions. Deleted once `console` lands; never the final test.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const HTML = fileURLToPath(new URL("../../dist/app/run-console.html", import.meta.url));
const URI = "ui://loomcycle/run-console.html";

interface Rpc {
  id?: number | string;
  method?: string;
  params?: { name?: string; arguments?: Record<string, unknown>; uri?: string };
  result?: Record<string, unknown>;
}

export function makeShim(toBridge: (m: object) => void, toPage: (m: object) => void) {
  const methods = new Map<number | string, string>();
  const mine = new Map<string, (r: Rpc) => void>();
  let n = 0;
  const ask = (name: string, args: Record<string, unknown>, then: (r: Rpc) => void): void => {
    const id = `shim-${++n}`;
    mine.set(id, then);
    toBridge({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
  };
  const reply = (id: number | string | undefined, sc: Record<string, unknown>, isError = false, text = ""): void =>
    toPage({
      jsonrpc: "2.0",
      id,
      result: { content: [{ type: "text", text: text || JSON.stringify(sc) }], structuredContent: sc, isError },
    });
  return {
    fromPage(m: Rpc): boolean {
      if (m.id !== undefined && m.method) methods.set(m.id, m.method);
      if (m.method === "resources/read" && m.params?.uri === URI) {
        toPage({
          jsonrpc: "2.0",
          id: m.id,
          result: {
            contents: [
              {
                uri: URI,
                mimeType: "text/html;profile=mcp-app",
                text: readFileSync(HTML, "utf8"),
                _meta: { ui: { prefersBorder: true } },
              },
            ],
          },
        });
        return true;
      }
      if (m.method !== "tools/call") return false;
      const a = m.params?.arguments ?? {};
      if (m.params?.name === "console_read") {
        ask(
          "read_run_events",
          { run_id: a.run_id, cursor: a.cursor, wait_ms: a.wait_ms, wait_for: "any", max_chars: a.max_chars ?? 20000 },
          (r) => {
            const sc = (r.result?.structuredContent ?? {}) as Record<string, unknown>;
            if (r.result?.isError) return reply(m.id, {}, true, String((r.result.content as Array<{ text: string }>)[0]?.text));
            reply(m.id, { ...sc, agent: undefined });
          },
        );
        return true;
      }
      if (m.params?.name === "console_act") {
        const action = String(a.action);
        const [tool, args, msg] =
          action === "steer"
            ? ["send_steer", { run_id: a.run_id, text: a.text, wait_ms: 0 }, "Sent."]
            : action === "answer"
              ? [
                  "resolve_interrupt",
                  { run_id: a.run_id, interrupt_id: a.interrupt_id, answer: a.answer, wait_ms: 0 },
                  `Answered ${String(a.answer)}.`,
                ]
              : action === "decline"
                ? [
                    "resolve_interrupt",
                    { run_id: a.run_id, interrupt_id: a.interrupt_id, decline: true, wait_ms: 0 },
                    "Declined.",
                  ]
                : action === "cancel_turn"
                  ? ["cancel_turn", { run_id: a.run_id }, "Turn cancelled."]
                  : ["cancel_run", { run_id: a.run_id }, "Run cancelled."];
        ask(tool as string, args as Record<string, unknown>, (r) => {
          if (r.result?.isError) return reply(m.id, {}, true, String((r.result.content as Array<{ text: string }>)[0]?.text));
          const sc = (r.result?.structuredContent ?? {}) as Record<string, unknown>;
          reply(
            m.id,
            { run_id: a.run_id, action, done: true, state: sc.state ?? sc.final_state, message: msg },
            false,
            msg as string,
          );
        });
        return true;
      }
      return false;
    },
    fromBridge(m: Rpc): boolean {
      if (typeof m.id === "string" && mine.has(m.id)) {
        const then = mine.get(m.id)!;
        mine.delete(m.id);
        then(m);
        return true;
      }
      if (m.id !== undefined && methods.get(m.id) === "tools/list" && m.result) {
        const tools = m.result.tools as Array<Record<string, unknown>>;
        for (const t of tools)
          if (t.name === "start_interactive_run" || t.name === "attach_run") t._meta = { ui: { resourceUri: URI } };
        tools.push(
          { name: "console_read", inputSchema: { type: "object" }, _meta: { ui: { visibility: ["app"] } } },
          { name: "console_act", inputSchema: { type: "object" }, _meta: { ui: { visibility: ["app"] } } },
        );
      }
      return false;
    },
  };
}
