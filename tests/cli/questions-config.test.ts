// LOOMCYCLE_MCP_QUESTIONS: who answers agents' questions by default.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config.js";

describe("LOOMCYCLE_MCP_QUESTIONS", () => {
  it("defaults to host, takes human, and names the allowed values for anything else", () => {
    expect(parseConfig([], {}).questions).toBe("host");
    expect(parseConfig([], { LOOMCYCLE_MCP_QUESTIONS: "human" }).questions).toBe("human");
    expect(() => parseConfig([], { LOOMCYCLE_MCP_QUESTIONS: "person" })).toThrow(ConfigError);
    expect(() => parseConfig([], { LOOMCYCLE_MCP_QUESTIONS: "person" })).toThrow(
      /LOOMCYCLE_MCP_QUESTIONS "person" is not host or human/,
    );
  });
});
