import { defineConfig } from "vitest/config";

// Real MCP hosts driving the built bridge (`npm run test:hosts`): the MCP Inspector CLI
// and OpenCode, each from the npm registry (devDependencies), against the simulator.
export default defineConfig({
  test: {
    include: ["tests/hosts/**/*.test.ts"],
    testTimeout: 150_000,
    hookTimeout: 60_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default"],
  },
});
