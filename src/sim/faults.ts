// Pending fault rules (the test-side control panel). The HTTP layer consults
// them per request; refusing connections is delegated to the listener owner.
import type { CutStreamFault, SimFaults } from "./types.js";

export interface CutSpec {
  afterFrames?: number;
  atByte?: number;
  mode: "destroy" | "end";
}

interface CutRule extends CutStreamFault {
  remaining: number;
}

interface RequestRule {
  remaining: number;
  ms: number;
  pathPrefix?: string;
  method?: string;
}

function matches(rule: { pathPrefix?: string; method?: string }, method: string, path: string): boolean {
  if (rule.pathPrefix !== undefined && !path.startsWith(rule.pathPrefix)) return false;
  if (rule.method !== undefined && rule.method.toUpperCase() !== method.toUpperCase()) return false;
  return true;
}

export class FaultRegistry implements SimFaults {
  private cuts: CutRule[] = [];
  private held: { released: Promise<void>; release: () => void } | undefined;
  private delays: RequestRule[] = [];
  private html502s: RequestRule[] = [];
  private routes: Array<RequestRule & { replica: string }> = [];

  constructor(private readonly refuse: (ms: number) => Promise<void>) {}

  cutStream(f: CutStreamFault): void {
    if (f.afterFrames === undefined && f.atByte === undefined) throw new Error("cutStream needs afterFrames or atByte");
    this.cuts.push({ ...f, remaining: f.connections ?? 1 });
  }

  delayHeaders(ms: number, opts: { count?: number; pathPrefix?: string; method?: string } = {}): void {
    this.delays.push({ remaining: opts.count ?? 1, ms, pathPrefix: opts.pathPrefix, method: opts.method });
  }

  html502(count: number, opts: { pathPrefix?: string; method?: string } = {}): void {
    this.html502s.push({ remaining: count, ms: 0, pathPrefix: opts.pathPrefix, method: opts.method });
  }

  refuseConnections(ms: number): Promise<void> {
    return this.refuse(ms);
  }

  routeTo(replica: string, opts: { count?: number; pathPrefix?: string; method?: string } = {}): void {
    this.routes.push({ remaining: opts.count ?? 1, ms: 0, pathPrefix: opts.pathPrefix, method: opts.method, replica });
  }

  holdTails(): () => void {
    if (!this.held) {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      this.held = { released, release };
    }
    const hold = this.held;
    return () => {
      if (this.held !== hold) return;
      this.held = undefined;
      hold.release();
    };
  }

  /** While tails are held: resolves when they are released (see holdTails). */
  tailsReleased(): Promise<void> | undefined {
    return this.held?.released;
  }

  clear(): void {
    this.cuts = [];
    this.delays = [];
    this.html502s = [];
    this.routes = [];
  }

  /** The replica a routing rule sends this request to, if one matches (consumed). */
  takeRoute(method: string, path: string): string | undefined {
    const rule = this.routes.find((r) => r.remaining > 0 && matches(r, method, path));
    if (!rule) return undefined;
    rule.remaining--;
    this.routes = this.routes.filter((r) => r.remaining > 0);
    return rule.replica;
  }

  pendingCuts(): number {
    return this.cuts.reduce((n, r) => n + r.remaining, 0);
  }

  /** Consume one connection of the first cut rule matching this run stream. */
  takeCut(runId: string): CutSpec | undefined {
    const rule = this.cuts.find((r) => r.remaining > 0 && (r.runId === undefined || r.runId === runId));
    if (!rule) return undefined;
    rule.remaining--;
    this.cuts = this.cuts.filter((r) => r.remaining > 0);
    return { afterFrames: rule.afterFrames, atByte: rule.atByte, mode: rule.mode ?? "destroy" };
  }

  takeDelay(method: string, path: string): number | undefined {
    const rule = this.delays.find((r) => r.remaining > 0 && matches(r, method, path));
    if (!rule) return undefined;
    rule.remaining--;
    this.delays = this.delays.filter((r) => r.remaining > 0);
    return rule.ms;
  }

  takeHtml502(method: string, path: string): boolean {
    const rule = this.html502s.find((r) => r.remaining > 0 && matches(r, method, path));
    if (!rule) return false;
    rule.remaining--;
    this.html502s = this.html502s.filter((r) => r.remaining > 0);
    return true;
  }
}
