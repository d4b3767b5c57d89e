// Request-body decoding with Go encoding/json semantics, so error bodies read
// like loomcycle's (`bad json: …`, `invalid JSON body: …`):
//   - json.NewDecoder(r.Body).Decode reads ONE value; trailing bytes are ignored;
//   - an empty body is `EOF`, a truncated one `unexpected EOF`, a bad byte
//     `invalid character 'x' looking for beginning of value` (etc.);
//   - keys match struct fields exactly or case-insensitively; unknown keys are
//     ignored; a wrongly typed field is reported as
//     `json: cannot unmarshal string into Go struct field runRequest.agent of type bool`
//     while decoding continues (Go reports the first such error).

export type Schema =
  | { kind: "string" }
  | { kind: "bool" }
  | { kind: "int"; type?: string }
  | { kind: "any" }
  | { kind: "array"; type: string; elem: Schema }
  | { kind: "map"; type: string; elem: Schema }
  | { kind: "struct"; type: string; fields: Record<string, Schema> };

export const S = {
  string: { kind: "string" } as Schema,
  bool: { kind: "bool" } as Schema,
  int: { kind: "int" } as Schema,
  any: { kind: "any" } as Schema,
  array: (type: string, elem: Schema): Schema => ({ kind: "array", type, elem }),
  map: (type: string, elem: Schema): Schema => ({ kind: "map", type, elem }),
  struct: (type: string, fields: Record<string, Schema>): Schema => ({ kind: "struct", type, fields }),
};

class GoSyntaxError extends Error {}

/** Go decodes a lone surrogate escape to U+FFFD. */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const cp = c.codePointAt(0) ?? 0;
  if ((cp >= 0x80 && cp <= 0x9f) || cp === 0xad) return "'\\u" + cp.toString(16).padStart(4, "0") + "'";
  if (cp < 0x20 || cp === 0x7f) {
    const named: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" };
    return "'" + (named[cp] ?? "\\x" + cp.toString(16).padStart(2, "0")) + "'";
  }
  return "'" + c + "'";
}

/** A small recursive-descent parser that fails like Go's scanner. */
class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  private eof(): never {
    throw new GoSyntaxError("unexpected EOF");
  }
  private bad(context: string): never {
    // Go's scanner works on bytes: a multi-byte character is reported by its first byte.
    const ch = String.fromCodePoint(this.s.codePointAt(this.pos) ?? 0);
    const first = Buffer.from(ch, "utf8")[0] ?? 0;
    throw new GoSyntaxError(`invalid character ${quoteChar(String.fromCharCode(first))} ${context}`);
  }
  private ws(): void {
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") this.pos++;
      else break;
    }
  }

  /** Parse the first value; returns undefined when the input holds only whitespace. */
  first(): unknown {
    this.ws();
    if (this.pos >= this.s.length) return undefined;
    return this.value();
  }

  private value(): unknown {
    this.ws();
    if (this.pos >= this.s.length) this.eof();
    const c = this.s[this.pos];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    if (c === "t") return this.literal("true", true);
    if (c === "f") return this.literal("false", false);
    if (c === "n") return this.literal("null", null);
    this.bad("looking for beginning of value");
  }

  private literal(word: string, v: unknown): unknown {
    for (let i = 0; i < word.length; i++) {
      if (this.pos >= this.s.length) this.eof();
      if (this.s[this.pos] !== word[i]) this.bad(`in literal ${word} (expecting ${quoteChar(word[i] ?? "")})`);
      this.pos++;
    }
    return v;
  }

  private number(): number {
    const start = this.pos;
    const digit = (): boolean => {
      const c = this.s[this.pos];
      return c !== undefined && c >= "0" && c <= "9";
    };
    if (this.s[this.pos] === "-") {
      this.pos++;
      if (this.pos >= this.s.length) this.eof();
      if (!digit()) this.bad("in numeric literal");
    }
    if (this.s[this.pos] === "0") this.pos++;
    else while (digit()) this.pos++;
    if (this.s[this.pos] === ".") {
      this.pos++;
      if (this.pos >= this.s.length) this.eof();
      if (!digit()) this.bad("after decimal point in numeric literal");
      while (digit()) this.pos++;
    }
    if (this.s[this.pos] === "e" || this.s[this.pos] === "E") {
      this.pos++;
      if (this.s[this.pos] === "+" || this.s[this.pos] === "-") this.pos++;
      if (this.pos >= this.s.length) this.eof();
      if (!digit()) this.bad("in exponent of numeric literal");
      while (digit()) this.pos++;
    }
    return Number(this.s.slice(start, this.pos));
  }

  private string(): string {
    this.pos++; // opening quote
    let out = "";
    for (;;) {
      if (this.pos >= this.s.length) this.eof();
      const c = this.s[this.pos] as string;
      if (c === '"') {
        this.pos++;
        return wellFormed(out);
      }
      if (c === "\\") {
        this.pos++;
        if (this.pos >= this.s.length) this.eof();
        const e = this.s[this.pos] as string;
        const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in simple) {
          out += simple[e];
          this.pos++;
        } else if (e === "u") {
          this.pos++;
          let hex = "";
          for (let i = 0; i < 4; i++) {
            if (this.pos >= this.s.length) this.eof();
            const h = this.s[this.pos] as string;
            if (!/[0-9a-fA-F]/.test(h)) this.bad("in \\u hexadecimal character escape");
            hex += h;
            this.pos++;
          }
          out += String.fromCharCode(parseInt(hex, 16));
        } else {
          this.bad("in string escape code");
        }
        continue;
      }
      if (c < " ") this.bad("in string literal");
      out += c;
      this.pos++;
    }
  }

  private array(): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.ws();
    if (this.pos >= this.s.length) this.eof();
    if (this.s[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      if (this.pos >= this.s.length) this.eof();
      const c = this.s[this.pos];
      if (c === ",") {
        this.pos++;
        continue;
      }
      if (c === "]") {
        this.pos++;
        return out;
      }
      this.bad("after array element");
    }
  }

  /** Objects keep their key order (entries) so duplicate keys behave like Go (last wins). */
  private object(): GoObject {
    this.pos++;
    const entries: Array<[string, unknown]> = [];
    this.ws();
    if (this.pos >= this.s.length) this.eof();
    if (this.s[this.pos] === "}") {
      this.pos++;
      return new GoObject(entries);
    }
    for (;;) {
      this.ws();
      if (this.pos >= this.s.length) this.eof();
      if (this.s[this.pos] !== '"') this.bad("looking for beginning of object key string");
      const key = this.string();
      this.ws();
      if (this.pos >= this.s.length) this.eof();
      if (this.s[this.pos] !== ":") this.bad("after object key");
      this.pos++;
      entries.push([key, this.value()]);
      this.ws();
      if (this.pos >= this.s.length) this.eof();
      const c = this.s[this.pos];
      if (c === ",") {
        this.pos++;
        continue;
      }
      if (c === "}") {
        this.pos++;
        return new GoObject(entries);
      }
      this.bad("after object key:value pair");
    }
  }
}

