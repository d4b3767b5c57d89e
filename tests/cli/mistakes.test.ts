// Mistakes a new user made in review, each answered with one line that says what was given
// and how to fix it.
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError, parseConfig } from "../../src/config.js";
import { runSim } from "../../src/sim/cli.js";
import { startHarness, type Harness } from "../tools/harness.js";

describe("sim", () => {
  it("a port already in use is one line naming it and the fix, exit 2", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
    const port = (busy.address() as AddressInfo).port;
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await runSim(["--port", String(port)])).toBe(2);
      const out = err.mock.calls.map((c) => String(c[0])).join("");
      expect(out.trim().split("\n")).toHaveLength(1);
      expect(out).toContain(`something already listens on 127.0.0.1:${port}`);
      expect(out).toContain("--port 0");
    } finally {
      err.mockRestore();
      busy.close();
    }
  });

  it("a port out of range is refused before listening", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await runSim(["--port", "99999"])).toBe(2);
      expect(err.mock.calls.map((c) => String(c[0])).join("")).toMatch(
        /^loomcycle-mcp-bridge sim: --port 99999 is not a TCP port/,
      );
    } finally {
      err.mockRestore();
    }
  });
});

describe("configuration", () => {
  it("a base URL with credentials is refused without echoing the password", () => {
    let msg = "";
    try {
      parseConfig(["--base-url", "http://user:s3cret@127.0.0.1:8787", "doctor"], {});
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      msg = (e as Error).message;
    }
    expect(msg).toContain("carries credentials");
    expect(msg).toContain("user:***@127.0.0.1:8787");
    expect(msg).not.toContain("s3cret");
  });
});

describe("tool mistakes", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it("an unknown agent points at list_agents", async () => {
    const r = await h.call("start_interactive_run", { agent: "lc-echo", prompt: "hi" });
    expect(r.isError).toBe(true);
    expect(r.text).toContain("list_agents");
  });

  it("a cursor past the end names the last cursor and the end", async () => {
    const s = await h.call("start_interactive_run", { agent: "echo", prompt: "count me" });
    const end = Number(s.sc.next_cursor);
    const r = await h.call("read_run_events", { run_id: String(s.sc.run_id), cursor: end + 5 });
    expect(r.isError).toBe(true);
    expect(r.text).toContain(`(cursors 0 … ${end - 1}; ${end} is its end)`);
  });
});
