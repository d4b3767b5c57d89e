// What a resource read returns: the text and the same as JSON, because OpenCode and Claude
// Code let models read resources directly; in --sandbox the text says it comes from the simulator.
import type { ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import type { Bridge } from "../bridge/bridge.js";
import { SANDBOX_BANNER } from "../render/run-result.js";

export function both(uri: string, text: string, json: unknown): ReadResourceResult {
  return {
    contents: [
      { uri, mimeType: "text/plain", text },
      { uri, mimeType: "application/json", text: JSON.stringify(json) },
    ],
  };
}

/** In --sandbox, the text opens with the same banner as every tool result. */
export function banner(bridge: Bridge): string {
  return bridge.sandbox ? `${SANDBOX_BANNER}\n` : "";
}

export function deadline(ms: number): AbortSignal {
  return AbortSignal.timeout(ms);
}
