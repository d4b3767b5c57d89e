// A minimal MCP Apps host for the UI tests, run in Chromium: an MCP Client (the SDK's) whose
// transport relays JSON-RPC to the built bridge over stdio (the test's relay: page bindings,
// tests/ui/harness.ts), and, for a tool whose result has a UI, ext-apps' AppBridge talking to
// the app through a sandbox proxy on another origin, as the ext-apps spec has web hosts do:
// the app's HTML from resources/read, its CSP from the resource's _meta.ui.csp (none
// declared: the spec's restrictive default), the host context (theme, style variables,
// container size) and its changes, tool input and result, links, model-context updates, and
// the app's tools/call passed on only for tools whose visibility includes "app".
import {
  AppBridge,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
  type McpUiHostContext,
  type McpUiStyles,
} from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult, JSONRPCMessage, Tool } from "@modelcontextprotocol/sdk/types.js";

declare global {
  interface Window {
    relaySend(line: string): Promise<void>;
    relayReceive(line: string): void;
    host: TestHost;
  }
}

/** Messages go out through the page binding, come back through relayReceive. */
class RelayTransport implements Transport {
  onmessage?: (m: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (e: Error) => void;
  async start(): Promise<void> {
    window.relayReceive = (line) => this.onmessage?.(JSON.parse(line) as JSONRPCMessage);
  }
  async send(m: JSONRPCMessage): Promise<void> {
    await window.relaySend(JSON.stringify(m));
  }
  async close(): Promise<void> {
    this.onclose?.();
  }
}

type Theme = "light" | "dark";

/** Style variables as a host gives them (light-dark() pairs, as the spec's example does). */
const HOST_STYLES: NonNullable<McpUiHostContext["styles"]> = {
  variables: {
    "--color-background-primary": "light-dark(#ffffff, #1f1f1e)",
    "--color-background-secondary": "light-dark(#f6f5f2, #2a2a28)",
    "--color-background-tertiary": "light-dark(#ebe9e4, #383835)",
    "--color-text-primary": "light-dark(#1f1e1d, #f4f3ee)",
    "--color-text-secondary": "light-dark(#5e5d59, #b8b6ae)",
    "--color-border-primary": "light-dark(#a3a19a, #6e6c66)",
    "--color-border-secondary": "light-dark(#dedcd5, #454541)",
    "--font-sans": '"DejaVu Sans", "Liberation Sans", sans-serif',
    "--font-mono": '"DejaVu Sans Mono", "Liberation Mono", monospace',
    "--border-radius-md": "10px",
  } as Partial<McpUiStyles> as McpUiStyles,
};

export interface OpenOptions {
  width?: number;
  theme?: Theme;
  /** Give the app the host's style variables (default true); false: theme only. */
  styles?: boolean;
}

interface OpenedApp {
  bridge: AppBridge;
  frame: HTMLIFrameElement;
  context: McpUiHostContext;
}

export class TestHost {
  readonly client = new Client(
    { name: "ui-test-host", version: "1.0.0" },
    { capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [RESOURCE_MIME_TYPE] } } } as never },
  );
  tools = new Map<string, Tool>();
  /** What the app asked of the host. */
  readonly appCalls: Array<{ name: string; arguments: unknown }> = [];
  readonly refusedCalls: string[] = [];
  readonly modelContext: unknown[] = [];
  readonly openedLinks: string[] = [];
  private app: OpenedApp | undefined;

  async connect(): Promise<void> {
    await this.client.connect(new RelayTransport());
    const { tools } = await this.client.listTools();
    this.tools = new Map(tools.map((t) => [t.name, t]));
  }

  toolNames(): string[] {
    return [...this.tools.keys()];
  }

  /** The model's call: marked in _meta so the relay can tell it from the app's. */
  async callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    return (await this.client.callTool({ name, arguments: args, _meta: { "ui-test/caller": "model" } })) as CallToolResult;
  }

  /** The model calls a tool; when the tool has a UI, the host shows it with this call's input and result. */
  async callToolWithUi(name: string, args: Record<string, unknown>, opts: OpenOptions = {}): Promise<CallToolResult> {
    const tool = this.tools.get(name);
    const uri = (tool?._meta?.ui as { resourceUri?: unknown } | undefined)?.resourceUri;
    if (typeof uri !== "string") throw new Error(`${name} has no UI resource`);
    const result = this.callTool(name, args);
    await this.open(uri, opts);
    const app = this.app!;
    await app.bridge.sendToolInput({ arguments: args });
    const r = await result;
    await app.bridge.sendToolResult(r);
    return r;
  }

  private async open(uri: string, opts: OpenOptions): Promise<void> {
    this.close();
    const res = await this.client.readResource({ uri });
    const content = res.contents[0];
    if (!content || content.mimeType !== RESOURCE_MIME_TYPE || !("text" in content)) throw new Error(`${uri} is not an MCP App`);
    const meta = (content._meta?.ui ?? {}) as { csp?: unknown; prefersBorder?: boolean };

    const frame = document.createElement("iframe");
    frame.id = "app-frame";
    frame.title = "Run console";
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms");
    frame.style.width = `${opts.width ?? 720}px`;
    frame.style.height = "200px";
    frame.style.border = meta.prefersBorder ? "1px solid #8884" : "0";
    const sandboxUrl = new URL("/sandbox.html", document.body.dataset.sandboxOrigin);
    sandboxUrl.searchParams.set("host", location.origin);
    sandboxUrl.searchParams.set("csp", JSON.stringify(meta.csp ?? {}));
    const ready = new Promise<void>((resolve) => {
      const onReady = (e: MessageEvent<{ method?: string }>): void => {
        if (e.source !== frame.contentWindow || e.data?.method !== "ui/notifications/sandbox-proxy-ready") return;
        window.removeEventListener("message", onReady);
        resolve();
      };
      window.addEventListener("message", onReady);
    });
    frame.src = sandboxUrl.href;
    document.getElementById("stage")!.replaceChildren(frame);
    await ready;

    const theme = opts.theme ?? "light";
    const context: McpUiHostContext = {
      theme,
      ...(opts.styles === false ? {} : { styles: HOST_STYLES }),
      displayMode: "inline",
      availableDisplayModes: ["inline"],
      containerDimensions: { width: opts.width ?? 720, maxHeight: 900 },
      locale: "en-US",
      platform: "web",
    };
    document.documentElement.style.colorScheme = theme;
    const bridge = new AppBridge(
      null,
      { name: "ui-test-host", version: "1.0.0" },
      { openLinks: {}, updateModelContext: { text: {} }, serverTools: {}, serverResources: {}, logging: {} },
      { hostContext: context },
    );
    bridge.oncalltool = async (params) => {
      this.appCalls.push({ name: params.name, arguments: params.arguments });
      const visibility = (this.tools.get(params.name)?._meta?.ui as { visibility?: string[] } | undefined)?.visibility;
      if (!this.tools.has(params.name) || (visibility && !visibility.includes("app"))) {
        this.refusedCalls.push(params.name);
        throw new Error(`tool ${params.name} is not callable by apps`);
      }
      return (await this.client.callTool(params)) as CallToolResult;
    };
    bridge.onreadresource = async (params) => this.client.readResource(params);
    bridge.onopenlink = async ({ url }) => {
      this.openedLinks.push(url);
      return {};
    };
    bridge.onupdatemodelcontext = async (params) => {
      this.modelContext.push(params);
      return {};
    };
    bridge.onsizechange = ({ height }) => {
      if (height !== undefined) frame.style.height = `${Math.min(height, 900)}px`;
    };
    const initialized = new Promise<void>((resolve) => bridge.addEventListener("initialized", () => resolve()));
    await bridge.connect(new PostMessageTransport(frame.contentWindow!, frame.contentWindow!));
    await bridge.sendSandboxResourceReady({ html: content.text, sandbox: "allow-scripts allow-same-origin allow-forms" });
    await initialized;
    this.app = { bridge, frame, context };
  }

  /** The host's theme changes (ui/notifications/host-context-changed). */
  setTheme(theme: Theme): void {
    const app = this.app;
    if (!app) throw new Error("no app is open");
    document.documentElement.style.colorScheme = theme;
    app.context = { ...app.context, theme };
    app.bridge.setHostContext(app.context);
  }

  setWidth(width: number): void {
    const app = this.app;
    if (!app) throw new Error("no app is open");
    app.frame.style.width = `${width}px`;
    app.context = { ...app.context, containerDimensions: { width, maxHeight: 900 } };
    app.bridge.setHostContext(app.context);
  }

  close(): void {
    if (!this.app) return;
    void this.app.bridge.teardownResource({}).catch(() => undefined);
    void this.app.bridge.close();
    this.app.frame.remove();
    this.app = undefined;
  }
}

window.host = new TestHost();
