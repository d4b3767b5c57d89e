// Whose runs and questions a token can list. loomcycle v1.59 forces a non-admin token to its
// own subject: a user-scoped list of anyone else's runs answers 200 with nothing in it, and a
// user-scoped list of questions may hold questions the token can neither read nor answer
// (/work/coord/loomcycle-findings.md item 17). Only GET /v1/_me tells, so the lists say it.
import type { Bridge } from "./bridge.js";

/**
 * A note for a list of `userId`'s runs or questions when the token cannot see them (it is not
 * an admin and its subject is someone else); undefined when it can, or when loomcycle cannot
 * say who the token is.
 */
export async function listedUserNote(
  bridge: Bridge,
  userId: string,
  what: "runs" | "questions",
  signal?: AbortSignal,
): Promise<string | undefined> {
  let me;
  try {
    me = await bridge.me(signal);
  } catch {
    return undefined;
  }
  if (me.is_admin !== false || !me.subject || me.subject === userId) return undefined;
  const configured = userId === bridge.config.userId ? ` (LOOMCYCLE_USER_ID)` : "";
  const fix = `Set LOOMCYCLE_USER_ID to ${JSON.stringify(me.subject)} (\`loomcycle-mcp-bridge doctor\` checks it), or use a token of ${JSON.stringify(userId)}.`;
  if (what === "runs")
    return `this token is not an admin: loomcycle lists only the runs of its own subject ${JSON.stringify(me.subject)}, so its list of ${JSON.stringify(userId)}'s runs${configured} comes back empty whatever they hold; runs this bridge started are ${JSON.stringify(me.subject)}'s. ${fix}`;
  return `this token is not an admin and its subject is ${JSON.stringify(me.subject)}: it can neither read nor answer the runs of ${JSON.stringify(userId)}${configured}, so this list of their questions may be empty or hold questions resolve_interrupt cannot answer. ${fix}`;
}
