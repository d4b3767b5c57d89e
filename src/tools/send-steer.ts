import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { LoomcycleError, NotFoundError, RateLimitedError, ToolError } from "../bridge/loomcycle/errors.js";
import { LOOP_LOST_REMEDY } from "../bridge/runs/run-info.js";
import { readRun } from "../bridge/runs/run-reader.js";
import { isTerminal, STOP_STATES } from "../bridge/runs/run-state.js";
import { renderResult } from "../render/run-result.js";
import { defineTool } from "../tool-kit/define-tool.js";
import { askedOutputShape } from "../tool-kit/asked.js";
import { waitAsking, type PersonQuestion } from "../tool-kit/questions.js";
import { runIdField, waitMsField, given } from "../tool-kit/fields.js";
import { runOutputShape } from "../tool-kit/schemas.js";
import { retryAfterSeconds } from "../tool-kit/errors.js";

/** Re-sends after a cluster replica that does not run the run refused a steer (see below). */
const OTHER_REPLICA_TRIES = 8;

export const sendSteer = defineTool({
  name: "send_steer",
  config: {
    title: "Send a message to a running loomcycle run",
    description: [
      "Send a run its next message and return the events up to the next stop point, with the message's echo.",
      "Use it when the run is awaiting_input (mid-turn, the message is queued).",
      "Next: act on state; after a timeout, read_run_events before resending.",
    ].join(" "),
    inputSchema: {
      run_id: runIdField,
      text: z
        .string({ error: given("text", "a string") })
        .refine((s) => s.trim().length > 0, "text must not be empty")
        .describe('The message. Example: "Now add a test."'),
      wait_ms: waitMsField(25_000),
    },
    outputSchema: {
      ...runOutputShape,
      ...askedOutputShape,
      delivered: z.boolean().describe("loomcycle accepted the message into the run's queue"),
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  },
  errors: {
    cancelled:
      "Cancelled by the host while the message was being sent: it may or may not have been delivered. Call read_run_events to check before sending it again.",
    not_found: (_e, { run, said }) =>
      `${run} is not live on loomcycle: it has ended, or it is not visible to this token.${said} Start a new run with start_interactive_run, or read its log with read_run_events.`,
    rate_limited: (e) => {
      const s = retryAfterSeconds(e);
      return `The run's input queue is full (loomcycle holds 16 queued messages). The message was NOT delivered. Wait${s ? ` about ${s} s` : " a moment"} for the agent to catch up, then send it again.`;
    },
    upstream: (_e, { said }) =>
      `loomcycle (or a proxy in front of it) failed.${said} The message may or may not have been delivered: call read_run_events to check before sending it again.`,
    unreachable: (e, { bridge }) =>
      e.code === "tls_failed"
        ? undefined
        : `Cannot reach loomcycle at ${bridge.config.baseUrl} (${e.detail}). The message may not have been delivered: call read_run_events to check before sending it again.`,
    timeout: (e) =>
      `loomcycle did not answer in time (${e.detail}). The message may or may not have been delivered: call read_run_events to check before sending it again.`,
  },
  attachBy: (c) => c.hardUntil - 2000,
  async logic(args, { run, bridge, extra, clock: c, signal }) {
    const before = run.state;
    if (isTerminal(before)) {
      throw new ToolError(
        `Run ${args.run_id} has ended (state ${before}); it cannot take more input. Start a new run with start_interactive_run.`,
      );
    }
    const mark = run.events.length;
    const text = args.text.trim();
    let delivered = false;
    let otherReplica = 0;
    /** The replica loomcycle says runs it, once asked ("" = not a cluster's other replica). */
    let owner: string | undefined;
    let rateRetried = false;
    // Its echo is the host's input (source "host"); forgotten again if it was not sent.
    const forget = run.noteSending(text);
    while (!delivered) {
      try {
        const res = await bridge.client.sendInput(args.run_id, text, { signal: signal() });
        delivered = res.delivered;
        if (!delivered)
          throw new ToolError(
            `loomcycle did not accept the message for run ${args.run_id} (delivered: false). Call read_run_events to check the run's state.`,
          );
      } catch (caught) {
        let err = caught;
        // 429 means "not queued": one retry after the stated delay is safe, if it fits.
        const wait = err instanceof RateLimitedError ? (err.retryAfterMs ?? 1000) : undefined;
        if (!rateRetried && wait !== undefined && Date.now() + wait < c.hardUntil - 1500) {
          rateRetried = true;
          await sleep(wait, undefined, { signal: extra.signal }).catch(() => undefined);
          if (extra.signal.aborted) {
            forget();
            throw new ToolError("Cancelled by the host before the retry: the message was NOT delivered.");
          }
          continue;
        }
        // "No in-flight run" refuses before anything is queued. While loomcycle still lists
        // the run as running, ask why: its loop is gone, or (cluster) the replica that
        // answered is not the one running it — loomcycle v1.59 does not forward an HTTP steer
        // between replicas — so sending again, which a load balancer routes anew, is safe.
        if (err instanceof NotFoundError) {
          // Looked up once a call: between re-sends, an extra request would keep a
          // round-robin balancer sending each one to the same wrong replica.
          if (owner === undefined) {
            owner = await run.loopOwner(extra.signal);
            if (run.loopLost) err = new ToolError(`Run ${args.run_id}: ${LOOP_LOST_REMEDY} The message was NOT delivered.`);
          }
          if (owner && !run.loopLost) {
            if (otherReplica++ < OTHER_REPLICA_TRIES && Date.now() < c.hardUntil - 1500) {
              // A short random pause, so other traffic through the balancer does not keep
              // this request in step with the same replica.
              await sleep(10 + Math.random() * 50, undefined, { signal: extra.signal }).catch(() => undefined);
              continue;
            }
            err = new ToolError(
              `The loomcycle replica that answered does not run ${args.run_id} (it runs on replica ${owner}) and did not pass the message on, ${OTHER_REPLICA_TRIES + 1} times: it was NOT delivered. Send it again, or point LOOMCYCLE_BASE_URL at that replica (or a load balancer that routes by run).`,
            );
          }
        }
        // Refused outright (not a lost answer): no echo will come.
        if (err instanceof ToolError || (err instanceof LoomcycleError && err.status !== undefined && err.status < 500)) forget();
        throw err;
      }
    }
    // Wait for the next stop point after loomcycle echoes this message.
    const echoed = () => {
      const ev = run.events;
      for (let i = mark; i < ev.length; i++) {
        const e = ev.at(i);
        if (e?.type === "steer" && (e.user_input?.text ?? "").trim() === text) return i;
      }
      return -1;
    };
    const asked: PersonQuestion[] = [];
    await waitAsking(
      run,
      () => isTerminal(run.state) || (echoed() >= 0 && STOP_STATES.has(run.state)),
      c.waitUntil,
      extra,
      bridge,
      asked,
    );
    const snap = await readRun(run, { shortEcho: true }, extra.signal, bridge);
    const head = { run_id: args.run_id, delivered };
    return { structured: { ...head, ...snap }, text: renderResult(head, snap), asked };
  },
});
