// The standalone simulator: `loomcycle-mcp-bridge sim [--port <p>] [--token <t>]`
// from the installed package, or `npm run sim -- …` in a clone. Prints the URL and the
// admin token to use, then serves until SIGINT/SIGTERM. Unlike `--sandbox`, whose
// simulator lives as long as one bridge process, it outlives any number of bridges.
import { printLine } from "../cli/terminal.js";
import { startSimulator } from "./index.js";
import type { SimOptions } from "./types.js";

const FLAGS = "[--port <n>] [--host <addr>] [--token <t>] [--tail-poll-ms <n>] [--keepalive-ms <n>] [--speed <x>] [--seed <n>]";

class UsageError extends Error {}

function fail(msg: string): never {
  throw new UsageError(msg);
}

function parseArgs(argv: readonly string[]): SimOptions | "help" {
  const opts: SimOptions = {};
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || v === "" || !Number.isFinite(n) || n < min) fail(`${flag} needs a number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const take = (): string | undefined => (eq > 0 ? arg.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case "--port":
        opts.port = num(flag, take(), 0);
        if (opts.port > 65535 || !Number.isInteger(opts.port))
          fail(`--port ${opts.port} is not a TCP port: use 1 … 65535, or 0 for a free one`);
        break;
      case "--host":
        opts.host = take() ?? fail("--host needs a value");
        break;
      case "--token": {
        const t = take();
        if (!t) fail("--token needs a value");
        opts.token = t;
        break;
      }
      case "--tail-poll-ms":
        opts.tailPollMs = num(flag, take(), 1);
        break;
      case "--keepalive-ms":
        opts.keepaliveMs = num(flag, take(), -Infinity);
        break;
      case "--speed":
        opts.speed = num(flag, take(), 0);
        break;
      case "--seed":
        opts.seed = num(flag, take(), 0);
        break;
      case "--help":
      case "-h":
        return "help";
      default:
        fail(`unknown argument ${arg}`);
    }
  }
  return opts;
}

/**
 * Run the simulator until SIGINT/SIGTERM. `command` is how the user invoked it (for the
 * usage line). Returns an exit code for --help and bad arguments, else undefined (serving).
 */
export async function runSim(argv: readonly string[], command = "loomcycle-mcp-bridge sim"): Promise<number | undefined> {
  const usage = `usage: ${command} ${FLAGS}`;
  let opts: SimOptions | "help";
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`loomcycle-mcp-bridge sim: ${err.message} (${usage})\n`);
    return 2;
  }
  if (opts === "help") {
    printLine(usage);
    return 0;
  }
  let sim;
  try {
    sim = await startSimulator(opts);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EADDRINUSE" && code !== "EACCES" && code !== "EADDRNOTAVAIL") throw err;
    const where = `${opts.host ?? "127.0.0.1"}:${opts.port ?? 0}`;
    const why =
      code === "EADDRINUSE"
        ? `something already listens on ${where} (a loomcycle?)`
        : code === "EACCES"
          ? `this user may not listen on ${where}`
          : `${where} is not an address of this machine`;
    process.stderr.write(`loomcycle-mcp-bridge sim: ${why}: choose another port with --port N, or --port 0 for a free one\n`);
    return 2;
  }
  printLine(`loomcycle simulator listening on ${sim.url} token ${sim.token}`);
  printLine(`point the bridge at it: LOOMCYCLE_BASE_URL=${sim.url} LOOMCYCLE_AUTH_TOKEN=${sim.token} (Ctrl-C stops it)`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 3000).unref();
    void sim.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return undefined;
}
