// Go output formats the simulator writes like loomcycle does (the bridge reads them).
import { describe, expect, it } from "vitest";
import { goJSON, goQuote, rfc3339Nano } from "../../src/sim/util.js";

describe("Go-compatible output", () => {
  it("escapes like json.Marshal and quotes like %q", () => {
    expect(goJSON({ t: "<a & b>\u2028", n: 1787114401200000123n })).toBe(
      '{"t":"\\u003ca \\u0026 b\\u003e\\u2028","n":1787114401200000123}',
    );
    expect(goQuote('a"b\\c\n✓')).toBe('"a\\"b\\\\c\\n✓"');
  });

  it("formats RFC 3339 with Go's trimmed nanoseconds", () => {
    expect(rfc3339Nano(1787114401200000000n)).toBe("2026-08-19T04:40:01.2Z");
    expect(rfc3339Nano(1787114401000000000n)).toBe("2026-08-19T04:40:01Z");
    expect(rfc3339Nano(1787114401123456789n)).toBe("2026-08-19T04:40:01.123456789Z");
  });
});
