// Standalone simulator: `npm run sim -- --port <p> --token <t>` (SPEC §6).
// Prints one line with the URL and the admin token, serves until SIGINT/SIGTERM.
import { printLine } from "../cli/terminal.js";
import { startSimulator } from "./index.js";
import type { SimOptions } from "./types.js";

const USAGE = "usage: npm run sim -- [--port <n>] [--host <addr>] [--token <t>] [--tail-poll-ms <n>] [--keepalive-ms <n>] [--speed <x>] [--seed <n>]";

function fail(msg: string): never {
  process.stderr.write(`loomcycle simulator: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): SimOptions {
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
        printLine(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown argument ${arg}`);
    }
  }
  return opts;
}

async function main(): Promise<void> {
  const sim = await startSimulator(parseArgs(process.argv.slice(2)));
  printLine(`loomcycle simulator listening on ${sim.url} token ${sim.token}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 3000).unref();
    void sim.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
