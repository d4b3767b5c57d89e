// The stdio channel's failures, over the built binary (issue 19, item 2): a bad line is
// answered with a JSON-RPC error and the server keeps serving; stdin's end exits 0; a
// broken stdout exits 1 with an error line. Never a silent hang.
import { describe, expect, it } from "vitest";
import { StdioPeer, stateEnv } from "../stdio-peer.js";

const env = () => ({ ...stateEnv(), LOOMCYCLE_MCP_LOG_LEVEL: "info" });

describe("the stdio channel", () => {
  // Answered, not a logged exit: a host (or its model) that sent a huge prompt gets an
  // error for that one call and can send a smaller one; the runs the bridge follows and
  // the host's session go on. The answer carries the request's id, found while the line
  // is skipped (the SDK's client writes it last, after the params).
  it("answers a request over 10 MiB with an error for that request, keeps serving, and exits 0 on stdin's end", async () => {
    const p = new StdioPeer(env(), ["--sandbox"]);
    try {
      await p.initialize();
      const huge = "x".repeat(11 * 1024 * 1024);
      const answer = p.next((m) => m.id === 4242);
      p.proc.stdin.write(
        JSON.stringify({
          method: "tools/call",
          params: { name: "start_interactive_run", arguments: { agent: "echo", prompt: huge } },
          jsonrpc: "2.0",
          id: 4242,
        }) + "\n",
      );
      const a = await answer;
      expect(a.error?.code).toBe(-32600);
      expect(a.error?.message).toMatch(/this message is 11\.0 MiB, over the bridge's limit of 10\.0 MiB for one message/);
      expect(p.stderr).toMatch(/"id":4242,"code":-32600/);
      // later calls are served
      const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "after the big one" });
      expect(s.isError, s.text).toBe(false);
      expect(s.sc.state).toBe("awaiting_input");
      expect(p.nonJsonLines).toEqual([]);
      // and stdin's end still ends the process
      p.proc.stdin.end();
      expect((await p.exited).code).toBe(0);
    } finally {
      p.kill();
    }
  });

  it("answers lines that are not JSON or not JSON-RPC (parse error / invalid request) and keeps serving", async () => {
    const p = new StdioPeer(env(), ["--sandbox"]);
    try {
      await p.initialize();
      const parse = p.next((m) => m.error?.code === -32700);
      p.proc.stdin.write("{not json\n");
      expect((await parse).id).toBeNull();
      const notRpc = p.next((m) => m.error?.code === -32600 && m.id === null);
      p.proc.stdin.write('{"hello":"world"}\n');
      expect((await notRpc).error?.message).toMatch(/not a JSON-RPC 2\.0 message/);
      // an invalid request whose id can be told is answered to that id
      const withId = p.next((m) => m.id === 77);
      p.proc.stdin.write('{"jsonrpc":"2.0","id":77,"method":5}\n');
      expect((await withId).error?.code).toBe(-32600);
      // blank lines are skipped, not answered
      p.proc.stdin.write("\n\r\n");
      const agents = await p.callTool("list_agents", {});
      expect(agents.isError, agents.text).toBe(false);
      expect(p.messages.filter((m) => m.error !== undefined)).toHaveLength(3);
      expect(p.nonJsonLines).toEqual([]);
    } finally {
      p.kill();
    }
  });

  it("exits 1 with an error line when stdout breaks (the host stopped reading)", async () => {
    const p = new StdioPeer(env(), ["--sandbox"]);
    try {
      await p.initialize();
      p.proc.stdout.destroy();
      p.send("tools/list", {}, 5000).reply.catch(() => undefined); // its answer hits the closed pipe
      const exit = await p.exited;
      expect(exit.code).toBe(1);
      expect(p.stderr).toMatch(/"level":50.*stdout failed: EPIPE/);
    } finally {
      p.kill();
    }
  });
});
