// The run console from the built binary over stdio: a host that declares MCP Apps gets the
// console's tools and page (found from dist/cli/ as a host runs the bin), and the serve path
// carries none of the app's own code.
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { BIN, StdioPeer, stateEnv, toolReply } from "../stdio-peer.js";

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.05 });
});
afterAll(async () => {
  await sim?.close();
});

describe("the run console, from the built binary", () => {
  it("a host declaring MCP Apps lists the console's tools, reads its page and follows a run through it", async () => {
    const p = new StdioPeer({ ...stateEnv(), LOOMCYCLE_BASE_URL: sim.url, LOOMCYCLE_AUTH_TOKEN: sim.token });
    try {
      await p.request("initialize", {
        protocolVersion: "2025-06-18",
        capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: ["text/html;profile=mcp-app"] } } },
        clientInfo: { name: "apps-host", version: "1" },
      });
      p.notify("notifications/initialized");
      const tools = (await p.request("tools/list")).result as { tools: Array<{ name: string; _meta?: unknown }> };
      expect(tools.tools.find((t) => t.name === "console_read")?._meta).toEqual({ ui: { visibility: ["app"] } });
      expect(tools.tools.find((t) => t.name === "start_interactive_run")?._meta).toMatchObject({
        ui: { resourceUri: "ui://loomcycle/run-console.html" },
      });
      const page = await p.request("resources/read", { uri: "ui://loomcycle/run-console.html" });
      const contents = (page.result as { contents: Array<{ mimeType: string; text: string }> }).contents;
      expect(contents[0]!.mimeType).toBe("text/html;profile=mcp-app");
      expect(contents[0]!.text).toBe(readFileSync(join(dirname(BIN), "..", "app", "run-console.html"), "utf8"));
      const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "watch me" });
      const runId = String(s.sc.run_id);
      const act = await p.callTool("console_act", { run_id: runId, action: "steer", text: "the person" });
      expect(act.isError, act.text).toBe(false);
      const r = toolReply(
        await p.request("tools/call", { name: "console_read", arguments: { run_id: runId, cursor: 0, wait_ms: 5000 } }),
        0,
      );
      expect(r.isError, r.text).toBe(false);
      expect(p.nonJsonLines).toEqual([]);
    } finally {
      p.kill();
    }
  });

  it("a host without MCP Apps does not see the console's tools", async () => {
    const p = new StdioPeer({ ...stateEnv(), LOOMCYCLE_BASE_URL: sim.url, LOOMCYCLE_AUTH_TOKEN: sim.token });
    try {
      await p.initialize();
      const tools = (await p.request("tools/list")).result as { tools: Array<{ name: string }> };
      expect(tools.tools.map((t) => t.name).filter((n) => n.startsWith("console_"))).toEqual([]);
    } finally {
      p.kill();
    }
  });

  it("the serve path (the bin and the chunks it imports at start) carries no MCP Apps view code and no React", () => {
    const text = readFileSync(BIN, "utf8");
    const chunks = [...text.matchAll(/from\s*"\.\/(chunk-[^"]+\.js)"/g)].map((m) => m[1]!);
    const serve = [text, ...chunks.map((c) => readFileSync(join(dirname(BIN), c), "utf8"))].join("\n");
    // ext-apps' App (the iframe side) and its PostMessage transport; React's element marker.
    for (const marker of ["setupSizeChangedNotifications", "ui/notifications/initialized", "react.element", "react.transitional"])
      expect(serve.includes(marker), marker).toBe(false);
    // The page itself is a file beside the bundle, read when a host first asks for it.
    expect(serve.includes("<!doctype html>")).toBe(false);
    expect(statSync(join(dirname(BIN), "..", "app", "run-console.html")).size).toBeGreaterThan(0);
  });
});