/** A parsed JSON object with its original key order and duplicates. */
export class GoObject {
  constructor(readonly entries: Array<[string, unknown]>) {}
}

function kindOf(v: unknown): string {
  if (v instanceof GoObject) return "object";
  if (Array.isArray(v)) return "array";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return "number";
  if (typeof v === "boolean") return "bool";
  return "null";
}

function typeName(s: Schema): string {
  switch (s.kind) {
    case "string":
      return "string";
    case "bool":
      return "bool";
    case "int":
      return s.type ?? "int";
    case "any":
      return "interface {}";
    default:
      return s.type;
  }
}

/** Plain JS value of a parsed node (objects become records, last key wins). */
export function plain(v: unknown): unknown {
  if (v instanceof GoObject) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v.entries) out[k] = plain(x);
    return out;
  }
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

interface DecodeState {
  root: string;
  firstError?: string;
}

function typeError(st: DecodeState, path: string[], value: unknown, schema: Schema): void {
  if (st.firstError) return;
  let what = kindOf(value);
  if (what === "number" && schema.kind === "int") what = `number ${String(value)}`;
  st.firstError =
    path.length === 0
      ? `json: cannot unmarshal ${what} into Go value of type http.${st.root}`
      : `json: cannot unmarshal ${what} into Go struct field ${st.root}.${path.join(".")} of type ${typeName(schema)}`;
}

