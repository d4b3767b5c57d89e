// `npm run sim -- --port <p> --token <t>`: the standalone simulator in a clone (the
// installed package has it as `loomcycle-mcp-bridge sim`; both run src/sim/cli.ts).
import { runSim } from "./cli.js";

runSim(process.argv.slice(2), "npm run sim --").then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`loomcycle simulator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
