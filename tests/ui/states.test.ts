// The six words the console shows for SPEC's states, and when it stops following a run.
import { describe, expect, it } from "vitest";
import { badgeFor } from "../../src/app/states.js";

describe("the console's state badge", () => {
  it.each([
    ["starting", "working", false],
    ["running", "working", false],
    ["awaiting_input", "parked", false],
    ["awaiting_answer", "asking", false],
    ["completed", "ended", true],
    ["failed", "ended", true],
    ["cancelled", "ended", true],
    ["unreachable", "unreachable", false],
    // A lost loop takes no input again, but loomcycle fails the run later with its reason: followed on.
    ["loop_lost", "ended", false],
    // A state the run layer may add for a run loomcycle no longer has takes no input again.
    ["gone", "ended", true],
  ])("%s shows as %s", (state, badge, over) => {
    expect(badgeFor(state)).toMatchObject({ badge, over });
  });

  it("a silent run shows as stuck, with loomcycle's verdict when it is worse", () => {
    expect(badgeFor("running", { verdict: "stuck" })).toEqual({ badge: "stuck", over: false });
    expect(badgeFor("running", { verdict: "likely_dead" })).toEqual({ badge: "stuck", detail: "likely dead", over: false });
    // An ended run is ended, whatever the silence said.
    expect(badgeFor("failed", { verdict: "likely_dead" }).badge).toBe("ended");
  });

  it("a state it does not know is shown by its name and followed on", () => {
    expect(badgeFor("paused_by_operator")).toEqual({ badge: "unreachable", detail: "paused_by_operator", over: false });
  });
});