function decodeInto(st: DecodeState, v: unknown, schema: Schema, path: string[]): unknown {
  if (v === null) return undefined; // null leaves the zero value, never an error
  switch (schema.kind) {
    case "any":
      return plain(v);
    case "string":
      if (typeof v === "string") return v;
      typeError(st, path, v, schema);
      return undefined;
    case "bool":
      if (typeof v === "boolean") return v;
      typeError(st, path, v, schema);
      return undefined;
    case "int":
      if (typeof v === "number" && Number.isInteger(v)) return v;
      typeError(st, path, v, schema);
      return undefined;
    case "array": {
      if (!Array.isArray(v)) {
        typeError(st, path, v, schema);
        return undefined;
      }
      return v.map((x) => decodeInto(st, x, schema.elem, path));
    }
    case "map": {
      if (!(v instanceof GoObject)) {
        typeError(st, path, v, schema);
        return undefined;
      }
      const out: Record<string, unknown> = {};
      for (const [k, x] of v.entries) out[k] = decodeInto(st, x, schema.elem, [...path, k]);
      return out;
    }
    case "struct": {
      if (!(v instanceof GoObject)) {
        typeError(st, path, v, schema);
        return undefined;
      }
      const out: Record<string, unknown> = {};
      const names = Object.keys(schema.fields);
      for (const [k, x] of v.entries) {
        const name = names.find((n) => n === k) ?? names.find((n) => n.toLowerCase() === k.toLowerCase());
        if (!name) continue;
        const fs = schema.fields[name] as Schema;
        const dv = decodeInto(st, x, fs, [...path, name]);
        // null leaves the field as it was (a later duplicate key still overwrites).
        if (dv !== undefined) out[name] = dv;
      }
      return out;
    }
  }
}

export type DecodeResult<T> = { ok: true; value: T; empty: boolean } | { ok: false; error: string; empty: boolean };

/**
 * Decode a request body like `json.NewDecoder(body).Decode(&v)` where v is the
 * struct described by `schema` (named `root` in error messages).
 */
export function goDecode<T>(body: string, root: string, schema: Schema): DecodeResult<T> {
  const p = new Parser(body);
  let v: unknown;
  try {
    v = p.first();
  } catch (e) {
    if (e instanceof GoSyntaxError) return { ok: false, error: e.message, empty: false };
    throw e;
  }
  if (v === undefined) return { ok: false, error: "EOF", empty: true };
  const st: DecodeState = { root };
  const out = (v === null ? {} : decodeInto(st, v, schema, [])) ?? {};
  if (st.firstError) return { ok: false, error: st.firstError, empty: false };
  return { ok: true, value: out as T, empty: false };
}

// ---- the request structs the simulator decodes ---------------------------

const contentBlock = S.struct("loop.PromptContentBlock", {
  type: S.string,
  text: S.string,
  cacheable: S.bool,
  kind: S.string,
  media_type: S.string,
  data: S.string,
});
const segment = S.struct("loop.PromptSegment", {
  role: S.string,
  content: S.array("[]loop.PromptContentBlock", contentBlock),
});
const segments = S.array("[]loop.PromptSegment", segment);
const parentContext = S.struct("store.ParentContext", {
  root_agent_run_id: S.string,
  function_key: S.string,
  tier_at_run: S.string,
  board_scope: S.string,
  board_chunk_id: S.string,
  board_document_id: S.string,
});
const common = {
  segments,
  tools: S.array("[]string", S.string),
  allowed_hosts: S.array("[]string", S.string),
  web_search_filter: S.string,
  agent_id: S.string,
  user_tier: S.string,
  user_bearer: S.string,
  user_credentials: S.map("map[string]string", S.string),
  parent_context: parentContext,
  metadata: S.map("map[string]interface {}", S.any),
  run_timeout_seconds: S.int,
  interactive: S.bool,
  sampling: S.struct("config.Sampling", {}),
  compaction: S.struct("config.Compaction", {}),
};

export const RunRequestSchema = S.struct("runRequest", {
  agent: S.string,
  prompt: S.string,
  session_id: S.string,
  tenant_id: S.string,
  user_id: S.string,
  ...common,
});

export const MessagesRequestSchema = S.struct("messagesRequest", common);

export const RunInputSchema = S.struct("runInputRequest", { text: S.string });
export const CancelTurnSchema = S.struct("cancelTurnRequest", { reason: S.string });
export const CancelAgentSchema = S.struct("cancelRequest", { reason: S.string });
export const ResolveSchema = S.struct("resolveInterruptRequest", {
  kind: S.string,
  answer: S.string,
  resolved_by: S.string,
  disposition: S.string,
});
export const SnapshotCreateSchema = S.struct("snapshotCreateRequest", {
  label: S.string,
  include_history: S.bool,
  include_history_since: S.string,
  max_bytes: S.int,
});

export interface ContentBlockIn {
  type?: string;
  text?: string;
  cacheable?: boolean;
  kind?: string;
  media_type?: string;
  data?: string;
}
export interface SegmentIn {
  role?: string;
  content?: Array<ContentBlockIn | undefined>;
}
export interface RunRequest {
  agent?: string;
  prompt?: string;
  session_id?: string;
  tenant_id?: string;
  user_id?: string;
  segments?: Array<SegmentIn | undefined>;
  agent_id?: string;
  user_bearer?: string;
  parent_context?: Record<string, string>;
  metadata?: Record<string, unknown>;
  interactive?: boolean;
}
