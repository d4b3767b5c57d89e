#!/usr/bin/env node
// Entry point: argv/env → config → logger → bridge → server → stdio transport, and a
// clean shutdown. Only JSON-RPC goes to stdout while serving; logs go to stderr.
import { ConfigError, parseConfig, type BridgeConfig } from "../config.js";
import { createLogger, secretsOf, type Logger } from "../logger.js";
import { Bridge } from "../bridge/bridge.js";
import { stateDir, stateFilePath } from "../bridge/runs/state-file.js";
import { createServer } from "../server.js";
import { version } from "../version.js";
import { mcpChannel, printLine } from "./terminal.js";
import { serveStdio } from "./stdio.js";
import { USAGE } from "./usage.js";

export const HELP = `loomcycle-mcp-bridge ${"{version}"} — drive interactive loomcycle runs from any MCP host

Usage:
  loomcycle-mcp-bridge              serve MCP over stdio (what hosts run)
  loomcycle-mcp-bridge --sandbox    serve against a built-in loomcycle simulator (no loomcycle needed)
  loomcycle-mcp-bridge doctor       check the setup: loomcycle reachable, token accepted (whoami), runnable agents,
                                    user id; prints a fix under each problem; exit 0 = the bridge would work, 1 = not
  loomcycle-mcp-bridge config HOST  print a ready-to-paste config entry for HOST (claude-desktop, claude-code or
                                    opencode): absolute paths, current base URL / user id, never a token value;
                                    the options below given to config go into the entry (--sandbox too)
  loomcycle-mcp-bridge demo         run a scripted session against the simulator and print it (touches nothing of yours)
  loomcycle-mcp-bridge sim [--port N] [--token T] …
                                    run the built-in loomcycle simulator on its own and print its URL and token;
                                    unlike --sandbox it outlives the bridge (for clients that start one process
                                    per call, e.g. the Inspector CLI); sim --help lists its options
  loomcycle-mcp-bridge state [list | prune [BASE_URL…]]
                                    list the state files that keep read positions (one per base URL and user);
                                    prune the stale ones, or those of the base URLs given
  loomcycle-mcp-bridge COMMAND --help
                                    that command's usage and options
  loomcycle-mcp-bridge --help | --version

Options (override the environment variables of the same meaning):
  --base-url URL       LOOMCYCLE_BASE_URL       loomcycle's URL (default http://127.0.0.1:8787)
  --token-file PATH    LOOMCYCLE_AUTH_TOKEN_FILE read the bearer token from a file
                       LOOMCYCLE_AUTH_TOKEN     the bearer token (there is deliberately no --token flag:
                                                command lines are visible to other users)
  --user-id ID         LOOMCYCLE_USER_ID        user_id for new runs and user-scoped lists
  --log-level LEVEL    LOOMCYCLE_MCP_LOG_LEVEL  fatal|error|warn|info|debug|trace|silent (default info)
  --sandbox                                     serve a built-in simulator instead of loomcycle, as user "sandbox";
                                                it reads none of loomcycle's settings (LOOMCYCLE_BASE_URL,
                                                LOOMCYCLE_AUTH_TOKEN[_FILE], LOOMCYCLE_USER_ID; their flags are
                                                refused), honours LOOMCYCLE_MCP_* and saves nothing
                       LOOMCYCLE_MCP_QUESTIONS  who answers agents' questions by default: host (the host's model,
                                                default) or human (the person, via MCP elicitation)
                       LOOMCYCLE_MCP_PARK_RELEASE_MS  a parked run nobody reads, waits on or subscribes to
                                                closes its stream to loomcycle after this long and
                                                re-attaches on the next use (default 120000; 0 never)

Logs go to stderr; stdout carries JSON-RPC only.`;

