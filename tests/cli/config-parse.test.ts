// Configuration mistakes a person makes (issue 11, defect 4): each is one line naming
// what was typed (the flag or the variable, as given) and how to fix it; parseConfig is
// the one place that parses, the CLI prints the line and exits 2.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config.js";
import { didYouMean } from "../../src/did-you-mean.js";

const dir = mkdtempSync(join(tmpdir(), "lcb-cfg-"));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function mistake(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg.split("\n")).toHaveLength(1);
    return msg;
  }
  throw new Error(`no error for ${JSON.stringify(argv)} ${JSON.stringify(env)}`);
}

describe("parseConfig", () => {
  it("reads flags over env, and the defaults", () => {
    const c = parseConfig(["--base-url", "https://loom.example.com:9443/", "--user-id=u_1"], {
      LOOMCYCLE_BASE_URL: "http://other:1",
      LOOMCYCLE_USER_ID: "u_env",
    });
    expect(c).toMatchObject({
      command: "serve",
      baseUrl: "https://loom.example.com:9443",
      userId: "u_1",
      logLevel: "info",
      sandbox: false,
    });
    expect(c.flags).toEqual({ baseUrl: "https://loom.example.com:9443", userId: "u_1" });
    expect(parseConfig([], {})).toMatchObject({ baseUrl: "http://127.0.0.1:8787", token: undefined, userId: undefined });
  });

  it("accepts --sandbox=true and --sandbox=false; refuses another value", () => {
    expect(parseConfig(["--sandbox=true"], {}).sandbox).toBe(true);
    expect(parseConfig(["--sandbox=false"], {}).sandbox).toBe(false);
    expect(mistake(["--sandbox=maybe"])).toMatch(/--sandbox takes no value.*got --sandbox=maybe/);
  });

  it("an empty, missing, unreadable or placeholder token file is a mistake, named by where it was set — never a silent 'no token'", () => {
    const empty = file("empty", "\n");
    expect(mistake([], { LOOMCYCLE_AUTH_TOKEN: "good", LOOMCYCLE_AUTH_TOKEN_FILE: empty })).toMatch(
      /^LOOMCYCLE_AUTH_TOKEN_FILE names ".*empty", which is empty/,
    );
    expect(mistake(["--token-file", empty], { LOOMCYCLE_AUTH_TOKEN: "good" })).toMatch(
      /^--token-file names ".*empty", which is empty/,
    );
    const missing = mistake(["--token-file", join(dir, "nope")]);
    expect(missing).toMatch(/^--token-file names ".*nope", but there is no such file/);
    expect(missing).not.toMatch(/ENOENT/);
    expect(mistake(["--token-file", dir])).toMatch(/is a directory/);
    expect(mistake([], { LOOMCYCLE_AUTH_TOKEN_FILE: "/path/to/loomcycle-token" })).toMatch(/placeholder/);
    expect(mistake(["--token-file", file("two", "abc\ndef\n")])).toMatch(/more than one word or line/);
    expect(mistake([], { LOOMCYCLE_AUTH_TOKEN: "abc def" })).toMatch(/^LOOMCYCLE_AUTH_TOKEN holds spaces/);
    const ok = parseConfig(["--token-file", file("tok", "lc_tok_1\n")], { LOOMCYCLE_AUTH_TOKEN: "other" });
    expect(ok.token).toBe("lc_tok_1");
    expect(ok.tokenSource).toMatch(/^--token-file /);
  });

  it("refuses a base URL with a path, query, credentials or another scheme, naming the flag or variable used", () => {
    expect(mistake([], { LOOMCYCLE_BASE_URL: "http://h:8787/v1" })).toMatch(
      /^LOOMCYCLE_BASE_URL "http:\/\/h:8787\/v1" has a path \(\/v1\): give loomcycle's root URL, http:\/\/h:8787/,
    );
    expect(mistake(["--base-url", "http://h/v1/"])).toMatch(/^--base-url "http:\/\/h\/v1\/" has a path/);
    expect(mistake(["--base-url", "http://h/?x=1"])).toMatch(/query/);
    expect(mistake(["--base-url", "http://u:secret@h"])).toMatch(/credentials/);
    expect(mistake(["--base-url", "ftp://h"])).toMatch(/^--base-url "ftp:\/\/h" must start with http/);
    expect(mistake(["--base-url", "localhost:8787"])).toMatch(/^--base-url "localhost:8787"/);
  });

  it("names the flag when the flag was used, the variable otherwise", () => {
    expect(mistake(["--user-id", "a b"])).toMatch(/^--user-id "a b" is not a loomcycle user id/);
    expect(mistake([], { LOOMCYCLE_USER_ID: "a b" })).toMatch(/^LOOMCYCLE_USER_ID "a b"/);
    expect(mistake(["--log-level", "inf"])).toMatch(/^--log-level "inf" is not a log level \(did you mean "info"\?\)/);
    expect(mistake([], { LOOMCYCLE_MCP_LOG_LEVEL: "loud" })).toMatch(/^LOOMCYCLE_MCP_LOG_LEVEL "loud"/);
  });

  it("--token points at the environment variable; unknown options and commands get a did-you-mean", () => {
    expect(mistake(["--token", "abc"])).toMatch(/there is no --token option.*LOOMCYCLE_AUTH_TOKEN.*--token-file/);
    expect(mistake(["--token=abc"])).not.toMatch(/abc/);
    expect(mistake(["--sandbx"])).toMatch(/unknown option --sandbx; did you mean --sandbox\?/);
    expect(mistake(["--base-ur", "x"])).toMatch(/did you mean --base-url\?/);
    expect(mistake(["doctr"])).toMatch(/unknown command "doctr"; did you mean "doctor"\?/);
    expect(mistake(["config", "claude-cod"])).toMatch(/did you mean "claude-code"\?/);
    expect(mistake(["config"])).toMatch(/config needs a host/);
    expect(mistake(["--base-url", "--sandbox"])).toMatch(/--base-url needs a value \(got the option --sandbox instead\)/);
    expect(mistake(["doctor", "extra"])).toMatch(/unexpected argument "extra"/);
    expect(didYouMean("zzzz", ["doctor", "config", "demo"])).toBeUndefined();
  });

  it("help and version typed as words do what --help and --version do", () => {
    expect(parseConfig(["help"], {}).command).toBe("help");
    expect(parseConfig(["version"], {}).command).toBe("version");
    expect(parseConfig(["help"], {}).command).toBe(parseConfig(["--help"], {}).command);
    expect(mistake(["hlep"])).toMatch(/unknown command "hlep"; did you mean "help"\?/);
  });

  it("a command refuses the options it cannot honour instead of dropping them", () => {
    expect(mistake(["demo", "--base-url", "http://h"])).toMatch(/^demo does not take --base-url/);
    expect(mistake(["doctor", "--sandbox"])).toMatch(/^doctor does not take --sandbox/);
    expect(parseConfig(["config", "claude-code", "--sandbox"], {}).flags.sandbox).toBe(true);
  });
});

