// questions: "human" end to end: the built binary over stdio, the SDK Client as the
// host (declaring form elicitation), LOOMCYCLE_MCP_QUESTIONS=human from the environment.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema, type CallToolResult, type ElicitRequest } from "@modelcontextprotocol/sdk/types.js";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { BIN } from "../stdio-peer.js";

let sim: Simulator;
const TOKEN = "lc_tok_e2e_questions_0123456789";
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.05, token: TOKEN });
});
afterAll(async () => {
  await sim?.close();
});

describe("agent questions to the person over stdio", () => {
  it("asks with elicitation/create, answers the run with the person's choice, and says so in the result", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN],
      env: {
        PATH: process.env.PATH ?? "",
        XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "lcb-e2e-q-")),
        LOOMCYCLE_BASE_URL: sim.url,
        LOOMCYCLE_AUTH_TOKEN: TOKEN,
        LOOMCYCLE_USER_ID: "u_e2e",
        LOOMCYCLE_MCP_LOG_LEVEL: "warn",
        LOOMCYCLE_MCP_QUESTIONS: "human",
      },
      stderr: "pipe",
    });
    const client = new Client({ name: "e2e-host", version: "1" }, { capabilities: { elicitation: { form: {} } } });
    const asked: ElicitRequest[] = [];
    client.setRequestHandler(ElicitRequestSchema, (req) => {
      asked.push(req);
      return { action: "accept", content: { answer: "no" } };
    });
    try {
      await client.connect(transport);
      const res = (await client.callTool({
        name: "start_interactive_run",
        arguments: { agent: "asker", prompt: "deploy now" },
      })) as CallToolResult;
      const sc = res.structuredContent as Record<string, unknown>;
      expect(res.isError ?? false).toBe(false);
      expect(asked).toHaveLength(1);
      expect((asked[0]!.params as { message: string }).message).toContain("Proceed?");
      expect(sc.state).toBe("awaiting_input");
      expect(sc.questions_to_person).toEqual([
        expect.objectContaining({ question: "Proceed?", outcome: "answered", answer: "no" }),
      ]);
      const text = res.content[0]?.type === "text" ? res.content[0].text : "";
      expect(text).toMatch(/answered by the person: "no"/);
      expect(text).toContain("Answer was no");
    } finally {
      await client.close();
    }
  });
});