async function serve(cfg: BridgeConfig, logger: Logger, env: NodeJS.ProcessEnv): Promise<void> {
  let baseUrl = cfg.baseUrl;
  let token = cfg.token;
  let closeSim: (() => Promise<void>) | undefined;
  if (cfg.sandbox) {
    const { startSimulator } = await import("../sim/index.js");
    const sim = await startSimulator({ tailPollMs: 50, speed: 0.5 });
    baseUrl = sim.url;
    token = sim.token;
    closeSim = () => sim.close();
    logger.info({ url: sim.url }, "sandbox: serving against the built-in loomcycle simulator");
  }
  const secrets = secretsOf(token);
  const log = secrets.length ? createLogger({ level: cfg.logLevel, secrets }) : logger;
  const bridge = new Bridge({
    config: {
      baseUrl,
      token,
      userId: cfg.userId,
      questions: cfg.questions,
      ...(cfg.tokenSource && !cfg.sandbox ? { tokenSource: cfg.tokenSource } : {}),
    },
    logger: log,
    sandbox: cfg.sandbox,
    timings: { parkReleaseMs: cfg.parkReleaseMs },
    // Read positions survive restarts (not in the sandbox: its simulator is new each time).
    ...(cfg.sandbox ? {} : { stateFilePath: stateFilePath(stateDir(env), baseUrl, cfg.userId) }),
  });
  const { server, close } = createServer({ bridge });

  let stopping = false;
  const shutdown = (why: string, code: 0 | 1) => {
    if (stopping) return;
    stopping = true;
    log.info({ why, code }, "shutting down");
    // Hard stop after 1 s whatever happens; remote runs are left running (they are detached).
    setTimeout(() => process.exit(code), 900).unref();
    bridge.close();
    void Promise.allSettled([close(), closeSim?.()]).then(() => process.exit(code));
  };
  process.on("SIGINT", () => shutdown("SIGINT", 0));
  process.on("SIGTERM", () => shutdown("SIGTERM", 0));

  // stdin's end exits 0; a failed channel (stdin or stdout error, the transport closing
  // by itself) exits 1 with an error line; a bad line is answered and serving goes on.
  await serveStdio(server, {
    log,
    stdin: process.stdin,
    stdout: mcpChannel(),
    onEnd: ({ why, code }) => shutdown(why, code),
    stopping: () => stopping,
  });
  const restored = bridge.tracker.restore();
  log.info({ baseUrl, version: version(), auth: token ? "bearer" : "none" }, "loomcycle-mcp-bridge ready on stdio");
  if (restored > 0) log.info({ restored, stateFile: bridge.stateFile?.path }, "following runs again from the state file");
  if (token && !cfg.sandbox && /^(\$\{\w+\}|\{env:\w+\})$/.test(token))
    log.warn(
      { tokenSource: cfg.tokenSource },
      "the token is an unexpanded host reference (the MCP host's environment lacks the variable): calls will be refused; `loomcycle-mcp-bridge doctor` explains",
    );
  if (!token && !cfg.sandbox)
    log.warn(
      "LOOMCYCLE_AUTH_TOKEN is not set: calls will fail if loomcycle requires a token (`loomcycle-mcp-bridge doctor` checks)",
    );
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  // The simulator takes its own options (--port, --token), none of the bridge's.
  if (argv[0] === "sim") {
    const { runSim } = await import("../sim/cli.js");
    return runSim(argv.slice(1));
  }
  let cfg: BridgeConfig;
  try {
    cfg = parseConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`loomcycle-mcp-bridge: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  switch (cfg.command) {
    case "help":
      if (cfg.arg === "sim") {
        const { runSim } = await import("../sim/cli.js");
        return runSim(["--help"]);
      }
      printLine(cfg.arg ? USAGE[cfg.arg as keyof typeof USAGE] : HELP.replace("{version}", version()));
      return 0;
    case "version":
      printLine(version());
      return 0;
    case "demo": {
      const { runDemo } = await import("./demo.js");
      return runDemo();
    }
    case "doctor": {
      const { runDoctor } = await import("./doctor.js");
      return runDoctor(cfg);
    }
    case "config": {
      const { runConfig } = await import("./config-snippet.js");
      return runConfig(cfg, env);
    }
    case "sim": {
      const { runSim } = await import("../sim/cli.js");
      return runSim([]);
    }
    case "state": {
      const { runState } = await import("./state.js");
      return runState(cfg, env);
    }
    case "serve": {
      const logger = createLogger({ level: cfg.logLevel, secrets: secretsOf(cfg.token) });
      await serve(cfg, logger, env);
      return undefined; // keep running
    }
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`loomcycle-mcp-bridge: fatal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
