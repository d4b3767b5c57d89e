// Nothing `demo` or `--sandbox` does touches the user's state directory (issue 11,
// defect 6): run with an empty HOME, both leave it empty.
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runBin } from "../cli/run-bin.js";
import { StdioPeer } from "../stdio-peer.js";

/** Every file and directory under `dir`, relative. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String);
}

describe("the user's state", () => {
  it("demo leaves HOME untouched, and ignores the user's LOOMCYCLE_* settings", { timeout: 90_000 }, async () => {
    const home = mkdtempSync(join(tmpdir(), "lcb-home-"));
    // Twenty times its agents' pace: the same session, the same calls.
    const r = await runBin(
      ["demo", "--speed", "0.05"],
      { HOME: home, LOOMCYCLE_AUTH_TOKEN_FILE: join(home, "no-such-token-file") },
      80_000,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Done\./);
    // The one error is the scripted answer that is not one of the question's options.
    expect(r.stdout.match(/← error/g)).toHaveLength(1);
    expect(r.stdout).toMatch(/← error \(\d+ ms\): The answer must be one of the question's options/);
    // Every step of the session ran, in order.
    expect([...r.stdout.matchAll(/^(\d+)\. /gm)].map((m) => Number(m[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(tree(home)).toEqual([]);
  });

  it("--sandbox leaves HOME untouched", { timeout: 30_000 }, async () => {
    const home = mkdtempSync(join(tmpdir(), "lcb-home-"));
    const p = new StdioPeer({ HOME: home }, ["--sandbox"]);
    try {
      await p.initialize();
      const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "sandboxed" });
      expect(s.isError, s.text).toBe(false);
      await p.callTool("read_run_events", { run_id: String(s.sc.run_id) });
    } finally {
      p.kill();
    }
    await p.exited;
    expect(tree(home)).toEqual([]);
  });
});
