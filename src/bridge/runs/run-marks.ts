// Who did what to a run through this bridge: the inputs it sent, the turns it stopped, the
// questions it answered and the run it ended, each as the host's (its model, through the
// tools) or the person's (the run console, an MCP App); an answer may also come from the
// person through elicitation (questions: "human"). loomcycle does not say who sent a steer
// or stopped a turn, so the bridge remembers it: inputs and turn cancels by log position,
// answers by interrupt id. Every later read marks its items with it (digest.ts), and it
// is kept with the read position in the state file, so a restart does not forget it.
import type { SavedRun } from "./state-file.js";

/** Who acted through this bridge: the host's model, or the person at the run console. */
export type Actor = "host" | "person";
/** The `source` of an input that is loomcycle delivering a compaction's summary as a message
 * (a compaction asked of a cluster replica that does not run the run reaches the owner as a
 * plain steer whose text is the summary): not the host's, not the person's. */
export const COMPACTION_SOURCE = "compaction";
/** Who an input came from, when the bridge knows it better than loomcycle's `source`. */
export type InputSource = Actor | typeof COMPACTION_SOURCE;
/** Who answered a question through this bridge. */
export type Answerer = Actor | "elicitation";

export interface AnswerMark {
  by: Answerer;
  /** The answer sent (absent when declined). */
  answer?: string;
  declined?: true;
}

/** What the digest reads of the marks. */
export interface DigestMarks {
  readonly inputs: ReadonlyMap<number, InputSource>;
  readonly turnCancels: ReadonlyMap<number, Actor>;
  readonly answers: ReadonlyMap<string, AnswerMark>;
  /** Log position of a question's result (the Interruption tool's `tool_result`) → its interrupt id. */
  readonly answerResults: ReadonlyMap<number, string>;
}

/** The marks as the state file keeps them. */
export type SavedMarks = Pick<
  SavedRun,
  "host_inputs" | "person_inputs" | "compaction_inputs" | "turn_cancels" | "answers" | "cancelled_by"
>;

/** Positions (and answers) kept per run in the state file: the newest. */
const MAX_SAVED = 500;
/** An answer is kept (and shown) up to this many characters. */
export const ANSWER_MARK_CHARS = 2000;

export class RunMarks implements DigestMarks {
  /** Log position of a `steer` frame → who sent that input (or "compaction": loomcycle's
   * summary of a compaction asked for here, delivered as a message). */
  readonly inputs = new Map<number, InputSource>();
  /** Log position of a `turn_cancelled` frame → who stopped that turn. */
  readonly turnCancels = new Map<number, Actor>();
  /** Interrupt id → how it was answered here. */
  readonly answers = new Map<string, AnswerMark>();
  /** Where each question's result is in the log (derived from the log, so not saved: a
   * replay finds it again). Its item is marked with who answered, which the next read of
   * a host that had already read the question shows it. */
  readonly answerResults = new Map<number, string>();
  /** Who cancelled the whole run (set once loomcycle accepted the cancel). */
  cancelledBy: Actor | undefined;
  /** Called whenever a mark is added (the tracker saves the run's entry). */
  onChange: (() => void) | undefined;
  /** Steers sent (or being sent) whose echo has not arrived yet. */
  private readonly sending: Array<{ text: string; by: Actor }> = [];
  /** Turn cancels asked for at a log length, whose `turn_cancelled` has not arrived yet. */
  private readonly cancelling: Array<{ from: number; by: Actor }> = [];
  /** Compactions asked for here whose outcome has not shown on the log yet. */
  private readonly compacting: Array<{ seen: boolean }> = [];

  /** A steer is being sent: its echo in the log is `by`'s input. Returns a function that
   * forgets it (the send was refused, so no echo will come). */
  expectInput(text: string, by: Actor): () => void {
    const entry = { text: text.trim(), by };
    this.sending.push(entry);
    return () => remove(this.sending, entry);
  }

  /** A turn cancel is being asked for while the log holds `from` events: the next
   * `turn_cancelled` at or after it is `by`'s. Returns a function that forgets it. */
  expectTurnCancel(from: number, by: Actor): () => void {
    const entry = { from, by };
    this.cancelling.push(entry);
    return () => remove(this.cancelling, entry);
  }

  /**
   * A compaction is being asked for: until the returned function is called, its outcome on
   * the log is awaited — a `context_compaction` frame, or (loomcycle v1.59, a compaction
   * through a cluster replica that does not run the run) the first steer whose text is not
   * one being sent here, which is then the summary delivered as a message ("compaction").
   */
  expectCompaction(): () => void {
    const entry = { seen: false };
    this.compacting.push(entry);
    return () => remove(this.compacting, entry);
  }

  /** The oldest awaited compaction not seen yet, now seen; false when none is awaited. */
  private sawCompaction(): boolean {
    const c = this.compacting.find((x) => !x.seen);
    if (!c) return false;
    c.seen = true;
    return true;
  }

