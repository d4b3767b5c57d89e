// The shape every benchmark module returns, and what the orchestrator gives it.

export interface BenchContext {
  /** Independent runs per figure (each alternates baseline and candidate); ≥ 5 for the report. */
  runs: number;
  /** Progress lines (the orchestrator prints them to stderr). */
  log: (line: string) => void;
}

export interface FigureResult {
  /** Stable key, e.g. "cold_start". */
  key: string;
  /** Row title in the table. */
  figure: string;
  /** What it is compared with. */
  baseline: string;
  /** Measured value(s), human-readable (candidate vs baseline). */
  measured: string;
  /** The ratio or absolute value the goal is about. */
  ratio: string;
  goal: string;
  pass: boolean;
  /** One paragraph: what limits the figure (always filled; required when missed or near). */
  limits: string;
  /** Extra lines for the details section (per-run values, method). */
  details: string[];
}

export interface Figure {
  key: string;
  title: string;
  measure(ctx: BenchContext): Promise<FigureResult>;
}
