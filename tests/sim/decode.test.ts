// Go encoding/json decoding semantics the simulator imitates in its error bodies.
import { describe, expect, it } from "vitest";
import { RunRequestSchema, goDecode } from "../../src/sim/godecode.js";
import { goJSON, goQuote, rfc3339Nano } from "../../src/sim/util.js";

const decode = (s: string): ReturnType<typeof goDecode> => goDecode(s, "runRequest", RunRequestSchema);

describe("goDecode", () => {
  it("reports syntax errors like Go's scanner", () => {
    expect(decode("")).toMatchObject({ ok: false, error: "EOF", empty: true });
    expect(decode('{"a":[1,}')).toMatchObject({ error: "invalid character '}' looking for beginning of value" });
    expect(decode('{"a":[1 2]}')).toMatchObject({ error: "invalid character '2' after array element" });
    expect(decode('{"a":1 "b":2}')).toMatchObject({ error: "invalid character '\"' after object key:value pair" });
    expect(decode("{1:2}")).toMatchObject({ error: "invalid character '1' looking for beginning of object key string" });
    expect(decode('{"a":"x\ny"}')).toMatchObject({ error: "invalid character '\\n' in string literal" });
    expect(decode('{"a":-x}')).toMatchObject({ error: "invalid character 'x' in numeric literal" });
    expect(decode("é")).toMatchObject({ error: "invalid character 'Ã' looking for beginning of value" });
    expect(decode('{"a":tru}')).toMatchObject({ error: "invalid character '}' in literal true (expecting 'e')" });
  });

  it("decodes case-insensitively, ignores unknown keys, treats null as a no-op and reads one value", () => {
    expect(decode('{"AGENT":"echo","Prompt":"p","x":{"deep":[1]}} {"agent":"ignored"}')).toMatchObject({ ok: true, value: { agent: "echo", prompt: "p" } });
    expect(decode('{"agent":"echo","agent":null}')).toMatchObject({ ok: true, value: { agent: "echo" } });
  });

  it("reports the first type error with the field path", () => {
    expect(decode('{"segments":[{"role":"user","content":[{"type":"trusted-text","text":5}]}],"agent":7}')).toMatchObject({
      error: "json: cannot unmarshal number into Go struct field runRequest.segments.content.text of type string",
    });
    expect(decode('{"metadata":"x"}')).toMatchObject({ error: "json: cannot unmarshal string into Go struct field runRequest.metadata of type map[string]interface {}" });
    expect(decode('"str"')).toMatchObject({ error: "json: cannot unmarshal string into Go value of type http.runRequest" });
  });
});

describe("Go-compatible output", () => {
  it("escapes like json.Marshal and quotes like %q", () => {
    expect(goJSON({ t: "<a & b>\u2028", n: 1787114401200000123n })).toBe('{"t":"\\u003ca \\u0026 b\\u003e\\u2028","n":1787114401200000123}');
    expect(goQuote('a"b\\c\n✓')).toBe('"a\\"b\\\\c\\n✓"');
  });

  it("formats RFC 3339 with Go's trimmed nanoseconds", () => {
    expect(rfc3339Nano(1787114401200000000n)).toBe("2026-08-19T04:40:01.2Z");
    expect(rfc3339Nano(1787114401000000000n)).toBe("2026-08-19T04:40:01Z");
    expect(rfc3339Nano(1787114401123456789n)).toBe("2026-08-19T04:40:01.123456789Z");
  });
});
