// The opening prompt as loomcycle keeps it (findings item 4, against v1.59): never trimmed.
// The tail's first `steer` is the agent's system prompt, "\n", then the prompt byte for
// byte; the transcript's first user_input row holds the system and user segments as given;
// the model gets the prompt untrimmed. A steer (POST …/input) is trimmed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { AGENTS } from "../../src/sim/agents.js";
import { api, startInteractive } from "./sim-helpers.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0, keepaliveMs: 0 });
});
afterAll(async () => {
  await sim.close();
});

describe("the opening prompt, as loomcycle keeps it", () => {
  it.each(["  Hello there,\n  second line  \n", "\n\n  echo me  \n", "trailing newline\n", "\tindented"])(
    "%j: replayed as system prompt + \\n + prompt, byte for byte, and answered untrimmed",
    async (prompt) => {
      const system = AGENTS.get("echo")!.systemPrompt;
      const r = await startInteractive(sim, { agent: "echo", prompt });
      await r.sse.waitFor((f) => f.event === "awaiting_input");
      const steer = r.sse.frames.find((f) => f.event === "steer")!;
      expect(steer.data).toEqual({ type: "steer", user_input: { text: `${system}\n${prompt}`, source: "replay" } });
      const reply = r.sse.frames
        .filter((f) => f.event === "text")
        .map((f) => String(f.data.text))
        .join("");
      expect(reply).toBe(`You said: ${prompt}`);
      const tr = (await api(sim, "GET", `/v1/sessions/${r.sessionId}/transcript`)).json() as {
        events: Array<{ run_id: string; type: string; payload: unknown }>;
      };
      const first = tr.events.find((e) => e.run_id === r.runId && e.type === "user_input")!;
      expect(first.payload).toEqual([
        { role: "system", content: [{ type: "trusted-text", text: system, cacheable: true }] },
        { role: "user", content: [{ type: "trusted-text", text: prompt }] },
      ]);
      // A steer, unlike the opening prompt, is trimmed.
      expect((await api(sim, "POST", `/v1/runs/${r.runId}/input`, { text: "  steer me, please  \n" })).status).toBe(200);
      await r.sse.waitFor((f) => f.event === "steer" && f !== steer);
      const later = r.sse.frames.filter((f) => f.event === "steer")[1]!;
      expect((later.data.user_input as { text: string }).text).toBe("steer me, please");
      await api(sim, "POST", `/v1/agents/${r.agentId}/cancel`);
      await r.sse.ended;
    },
  );
});
