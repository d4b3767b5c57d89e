// Everything a tool needs, built once per process: config, logger, the loomcycle
// client and the run tracker. Tools receive it as an argument (no module globals).
import type { BridgeConfig } from "../config.js";
import type { Logger } from "../logger.js";
import { LoomcycleClient } from "./loomcycle/http.js";
import { RunTracker } from "./runs/tracker.js";
import { StateFile } from "./runs/state-file.js";
import { DEFAULT_STUCK_AFTER_MS } from "./runs/run-info.js";
import { ATTACH_WITHIN_MS } from "./runs/run-reader.js";

export interface BridgeOptions {
  config: Pick<BridgeConfig, "baseUrl" | "token" | "userId" | "tokenSource"> & Partial<Pick<BridgeConfig, "questions">>;
  logger: Logger;
  /** Inject a fetch (tests). */
  fetch?: typeof fetch;
  /** Re-attach delays (tests shorten them). */
  backoffMs?: readonly number[];
  /** Label results as coming from the built-in simulator (`--sandbox`). */
  sandbox?: boolean;
  /** Keep read positions in this file across restarts (off when absent). */
  stateFilePath?: string;
  /** A running run silent for this long is checked for being stuck. Default 120 s. */
  stuckAfterMs?: number;
  /** How often a waiting tool call sends progress. Default 5 s (tests shorten it). */
  progressEveryMs?: number;
  /** How long compact_run waits for a live compaction to reach the run's log. Default 8 s. */
  compactionSeenMs?: number;
  /** Events kept in memory per run; older positions are re-read from loomcycle. Default 100,000. */
  eventWindow?: number;
  /** Finished runs unused this long are dropped from memory (re-read on demand). Default 30 min. */
  retainFinishedMs?: number;
  /** Parked runs nobody needed this long release their upstream stream. Default 120 s; 0 never. */
  parkReleaseMs?: number;
  /** How long a call waits at least for a run to attach or re-attach. Default 3 s (tests shorten it). */
  attachWithinMs?: number;
}

export class Bridge {
  readonly client: LoomcycleClient;
  readonly tracker: RunTracker;
  readonly logger: Logger;
  readonly config: BridgeOptions["config"];
  readonly sandbox: boolean;
  readonly stuckAfterMs: number;
  readonly progressEveryMs: number | undefined;
  readonly compactionSeenMs: number | undefined;
  readonly attachWithinMs: number;
  readonly stateFile: StateFile | undefined;

  constructor(opts: BridgeOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
    this.sandbox = opts.sandbox ?? false;
    this.stuckAfterMs = opts.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
    this.progressEveryMs = opts.progressEveryMs;
    this.compactionSeenMs = opts.compactionSeenMs;
    this.attachWithinMs = opts.attachWithinMs ?? ATTACH_WITHIN_MS;
    if (opts.stateFilePath) {
      this.stateFile = new StateFile(
        opts.stateFilePath,
        { baseUrl: opts.config.baseUrl, userId: opts.config.userId },
        opts.logger.child({ module: "state" }),
      );
      this.stateFile.load();
    }
    const clientOpts: ConstructorParameters<typeof LoomcycleClient>[0] = {
      baseUrl: opts.config.baseUrl,
      logger: opts.logger.child({ module: "http" }),
    };
    if (opts.config.token) clientOpts.token = opts.config.token;
    if (opts.fetch) clientOpts.fetch = opts.fetch;
    this.client = new LoomcycleClient(clientOpts);
    const trackerOpts: ConstructorParameters<typeof RunTracker>[0] = {
      client: this.client,
      logger: opts.logger.child({ module: "tracker" }),
    };
    if (opts.backoffMs) trackerOpts.backoffMs = opts.backoffMs;
    if (this.stateFile) trackerOpts.stateFile = this.stateFile;
    if (opts.eventWindow) trackerOpts.eventWindow = opts.eventWindow;
    if (opts.retainFinishedMs !== undefined) trackerOpts.retainFinishedMs = opts.retainFinishedMs;
    if (opts.parkReleaseMs !== undefined) trackerOpts.parkReleaseMs = opts.parkReleaseMs;
    this.tracker = new RunTracker(trackerOpts);
  }

  /** Stop every background stream and timer. Remote runs are left running. */
  close(): void {
    this.tracker.closeAll();
  }
}
