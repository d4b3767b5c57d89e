// The run console's document (issue 18): the one HTML file an MCP Apps host loads into its
// sandboxed frame, script and styles inline. Its size is what every host pays to show it,
// once per conversation that opens it. Deterministic: built once, measured once.
//
//   node --import tsx scripts/bench/app-size.ts    # prints the figure, writes nothing
import { gzipSync } from "node:zlib";
import { buildConsole, MAX_BYTES } from "../build-app.js";
import { fmtInt } from "./lib/stats.js";
import type { Figure, FigureResult } from "./lib/types.js";

/** Which package (or the console's own code) a bundled source file belongs to. */
function owner(file: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (!m) return file.startsWith("src/app/") ? "the console (src/app)" : file;
  return m[1]!;
}

export async function measureAppSize(): Promise<FigureResult> {
  const built = await buildConsole();
  const bytes = Buffer.byteLength(built.html);
  const gz = gzipSync(built.html).length;
  const byOwner = new Map<string, number>();
  for (const [file, n] of Object.entries(built.scriptInputs)) byOwner.set(owner(file), (byOwner.get(owner(file)) ?? 0) + n);
  const parts = [...byOwner.entries()].sort((a, b) => b[1] - a[1]);
  const kb = (n: number): string => `${fmtInt(Math.round(n / 1000))} KB`;
  return {
    key: "app_size",
    figure: "run console document (dist/app/run-console.html, script and styles inline)",
    baseline: "issue 18's bound",
    measured: `${fmtInt(bytes)} B (${fmtInt(gz)} B gzipped)`,
    ratio: kb(bytes),
    goal: `≤ ${kb(MAX_BYTES)}`,
    pass: bytes <= MAX_BYTES,
    limits:
      `Most of it is the MCP Apps protocol: ext-apps' App is built on the MCP SDK's Protocol and validates every message with zod, ` +
      `whose classic API cannot be tree-shaken (zod's error-message locales, ~260 KB more, resolve to English alone at build time: ` +
      `the console never shows a zod message). markdown-it renders agent text with raw HTML off. The console's own code and styles are ` +
      `the small rest; hosts transfer the document compressed (gzip: ${kb(gz)}).`,
    details: [
      `script by source (minified bytes): ${parts.map(([o, n]) => `${o} ${fmtInt(n)}`).join("; ")}; styles ${fmtInt(built.cssBytes)}.`,
      "built as npm run build does (scripts/build-app.ts: esbuild, minified, one inline script and one inline style); the build refuses a document over the bound.",
    ],
  };
}

export const appSizeFigure: Figure = { key: "app_size", title: "run console document size", measure: () => measureAppSize() };

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measureAppSize();
  process.stdout.write(`${r.measured}: ${r.ratio} (goal ${r.goal}) ${r.pass ? "pass" : "MISS"}\n${r.details.join("\n")}\n`);
}
