// Lint rules that protect the MCP channel: stdout carries JSON-RPC only, so nothing
// under src/ may write to the console or to process.stdout, except the terminal
// helper that the human-facing CLI commands (help, doctor, config, demo, sim) use.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  {
    // Plain Node scripts (not TypeScript): Node's globals.
    files: ["scripts/**/*.mjs", "*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", setTimeout: "readonly", clearTimeout: "readonly" } },
  },
  {
    // loomcycle code-js agents (tests/live/agent_code): a top-level run(input) that loomcycle
    // calls, with the agent's tools bound as globals by loomcycle.
    files: ["tests/live/agent_code/**/*.js"],
    languageOptions: { sourceType: "script", globals: { Interruption: "readonly", JSON: "readonly" } },
    rules: { "@typescript-eslint/no-unused-vars": ["error", { varsIgnorePattern: "^(run|_)" }], "no-undef": ["error"] },
  },
  {
    files: ["tests/live/agent_code/lc-driver/index.js"],
    languageOptions: {
      globals: {
        mcp__bridge__start_interactive_run: "readonly",
        mcp__bridge__resolve_interrupt: "readonly",
        mcp__bridge__send_steer: "readonly",
        mcp__bridge__read_run_events: "readonly",
      },
    },
  },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/cli/terminal.ts"],
    rules: {
      "no-console": "error",
      "no-restricted-properties": [
        "error",
        {
          object: "process",
          property: "stdout",
          message: "stdout is the MCP channel: log through pino to stderr, or print via src/cli/terminal.ts in a CLI command.",
        },
      ],
    },
  },
  // Layout is prettier's (npm run format; npm run lint checks it): no style rule of its own.
  prettier,
);
