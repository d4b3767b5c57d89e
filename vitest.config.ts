import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // The fault suite is slow (minutes) and has its own config: `npm run test:faults`.
    // Real-host tests (MCP Inspector CLI, OpenCode) have theirs too: `npm run test:hosts` (vitest.hosts.config.ts),
    // and so do the run console's browser tests: `npm run test:ui` (vitest.ui.config.ts).
    exclude: [...configDefaults.exclude, "tests/faults/**", "tests/hosts/**", "tests/live/**", "tests/ui/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The machine has 2 cores; the resume and end-to-end tests spawn processes. Three forks:
    // much of the suite waits (on simulated agents, spawned bridges, sockets), and a third
    // fork works while another waits (about 15% less wall time here than two). minForks =
    // maxForks: with fewer, tinypool ended an idle fork mid-run ("Terminating worker thread",
    // exit code 1) in every run with maxForks 3, minForks 1.
    pool: "forks",
    // Files share their worker (no fresh module graph per file): importing the SDK, zod and
    // the bridge again for each of ~40 files cost about a quarter of the suite's time.
    // Tests therefore leave no global state behind (timers, env, mocks).
    // --expose-gc: a memory test collects garbage before and after what it measures.
    poolOptions: { forks: { maxForks: 3, minForks: 3, isolate: false, execArgv: ["--expose-gc"] } },
    reporters: ["default"],
  },
});
