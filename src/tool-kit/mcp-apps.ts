// The run console is an MCP App (extension io.modelcontextprotocol/ui, spec 2026-01-26): one
// ui:// HTML resource that start_interactive_run and attach_run link to, and two tools only
// the app calls (console_read, console_act). A host that declares the extension renders the
// resource for those tools' results and keeps app-only tools out of its model's tool list;
// a client that does not declare it never sees the app-only tools at all (the bridge lists
// them only to clients that declared it, and refuses them to the others), so its model's
// tool list stays what it was without the console.
//
// The names and shapes are @modelcontextprotocol/ext-apps' (1.7): tests/tools/run-console.test.ts
// checks these constants and this metadata against its server helpers (RESOURCE_MIME_TYPE,
// EXTENSION_ID, registerAppTool, registerAppResource, getUiCapability). The helpers are not
// imported at run time: their module carries the whole App (the iframe side) with its zod
// schemas built at import, 33 KB and about 20 ms more on every start of the bin, for what is
// two constants and a key copy here. (Its types cannot stand in either: under NodeNext its
// .d.ts files lose the spec types to extensionless imports.)
import type { ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";

/** ext-apps' McpUiToolMeta: a tool's link to its view, and who may call it. */
interface UiToolMeta {
  resourceUri?: string;
  visibility?: Array<"model" | "app">;
}

/** The extension's identifier in `capabilities.extensions` (ext-apps' EXTENSION_ID). */
export const EXTENSION_ID = "io.modelcontextprotocol/ui";

/** An MCP App's HTML resource (ext-apps' RESOURCE_MIME_TYPE). */
export const RESOURCE_MIME_TYPE = "text/html;profile=mcp-app";

/** The console's resource; hosts fetch it with resources/read by this URI. */
export const RUN_CONSOLE_URI = "ui://loomcycle/run-console.html";

/** `_meta` of the tools whose results the console shows (the person watches the run they
 * start or attach): `ui.resourceUri`, and the deprecated flat key older hosts read, as
 * ext-apps' registerAppTool writes them. */
export const CONSOLE_LINK: { ui: UiToolMeta; "ui/resourceUri": string } = {
  ui: { resourceUri: RUN_CONSOLE_URI },
  "ui/resourceUri": RUN_CONSOLE_URI,
};

/** `_meta` of the tools only the console calls: hosts keep them from their model. */
export const APP_ONLY: { ui: UiToolMeta } = { ui: { visibility: ["app"] } };

/** The console's page declares no outside origin (the host's default CSP holds) and asks for a border. */
export const CONSOLE_PAGE_META = { ui: { prefersBorder: true } };

/** The client declared MCP Apps with HTML views: its initialize carried
 * `capabilities.extensions["io.modelcontextprotocol/ui"]` whose `mimeTypes` include
 * `text/html;profile=mcp-app` (the spec's required setting). */
export function declaresApps(caps: ClientCapabilities | undefined): boolean {
  const ui = caps?.extensions?.[EXTENSION_ID] as { mimeTypes?: unknown } | undefined;
  return Array.isArray(ui?.mimeTypes) && ui.mimeTypes.includes(RESOURCE_MIME_TYPE);
}
