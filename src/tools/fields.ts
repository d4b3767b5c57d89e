// Input fields shared by several tools, each checked with one clear line on bad input.
import { z } from "zod";
import { MAX_WAIT_MS } from "../bridge/runs/run-reader.js";
import { isId, mustMatch } from "../ids.js";

/** An id field: checked with a clear message, without a pattern in the schema the model reads. */
export function idField(name: string, example: string) {
  return z
    .string({ error: `${name} must be a string such as "${example}"` })
    .refine(isId, `${mustMatch(name)}, e.g. "${example}"`);
}

export const runIdField = idField("run_id", "r_0b1c2d3e4f5a6b7c").describe('Run id, e.g. "r_0b1c2d3e".');

export const userIdField = idField("user_id", "u_42");

export function waitMsField(defaultMs: number) {
  return z
    .number({ error: `wait_ms must be an integer number of milliseconds, 0 … ${MAX_WAIT_MS}` })
    .int("wait_ms must be an integer number of milliseconds")
    .min(0, "wait_ms must be at least 0")
    .max(MAX_WAIT_MS, `wait_ms must be at most ${MAX_WAIT_MS} (hosts cut tool calls off around 60 s)`)
    .default(defaultMs)
    .describe(`Max wait in ms (default ${defaultMs}).`);
}

/** cancel_turn's and cancel_run's reason. */
export const reasonField = z
  .string({ error: "reason must be a string" })
  .max(500, "reason must be at most 500 characters")
  .optional()
  .describe('Why, for loomcycle\'s record. Example: "wrong direction".');
