// The one function every text block passes through (src/render/visible.ts; issue 19 item 10).
import { describe, expect, it } from "vitest";
import { visible } from "../../src/render/visible.js";

describe("visible", () => {
  it.each([
    ["NUL", "a\u0000b", "a\\u0000b"],
    ["BEL", "\u0007", "\\u0007"],
    ["backspace, vertical tab, form feed", "\b\v\f", "\\u0008\\u000b\\u000c"],
    ["an ANSI colour", "\u001b[31mred\u001b[0m", "\\u001b[31mred\\u001b[0m"],
    ["DEL", "\u007f", "\\u007f"],
    ["C1 controls (NEL, CSI)", "\u0085\u009b", "\\u0085\\u009b"],
    ["a right-to-left override", "abc\u202edcba\u202c", "abc\\u202edcba\\u202c"],
    ["the embeddings and overrides", "\u202a\u202b\u202c\u202d\u202e", "\\u202a\\u202b\\u202c\\u202d\\u202e"],
    ["the isolates", "\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"],
    ["the bidi marks", "\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"],
    ["a lone carriage return (overwrites a terminal line)", "safe\rEVIL", "safe\\u000dEVIL"],
  ])("escapes %s", (_what, given, shown) => {
    expect(visible(given)).toBe(shown);
  });

  it("keeps newlines, tabs, CRLF line ends and every printable script, emoji and joiner", () => {
    const s = "line one\n\tindented\r\nWindows line\nÜnïcödé ✓ — 日本語 🚀 Ελληνικά 👩‍💻 עברית العربية \u00a0nbsp";
    expect(visible(s)).toBe(s);
  });

  it("is idempotent: an escape it wrote is plain text", () => {
    const once = visible("\u001b\u202e\u0000");
    expect(visible(once)).toBe(once);
  });
});
