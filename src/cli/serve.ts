// Serving MCP over stdio, the bin's default command: config → logger → bridge → server →
// stdio transport, and a clean shutdown. It owns the process's stdin, stdout and signals,
// so it runs only in the bin (the other commands run in process too: src/cli/run.ts).
// Only JSON-RPC goes to stdout while serving; logs go to stderr.
import type { BridgeConfig } from "../config.js";
import { createLogger, secretsOf } from "../logger.js";
import { Bridge } from "../bridge/bridge.js";
import { stateDir, stateFilePath } from "../bridge/runs/state-file.js";
import { createServer } from "../server.js";
import { version } from "../version.js";
import { mcpChannel } from "./terminal.js";
import { serveStdio } from "./stdio.js";

export async function serve(cfg: BridgeConfig, env: NodeJS.ProcessEnv): Promise<void> {
  const logger = createLogger({ level: cfg.logLevel, secrets: secretsOf(cfg.token) });
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
