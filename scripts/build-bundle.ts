// Second build step (after tsc): bundle the CLI into dist/cli/main.js, the package's
// bin, with every dependency inside, so the published package needs nothing else
// installed (package.json has no runtime dependencies; `files` ships only these).
//
// Why one bundle: an MCP host spawns the bin for every session, and an unbundled ESM
// start-up spends most of its time resolving and loading a few hundred files (the SDK,
// zod, ajv, pino). One file, minified (whitespace and syntax; names are kept, so stack
// traces and error class names stay readable), starts in about two thirds of the time
// of a bare SDK server (docs/benchmarks.md).
//
// What main.ts loads on demand with `import()` (the demo, doctor, config snippets, the
// simulator behind --sandbox) becomes separate chunks (dist/cli/chunk-*.js, code
// splitting), loaded only when that command runs, so the serve path never parses them.
// They sit beside main.js, so `new URL("./main.js", import.meta.url)` in a chunk still
// names the bin. tsc's output elsewhere in dist/ stays for the benchmarks; it is not
// published.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };

const outdir = join(root, "dist", "cli");
const outfile = join(outdir, "main.js");
// Chunks of an earlier build would otherwise pile up (their names carry a content hash).
for (const f of readdirSync(outdir)) if (f.startsWith("chunk-")) rmSync(join(outdir, f));
const result = await build({
  entryPoints: { main: join(root, "src", "cli", "main.ts") },
  outdir,
  splitting: true,
  chunkNames: "chunk-[name]-[hash]",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  // CommonJS dependencies (pino and its helpers) call require() for node built-ins.
  banner: {
    js: 'import { createRequire as __bridgeCreateRequire } from "node:module"; const require = __bridgeCreateRequire(import.meta.url);',
  },
  define: { __LOOMCYCLE_BRIDGE_VERSION__: JSON.stringify(pkg.version) },
  logLevel: "warning",
  metafile: true,
});
// tsc's source map described the file this bundle replaced.
rmSync(`${outfile}.map`, { force: true });
const outputs = Object.entries(result.metafile.outputs);
const kib = (n: number): number => Math.round(n / 1024);
const mainBytes = outputs.find(([f]) => f.endsWith("/main.js"))?.[1].bytes ?? 0;
const allBytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
process.stderr.write(
  `bundled dist/cli/main.js (${kib(mainBytes)} KiB) and ${outputs.length - 1} lazily loaded chunks (${kib(allBytes)} KiB in all)\n`,
);
