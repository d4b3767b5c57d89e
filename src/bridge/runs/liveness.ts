// Whether a loop still drives a run loomcycle lists as `running`, and what is true when none
// does. loomcycle v1.59 never resumes a run's loop: after it restarts, or when the replica that
// ran the run dies, the row stays `running` (a steer gets 404, an answer is taken and never
// read) until one of its sweepers fails it, with no event (/work/coord/loomcycle-findings.md
// items 14, 15, 18):
//  - a single node answers `live: false` for such a run (`live`: a cancel handle registered on
//    the answering replica); its heartbeat sweeper fails it ("heartbeat timeout") once its
//    heartbeat is older than LOOMCYCLE_HEARTBEAT_STALE_MS (10 minutes by default);
//  - in a cluster `live` speaks only for the replica that answered, so the owner named by
//    `replica_id` is looked up in loomcycle's own view of its replicas (GET /healthz
//    `replicas[]`, a row each live replica refreshes every 30 s): a row older than 90 s, or none,
//    is a dead or departed owner (the replicas sweeper fails a crashed owner's runs, "owner
//    replica died"; a departed one's are left to the heartbeat sweeper); a live owner whose
//    parked or asking run's heartbeat is older than 90 s restarted and lost that loop (a parked
//    or asking loop refreshes it every 30 s; a run mid-turn refreshes it only between model
//    calls, so its old heartbeat says nothing).
// Ages are judged against loomcycle's clock (its Date header), not the bridge's.
import type { AgentStatusLike } from "./run-stream-client.js";
import { HEARTBEAT_STALE_MS } from "../timings.js";

export type LoopLostCause =
  /** Single node: loomcycle restarted (`live: false`). */
  | "restarted"
  /** Cluster: the owner's row in replicas[] is older than 90 s (it crashed). */
  | "owner_dead"
  /** Cluster: the owner has no row (it stopped, or its row was reaped). */
  | "owner_gone"
  /** Cluster: the owner is alive, but the run's heartbeat stopped (the owner restarted). */
  | "owner_restarted"
  /** Cluster, loomcycle's view of its replicas unreadable: a parked or asking run's heartbeat stopped. */
  | "silent";

/** A run loomcycle lists as `running` whose loop is gone. */
export interface LoopLost {
  cause: LoopLostCause;
  /** The run's last heartbeat (loomcycle's `last_heartbeat_at`). */
  heartbeatAt?: string;
  /** Cluster: the replica that ran it, and that replica's last heartbeat in replicas[]. */
  replica?: string;
  replicaHeartbeatAt?: string;
}

