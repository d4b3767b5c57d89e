// What every resource read returns: the text (with the sandbox banner in --sandbox) and
// the same as JSON, because OpenCode and Claude Code let models read resources directly.
import type { ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import type { Bridge } from "../bridge/bridge.js";
import { SANDBOX_BANNER } from "../render/run-result.js";
import { visible } from "../render/visible.js";

export function contents(uri: string, bridge: Bridge, text: string, json: unknown): ReadResourceResult {
  return {
    contents: [
      // The text never carries a control character raw (render/visible.ts); the JSON keeps the exact strings.
      { uri, mimeType: "text/plain", text: visible(bridge.sandbox ? `${SANDBOX_BANNER}\n${text}` : text) },
      { uri, mimeType: "application/json", text: JSON.stringify(json) },
    ],
  };
}

/** A resource read asks loomcycle within this bound (no call clock bounds it). */
export const RESOURCE_READ_MS = 8000;
