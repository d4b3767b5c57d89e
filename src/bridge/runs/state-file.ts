// Read positions and followed runs survive a restart (issue: restart-proof read
// positions). One small JSON file per base URL + user under the user's state
// directory ($XDG_STATE_HOME or ~/.local/state/loomcycle-mcp-bridge/), written
// atomically (temp file + rename). A corrupt or unreadable file is a warning and a
// fresh start, never a crash.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { Logger } from "../../logger.js";
import { isId } from "../../ids.js";

const Actor = z.enum(["host", "person"]);

const Entry = z.object({
  read_pos: z.number().int().min(0),
  agent_id: z.string().optional(),
  session_id: z.string().optional(),
  agent: z.string().optional(),
  state: z.string().optional(),
  /** The log's length and the time of its last event when saved, and the questions
   * pending then: a restarted bridge shows them until the replay passes that length. */
  events: z.number().int().min(0).optional(),
  last_activity_at: z.string().optional(),
  pending: z.number().int().min(0).optional(),
  /** Log positions of inputs this bridge sent for the host's model (shown with source "host"),
   * and for the person at the run console (source "person"); run-marks.ts. */
  host_inputs: z.array(z.number().int().min(0)).max(10_000).optional(),
  person_inputs: z.array(z.number().int().min(0)).max(10_000).optional(),
  /** …and of inputs that are loomcycle delivering a compaction's summary as a message (source "compaction"). */
  compaction_inputs: z.array(z.number().int().min(0)).max(10_000).optional(),
  /** Log positions of the turn cancels sent here → who sent them. */
  turn_cancels: z.record(z.string().regex(/^\d+$/), Actor).optional(),
  /** Questions answered here, by interrupt id: who answered, and the answer or the decline. */
  answers: z
    .record(
      z.string(),
      z.object({
        by: z.enum(["host", "person", "elicitation"]),
        answer: z.string().optional(),
        declined: z.literal(true).optional(),
      }),
    )
    .optional(),
  /** Who cancelled the whole run through this bridge. */
  cancelled_by: Actor.optional(),
  /** Who answers the run's questions, when a tool call chose it (questions: host | human). */
  questions: z.enum(["host", "human"]).optional(),
  /** Why the run failed, as loomcycle recorded it (its `error` field). */
  error: z.string().optional(),
  updated_at: z.string(),
});
export type SavedRun = z.infer<typeof Entry>;

const FileSchema = z.object({
  version: z.literal(1),
  base_url: z.string(),
  user_id: z.string(),
  runs: z.record(z.string(), Entry),
});

/** Entries untouched for this long are dropped on load. */
export const MAX_AGE_MS = 14 * 24 * 3600_000;
const MAX_RUNS = 2000;

export function stateDir(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith("/")
      ? env.XDG_STATE_HOME
      : join(env.HOME || homedir(), ".local", "state");
  return join(base, "loomcycle-mcp-bridge");
}

export function stateFilePath(dir: string, baseUrl: string, userId: string | undefined): string {
  const key = createHash("sha256")
    .update(`${baseUrl}\n${userId ?? ""}`)
    .digest("hex")
    .slice(0, 16);
  const host = (() => {
    try {
      return new URL(baseUrl).host.replace(/[^A-Za-z0-9.-]/g, "_");
    } catch {
      return "loomcycle";
    }
  })();
  return join(dir, `${host}-${key}.json`);
}

/** What a state file holds, for `loomcycle-mcp-bridge state`; undefined when it cannot be read or is not one. */
export function readStateSummary(
  path: string,
): { baseUrl: string; userId: string; runs: string[]; lastUsed: number | undefined } | undefined {
  try {
    const parsed = FileSchema.parse(JSON.parse(readFileSync(path, "utf8")));
    const times = Object.values(parsed.runs)
      .map((e) => Date.parse(e.updated_at))
      .filter((t) => !Number.isNaN(t));
    return {
      baseUrl: parsed.base_url,
      userId: parsed.user_id,
      runs: Object.keys(parsed.runs),
      lastUsed: times.length > 0 ? Math.max(...times) : undefined,
    };
  } catch {
    return undefined;
  }
}

export class StateFile {
  private runs = new Map<string, SavedRun>();
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;

  constructor(
    readonly path: string,
    private readonly meta: { baseUrl: string; userId: string | undefined },
    private readonly log: Logger,
    private readonly debounceMs = 250,
  ) {}

  /** Load the file; anything wrong with it means a warning and an empty state. */
  load(): Map<string, SavedRun> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT")
        this.log.warn({ path: this.path, code }, "cannot read the state file; starting with fresh read positions");
      return this.runs;
    }
    try {
      const parsed = FileSchema.parse(JSON.parse(text));
      const cutoff = Date.now() - MAX_AGE_MS;
      for (const [id, e] of Object.entries(parsed.runs)) {
        if (!isId(id)) continue;
        if (Date.parse(e.updated_at) >= cutoff) this.runs.set(id, e);
      }
    } catch (err) {
      this.log.warn(
        { path: this.path, err: err instanceof Error ? err.message.slice(0, 200) : String(err) },
        "the state file is corrupt; starting with fresh read positions",
      );
      this.runs.clear();
    }
    return this.runs;
  }

  get(runId: string): SavedRun | undefined {
    return this.runs.get(runId);
  }

  entries(): Array<[string, SavedRun]> {
    return [...this.runs.entries()];
  }

  set(runId: string, e: Omit<SavedRun, "updated_at">): void {
    const prev = this.runs.get(runId);
    if (
      prev &&
      prev.read_pos === e.read_pos &&
      prev.state === e.state &&
      prev.agent_id === e.agent_id &&
      prev.session_id === e.session_id &&
      prev.events === e.events &&
      prev.pending === e.pending &&
      prev.error === e.error &&
      marksKey(prev) === marksKey(e)
    )
      return;
    this.runs.set(runId, { ...e, updated_at: new Date().toISOString() });
    if (this.runs.size > MAX_RUNS) {
      const oldest = [...this.runs.entries()].sort((a, b) => a[1].updated_at.localeCompare(b[1].updated_at))[0];
      if (oldest) this.runs.delete(oldest[0]);
    }
    this.dirty = true;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.debounceMs);
      this.timer.unref?.();
    }
  }

  /** Forget a run (loomcycle has no such run any more). */
  delete(runId: string): void {
    if (!this.runs.delete(runId)) return;
    this.dirty = true;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.debounceMs);
      this.timer.unref?.();
    }
  }

  /** Write now if anything changed (also called on shutdown). Never throws. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return;
    this.dirty = false;
    const body = {
      version: 1 as const,
      base_url: this.meta.baseUrl,
      user_id: this.meta.userId ?? "",
      runs: Object.fromEntries(this.runs),
    };
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(join(this.path, ".."), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, JSON.stringify(body, null, 1) + "\n", { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch (err) {
      this.log.warn(
        { path: this.path, code: (err as NodeJS.ErrnoException).code },
        "cannot write the state file; read positions will not survive a restart",
      );
    }
  }
}

/** Marks only grow (or lose their oldest past a bound): their counts and newest entries tell a change. */
function marksKey(e: Omit<SavedRun, "updated_at">): string {
  const last = <T>(xs: readonly T[] | undefined): string => `${xs?.length ?? 0}:${String(xs?.at(-1) ?? "")}`;
  return [
    last(e.host_inputs),
    last(e.person_inputs),
    last(e.compaction_inputs),
    last(Object.keys(e.turn_cancels ?? {})),
    last(Object.keys(e.answers ?? {})),
    e.cancelled_by ?? "",
  ].join("|");
}
