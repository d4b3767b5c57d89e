// Each command speaks for itself (issue 19, frictions): `COMMAND --help` prints that
// command's usage, a wrong option names that command's options, and `state` lists and
// prunes the state files that keep read positions.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config.js";
import { runState } from "../../src/cli/state.js";
import { BIN, runBin, runCommand } from "./run-bin.js";

function mistake(argv: string[]): string {
  try {
    parseConfig(argv, {});
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error(`no mistake in ${argv.join(" ")}`);
}

describe("COMMAND --help is that command's usage", () => {
  it.each([
    [["doctor", "--help"], "doctor"],
    [["help", "config"], "config"],
    [["--help", "demo"], "demo"],
    [["state", "-h"], "state"],
    [["config", "claude-code", "--help"], "config"],
  ])("%j → %s", (argv, about) => {
    expect(parseConfig(argv, {})).toMatchObject({ command: "help", arg: about });
  });

  it.each(["doctor", "config", "demo", "sim", "state"])("%s --help", async (command) => {
    const r = await runCommand([command, "--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: loomcycle-mcp-bridge ${command}\\b`));
    expect(r.stdout).not.toMatch(/serve MCP over stdio/); // not the global help
    expect(r.stderr).toBe("");
  });

  it("over the built binary, COMMAND --help prints the same usage", async () => {
    const [bin, inProcess] = await Promise.all([runBin(["state", "--help"]), runCommand(["state", "--help"])]);
    expect(bin.code, bin.stderr).toBe(0);
    expect(bin.stdout).toBe(inProcess.stdout);
    expect(bin.stderr).toBe("");
  });

  it("demo --help documents --speed; demo takes a factor of 0 or more", async () => {
    expect((await runCommand(["demo", "--help"])).stdout).toMatch(/^ +--speed X +multiplies/m);
    expect(parseConfig(["demo", "--speed", "0.05"], {}).speed).toBe(0.05);
    expect(parseConfig(["demo"], {}).speed).toBeUndefined();
    for (const bad of ["fast", "-1", "Infinity"])
      expect(mistake(["demo", `--speed=${bad}`])).toBe(
        `--speed "${bad}" is not a factor: give a number of 0 or more (1: the demo's own pace, 0.05: twenty times faster, 0: as fast as possible)`,
      );
  });

  it("sim --help describes every option it takes", async () => {
    const r = await runCommand(["sim", "--help"]);
    for (const o of ["--port", "--host", "--token", "--tail-poll-ms", "--keepalive-ms", "--speed", "--seed"])
      expect(r.stdout).toMatch(new RegExp(`^  ${o} \\S+ +\\S`, "m"));
  });

  it("help for something that is not a command says so", () => {
    expect(mistake(["help", "doctr"])).toBe(
      'no help for "doctr"; did you mean "doctor"? (commands: doctor, config, demo, sim, state)',
    );
  });
});

describe("a wrong option names the command's options", () => {
  it.each([
    [
      ["doctor", "--sandbx"],
      "unknown option --sandbx (doctor takes --base-url, --token-file, --user-id, --log-level, --help; see doctor --help)",
    ],
    [
      ["--sandbx", "doctor"],
      "unknown option --sandbx (doctor takes --base-url, --token-file, --user-id, --log-level, --help; see doctor --help)",
    ],
    [
      ["doctor", "--user_id", "u_1"],
      "unknown option --user_id; did you mean --user-id? (doctor takes --base-url, --token-file, --user-id, --log-level, --help; see doctor --help)",
    ],
    [
      ["config", "claude-code", "--sandbx"],
      "unknown option --sandbx; did you mean --sandbox? (config takes --sandbox, --base-url, --token-file, --user-id, --log-level, --help; see config --help)",
    ],
    [["demo", "--verbose"], "unknown option --verbose (demo takes --speed, --help; see demo --help)"],
    [["demo", "--sped", "0.1"], "unknown option --sped; did you mean --speed? (demo takes --speed, --help; see demo --help)"],
    [["state", "--all"], "unknown option --all (state takes no options but --help; see state --help)"],
    [
      ["--baseUrl", "http://h:1"],
      "unknown option --baseUrl; did you mean --base-url? (options: --sandbox, --base-url, --token-file, --user-id, --log-level, --help, --version; see --help)",
    ],
    [
      ["doctor", "--sandbox"],
      expect.stringMatching(
        /^doctor does not take --sandbox: .* \(doctor takes --base-url, --token-file, --user-id, --log-level, --help\)$/,
      ),
    ],
    [
      ["demo", "--base-url", "http://h"],
      expect.stringMatching(/^demo does not take --base-url: .* \(demo takes --speed, --help\)$/),
    ],
  ])("%j", (argv, line) => {
    expect(mistake(argv as string[])).toEqual(line);
  });
});

describe("state: the files that keep read positions", () => {
  const day = 86_400_000;
  function stateHome(): { env: NodeJS.ProcessEnv; dir: string } {
    const home = mkdtempSync(join(tmpdir(), "lcb-state-cmd-"));
    const dir = join(home, "loomcycle-mcp-bridge");
    mkdirSync(dir);
    const file = (name: string, baseUrl: string, ageDays: number) =>
      writeFileSync(
        join(dir, name),
        JSON.stringify({
          version: 1,
          base_url: baseUrl,
          user_id: "u_1",
          runs: { r_0b1c2d3e4f5a6b7c: { read_pos: 1, updated_at: new Date(Date.now() - ageDays * day).toISOString() } },
        }),
      );
    file("127.0.0.1_8787-aaaaaaaaaaaaaaaa.json", "http://127.0.0.1:8787", 1);
    file("127.0.0.1_41235-bbbbbbbbbbbbbbbb.json", "http://127.0.0.1:41235", 1);
    file("127.0.0.1_39001-cccccccccccccccc.json", "http://127.0.0.1:39001", 20);
    writeFileSync(join(dir, "127.0.0.1_39002-dddddddddddddddd.json"), "{ not json");
    writeFileSync(join(dir, "127.0.0.1_8787-aaaaaaaaaaaaaaaa.json.4242.tmp"), "{");
    return { env: { XDG_STATE_HOME: home }, dir };
  }
  const run = (argv: string[], env: NodeJS.ProcessEnv): { code: number; out: string } => {
    const lines: string[] = [];
    const code = runState(parseConfig(argv, env), env, (l) => lines.push(l));
    return { code, out: lines.join("\n") };
  };

  it("state lists every file with its base URL, runs and last use, and marks the stale ones", () => {
    const { env, dir } = stateHome();
    const { code, out } = run(["state"], env);
    expect(code).toBe(0);
    expect(out).toContain(`state files in ${dir}:`);
    expect(out).toMatch(
      /http:\/\/127\.0\.0\.1:8787 +user "u_1" +1 run +last used \d{4}-\d\d-\d\dT[\d:]+Z +127\.0\.0\.1_8787-a+\.json$/m,
    );
    expect(out).toMatch(/127\.0\.0\.1_39001-c+\.json +\(stale: nothing used for 14 days\)$/m);
    expect(out).toMatch(/127\.0\.0\.1_39002-d+\.json +\(stale: unreadable/m);
    expect(out).toMatch(/\.4242\.tmp +\(stale: an unfinished write\)$/m);
    expect(out).toMatch(/^3 stale: `loomcycle-mcp-bridge state prune` removes them$/m);
    expect(readdirSync(dir)).toHaveLength(5); // listing changes nothing
  });

  it("state prune removes the stale ones; state prune BASE_URL… the files of those URLs", () => {
    const { env, dir } = stateHome();
    expect(run(["state", "prune"], env).code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["127.0.0.1_41235-bbbbbbbbbbbbbbbb.json", "127.0.0.1_8787-aaaaaaaaaaaaaaaa.json"]);
    const named = run(["state", "prune", "http://127.0.0.1:41235/", "http://127.0.0.1:1"], env);
    expect(named.code).toBe(0);
    expect(named.out).toMatch(/^removed 127\.0\.0\.1_41235-b+\.json \(http:\/\/127\.0\.0\.1:41235: named\)$/m);
    expect(named.out).toMatch(/^no state file for http:\/\/127\.0\.0\.1:1$/m);
    expect(readdirSync(dir)).toEqual(["127.0.0.1_8787-aaaaaaaaaaaaaaaa.json"]);
    expect(run(["state", "prune"], env).out).toBe(`nothing to prune in ${dir}`);
  });

  it("an empty or missing state directory is said plainly", () => {
    const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "lcb-state-none-")) };
    expect(run(["state", "list"], env).out).toMatch(/^no state files in .*loomcycle-mcp-bridge$/);
  });

  it("mistakes get one line", () => {
    expect(mistake(["state", "lst"])).toBe(
      'unknown action "lst" for state (did you mean "list"?): use state list, or state prune [BASE_URL…]',
    );
    expect(mistake(["state", "prune", "ftp://x"])).toMatch(/^state prune "ftp:\/\/x" must start with http:\/\/ or https:\/\//);
    expect(mistake(["state", "list", "x"])).toBe('unexpected argument "x" after state list (see state --help)');
  });
});

describe("a human-facing command whose reader goes away", () => {
  it("stops quietly when stdout closes early (`doctor | head -1`), without an EPIPE stack trace", async () => {
    const p = spawn(process.execPath, [BIN, "doctor"], {
      env: { PATH: process.env.PATH ?? "", LOOMCYCLE_BASE_URL: "http://127.0.0.1:1" },
    });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    p.stdout.once("data", () => p.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => p.on("exit", resolve));
    expect(err).toBe("");
    expect(code === 0 || code === 1).toBe(true);
  });
});
