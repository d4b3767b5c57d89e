import { defineConfig } from "vitest/config";

// The UI tier (`npm run test:ui`): the run console in Debian's Chromium, driven through
// playwright-core, inside a minimal MCP Apps host whose client talks to the built bridge
// over stdio (tests/ui/harness.ts). One file at a time: each test drives one browser.
export default defineConfig({
  test: {
    include: ["tests/ui/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    fileParallelism: false,
    reporters: ["default"],
  },
});
