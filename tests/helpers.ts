// Small shared test helpers.
import { spawn } from "node:child_process";
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../src/logger.js";

// Taken at import, so that a test's fake timers (vi.useFakeTimers) never stall a wait.
const realSetTimeout = globalThis.setTimeout;
const realNow = Date.now.bind(Date);

export interface WaitOptions {
  /** The bound, in ms (default 10 s): what only a real failure reaches, never a busy machine. */
  timeoutMs?: number;
  /** What is awaited, for the error; a function to show the state when the bound is reached. */
  what?: string | (() => string);
}

type Truthy<T> = Exclude<T, false | 0 | 0n | "" | null | undefined>;

/**
 * The one bounded wait of the tests: re-checks `probe` every few ms until it returns a truthy
 * value, and resolves with that value (a frame found, a run looked up…); rejects with an
 * error naming `what` once `timeoutMs` has passed. Wait for the event itself where the code
 * offers one (a run's onChange, a promise it resolves, a process's exit); never sleep a
 * fixed time instead. `probe` may be async (it is awaited before the next check).
 */
export async function waitFor<T>(probe: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const until = realNow() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as Truthy<T>;
    if (realNow() > until) {
      const what = typeof opts.what === "function" ? opts.what() : (opts.what ?? "a condition");
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => realSetTimeout(r, 5));
  }
}

/**
 * Resolves on the event loop's next turn, once every promise callback queued so far has run:
 * code that works in promise callbacks alone (an in-memory stream, a loop woken by a call)
 * has then done all it would do by itself. Not a wait for I/O or for time.
 */
export function nextTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** A logger whose lines are kept in memory (to assert on what was logged). */
export function memoryLogger(level: "debug" | "info" | "warn" = "warn"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger({ level, destination: dest }), lines };
}

/** Deterministic PRNG (mulberry32) so failures can be replayed with the printed seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to completion without blocking the event loop (a simulator it talks to
 * may run in this process); stdin closed; killed and rejected after `timeoutMs`. */
export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: { env: Record<string, string>; cwd?: string; timeoutMs?: number },
): Promise<ProcessResult> {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(cmd, [...args], { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(
        new Error(
          `${cmd} ${args.join(" ")}: no exit within ${timeoutMs} ms; stdout: ${stdout.slice(-2000)}; stderr: ${stderr.slice(-2000)}`,
        ),
      );
    }, timeoutMs);
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
