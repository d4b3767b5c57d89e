// A call's bound without waiting for it: fake timers stand for the clock.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SLACK_MS, callSignal, clock, progressReporter } from "../../src/tool-kit/call.js";
import { TimeoutError } from "../../src/bridge/loomcycle/errors.js";
import type { Extra } from "../../src/tool-kit/define-tool.js";

function fakeExtra(progressToken?: string): { extra: Extra; host: AbortController; sent: unknown[] } {
  const host = new AbortController();
  const sent: unknown[] = [];
  const extra = {
    signal: host.signal,
    _meta: progressToken === undefined ? {} : { progressToken },
    sendNotification: (n: unknown) => {
      sent.push(n);
      return Promise.resolve();
    },
  } as unknown as Extra;
  return { extra, host, sent };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("a call's signal", () => {
  it("aborts with a TimeoutError naming the limit once wait_ms + the slack has passed, not before", () => {
    const { extra } = fakeExtra();
    const signal = callSignal(extra, clock(1000, 3000));
    vi.advanceTimersByTime(1000 + SLACK_MS - 1);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(TimeoutError);
    expect(String((signal.reason as Error).message)).toMatch(/within this call's 5 s limit/);
  });

  it("aborts at once when the host cancels, with the host's reason, and its timer no longer fires", () => {
    const { extra, host } = fakeExtra();
    const signal = callSignal(extra, clock(1000, 3000));
    host.abort(new Error("host gave up"));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe("host gave up");
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("progress", () => {
  it("sends numbered notifications only when the host gave a progress token", () => {
    const none = fakeExtra();
    progressReporter(none.extra, () => "x")();
    expect(none.sent).toEqual([]);
    const some = fakeExtra("tok");
    const tick = progressReporter(some.extra, () => "waiting");
    tick();
    tick();
    expect(some.sent).toEqual([
      { method: "notifications/progress", params: { progressToken: "tok", progress: 1, message: "waiting" } },
      { method: "notifications/progress", params: { progressToken: "tok", progress: 2, message: "waiting" } },
    ]);
  });
});