describe("--sandbox (issue 19, defect 1)", () => {
  // A shell or host that has settings for a real loomcycle, every one of which would stop a plain serve.
  const loomcycleSettings = {
    LOOMCYCLE_BASE_URL: "ftp://elsewhere/v1",
    LOOMCYCLE_AUTH_TOKEN: "two words",
    LOOMCYCLE_AUTH_TOKEN_FILE: "/path/to/loomcycle-token",
    LOOMCYCLE_USER_ID: "your user id",
  };

  it("reads none of a real loomcycle's settings: URL, token, token file and user id cannot stop it", () => {
    for (const [k, v] of Object.entries(loomcycleSettings)) expect(mistake([], { [k]: v })).toMatch(new RegExp(`^${k}`));
    for (const command of [[], ["config", "claude-desktop"]]) {
      const c = parseConfig([...command, "--sandbox"], loomcycleSettings);
      expect(c).toMatchObject({ sandbox: true, baseUrl: "http://127.0.0.1:8787", token: undefined, userId: "sandbox" });
      expect(c.tokenFile).toBeUndefined();
      expect(c.tokenSource).toBeUndefined();
    }
  });

  it("honours the bridge's own settings, LOOMCYCLE_MCP_*: log level, questions, park release (and checks them)", () => {
    const c = parseConfig(["--sandbox"], {
      ...loomcycleSettings,
      LOOMCYCLE_MCP_LOG_LEVEL: "debug",
      LOOMCYCLE_MCP_QUESTIONS: "human",
      LOOMCYCLE_MCP_PARK_RELEASE_MS: "5000",
    });
    expect(c).toMatchObject({ logLevel: "debug", questions: "human", parkReleaseMs: 5000 });
    expect(parseConfig(["--sandbox", "--log-level", "warn"], {}).logLevel).toBe("warn");
    expect(mistake(["--sandbox"], { LOOMCYCLE_MCP_QUESTIONS: "robot" })).toMatch(/^LOOMCYCLE_MCP_QUESTIONS "robot"/);
    expect(mistake(["--sandbox"], { LOOMCYCLE_MCP_LOG_LEVEL: "loud" })).toMatch(/^LOOMCYCLE_MCP_LOG_LEVEL "loud"/);
  });

  it("refuses the flags of a real loomcycle's settings instead of dropping them, serving or in config", () => {
    const tokenFile = file("sandbox-token", "tok\n");
    for (const command of [[], ["config", "opencode"]]) {
      expect(mistake([...command, "--sandbox", "--base-url", "http://h:1"])).toMatch(
        /^--sandbox does not take --base-url: the sandbox serves its own simulator/,
      );
      expect(mistake([...command, "--sandbox", "--token-file", tokenFile])).toMatch(/^--sandbox does not take --token-file/);
      expect(mistake([...command, "--user-id", "u_1", "--sandbox"])).toMatch(/^--sandbox does not take --user-id/);
    }
    expect(parseConfig(["--sandbox=false", "--user-id", "u_1"], {}).userId).toBe("u_1");
  });
});
