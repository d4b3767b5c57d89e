// Scenario 11 — read positions under random use, at the property's full count. The property
// is tests/tools/read-position.property.test.ts (its model of what the host has seen, and its
// operations: reads with and without cursor, paging, raw, concurrent reads, steers, restarts,
// evictions, the run console's reads and acts); `npm test` runs a few of its runs, this file
// imports it with READ_POSITION_RUNS at the full count, in short mode too.
import { afterEach, beforeEach } from "vitest";
import { record, type ReliabilityRecord } from "./report.js";

const RUNS = 25;

let rec: ReliabilityRecord | undefined;
beforeEach(({ task }) => {
  rec = record(task, {
    scenario: 11,
    name: "read positions (property)",
    injected: `${RUNS} random sequences of up to 14 steps: reads (cursor, paging, raw, concurrent), steers, bridge restarts, evictions, the run console's reads and acts`,
    expected:
      "the read position never passes an event the host was not given nor the log's end, never moves back, never moves on a console step; every event reaches the host",
  });
});
afterEach(({ task }) => {
  if (!rec) return;
  const passed = task.result?.state === "pass";
  rec.measured = passed ? `${RUNS} of ${RUNS} sequences held every invariant` : "a sequence broke an invariant (see the error)";
  rec.figures = { runs: RUNS, passed };
});

process.env.READ_POSITION_RUNS = String(RUNS);
try {
  await import("../tools/read-position.property.test.js");
} finally {
  delete process.env.READ_POSITION_RUNS;
}
