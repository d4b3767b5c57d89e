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
  return (iss: { input?: unknown }): string => (iss.input === undefined ? `${name} is missing: give ${allowed}` : `${name} must be ${allowed}, not ${shown(iss.input)}`);
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
  return z
    .number({ error: given("wait_ms", `an integer number of milliseconds, 0 … ${MAX_WAIT_MS}`) })
    .int("wait_ms must be an integer number of milliseconds")
    .min(0, "wait_ms must be at least 0")
    .max(MAX_WAIT_MS, `wait_ms must be at most ${MAX_WAIT_MS} (hosts cut tool calls off around 60 s)`)
    .default(defaultMs)
    .describe(`Max wait in ms (default ${defaultMs}).`);
}

/** cancel_turn's and cancel_run's reason. */
export const reasonField = z
  .string({ error: given("reason", "a string") })
  .max(500, "reason must be at most 500 characters")
  .optional()
  .describe('Why, for loomcycle\'s record. Example: "wrong direction".');
