// Third build step: the run console's page, dist/app/run-console.html (the MCP App resource
// ui://loomcycle/run-console.html; src/resources/run-console.ts serves it). For now a
// placeholder page; the console app's own build replaces this script (coord contract).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "app", "run-console.html");
mkdirSync(dirname(out), { recursive: true });
copyFileSync(join(root, "src", "app", "placeholder.html"), out);
process.stderr.write("wrote dist/app/run-console.html (placeholder)\n");