/** loomcycle's view of its replicas: id → last heartbeat (ms), and its clock when read. */
export interface ClusterView {
  replicas: ReadonlyMap<string, number>;
  /** The answering replica's clock when the view was read. */
  at: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Age in ms of an RFC 3339 time at `now`, or undefined when there is none. */
export function ageOf(time: string | undefined, now: number): number | undefined {
  const t = time ? Date.parse(time) : NaN;
  return Number.isFinite(t) ? Math.max(0, now - t) : undefined;
}

/**
 * Whether the status says the run's loop is gone (undefined: a loop drives it, or nothing says
 * it does not). `idle`: the bridge sees the run parked or asking; `cluster`: loomcycle's view of
 * its replicas, when the status names one; `now`: loomcycle's clock.
 */
export function judgeLoop(
  st: AgentStatusLike,
  now: number,
  opts: { idle: boolean; cluster?: ClusterView | undefined },
): LoopLost | undefined {
  if (st.status !== "running") return undefined;
  const run = st.last_heartbeat_at ? { heartbeatAt: st.last_heartbeat_at } : {};
  const owner = st.replica_id;
  if (!owner) return st.live === false ? { cause: "restarted", ...run } : undefined;
  // A cluster: `live: true` comes only from the owner, with the run's loop registered there.
  if (st.live === true) return undefined;
  const cluster = opts.cluster;
  if (cluster) {
    if (!cluster.replicas.has(owner)) return { cause: "owner_gone", ...run, replica: owner };
    const beat = cluster.replicas.get(owner)!;
    if (cluster.at - beat > HEARTBEAT_STALE_MS)
      return { cause: "owner_dead", ...run, replica: owner, replicaHeartbeatAt: iso(beat) };
  }
  const age = ageOf(st.last_heartbeat_at, now);
  if (opts.idle && age !== undefined && age > HEARTBEAT_STALE_MS)
    return { cause: cluster ? "owner_restarted" : "silent", ...run, replica: owner };
  return undefined;
}

/** How long ago, in words ("95 s ago", "12 min ago"). */
function ago(time: string | undefined, now: number): string {
  const a = ageOf(time, now);
  if (a === undefined) return "";
  return a < 120_000 ? ` (${Math.round(a / 1000)} s ago)` : ` (${Math.round(a / 60_000)} min ago)`;
}

const HEARTBEAT_SWEEP =
  'loomcycle marks it failed ("heartbeat timeout") once that heartbeat is older than its stale limit (LOOMCYCLE_HEARTBEAT_STALE_MS, 10 minutes unless set otherwise)';

/** Why no loop drives the run, and when loomcycle will say so itself (a sentence, no advice). */
export function loopLostWhy(l: LoopLost, now = Date.now()): string {
  const hb = l.heartbeatAt ? ` Its last heartbeat was at ${l.heartbeatAt}${ago(l.heartbeatAt, now)};` : "";
  const replica = l.replica ?? "?";
  let cause: string;
  let sweep = HEARTBEAT_SWEEP;
  switch (l.cause) {
    case "restarted":
      cause = "loomcycle restarted, and it does not resume a run's loop";
      break;
    case "owner_dead":
      cause = `the replica that ran it, ${replica}, stopped reporting to the cluster${l.replicaHeartbeatAt ? ` after ${l.replicaHeartbeatAt}${ago(l.replicaHeartbeatAt, now)}` : ""} (loomcycle counts a replica dead 90 s after its last report)`;
      sweep = `loomcycle's replicas sweeper marks the dead replica's runs failed ("owner replica died") when it next runs`;
      break;
    case "owner_gone":
      cause = `the replica that ran it, ${replica}, has left the cluster`;
      break;
    case "owner_restarted":
      cause = `the replica that runs it, ${replica}, restarted, and it does not resume a run's loop`;
      break;
    case "silent":
      cause = `nothing has refreshed its heartbeat for over 90 s while it waits (a live loop does every 30 s); its replica ${replica} died or restarted`;
      sweep = "loomcycle's sweepers mark it failed";
      break;
  }
  return `loomcycle no longer runs this run's loop: ${cause}, so it cannot take a steer or an answer.${hb} ${sweep}.`;
}

/** The next step of a `loop_lost` run: what to do, then why. */
export function loopLostRemedy(l: LoopLost, now = Date.now()): string {
  return `start a new run to go on. ${loopLostWhy(l, now)}`;
}

/** The sentence of an input refused because the run's loop is gone (`notDone`: "The message was NOT delivered."…). */
export function loopLostRefusal(runId: string, l: LoopLost, notDone: string, now = Date.now()): string {
  return `Run ${runId} cannot take input (state loop_lost): ${loopLostWhy(l, now)} ${notDone} Start a new run to go on.`;
}

/** Parse GET /healthz `replicas[]` (loosely: a newer loomcycle may add fields). */
export function clusterViewFrom(replicas: readonly unknown[] | null | undefined, at: number): ClusterView | undefined {
  if (!Array.isArray(replicas)) return undefined;
  const m = new Map<string, number>();
  for (const r of replicas) {
    const id = (r as { id?: unknown })?.id;
    const hb = (r as { last_heartbeat_at?: unknown })?.last_heartbeat_at;
    const t = typeof hb === "string" ? Date.parse(hb) : NaN;
    if (typeof id === "string") m.set(id, Number.isFinite(t) ? t : 0);
  }
  return { replicas: m, at };
}

/** What the cluster watch needs of loomcycle. */
export interface HealthClient {
  healthz(opts?: { signal?: AbortSignal }): Promise<{ replicas?: readonly unknown[] | null | undefined }>;
  serverNow?(): number;
}

/**
 * loomcycle's view of its replicas, read from GET /healthz at most once per `cacheMs` for every
 * run the bridge follows (its rows change every 30 s). Undefined on a single node (no
 * `replicas[]`) or when /healthz cannot be read.
 */
export class ClusterWatch {
  private cached: { at: number; view: ClusterView | undefined } | undefined;
  private inFlight: Promise<ClusterView | undefined> | undefined;

  constructor(
    private readonly client: HealthClient,
    private readonly cacheMs: number,
  ) {}

  async view(signal?: AbortSignal): Promise<ClusterView | undefined> {
    const c = this.cached;
    if (c && Date.now() - c.at < this.cacheMs) return c.view;
    this.inFlight ??= (async () => {
      try {
        const h = await this.client.healthz(signal ? { signal } : {});
        const view = clusterViewFrom(h.replicas, this.client.serverNow?.() ?? Date.now());
        this.cached = { at: Date.now(), view };
        return view;
      } catch {
        return undefined;
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }
}
