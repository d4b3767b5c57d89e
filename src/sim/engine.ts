// The simulator's registries of live runs, which the HTTP handlers consult: the steer
// registry per run_id, the cancel registry per agent_id, and the interrupt waiters.
import { LiveRun, type EngineOptions, type StartRunOptions } from "./live-run.js";
import { AGENTS, type AgentDef } from "./agents.js";
import type { InterruptRec, Store } from "./store.js";
import type { Rng } from "./util.js";

export { LiveRun };
export type { EngineOptions, StartRunOptions };

export class Engine {
  /** Steer registry: run_id → live run (registered for every live run, interactive or not). */
  readonly byRun = new Map<string, LiveRun>();
  /** Cancel registry: agent_id → live run (removed the moment a cancel fires). */
  readonly byAgent = new Map<string, LiveRun>();
  readonly store: Store;
  readonly rng: Rng;
  private readonly listeners = new Set<(runId: string) => void>();
  private readonly interruptWaiters = new Map<string, () => void>();

  constructor(readonly opts: EngineOptions) {
    this.store = opts.store;
    this.rng = opts.rng;
  }

  static agent(name: string): AgentDef | undefined {
    return AGENTS.get(name);
  }

  /** cancel.Registry.Register: false when the agent_id is already live. */
  agentIdInUse(agentId: string): boolean {
    return this.byAgent.has(agentId);
  }

  start(opts: StartRunOptions): LiveRun {
    const live = new LiveRun(this, opts);
    this.byRun.set(opts.run.id, live);
    this.byAgent.set(opts.run.agent_id, live);
    live.start();
    return live;
  }

  deregister(live: LiveRun): void {
    if (this.byRun.get(live.run.id) === live) this.byRun.delete(live.run.id);
    if (this.byAgent.get(live.run.agent_id) === live) this.byAgent.delete(live.run.agent_id);
  }

  /** cancel.Registry.Cancel: fires and forgets the entry. */
  cancelAgent(agentId: string, reason: string): boolean {
    const live = this.byAgent.get(agentId);
    if (!live) return false;
    this.byAgent.delete(agentId);
    live.abort({ kind: "api", reason });
    return true;
  }

  onChange(fn: (runId: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(runId: string): void {
    for (const fn of [...this.listeners]) fn(runId);
  }

  waitInterrupt(rec: InterruptRec, signal: AbortSignal, timeoutMs: number): Promise<"resolved" | "aborted" | "timeout"> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (how: "resolved" | "aborted" | "timeout"): void => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.interruptWaiters.delete(rec.interrupt_id);
        resolve(how);
      };
      const onAbort = (): void => settle("aborted");
      if (signal.aborted) return settle("aborted");
      signal.addEventListener("abort", onAbort, { once: true });
      this.interruptWaiters.set(rec.interrupt_id, () => settle("resolved"));
      if (timeoutMs > 0) timer = setTimeout(() => settle("timeout"), timeoutMs);
    });
  }

  /** Wake the tool blocked on this interrupt (bus.Notify). */
  notifyInterrupt(id: string): void {
    this.interruptWaiters.get(id)?.();
  }

  /** Drop every live loop (of one replica, when given) as a process crash or restart would: rows untouched. */
  async crash(replica?: string): Promise<void> {
    const runs = [...this.byRun.values()].filter((r) => replica === undefined || (r.run.replica_id ?? "") === replica);
    for (const r of runs) r.abort({ kind: "crash" });
    await Promise.all(runs.map((r) => r.done.catch(() => undefined)));
  }

  /** Stop every live run (simulator shutdown). */
  async shutdown(): Promise<void> {
    const runs = [...this.byRun.values()];
    for (const r of runs) r.abort({ kind: "shutdown" });
    await Promise.all(runs.map((r) => r.done.catch(() => undefined)));
  }
}
