// Second build step (after tsc): bundle the serve path of the CLI into one file and
// write it over dist/cli/main.js, the package's bin.
//
// Why: an MCP host spawns the bin for every session, and an unbundled ESM start-up
// spends most of its time resolving and loading a few hundred files (the SDK, zod,
// ajv, pino). One file, minified (whitespace and syntax; names are kept, so stack
// traces and error class names stay readable), starts in about two thirds of the time
// of a bare SDK server (docs/benchmarks.md).
//
// What main.ts loads on demand with `import()` (the demo, doctor, config snippets, the
// simulator behind --sandbox) stays outside the bundle: those imports keep their
// relative paths and load tsc's output next to the bundle, so the serve path never
// compiles them. Everything else in dist/ is tsc's output, unchanged.
import { readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };

/** Keep `import("./x.js")` (relative, dynamic) external: loaded lazily from tsc's output. */
const lazyStaysOutside: Plugin = {
  name: "lazy-stays-outside",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (a) => (a.kind === "dynamic-import" ? { path: a.path, external: true } : undefined));
  },
};

const outfile = join(root, "dist", "cli", "main.js");
const result = await build({
  entryPoints: [join(root, "src", "cli", "main.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  // CommonJS dependencies (pino and its helpers) call require() for node built-ins.
  banner: { js: 'import { createRequire as __bridgeCreateRequire } from "node:module"; const require = __bridgeCreateRequire(import.meta.url);' },
  define: { __LOOMCYCLE_BRIDGE_VERSION__: JSON.stringify(pkg.version) },
  plugins: [lazyStaysOutside],
  logLevel: "warning",
  metafile: true,
});
// tsc's source map described the file this bundle replaced.
rmSync(`${outfile}.map`, { force: true });
const bytes = Object.values(result.metafile.outputs)[0]?.bytes ?? 0;
process.stderr.write(`bundled dist/cli/main.js (${Math.round(bytes / 1024)} KiB)\n`);
