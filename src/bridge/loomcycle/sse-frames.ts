// SSE frame validation: one parsed SSE message → a StreamFrame (agent, session or event),
// or an `invalid` frame that says why (malformed JSON, schema mismatch, oversized).
import type { EventSourceMessage } from "eventsource-parser";
import { agentFrameIssue, loomEventIssue, type AgentFrame, type LoomEvent, type StreamFrame } from "./events.js";
import { redactSecrets, type Logger } from "../../logger.js";

/** Values of `reason` on `{kind:"invalid"}` frames. */
export type InvalidFrameReason = "malformed_json" | "schema_mismatch" | "oversized";

export interface FrameValidator {
  /** An `invalid` frame, logged once per reason at warn, then at debug. */
  invalid(name: string, reason: InvalidFrameReason, bytes: number, detail: string): StreamFrame;
  /** `ascii`: every byte of the message was ASCII (then its size is computed from lengths). */
  toFrame(m: EventSourceMessage, ascii: boolean): StreamFrame;
}

/** `secretList`: strings (the bearer token) replaced by "[REDACTED]" in a frame's data before it is parsed. */
export function frameValidator(log: Logger, secretList: readonly string[] | undefined): FrameValidator {
  const warned = new Set<InvalidFrameReason>();

  const invalid = (name: string, reason: InvalidFrameReason, bytes: number, detail: string): StreamFrame => {
    const fields = { event: name, reason, bytes, detail: truncate(detail, 200) };
    if (warned.has(reason)) {
      log.debug(fields, "skipped an unusable SSE frame");
    } else {
      warned.add(reason);
      log.warn(fields, "skipped an unusable SSE frame (further ones of this kind on this stream are logged at debug)");
    }
    return { kind: "invalid", name, reason, bytes };
  };

  const secrets = (secretList ?? []).filter((x) => x.length >= 4);
  const toFrame = (m: EventSourceMessage, ascii: boolean): StreamFrame => {
    const name = m.event ?? "message";
    const bytes = ascii ? asciiWireBytes(m) : wireBytes(m);
    let data: unknown;
    try {
      // (JSON.parse copies the strings it returns: a kept event does not pin the text
      // decoded from its whole read, which `m.data` is a slice of.)
      data = JSON.parse(
        secrets.length === 0 || !secrets.some((x) => m.data.includes(x)) ? m.data : redactSecrets(m.data, secrets),
      );
    } catch (err) {
      return invalid(name, "malformed_json", bytes, err instanceof Error ? err.message : String(err));
    }
    if (name === "agent") {
      const issue = agentFrameIssue(data);
      return issue === undefined
        ? { kind: "agent", agent: data as AgentFrame, bytes }
        : invalid(name, "schema_mismatch", bytes, issue);
    }
    // Every frame but `agent` carries `type` = event name; back-fill it if missing.
    if (isRecord(data) && data["type"] === undefined) data = { type: name, ...data };
    const issue = loomEventIssue(data);
    if (issue !== undefined) return invalid(name, "schema_mismatch", bytes, issue);
    const event = data as LoomEvent;
    if (name === "session") {
      const id = event.text;
      if (typeof id !== "string" || id === "")
        return invalid(name, "schema_mismatch", bytes, "session frame without a session id in `text`");
      return { kind: "session", sessionId: id, bytes };
    }
    return { kind: "event", event, bytes };
  };
  return { invalid, toFrame };
}

function asciiWireBytes(m: EventSourceMessage): number {
  return m.data.length + 8 + (m.event === undefined ? 0 : m.event.length + 8);
}

function wireBytes(m: EventSourceMessage): number {
  // "event: <name>\n" + "data: <data>\n" + "\n": exact for loomcycle's one-data-line frames.
  let n = Buffer.byteLength(m.data, "utf8") + 8;
  if (m.event !== undefined) n += Buffer.byteLength(m.event, "utf8") + 8;
  return n;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
