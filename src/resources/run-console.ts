// The run console's page: ui://loomcycle/run-console.html, one self-contained HTML document
// (MCP Apps' text/html;profile=mcp-app) that hosts declaring the extension show for
// start_interactive_run and attach_run. `npm run build` writes it to dist/app/; it is read
// when a host first asks for it (never at start-up: a host spawns the bridge for every
// session, and most never open the console) and kept in memory after that.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError, type ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { CONSOLE_PAGE_META, RESOURCE_MIME_TYPE, RUN_CONSOLE_URI } from "../tool-kit/mcp-apps.js";

/** Where the build puts the page, under the package's root. */
const BUILT_PAGE = join("dist", "app", "run-console.html");

/** The package's root: the nearest folder above this module with a package.json (the same
 * for src/resources/*.ts under tsx, tsc's dist/ and the bundle in dist/cli/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return dir;
}

/** The built page's path in this installation. */
export function defaultConsolePage(): string {
  return join(packageRoot(), BUILT_PAGE);
}

/** Pages read so far, by path: read once, on first use. A failed read is not kept (the
 * next one tries again: `npm run build` may have written it since). */
const pages = new Map<string, Promise<string>>();

function loadPage(path: string): Promise<string> {
  let page = pages.get(path);
  if (!page) {
    page = readFile(path, "utf8");
    pages.set(path, page);
    page.catch(() => pages.delete(path));
  }
  return page;
}

/** Register the console's resource. `pagePath` (tests) overrides where the built page is. */
export function registerRunConsole(server: McpServer, pagePath?: string): void {
  server.registerResource(
    "run-console",
    RUN_CONSOLE_URI,
    {
      title: "loomcycle run console",
      description:
        "An MCP App: watch a run live and answer, steer or cancel it. Hosts with MCP Apps show it for start_interactive_run and attach_run.",
      mimeType: RESOURCE_MIME_TYPE,
      _meta: CONSOLE_PAGE_META,
    },
    async (uri): Promise<ReadResourceResult> => {
      const path = pagePath ?? defaultConsolePage();
      let text: string;
      try {
        text = await loadPage(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new McpError(
          ErrorCode.InternalError,
          code === "ENOENT"
            ? `The run console's page is not built: ${path} is missing. Run \`npm run build\` in the bridge's folder (a packed or installed bridge includes it).`
            : `The run console's page ${path} cannot be read (${code ?? String(err)}).`,
        );
      }
      return { contents: [{ uri: uri.href, mimeType: RESOURCE_MIME_TYPE, text, _meta: CONSOLE_PAGE_META }] };
    },
  );
}
