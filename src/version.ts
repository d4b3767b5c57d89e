// The version comes from package.json, so there is one source of truth. The bundled
// bin has it compiled in (scripts/build-bundle.ts defines __LOOMCYCLE_BRIDGE_VERSION__);
// tsc's output and tests read package.json, lazily: nothing runs at import time.
import { readFileSync } from "node:fs";

declare const __LOOMCYCLE_BRIDGE_VERSION__: string | undefined;

let cached: string | undefined;

export function version(): string {
  if (cached === undefined) {
    if (typeof __LOOMCYCLE_BRIDGE_VERSION__ === "string") {
      cached = __LOOMCYCLE_BRIDGE_VERSION__;
      return cached;
    }
    try {
      const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
      cached = pkg.version ?? "0.0.0";
    } catch {
      cached = "0.0.0";
    }
  }
  return cached;
}
