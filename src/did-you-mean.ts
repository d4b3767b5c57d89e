// "Did you mean": the name someone (a person at the command line, or a host's model) most
// likely meant, among the names allowed there. In order: the same name written another
// way (case and separators: runId, RunID, run-id → run_id), a synonym for the same thing
// (message → text, timeout → wait_ms; a table given by the caller, per concept), a typo
// (edit distance, a swap of two neighbouring letters counting as one: agnet → agent),
// then a name that is the start or end of what was written (agent_name → agent). Only a
// name from the allowed list is ever suggested, and only one that alone fits.

/** The name without case or separators: "RunID", "run-id" and "run_id" are all "runid". */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** Edit distance, a swap of two neighbouring letters counting as one edit ("agnet"). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** Synonyms by concept: a normalized word → the names it may stand for (suggested when exactly one of them is allowed). */
export type Synonyms = Readonly<Record<string, readonly string[]>>;

/** The one choice `pred` accepts, if exactly one does. */
function only<T>(choices: readonly T[], pred: (c: T) => boolean): T | undefined {
  const hits = choices.filter(pred);
  return hits.length === 1 ? hits[0] : undefined;
}

/** The choice `typed` most likely meant, or undefined when none is close enough to say. */
export function didYouMean(typed: string, choices: readonly string[], synonyms: Synonyms = {}): string | undefined {
  const t = normalizeName(typed);
  if (t === "") return undefined;
  const norm = choices.map((c) => [c, normalizeName(c)] as const);
  const same = norm.find(([, n]) => n === t);
  if (same) return same[0];
  const meant = only(synonyms[t] ?? [], (w) => choices.includes(w));
  if (meant) return meant;
  let best: string | undefined;
  let bestD = Infinity;
  for (const [c, n] of norm) {
    const d = distance(t, n);
    if (d < bestD) [best, bestD] = [c, d];
  }
  if (best !== undefined && bestD <= Math.max(1, Math.floor(normalizeName(best).length / 3))) return best;
  const part = only(norm, ([, n]) => n.length >= 4 && (t.startsWith(n) || t.endsWith(n)));
  if (part) return part[0];
  return t.length >= 3 ? only(norm, ([, n]) => n.startsWith(t))?.[0] : undefined;
}
