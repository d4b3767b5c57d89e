// Everything a tool needs, built once per process: config, logger, the loomcycle
// client and the run tracker. Tools receive it as an argument (no module globals).
import type { BridgeConfig } from "../config.js";
import { secretsOf, type Logger } from "../logger.js";
import { LoomcycleClient } from "./loomcycle/http.js";
import { RunTracker } from "./runs/tracker.js";
import { StateFile } from "./runs/state-file.js";
import { timings, type Timings } from "./timings.js";
import type { Me } from "./loomcycle/api-types.js";

export interface BridgeOptions {
  config: Pick<BridgeConfig, "baseUrl" | "token" | "userId" | "tokenSource"> & Partial<Pick<BridgeConfig, "questions">>;
  logger: Logger;
  /** Inject a fetch (tests). */
  fetch?: typeof fetch;
  /** Label results as coming from the built-in simulator (`--sandbox`). */
  sandbox?: boolean;
  /** Keep read positions in this file across restarts (off when absent). */
  stateFilePath?: string;
  /** Events kept in memory per run; older positions are re-read from loomcycle. Default 100,000. */
  eventWindow?: number;
  /** Delays and bounds over their defaults (src/bridge/timings.ts); tests shorten some. */
  timings?: Partial<Timings>;
}

export class Bridge {
  readonly client: LoomcycleClient;
  readonly tracker: RunTracker;
  readonly logger: Logger;
  readonly config: BridgeOptions["config"];
  readonly sandbox: boolean;
  /** Scrubbed from every error and note a tool returns (the token). */
  readonly secrets: readonly string[];
  readonly timings: Timings;
  readonly stateFile: StateFile | undefined;

  constructor(opts: BridgeOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
    this.sandbox = opts.sandbox ?? false;
    this.secrets = secretsOf(opts.config.token);
    this.timings = timings(opts.timings);
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
      retry: { baseDelayMs: this.timings.retryBaseMs },
    };
    if (opts.config.token) clientOpts.token = opts.config.token;
    if (opts.fetch) clientOpts.fetch = opts.fetch;
    this.client = new LoomcycleClient(clientOpts);
    const trackerOpts: ConstructorParameters<typeof RunTracker>[0] = {
      client: this.client,
      logger: opts.logger.child({ module: "tracker" }),
      timings: this.timings,
    };
    if (this.stateFile) trackerOpts.stateFile = this.stateFile;
    if (opts.eventWindow) trackerOpts.eventWindow = opts.eventWindow;
    this.tracker = new RunTracker(trackerOpts);
  }

  private who: Promise<Me> | undefined;

  /** Who the token is to loomcycle (GET /v1/_me): asked once, kept for the process (a failed
   * answer is asked again next time). */
  me(signal?: AbortSignal): Promise<Me> {
    const p = (this.who ??= this.client.me(signal ? { signal } : {}));
    p.catch(() => {
      if (this.who === p) this.who = undefined;
    });
    return p;
  }

  /** Stop every background stream and timer. Remote runs are left running. */
  close(): void {
    this.tracker.closeAll();
  }
}
