// A run's event log with stable positions and bounded memory.
//
// Storage is columnar, in blocks of 512 positions: a kind code per event
// (Uint8Array), text offsets (Uint32Array), the text of all `text` deltas of the block
// concatenated into one string, and every other event as its JSON. A text delta — the
// bulk of any run — therefore costs its characters plus five bytes, instead of a
// parsed object. A few of the newest events are also kept parsed (the tracker folds
// each event into the run's state as it arrives).
//
// When the log grows past its window the oldest blocks are dropped; their positions
// stay valid, and a read of one is served by re-fetching it from loomcycle
// (RunStream.fetchRange), because a run's replay is deterministic.
import type { LoomEvent } from "../loomcycle/events.js";

export interface EventSource {
  readonly length: number;
  /** The event at `position`, or undefined when it is not held (evicted or beyond the end). */
  at(position: number): LoomEvent | undefined;
  /** Optional fast paths (no object built): the bare text of a plain text delta, and an event's type. */
  textAt?(position: number): string | undefined;
  typeAt?(position: number): string | undefined;
}

export const DEFAULT_WINDOW = 100_000;
const BLOCK = 512;
const RECENT = 8;
/** Kind code of a `{type:"text", text}` event stored as bare text. */
const TEXT = 0;

function isTextOnly(e: LoomEvent): e is LoomEvent & { text: string } {
  if (e.type !== "text" || typeof e.text !== "string") return false;
  let n = 0;
  for (const _k in e) if (++n > 2) return false;
  return true;
}

class Block {
  readonly kinds = new Uint8Array(BLOCK);
  /** off[i] = offset of event i's text in the block text; off[n] = text length so far. */
  readonly off = new Uint32Array(BLOCK + 1);
  /** For non-text events: index into `json`. */
  readonly aux = new Uint16Array(BLOCK);
  n = 0;
  /** Text of the block: sealed parts first; `parts` collapses at every non-text event. */
  private parts: string[] = [];
  private text = "";
  readonly json: string[] = [];

  pushText(t: string): void {
    const i = this.n++;
    this.kinds[i] = TEXT;
    this.parts.push(t);
    this.off[i + 1] = this.off[i]! + t.length;
  }

  pushJson(kind: number, j: string): void {
    const i = this.n++;
    this.kinds[i] = kind;
    this.aux[i] = this.json.length;
    this.json.push(j);
    this.off[i + 1] = this.off[i]!;
    this.collapse();
  }

  /** Join pending text parts into the block text (turn boundaries, reads, a full block). */
  collapse(): void {
    if (this.parts.length === 0) return;
    this.text = this.text + this.parts.join("");
    this.parts = [];
    // Flatten the result so a long-lived block holds one flat string, not a rope.
    if (this.n === BLOCK) this.text = flat(this.text);
  }

  textAt(i: number): string {
    this.collapse();
    return this.text.slice(this.off[i]!, this.off[i + 1]!);
  }
}

/** Force V8 to flatten a cons-string (a rope) into one sequential string. */
function flat(s: string): string {
  // Reading a character flattens a cons-string in place.
  void s.charCodeAt(0);
  return s;
}

export class EventLog implements EventSource {
  /** Position of blocks[0][0]. Positions below it were evicted. */
  private base = 0;
  private readonly blocks: Block[] = [];
  private count = 0;
  private readonly recent: Array<LoomEvent | undefined> = new Array<LoomEvent | undefined>(RECENT);
  /** Codes of events stored as JSON, by type (a `text` event with extra fields gets one too). */
  private readonly codes = new Map<string, number>();
  /** Every event type seen, by code (code 0 = text stored bare). */
  private readonly names: string[] = ["text"];

  constructor(readonly window: number = DEFAULT_WINDOW) {}

  get length(): number {
    return this.count;
  }

  /** First position still held in memory. */
  get firstHeld(): number {
    return this.base;
  }

  push(e: LoomEvent): void {
    let b = this.blocks[this.blocks.length - 1];
    if (!b || b.n === BLOCK) {
      b?.collapse();
      b = new Block();
      this.blocks.push(b);
    }
    if (isTextOnly(e)) b.pushText(e.text);
    else {
      let code = this.codes.get(e.type);
      if (code === undefined) {
        code = this.names.length < 255 ? this.names.length : 255; // 255: "other", type read from the JSON
        if (code < 255) {
          this.names.push(e.type);
          this.codes.set(e.type, code);
        }
      }
      b.pushJson(code, JSON.stringify(e));
    }
    this.recent[this.count % RECENT] = e;
    this.count += 1;
    if (b.n === BLOCK) b.collapse();
    // Evict whole blocks once the window is exceeded by more than a block.
    while (this.count - this.base > this.window + BLOCK && this.blocks.length > 1) {
      this.blocks.shift();
      this.base += BLOCK;
    }
  }

  at(position: number): LoomEvent | undefined {
    if (position < this.base || position >= this.count || !Number.isInteger(position)) return undefined;
    if (position >= this.count - RECENT) {
      const r = this.recent[position % RECENT];
      if (r) return r;
    }
    const rel = position - this.base;
    const b = this.blocks[Math.floor(rel / BLOCK)]!;
    const i = rel % BLOCK;
    return b.kinds[i] === TEXT ? { type: "text", text: b.textAt(i) } : (JSON.parse(b.json[b.aux[i]!]!) as LoomEvent);
  }

  /** The text of a plain `{type:"text", text}` event without building it; undefined for any other event. */
  textAt(position: number): string | undefined {
    if (position < this.base || position >= this.count) return undefined;
    const rel = position - this.base;
    const b = this.blocks[Math.floor(rel / BLOCK)]!;
    const i = rel % BLOCK;
    return b.kinds[i] === TEXT ? b.textAt(i) : undefined;
  }

  /** The event type at a position without parsing it (undefined when not held). */
  typeAt(position: number): string | undefined {
    if (position < this.base || position >= this.count) return undefined;
    const rel = position - this.base;
    const b = this.blocks[Math.floor(rel / BLOCK)]!;
    const k = b.kinds[rel % BLOCK]!;
    return k === 255 ? this.at(position)?.type : this.names[k];
  }

  /** Let go of every event held (a released run: loomcycle keeps them, a read re-fetches
   * them). Positions stay as they are; new events are appended after them. */
  dropHeld(): void {
    this.blocks.length = 0;
    this.base = this.count;
    this.recent.fill(undefined);
  }

  /** Events [from, to) that are held, parsed (tests, small ranges). */
  slice(from = this.base, to = this.count): LoomEvent[] {
    const out: LoomEvent[] = [];
    for (let p = Math.max(from, this.base); p < Math.min(to, this.count); p++) out.push(this.at(p)!);
    return out;
  }
}

/** A view over a log whose evicted head [from, from + fetched.length) was re-fetched. */
export class PatchedSource implements EventSource {
  constructor(
    private readonly log: EventSource & { firstHeld: number },
    private readonly from: number,
    private readonly fetched: readonly LoomEvent[],
  ) {}

  /** The view ends where the re-fetched part ends if a gap remains before what the log holds. */
  get length(): number {
    const end = this.from + this.fetched.length;
    return end < this.log.firstHeld ? end : this.log.length;
  }

  at(position: number): LoomEvent | undefined {
    if (position >= this.from && position < this.from + this.fetched.length) return this.fetched[position - this.from];
    return this.log.at(position);
  }
}
