// Input fields shared by several tools, each checked with one clear line on bad input.
import { z } from "zod";
import { MAX_WAIT_MS } from "../bridge/runs/run-reader.js";
import { isId, mustMatch } from "../ids.js";

/** A value as an error line shows it: its kind, and a short string or number as given. */
function shown(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return v.length > 40 ? `a ${v.length}-character string` : `the string ${JSON.stringify(v)}`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return `a${typeof v === "object" ? "n" : ""} ${typeof v}`;
}

/** The one-line error for a value of the wrong type, or a missing one: names what was given and what is allowed. */
export function given(name: string, allowed: string) {
  return (iss: { input?: unknown }): string =>
    iss.input === undefined ? `${name} is missing: give ${allowed}` : `${name} must be ${allowed}, not ${shown(iss.input)}`;
}

/**
 * An integer argument from `min` to `max` (no upper bound when absent): a wrong type, a
 * fraction or a value out of range all get the same line, naming the value given.
 * `why` explains the bound to a number out of it ("hosts cut tool calls off around 60 s").
 */
export function intField(name: string, allowed: string, min: number, max?: number, why = "") {
  const other = given(name, allowed);
  const line = (iss: { input?: unknown }): string =>
    typeof iss.input === "number" ? `${name} must be ${allowed}${why}, not ${iss.input}` : other(iss);
  const n = z.number({ error: line }).int({ error: line }).min(min, { error: line });
  return max === undefined ? n.meta({ maximum: undefined }) : n.max(max, { error: line });
}

/** An id field: checked with a clear message, without a pattern in the schema the model reads. */
export function idField(name: string, example: string) {
  return z
    .string({ error: given(name, `a string such as "${example}"`) })
    .refine(isId, { error: (iss) => `${mustMatch(name)}, e.g. "${example}", not ${shown(iss.input)}` });
}

export const runIdField = idField("run_id", "r_0b1c2d3e4f5a6b7c").describe('Run id, e.g. "r_0b1c2d3e".');

export const userIdField = idField("user_id", "u_42");

export function waitMsField(defaultMs: number) {
  return intField(
    "wait_ms",
    `an integer number of milliseconds, 0 … ${MAX_WAIT_MS}`,
    0,
    MAX_WAIT_MS,
    " (hosts cut tool calls off around 60 s)",
  )
    .default(defaultMs)
    .describe(`Max wait in ms (default ${defaultMs}).`);
}

/** cancel_turn's and cancel_run's reason. */
export const reasonField = z
  .string({ error: given("reason", "a string") })
  .max(500, "reason must be at most 500 characters")
  .optional()
  .describe('Why, for loomcycle\'s record. Example: "wrong direction".');
