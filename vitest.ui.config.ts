import { defineConfig } from "vitest/config";

// The UI tier (`npm run test:ui`): the run console in Debian's Chromium, driven through
// playwright-core, inside a minimal MCP Apps host whose client talks to the built bridge
// over stdio (tests/ui/harness.ts). One file at a time: each test drives one browser.
export default defineConfig({
  test: {
    include: ["tests/ui/**/*.test.ts"],
    testTimeout: 60_000,
    // What the page shows next comes through a browser, a relay, the bridge and the simulator
    // on a shared 2-core machine: expect.poll waits up to 15 s for it (vitest's default is 1 s).
    expect: { poll: { timeout: 15_000, interval: 50 } },
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    fileParallelism: false,
    reporters: ["default"],
  },
});
