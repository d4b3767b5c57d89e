// Lint rules that protect the MCP channel: stdout carries JSON-RPC only, so nothing
// under src/ may write to the console or to process.stdout, except the terminal
// helper that the human-facing CLI commands (help, doctor, config, demo, sim) use.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
    files: ["src/**/*.ts"],
    ignores: ["src/cli/terminal.ts"],
    rules: {
      "no-console": "error",
      "no-restricted-properties": [
        "error",
        { object: "process", property: "stdout", message: "stdout is the MCP channel: log through pino to stderr, or print via src/cli/terminal.ts in a CLI command." },
      ],
    },
  },
);
