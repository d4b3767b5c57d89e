import { defineConfig } from "vitest/config";

// The live tier (`npm run test:live`): the built bridge against a real loomcycle named by
// LOOMCYCLE_LIVE_URL / LOOMCYCLE_LIVE_TOKEN (tests/live/README.md). Files run one at a time:
// some tests restart loomcycle, which every other test would feel.
export default defineConfig({
  test: {
    include: ["tests/live/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: false,
    reporters: ["default"],
  },
});
