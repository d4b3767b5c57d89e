// The sandbox proxy of the UI test host: the page a web host puts between itself and an
// MCP App (ext-apps spec, "Sandbox proxy"). It is served from an origin other than the
// host's, with the app's CSP as an HTTP header (tests/ui/harness.ts), and:
//   - makes the inner frame the app runs in, and writes the app's HTML into it when the
//     host sends ui/notifications/sandbox-resource-ready (the inner document inherits this
//     page's CSP);
//   - passes every other message on, host → app and app → host, checking where each came from;
//   - says ui/notifications/sandbox-proxy-ready once it listens.
const params = new URLSearchParams(location.search);
const hostOrigin = params.get("host") ?? "";
if (!hostOrigin || window.parent === window) throw new Error("the sandbox proxy runs only inside the test host");

const inner = document.createElement("iframe");
inner.id = "app";
inner.title = "MCP App";
inner.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms");
document.body.append(inner);

interface Msg {
  method?: string;
  params?: { html?: unknown; sandbox?: unknown };
}

window.addEventListener("message", (e: MessageEvent<Msg>) => {
  if (e.source === window.parent) {
    if (e.origin !== hostOrigin) return;
    if (e.data?.method === "ui/notifications/sandbox-resource-ready") {
      const { html, sandbox } = e.data.params ?? {};
      if (typeof sandbox === "string") inner.setAttribute("sandbox", sandbox);
      if (typeof html === "string") {
        const doc = inner.contentDocument;
        if (!doc) throw new Error("the app frame has no document");
        doc.open();
        doc.write(html);
        doc.close();
      }
      return;
    }
    inner.contentWindow?.postMessage(e.data, location.origin);
  } else if (e.source === inner.contentWindow) {
    if (e.origin !== location.origin) return;
    window.parent.postMessage(e.data, hostOrigin);
  }
});

window.parent.postMessage({ jsonrpc: "2.0", method: "ui/notifications/sandbox-proxy-ready", params: {} }, hostOrigin);
