// Third build step: the run console (src/app/) as one self-contained HTML document,
// dist/app/run-console.html, which the server serves as its ui:// resource. esbuild bundles
// the TypeScript (with ext-apps' App and markdown-it) into one minified script and minifies
// the CSS; both go inline into src/app/run-console.html. No external origin is referenced:
// the host's default CSP (no network at all) holds.
//
// zod's error-message locales: ext-apps and the MCP SDK import zod's namespace, which
// re-exports every locale (~260 KB minified, more than the rest of the console together).
// The console never shows a zod message, and zod defaults to English, so the locales module
// resolves to English alone.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src", "app");
const out = join(root, "dist", "app", "run-console.html");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };

/** Documents past this are refused by the build (issue 18's bound; docs/benchmarks.md shows the size). */
export const MAX_BYTES = 600_000;

const englishOnly: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/]/.test(args.importer) ? { path: "zod-locales-en", namespace: "zod-en" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-en" }, () => ({
      contents: 'export { default as en } from "zod/v4/locales/en.js";',
      resolveDir: root,
      loader: "js",
    }));
  },
};

export interface BuiltConsole {
  html: string;
  /** Bytes of the minified script each source file accounts for (esbuild's metafile). */
  scriptInputs: Record<string, number>;
  cssBytes: number;
}

/** The console as one HTML document (nothing written). */
export async function buildConsole(): Promise<BuiltConsole> {
  const common = { bundle: true, minify: true, write: false, legalComments: "none", logLevel: "warning" } as const;
  const target = ["chrome110", "firefox115", "safari16"];
  const [script, style] = await Promise.all([
    build({
      ...common,
      entryPoints: [join(src, "main.ts")],
      format: "iife",
      platform: "browser",
      target,
      define: { __APP_VERSION__: JSON.stringify(pkg.version) },
      plugins: [englishOnly],
      metafile: true,
    }),
    build({ ...common, entryPoints: [join(src, "style.css")], target }),
  ]);
  const template = readFileSync(join(src, "run-console.html"), "utf8");
  const js = inline(script.outputFiles[0]!.text.trim(), "script");
  const css = inline(style.outputFiles[0]!.text.trim(), "style");
  const html = template.replace(/\/\*@inline style\*\//, () => css).replace(/\/\*@inline script\*\//, () => js);
  if (html.includes("@inline")) throw new Error("src/app/run-console.html: an @inline marker was not filled");
  const scriptInputs: Record<string, number> = {};
  for (const o of Object.values(script.metafile.outputs))
    for (const [file, i] of Object.entries(o.inputs)) scriptInputs[file] = (scriptInputs[file] ?? 0) + i.bytesInOutput;
  return { html, scriptInputs, cssBytes: Buffer.byteLength(css) };
}

/** Text that cannot end the inline element it sits in (`</script` inside a string, say). */
function inline(text: string, tag: "script" | "style"): string {
  return text.replace(new RegExp(`</(${tag})`, "gi"), "<\\/$1").replace(/<!--/g, "<\\!--");
}

async function main(): Promise<void> {
  const { html } = await buildConsole();
  const bytes = Buffer.byteLength(html);
  if (bytes > MAX_BYTES) throw new Error(`dist/app/run-console.html would be ${bytes} bytes, over the ${MAX_BYTES} allowed`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, html);
  process.stderr.write(`built dist/app/run-console.html (${Math.round(bytes / 1024)} KiB)\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
