// What the bin does with its argv and environment: parse them (one line and exit 2 for a
// mistake), then run the command. The human-facing commands print through a CliIo, so
// that tests run each one in process exactly as the bin does, with sinks for its lines;
// the bin gives the process's stdout and stderr. Serving MCP takes the process's stdio and
// signals (serve.ts). Commands other than serving are loaded on demand: the serve path
// never parses them.
import { fileURLToPath } from "node:url";
import { ConfigError, parseConfig } from "../config.js";
import { version } from "../version.js";
import { serve } from "./serve.js";
import { terminal, type CliIo } from "./terminal.js";
import { HELP, USAGE } from "./usage.js";

export interface RunOptions {
  /** Where the command's lines go (default: the process's stdout and stderr). */
  io?: CliIo;
  /**
   * The bridge's own script, which `config` names in its entries and `demo` starts. Default:
   * main.js beside this module, i.e. the bin (the bundle keeps its chunks beside it).
   */
  bin?: string;
}

/** Runs the command `argv` names; resolves with its exit code, or undefined while it keeps serving (MCP, sim). */
export async function runCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: RunOptions = {},
): Promise<number | undefined> {
  const io = opts.io ?? terminal;
  const bin = (): string => opts.bin ?? fileURLToPath(new URL("./main.js", import.meta.url));
  // The simulator takes its own options (--port, --token), none of the bridge's.
  if (argv[0] === "sim") {
    const { runSim } = await import("../sim/cli.js");
    return runSim(argv.slice(1), undefined, io);
  }
  let cfg;
  try {
    cfg = parseConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`loomcycle-mcp-bridge: ${err.message}`);
      return 2;
    }
    throw err;
  }
  switch (cfg.command) {
    case "help":
      if (cfg.arg === "sim") {
        const { runSim } = await import("../sim/cli.js");
        return runSim(["--help"], undefined, io);
      }
      io.out(cfg.arg ? USAGE[cfg.arg as keyof typeof USAGE] : HELP.replace("{version}", version()));
      return 0;
    case "version":
      io.out(version());
      return 0;
    case "demo": {
      const { runDemo } = await import("./demo.js");
      return runDemo({ io, env, bin: bin(), ...(cfg.speed !== undefined ? { speed: cfg.speed } : {}) });
    }
    case "doctor": {
      const { runDoctor } = await import("./doctor.js");
      return runDoctor(cfg, { print: io.out });
    }
    case "config": {
      const { runConfig } = await import("./config-snippet.js");
      return runConfig(cfg, env, io, bin());
    }
    case "sim": {
      const { runSim } = await import("../sim/cli.js");
      return runSim([], undefined, io);
    }
    case "state": {
      const { runState } = await import("./state.js");
      return runState(cfg, env, io.out);
    }
    case "serve":
      await serve(cfg, env);
      return undefined; // keep running
  }
}
