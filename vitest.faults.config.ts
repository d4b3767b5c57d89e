// The fault suite (tests/faults): reliability and security under faults, load and bad
// input. `npm run test:faults` runs it and writes docs/reliability.md through the
// reliability reporter; FAULTS_SHORT=1 runs a shorter variant (CI). Files run one at
// a time: several of them measure latencies that a parallel neighbour would distort.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/faults/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Tests force garbage collections (deadline timers must survive them).
    poolOptions: { forks: { execArgv: ["--expose-gc"] } },
    fileParallelism: false,
    reporters: ["default", "./tests/faults/reliability-reporter.ts"],
  },
});
