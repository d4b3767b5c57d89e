// loomcycle's one rule for ids (runs, agents, users, interrupts), for every check in the
// bridge and the simulator.
export const ID_RULE = "[A-Za-z0-9_-]{1,128}";
const ID_PATTERN = new RegExp(`^${ID_RULE}$`);

export function isId(s: string): boolean {
  return ID_PATTERN.test(s);
}

/** The one line for an id that breaks the rule: `run_id must match [A-Za-z0-9_-]{1,128}`. */
export function mustMatch(name: string): string {
  return `${name} must match ${ID_RULE}`;
}
