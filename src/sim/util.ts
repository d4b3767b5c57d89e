// Small helpers shared by the simulator: a seedable PRNG for ids and seq gaps,
// loomcycle's id formats, Go-compatible time formatting, Go-compatible JSON
// output (json.Marshal escapes <, >, & and U+2028/9; %q quoting) and an
// abortable sleep that honours the speed factor.
import { setTimeout as delay } from "node:timers/promises";
import { randomBytes } from "node:crypto";
import { isId } from "../ids.js";

export class Rng {
  private state: number;
  constructor(seed?: number) {
    this.state = (seed ?? randomBytes(4).readUInt32LE(0)) >>> 0;
  }
  /** mulberry32: uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  hex(chars: number): string {
    let out = "";
    while (out.length < chars) out += Math.floor(this.next() * 16).toString(16);
    return out;
  }
  alnum(chars: number): string {
    const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let out = "";
    for (let i = 0; i < chars; i++) out += abc[Math.floor(this.next() * abc.length)];
    return out;
  }
}

// ---- time ---------------------------------------------------------------

let lastNs = 0n;
const hrBase = process.hrtime.bigint();
const wallBaseNs = BigInt(Date.now()) * 1_000_000n;

/** Unix nanoseconds, strictly increasing within the process. */
export function nowNs(): bigint {
  let ns = wallBaseNs + (process.hrtime.bigint() - hrBase);
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  return ns;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** Go's time.RFC3339Nano in UTC: fraction trimmed of trailing zeros, omitted when zero. */
export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}` +
    (frac ? `.${frac}` : "") +
    "Z"
  );
}

/** Go's zero time.Time as encoding/json writes it. */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

// ---- ids ----------------------------------------------------------------

export function sessionId(rng: Rng): string {
  return "s_" + rng.hex(16);
}
export function runId(rng: Rng): string {
  return "r_" + rng.hex(16);
}
export function agentId(rng: Rng): string {
  return "a_" + rng.hex(16);
}
/** intr_ + 16 hex of unix nanos + 8 random hex (store.MintInterruptID). */
export function interruptId(rng: Rng, ns: bigint): string {
  return "intr_" + ns.toString(16).padStart(16, "0") + rng.hex(8);
}
export function snapshotId(rng: Rng, ms: number): string {
  return `snap_${ms}_${rng.hex(8)}`;
}
export function toolUseId(rng: Rng): string {
  return "toolu_01" + rng.alnum(22);
}

/** The charset loomcycle's validIdent enforces on ids in paths and bodies. */
export function validIdent(s: string): boolean {
  return isId(s);
}

// ---- Go-compatible JSON output ---------------------------------------------

const BIG = "\u0000bigint:";

/**
 * json.Marshal-compatible text: key order as given (callers build objects in
 * Go field order, or sorted for maps), bigint written as an exact integer,
 * and the HTML-safe escapes Go applies by default.
 */
export function goJSON(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? BIG + v.toString() : v));
  return text
    .replace(/"\\u0000bigint:(-?\d+)"/g, "$1")
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Object with keys sorted, as Go encodes a map[string]any. */
export function sortedKeys<T extends Record<string, unknown>>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) out[k] = obj[k];
  return out as T;
}

function isPrintable(cp: number): boolean {
  if (cp < 0x20 || cp === 0x7f) return false;
  if (cp >= 0x80 && cp <= 0x9f) return false;
  if (cp === 0x2028 || cp === 0x2029 || cp === 0xfeff || cp === 0xad) return false;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  return true;
}

/** strconv.Quote (what fmt's %q produces for a string). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (isPrintable(cp)) out += ch;
    else if (cp === 7) out += "\\a";
    else if (cp === 8) out += "\\b";
    else if (cp === 12) out += "\\f";
    else if (cp === 10) out += "\\n";
    else if (cp === 13) out += "\\r";
    else if (cp === 9) out += "\\t";
    else if (cp === 11) out += "\\v";
    else if (cp < 0x20 || cp === 0x7f) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
    else out += "\\U" + cp.toString(16).padStart(8, "0");
  }
  return out + '"';
}

// ---- sleeping ------------------------------------------------------------

/** Sleep `ms` (already speed-scaled); resolves early, without throwing, when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(Math.max(0, ms), undefined, signal ? { signal } : {}).catch(() => undefined);
}

/**
 * Sleeps scaled by `speed`. Timers have a 1 ms floor, so at a fast speed a pause shorter
 * than that is owed and taken with later ones (the event loop still turns): 1,000 deltas
 * of 20 ms at speed 0.02 take 400 ms, not the 1 s of a thousand 1 ms timers.
 * Speed 0 owes nothing: each pause only lets the event loop turn (a timer would cost 1 ms).
 */
export function scaledSleep(speed: number): (ms: number, signal?: AbortSignal) => Promise<void> {
  let owed = 0;
  return (ms, signal) => {
    if (speed <= 0) return new Promise((resolve) => setImmediate(resolve));
    owed += Math.max(0, ms) * speed;
    if (owed < 1) return new Promise((resolve) => setImmediate(resolve));
    const due = owed;
    owed = 0;
    return sleep(due, signal);
  };
}

/** Split text into pieces of `per` code points (never splits a surrogate pair). */
export function chunkCodePoints(text: string, per: number): string[] {
  const cps = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += per) out.push(cps.slice(i, i + per).join(""));
  return out;
}

/** Split text into word deltas that concatenate back to the input ("a b" → ["a", " b"]). */
export function wordDeltas(text: string): string[] {
  const out = text.match(/\s*\S+|\s+$/g);
  return out && out.length > 0 ? out : [text];
}
