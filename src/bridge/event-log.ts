// A run's event log with stable positions and bounded memory.
//
// Storage is compact: a text delta (the bulk of any run) is kept as its bare text,
// every other event as its JSON; a small ring keeps the most recent events parsed
// (the tracker and most reads touch only those). When the log grows past its window
// the oldest entries are dropped; their positions stay valid, and a read of one is
// served by re-fetching it from loomcycle (RunStream.fetchRange), because a run's
// replay is deterministic.
import type { LoomEvent } from "./events.js";

export interface EventSource {
  readonly length: number;
  /** The event at `position`, or undefined when it is not held (evicted or beyond the end). */
  at(position: number): LoomEvent | undefined;
}

export const DEFAULT_WINDOW = 100_000;
const RECENT = 256;
const TEXT_ONLY = 0; // kind code reserved for {type:"text", text} events stored as bare text

function isTextOnly(e: LoomEvent): e is LoomEvent & { text: string } {
  if (e.type !== "text" || typeof e.text !== "string") return false;
  let n = 0;
  for (const _k in e) if (++n > 2) return false;
  return true;
}

export class EventLog implements EventSource {
  /** Position of data[0]. Positions below it were evicted. */
  private base = 0;
  private kinds: number[] = [];
  private data: string[] = [];
  private readonly recent: Array<LoomEvent | undefined> = new Array<LoomEvent | undefined>(RECENT);
  private readonly codes = new Map<string, number>([["text", TEXT_ONLY]]);
  /** Every event type seen, by code (code 0 = text stored bare). */
  private readonly names: string[] = ["text"];

  constructor(readonly window: number = DEFAULT_WINDOW) {}

  get length(): number {
    return this.base + this.data.length;
  }

  /** First position still held in memory. */
  get firstHeld(): number {
    return this.base;
  }

  push(e: LoomEvent): void {
    const pos = this.length;
    if (isTextOnly(e)) {
      this.kinds.push(TEXT_ONLY);
      this.data.push(e.text);
    } else {
      let code = this.codes.get(e.type);
      if (code === undefined) {
        code = this.names.length;
        this.names.push(e.type);
        this.codes.set(e.type, code);
      }
      this.kinds.push(code);
      this.data.push(JSON.stringify(e));
    }
    this.recent[pos % RECENT] = e;
    if (this.data.length > this.window + (this.window >> 3)) this.evict(this.data.length - this.window);
  }

  private evict(n: number): void {
    this.kinds.splice(0, n);
    this.data.splice(0, n);
    this.base += n;
  }

  at(position: number): LoomEvent | undefined {
    if (position < this.base || position >= this.length || !Number.isInteger(position)) return undefined;
    if (position >= this.length - RECENT) {
      const r = this.recent[position % RECENT];
      if (r) return r;
    }
    const i = position - this.base;
    const kind = this.kinds[i]!;
    const d = this.data[i]!;
    return kind === TEXT_ONLY ? { type: "text", text: d } : (JSON.parse(d) as LoomEvent);
  }

  /** The event type at a position without parsing it. */
  typeAt(position: number): string | undefined {
    if (position < this.base || position >= this.length) return undefined;
    return this.names[this.kinds[position - this.base]!];
  }

  /** Events [from, to) that are held, parsed (tests, small ranges). */
  slice(from = this.base, to = this.length): LoomEvent[] {
    const out: LoomEvent[] = [];
    for (let p = Math.max(from, this.base); p < Math.min(to, this.length); p++) out.push(this.at(p)!);
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
