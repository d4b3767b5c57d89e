// Figures for docs/reliability.md. Each fault test attaches one record to its vitest
// task (`task.meta.reliability`); vitest carries task meta from the worker to the
// reporter (tests/faults/reliability-reporter.ts), which turns the records and the
// tests' pass/fail states into the report. Nothing in the report is written by hand.
//
// Usage in a test:
//   it("…", async ({ task }) => {
//     const rec = record(task, { scenario: 1, name: "…", injected: "…", expected: "…" });
//     … rec.measured = "…"; rec.figures.lost = 0; …
//   });
import type { TaskMeta } from "vitest";

export interface ReliabilityRecord {
  /** Scenario number of the issue (1 … 10). */
  scenario: number;
  /** Short label of this check within its scenario. */
  name: string;
  /** What the test injected (faults, load, inputs). */
  injected: string;
  /** The bound or expectation the test asserts. */
  expected: string;
  /** Human-readable measured figures (filled in as the test runs). */
  measured: string;
  /** The same figures, machine-readable. */
  figures: Record<string, number | string | boolean>;
}

declare module "vitest" {
  interface TaskMeta {
    reliability?: ReliabilityRecord;
  }
}

/** Short mode (`FAULTS_SHORT=1`): fewer cuts and calls, same bounds. */
export const SHORT = process.env.FAULTS_SHORT === "1" || process.env.FAULTS_SHORT === "true";

/** Pick the full-mode or the short-mode size. */
export function size(full: number, short: number): number {
  return SHORT ? short : full;
}

export function record(
  task: { meta: TaskMeta },
  init: Omit<ReliabilityRecord, "measured" | "figures"> & Partial<Pick<ReliabilityRecord, "measured" | "figures">>,
): ReliabilityRecord {
  const rec: ReliabilityRecord = {
    measured: "(not measured: the test stopped before its figures were known)",
    figures: {},
    ...init,
  };
  task.meta.reliability = rec;
  return rec;
}

/** Percentile (nearest rank) of a list of numbers; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

export function ms(n: number): string {
  return `${Math.round(n)} ms`;
}

/** Current RSS of a process in MiB (Linux /proc), or undefined. */
export async function rssMiB(pid: number): Promise<number | undefined> {
  const { readFile } = await import("node:fs/promises");
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
