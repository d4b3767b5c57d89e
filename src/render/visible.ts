// Text blocks never carry a control character raw. Agent output (replies, tool output,
// questions and their options, errors that quote it) and prompts are data from elsewhere: a
// NUL, a BEL, an ANSI escape or a bidirectional override reaching a terminal, a log viewer
// or a model's context can hide or reorder what is shown around it. Every text block the
// bridge returns (tool results, errors, resources) passes through `visible` on its way out,
// which writes each such character as a JSON-style escape (`\u001b`, `\u202e`);
// structuredContent and a resource's JSON keep the exact strings.

/**
 * C0 controls except tab and line feed (and a carriage return only in CRLF), DEL, C1
 * controls, and the bidirectional formatting characters: the embeddings and overrides
 * (U+202A–U+202E), the isolates (U+2066–U+2069) and the marks (U+200E, U+200F, U+061C).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)/g;

/** `s` with every control character written as a visible `\uXXXX` escape; newlines and tabs stay. */
export function visible(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
