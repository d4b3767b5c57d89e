// A simulated loomcycle cluster's replicas, kept as loomcycle v1.59 keeps them (coord/
// replica_store.go, replicas_sweeper.go): one row per replica, which a live replica refreshes
// every 30 s (a fixed interval) and GET /healthz lists as `replicas[]`; a replica counts as
// dead once its row is older than the stale limit (90 s by default) or missing. A crashed
// replica's row stays and goes stale, and the replicas sweeper then fails its `running` runs
// ("owner replica died") and deletes the row; a replica stopped gracefully deletes its own
// row, so its runs are left to the heartbeat sweeper. A restarted replica upserts its old row:
// `started_at` keeps the first start.
import type { ServerResponse } from "node:http";
import { nowNs } from "./util.js";

/** loomcycle's replica heartbeat (Heartbeat.Run, not configurable). */
export const REPLICA_HEARTBEAT_MS = 30_000;

interface ReplicaRow {
  id: string;
  startedNs: bigint;
  /** Heartbeats fall every 30 s from here while the replica lives. */
  beatFromNs: bigint;
  /** The last heartbeat of a replica that no longer beats. */
  frozenNs?: bigint;
}

const MS = 1_000_000n;

export class Replicas {
  private readonly rows = new Map<string, ReplicaRow>();
  private readonly alive = new Set<string>();
  /** Responses each replica is serving now (a stream through a killed replica is cut). */
  private readonly inFlight = new Map<string, Set<ServerResponse>>();

  constructor(readonly ids: readonly string[]) {
    const now = nowNs();
    for (const id of ids) {
      this.rows.set(id, { id, startedNs: now, beatFromNs: now });
      this.alive.add(id);
    }
  }

  /** Replicas that answer requests, in the balancer's order. */
  live(): string[] {
    return this.ids.filter((id) => this.alive.has(id));
  }

  isAlive(id: string): boolean {
    return this.alive.has(id);
  }

  /** The row's last heartbeat (the last 30 s tick of a live replica), or undefined without a row. */
  lastHeartbeatNs(id: string, now = nowNs()): bigint | undefined {
    const r = this.rows.get(id);
    if (!r) return undefined;
    if (r.frozenNs !== undefined) return r.frozenNs;
    const period = BigInt(REPLICA_HEARTBEAT_MS) * MS;
    return r.beatFromNs + ((now - r.beatFromNs) / period) * period;
  }

  /** GET /healthz `replicas[]`, in id order (ListReplicas). */
  rowsJSON(hostname: string, version: string, fmt: (ns: bigint) => string): Array<Record<string, unknown>> {
    return [...this.rows.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((r) => ({
        id: r.id,
        hostname,
        started_at: fmt(r.startedNs),
        last_heartbeat_at: fmt(this.lastHeartbeatNs(r.id)!),
        version,
      }));
  }

  /** A replica answers this request: its connection dies if the replica does. */
  serving(id: string, res: ServerResponse): void {
    let set = this.inFlight.get(id);
    if (!set) this.inFlight.set(id, (set = new Set()));
    set.add(res);
    res.once("close", () => set.delete(res));
  }

  /** Cut every connection the replica is serving (its process is gone). */
  private cut(id: string): void {
    for (const res of this.inFlight.get(id) ?? []) res.socket?.destroy();
    this.inFlight.delete(id);
  }

  /** SIGKILL: no more heartbeats (the last one `silentForMs` further back, to stand for time
   * passed), the row stays. */
  kill(id: string, silentForMs = 0): void {
    const hb = this.lastHeartbeatNs(id);
    this.alive.delete(id);
    this.cut(id);
    const r = this.rows.get(id);
    if (r && hb !== undefined) r.frozenNs = hb - BigInt(Math.round(silentForMs)) * MS;
  }

  /** SIGTERM: the replica deletes its row on the way out. */
  stopGracefully(id: string): void {
    this.alive.delete(id);
    this.cut(id);
    this.rows.delete(id);
  }

  /** The replica starts again under the same id: it upserts its row (started_at unchanged). */
  start(id: string): void {
    if (!this.ids.includes(id)) return;
    this.alive.add(id);
    const now = nowNs();
    const r = this.rows.get(id);
    if (r) {
      r.beatFromNs = now;
      delete r.frozenNs;
    } else this.rows.set(id, { id, startedNs: now, beatFromNs: now });
  }

  /** Rows older than `staleAfterMs`: what the replicas sweeper reaps. */
  stale(staleAfterMs: number, now = nowNs()): string[] {
    const cutoff = now - BigInt(Math.round(staleAfterMs)) * MS;
    return [...this.rows.keys()].filter((id) => (this.lastHeartbeatNs(id, now) ?? 0n) < cutoff);
  }

  remove(id: string): void {
    this.rows.delete(id);
  }
}