  /** The run's opening input, sent by this bridge's start. */
  sawOpening(position: number, by: Actor): void {
    this.set(this.inputs, position, by);
  }

  /** A later `steer` frame: the echo of an input sent here, if its text is one being sent. */
  sawInput(position: number, text: string): void {
    const t = text.trim();
    const i = this.sending.findIndex((s) => s.text === t);
    if (i < 0) {
      // Not a text sent here, while a compaction asked for here is due: its summary.
      if (this.sawCompaction()) this.set(this.inputs, position, COMPACTION_SOURCE);
      return;
    }
    const [s] = this.sending.splice(i, 1);
    this.set(this.inputs, position, s!.by);
  }

  /** Any other frame: a `turn_cancelled` answers the oldest cancel asked for before it; a
   * park or the run's end closes the turn, so a cancel asked for before it that produced
   * none (the turn ended first) expects nothing more. */
  sawFrame(type: string, position: number): void {
    if (type === "context_compaction") this.sawCompaction();
    else if (type === "turn_cancelled") {
      const i = this.cancelling.findIndex((c) => c.from <= position);
      if (i < 0) return;
      const [c] = this.cancelling.splice(i, 1);
      this.set(this.turnCancels, position, c!.by);
    } else if (type === "awaiting_input" || type === "done") {
      for (let i = this.cancelling.length - 1; i >= 0; i--)
        if (this.cancelling[i]!.from <= position) this.cancelling.splice(i, 1);
    }
  }

  /** The result of question `interruptId` is at `position` (whoever answered it). */
  sawAnswerResult(position: number, interruptId: string): void {
    this.answerResults.set(position, interruptId);
  }

  /** loomcycle accepted an answer (or a decline) sent here. */
  noteAnswer(interruptId: string, mark: AnswerMark): void {
    const m: AnswerMark = mark.declined ? { by: mark.by, declined: true } : { by: mark.by, answer: clip(mark.answer ?? "") };
    this.answers.delete(interruptId); // re-inserted as the newest
    this.answers.set(interruptId, m);
    this.onChange?.();
  }

  /** loomcycle accepted a cancel of the whole run sent here (the first one counts). */
  noteRunCancel(by: Actor): void {
    if (this.cancelledBy) return;
    this.cancelledBy = by;
    this.onChange?.();
  }

  /** The marks for the state file (the newest of each kind). */
  toSaved(): SavedMarks {
    const out: SavedMarks = {};
    const host = positionsOf(this.inputs, "host");
    const person = positionsOf(this.inputs, "person");
    const compaction = positionsOf(this.inputs, COMPACTION_SOURCE);
    if (host.length > 0) out.host_inputs = host;
    if (person.length > 0) out.person_inputs = person;
    if (compaction.length > 0) out.compaction_inputs = compaction;
    if (this.turnCancels.size > 0) {
      const newest = [...this.turnCancels.entries()].sort((a, b) => a[0] - b[0]).slice(-MAX_SAVED);
      out.turn_cancels = Object.fromEntries(newest.map(([p, by]) => [String(p), by]));
    }
    if (this.answers.size > 0) out.answers = Object.fromEntries([...this.answers.entries()].slice(-MAX_SAVED));
    if (this.cancelledBy) out.cancelled_by = this.cancelledBy;
    return out;
  }

  /** Take the marks an earlier process (or an earlier follow of this run) saved. */
  load(saved: SavedMarks): void {
    for (const p of saved.host_inputs ?? []) this.inputs.set(p, "host");
    for (const p of saved.person_inputs ?? []) this.inputs.set(p, "person");
    for (const p of saved.compaction_inputs ?? []) this.inputs.set(p, COMPACTION_SOURCE);
    for (const [p, by] of Object.entries(saved.turn_cancels ?? {})) this.turnCancels.set(Number(p), by);
    for (const [id, a] of Object.entries(saved.answers ?? {})) {
      const m: AnswerMark = { by: a.by };
      if (a.declined) m.declined = true;
      else m.answer = a.answer ?? "";
      this.answers.set(id, m);
    }
    if (saved.cancelled_by) this.cancelledBy = saved.cancelled_by;
  }

  private set<K, V extends string>(map: Map<K, V>, key: K, by: V): void {
    if (map.get(key) === by) return;
    map.set(key, by);
    this.onChange?.();
  }
}

function remove<T>(list: T[], entry: T): void {
  const i = list.indexOf(entry);
  if (i >= 0) list.splice(i, 1);
}

function positionsOf(map: ReadonlyMap<number, InputSource>, by: InputSource): number[] {
  const out: number[] = [];
  for (const [p, who] of map) if (who === by) out.push(p);
  return out.sort((a, b) => a - b).slice(-MAX_SAVED);
}

function clip(s: string): string {
  return s.length <= ANSWER_MARK_CHARS ? s : s.slice(0, ANSWER_MARK_CHARS - 1) + "…";
}
