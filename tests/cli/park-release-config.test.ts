// LOOMCYCLE_MCP_PARK_RELEASE_MS: default 120000, 0 = never release, anything
// else that is not a whole number of milliseconds is one clear config error.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config.js";

describe("LOOMCYCLE_MCP_PARK_RELEASE_MS", () => {
  it("defaults to 120000 and takes a whole number of milliseconds, 0 included", () => {
    expect(parseConfig([], {}).parkReleaseMs).toBe(120_000);
    expect(parseConfig([], { LOOMCYCLE_MCP_PARK_RELEASE_MS: "5000" }).parkReleaseMs).toBe(5000);
    expect(parseConfig([], { LOOMCYCLE_MCP_PARK_RELEASE_MS: "0" }).parkReleaseMs).toBe(0);
  });

  it.each(["-1", "2m", "1.5", "1e3"])("refuses %j with one line naming the variable and the value", (v) => {
    expect(() => parseConfig([], { LOOMCYCLE_MCP_PARK_RELEASE_MS: v })).toThrow(ConfigError);
    expect(() => parseConfig([], { LOOMCYCLE_MCP_PARK_RELEASE_MS: v })).toThrow(
      `LOOMCYCLE_MCP_PARK_RELEASE_MS "${v}" is not a whole number of milliseconds: e.g. 120000 (the default), or 0 to never release a parked run's stream`,
    );
  });
});
