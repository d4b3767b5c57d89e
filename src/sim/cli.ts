// The standalone simulator: `loomcycle-mcp-bridge sim [--port <p>] [--token <t>]`
// from the installed package, or `npm run sim -- …` in a clone. Prints the URL and the
// admin token to use, then serves until SIGINT/SIGTERM. Unlike `--sandbox`, whose
// simulator lives as long as one bridge process, it outlives any number of bridges.
import { terminal, type CliIo } from "../cli/terminal.js";
import { forgetRuns } from "../cli/state.js";
import { stateDir } from "../bridge/runs/state-file.js";
import { didYouMean } from "../did-you-mean.js";
import { startSimulator } from "./index.js";
import type { SimOptions } from "./types.js";

const FLAGS = "[--port N] [--host ADDR] [--token T] [--tail-poll-ms N] [--keepalive-ms N] [--speed X] [--seed N]";
const OPTIONS = ["--port", "--host", "--token", "--tail-poll-ms", "--keepalive-ms", "--speed", "--seed", "--help"];

const ABOUT = `Runs the built-in loomcycle simulator on its own (the agents of --sandbox: echo, asker,
questioner, toolish, longtalk, slow, flood, unicode, failing, compactfail, hang, oneshot),
prints its URL and admin token, and serves until Ctrl-C (SIGINT, SIGTERM or SIGHUP). Unlike
--sandbox, it outlives the bridges pointed at it: for clients that start one bridge process
per call (the MCP Inspector CLI). When it stops, it removes the bridges' state files that
hold only its runs.

  --port N           port to listen on (default 0: a free one)
  --host ADDR        address to listen on (default 127.0.0.1)
  --token T          the admin bearer token it accepts (default: a random one)
  --tail-poll-ms N   how often a run's stream polls for new events (default 250, as loomcycle)
  --keepalive-ms N   keep-alive comment interval on run streams (default 20000; 0: none)
  --speed X          multiplies every scripted delay (default 1; 0: as fast as possible)
  --seed N           seed for its pseudo-random parts (ids, seq gaps)`;

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
      default: {
        const guess = flag.startsWith("-") ? didYouMean(flag, OPTIONS) : undefined;
        fail(
          `unknown ${flag.startsWith("-") ? "option" : "argument"} ${arg}${guess ? `; did you mean ${guess}?` : ""} (sim takes ${OPTIONS.join(", ")})`,
        );
      }
    }
  }
  return opts;
}

/**
 * Run the simulator until SIGINT/SIGTERM. `command` is how the user invoked it (for the
 * usage line). Returns an exit code for --help and bad arguments, else undefined (serving).
 */
export async function runSim(
  argv: readonly string[],
  command = "loomcycle-mcp-bridge sim",
  io: CliIo = terminal,
): Promise<number | undefined> {
  const usage = `usage: ${command} ${FLAGS}`;
  const help = `${command} --help`;
  let opts: SimOptions | "help";
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`loomcycle-mcp-bridge sim: ${err.message}; see ${help}`);
    return 2;
  }
  if (opts === "help") {
    io.out(`${usage}\n\n${ABOUT}`);
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
    io.err(`loomcycle-mcp-bridge sim: ${why}: choose another port with --port N, or --port 0 for a free one`);
    return 2;
  }
  io.out(`loomcycle simulator listening on ${sim.url} token ${sim.token}`);
  io.out(`point the bridge at it: LOOMCYCLE_BASE_URL=${sim.url} LOOMCYCLE_AUTH_TOKEN=${sim.token} (Ctrl-C stops it)`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Its runs end with it: the read positions bridges kept for them have no use any more
    // (a state file that also holds another loomcycle's runs is left alone).
    const forgotten = forgetRuns(stateDir(process.env), (id) => sim.runStatus(id) !== undefined);
    if (forgotten.length > 0)
      io.err(`removed ${forgotten.length} state file${forgotten.length === 1 ? "" : "s"} of this simulator's runs`);
    setTimeout(() => process.exit(0), 3000).unref();
    void sim.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("SIGHUP", stop);
  return undefined;
}
