// package.json's engines says what .ci/run tests (issue 21, item 2): the Node LTS lines in
// .ci/node-versions, each from its first LTS release on, and every pinned release satisfies
// it. The .mcpb's compatibility.runtimes.node is engines.node (scripts/pack-mcpb.ts).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const read = (p: string): string => readFileSync(fileURLToPath(new URL(`../../${p}`, import.meta.url)), "utf8");
const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
const pinned = read(".ci/node-versions")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));
const triple = (v: string): number[] => v.split(".").map(Number);

/** engines.node as `^X.Y.Z || …`: the floor of each major line it allows. */
function lines(range: string): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const part of range.split("||").map((p) => p.trim())) {
    expect(part, `engines.node part "${part}" is ^X.Y.Z`).toMatch(/^\^\d+\.\d+\.\d+$/);
    const floor = triple(part.slice(1));
    m.set(floor[0]!, floor);
  }
  return m;
}

const atLeast = (v: number[], floor: number[]): boolean => {
  for (let i = 0; i < 3; i++) if (v[i] !== floor[i]) return v[i]! > floor[i]!;
  return true;
};

describe("engines", () => {
  it("names exactly the Node lines .ci/run tests, and each pinned release satisfies it", () => {
    const allowed = lines(engines);
    expect(pinned.length).toBeGreaterThanOrEqual(3);
    expect([...allowed.keys()].sort((a, b) => a - b)).toEqual(pinned.map((v) => triple(v)[0]!).sort((a, b) => a - b));
    for (const v of pinned) {
      expect(v).toMatch(/^\d+\.\d+\.\d+$/);
      expect(atLeast(triple(v), allowed.get(triple(v)[0]!)!), `${v} satisfies ${engines}`).toBe(true);
    }
  });
});
