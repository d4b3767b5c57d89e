// Following one run: long-polls console_read from the console's own cursor (never the
// model's read position), waits up to WAIT_MS each time, returns early when the state
// differs from the one shown (since_state), backs off when a read fails, and stops when
// the run is over or the console is torn down.
import { asConsoleRead, type ConsoleRead } from "./types.js";

export const WAIT_MS = 25_000;
const BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000];

export type CallTool = (
  name: string,
  args: Record<string, unknown>,
  signal: AbortSignal,
) => Promise<{ isError?: boolean; structuredContent?: unknown; text: string }>;

export interface FollowHandlers {
  onRead(r: ConsoleRead): void;
  /** A read failed; the next try is in `retryMs`. */
  onTrouble(message: string, retryMs: number): void;
  /** The run is over (or the console was closed): no more reads. */
  onStop(): void;
}

export class Follower {
  private readonly abort = new AbortController();
  private cursor = 0;
  private state: string | undefined;
  private failures = 0;

  constructor(
    private readonly runId: string,
    private readonly call: CallTool,
    private readonly isOver: (r: ConsoleRead) => boolean,
    private readonly on: FollowHandlers,
  ) {}

  stop(): void {
    this.abort.abort();
  }

  async run(): Promise<void> {
    const signal = this.abort.signal;
    let wait = 0; // the first read returns what the log already holds
    while (!signal.aborted) {
      const args: Record<string, unknown> = { run_id: this.runId, cursor: this.cursor, wait_ms: wait };
      if (this.state !== undefined) args.since_state = this.state;
      let read: ConsoleRead | undefined;
      let trouble: string | undefined;
      try {
        const res = await this.call("console_read", args, signal);
        read = res.isError ? undefined : asConsoleRead(res.structuredContent);
        if (!read) trouble = res.text || "The bridge gave no readable answer.";
      } catch (err) {
        if (signal.aborted) break;
        trouble = err instanceof Error ? err.message : String(err);
      }
      if (signal.aborted) break;
      if (!read) {
        const retry = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)]!;
        this.failures++;
        this.on.onTrouble(trouble ?? "The read failed.", retry);
        await pause(retry, signal);
        wait = 0;
        continue;
      }
      this.failures = 0;
      this.cursor = Math.max(this.cursor, read.next_cursor);
      this.state = read.state;
      this.on.onRead(read);
      if (read.has_more) {
        wait = 0;
        continue;
      }
      if (this.isOver(read)) break;
      wait = WAIT_MS;
    }
    this.on.onStop();
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
