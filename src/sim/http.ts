// HTTP plumbing: Go-ServeMux-like routing (404 / 405 with Allow / path-clean
// redirects), bearer auth and scopes (auth_principal.go), the request log,
// request-level faults, and response helpers that imitate Go's http.Error,
// writeJSON and writeJSONError byte for byte.
import type { IncomingMessage, ServerResponse } from "node:http";
import { posix } from "node:path";
import type { Engine } from "./engine.js";
import type { FaultRegistry } from "./faults.js";
import type { Store } from "./store.js";
import type { Replicas } from "./cluster.js";
import type { SimRequestRecord } from "./types.js";
import { goJSON, goQuote, sleep } from "./util.js";

export const MAX_RUN_BODY = 16 << 20;

export interface Principal {
  tenant_id: string;
  subject: string;
  scopes: string[];
  legacy: boolean;
}

export interface ResolvedOptions {
  tailPollMs: number;
  keepaliveMs: number;
  speed: number;
  /** Replica ids of a simulated cluster behind a round-robin balancer; empty = one node. */
  replicas: string[];
  /** A `running` run whose heartbeat is older than this is failed by the heartbeat sweeper (LOOMCYCLE_HEARTBEAT_STALE_MS). */
  heartbeatStaleMs: number;
  /** A replica whose row is older than this is dead; the replicas sweeper fails its runs (LOOMCYCLE_REPLICAS_STALE_AFTER_MS). */
  replicaStaleAfterMs: number;
}

/** Everything a handler may touch. */
export interface SimContext {
  store: Store;
  engine: Engine;
  faults: FaultRegistry;
  opts: ResolvedOptions;
  tokens: Map<string, Principal>;
  startedAt: number;
  /** Aborted when the simulator closes: stops tails and waits. */
  shutdown: AbortSignal;
  /** Session locks held by in-flight requests (trySessionLock). */
  sessionLocks: Set<string>;
  /** Requests served so far (the simulated balancer's round robin). */
  served: number;
  /** The cluster's replicas (cluster mode only). */
  cluster: Replicas | undefined;
  /** What serving run streams costs: tails open now, and run-event queries made (the database polls). */
  tailStats: { open: number; polls: number; held: number };
}

export interface RequestCtx {
  sim: SimContext;
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  body: string;
  bodyBytes: number;
  principal: Principal;
  /** The replica that answers this request ("" on a single node). */
  replica: string;
}

export type Handler = (c: RequestCtx) => void | Promise<void>;

interface Route {
  method: string; // "*" = any
  segments: string[];
  handler: Handler;
  auth: boolean;
}

// ---- response helpers ------------------------------------------------------

/**
 * Finish a small buffered response the way net/http does: a body that fits the
 * 2 KiB pre-chunking buffer gets a Content-Length, a larger one is chunked.
 */
export function endBody(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  const buf = Buffer.from(body, "utf8");
  res.writeHead(status, buf.length < 2048 ? { ...headers, "Content-Length": String(buf.length) } : headers);
  res.end(buf);
}

/** Go's http.Error. */
export function httpError(res: ServerResponse, status: number, msg: string, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) return;
  endBody(
    res,
    status,
    { ...extraHeaders, "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" },
    msg + "\n",
  );
}

/** writeJSON: json.NewEncoder(w).Encode(body) — note the trailing newline. */
export function writeJSON(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  endBody(res, status, { "Content-Type": "application/json" }, goJSON(body) + "\n");
}

/** writeJSONError: fmt.Fprintf(w, `{"code":%q,"error":%q}`) — no trailing newline. */
export function writeJSONError(res: ServerResponse, status: number, code: string, msg: string): void {
  writeRawJSON(res, status, `{"code":${goQuote(code)},"error":${goQuote(msg)}}`);
}

/**
 * The hand-written JSON bodies in server.go (session_busy, agent_id_in_use,
 * unknown_agent_id) embed a %q inside a JSON string literal, so the id's
 * quotes are NOT escaped: the body is not valid JSON. Reproduced verbatim.
 */
export function writeRawJSON(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  endBody(res, status, { "Content-Type": "application/json" }, text);
}

export const NGINX_502 =
  "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";

// ---- auth ---------------------------------------------------------------------

const TENANT_IMPLIED = new Set([
  "substrate:tenant",
  "runs:create",
  "runs:read",
  "channel:publish",
  "channel:read",
  "providers:operator-key",
]);
const USER_IMPLIED = new Set(["substrate:user", "runs:create", "runs:read"]);

export function hasScope(granted: string[], want: string): boolean {
  for (const g of granted) {
    if (g === want || g === "substrate:admin") return true;
    if (g === "substrate:tenant" && TENANT_IMPLIED.has(want)) return true;
    if (g === "substrate:user" && USER_IMPLIED.has(want)) return true;
  }
  return false;
}

export function isAdmin(p: Principal): boolean {
  return hasScope(p.scopes, "substrate:admin");
}

/** Whether the principal sees rows of this tenant (admin and legacy see all). */
export function tenantVisible(p: Principal, tenant: string): boolean {
  return p.legacy || isAdmin(p) || p.tenant_id === tenant;
}

/** The subset of requiredScopeFor (auth_principal.go) covering the simulated routes. */
export function requiredScopeFor(method: string, path: string): string {
  if (path === "/v1/_me") return "";
  if (path === "/v1/_runnable-agents" || path === "/v1/_history") return "runs:read";
  if (path.startsWith("/v1/_")) return "substrate:admin";
  if (method === "POST" && (path === "/v1/runs" || path === "/v1/runs:batch")) return "runs:create";
  if (method === "POST" && path.startsWith("/v1/sessions/") && (path.endsWith("/messages") || path.endsWith("/replay")))
    return "runs:create";
  if (method === "POST" && path.startsWith("/v1/agents/") && path.endsWith("/cancel")) return "runs:create";
  if (
    method === "POST" &&
    path.startsWith("/v1/runs/") &&
    ["/resolve", "/compact", "/cancel", "/input"].some((s) => path.endsWith(s))
  )
    return "runs:create";
  if (method === "GET" && path.startsWith("/v1/runs/")) return "runs:read";
  if (method === "GET" && (path.startsWith("/v1/agents/") || path.startsWith("/v1/users/") || path.startsWith("/v1/sessions/")))
    return "runs:read";
  if (["POST", "PUT", "PATCH", "DELETE"].includes(method)) return "substrate:admin";
  return "";
}

/** extractBearer: `Bearer ` matched case-insensitively; a non-bearer Authorization is a miss. */
function extractBearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h !== undefined && h !== "") {
    const pfx = "bearer ";
    if (h.length > pfx.length && h.slice(0, pfx.length).toLowerCase() === pfx) return h.slice(pfx.length);
    return undefined;
  }
  const cookie = req.headers.cookie ?? "";
  const m = /(?:^|;\s*)loomcycle_session=([^;]+)/.exec(cookie);
  return m?.[1];
}

/** ResolveWireIdentity: legacy honours the body user_id; a real token replaces it. */
export function applyPrincipal(p: Principal, wireUser: string | undefined): { tenant: string; user: string } {
  if (p.legacy) return { tenant: "default", user: wireUser || "default" };
  return { tenant: p.tenant_id, user: p.subject };
}

// ---- routing --------------------------------------------------------------------

export class Router {
  private readonly routes: Route[] = [];

  add(pattern: string, handler: Handler, auth = true): void {
    const sp = pattern.indexOf(" ");
    const method = sp > 0 ? pattern.slice(0, sp) : "*";
    const path = sp > 0 ? pattern.slice(sp + 1) : pattern;
    this.routes.push({ method, segments: path.split("/").slice(1), handler, auth });
  }

  private static match(route: Route, segs: string[]): Record<string, string> | undefined {
    if (route.segments.length !== segs.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < segs.length; i++) {
      const want = route.segments[i] as string;
      const got = segs[i] as string;
      if (want.startsWith("{") && want.endsWith("}")) {
        if (got === "") return undefined;
        params[want.slice(1, -1)] = got;
      } else if (want !== got) return undefined;
    }
    return params;
  }

  /** ServeMux.findHandler: a route, a 405 with the allowed methods, or nothing (404). */
  find(method: string, path: string): { route: Route; params: Record<string, string> } | { allow: string[] } | undefined {
    const segs = path
      .split("/")
      .slice(1)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
    const allowed = new Set<string>();
    for (const r of this.routes) {
      const params = Router.match(r, segs);
      if (!params) continue;
      if (r.method === "*" || r.method === method || (r.method === "GET" && method === "HEAD")) return { route: r, params };
      allowed.add(r.method);
      if (r.method === "GET") allowed.add("HEAD");
    }
    return allowed.size > 0 ? { allow: [...allowed].sort() } : undefined;
  }
}

/** Go's cleanPath: collapse //, resolve . and .., keep a trailing slash. */
function cleanPath(p: string): string {
  if (p === "") return "/";
  if (!p.startsWith("/")) p = "/" + p;
  let np = posix.normalize(p);
  if (p.endsWith("/") && np !== "/" && !np.endsWith("/")) np += "/";
  return np;
}

async function readBody(req: IncomingMessage, cap: number): Promise<{ text: string; bytes: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (kept <= cap) {
      chunks.push(chunk);
      kept += chunk.length;
    }
  }
  return { text: Buffer.concat(chunks).toString("utf8"), bytes: total };
}

/** The node:http request listener. */
export function makeListener(sim: SimContext, router: Router, requests: SimRequestRecord[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void dispatch(sim, router, requests, req, res).catch((err: unknown) => {
      // recoveryMiddleware: a panic becomes a JSON 500 without a code.
      if (!res.headersSent) writeJSON(res, 500, { error: "internal server error" });
      else res.destroy(err instanceof Error ? err : undefined);
    });
  };
}

async function dispatch(
  sim: SimContext,
  router: Router,
  requests: SimRequestRecord[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://sim.invalid");
  const method = (req.method ?? "GET").toUpperCase();
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (!(k in query)) query[k] = v;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
  const record: SimRequestRecord = { method, path: url.pathname, query, headers, body: "", at: Date.now() };
  requests.push(record);

  const body = await readBody(req, MAX_RUN_BODY);
  record.body = body.text;

  if (sim.faults.takeHtml502(method, url.pathname)) {
    endBody(res, 502, { "Content-Type": "text/html", Server: "nginx" }, NGINX_502);
    return;
  }
  const delay = sim.faults.takeDelay(method, url.pathname);
  if (delay !== undefined) {
    await sleep(delay, sim.shutdown);
    if (res.destroyed) return;
  }

  if (method !== "CONNECT") {
    const clean = cleanPath(url.pathname);
    if (clean !== url.pathname) {
      const loc = clean + url.search;
      const html = `<a href="${loc.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&#34;")}">Moved Permanently</a>.\n\n`;
      endBody(
        res,
        301,
        { Location: loc, ...(method === "GET" || method === "HEAD" ? { "Content-Type": "text/html; charset=utf-8" } : {}) },
        method === "GET" ? html : "",
      );
      return;
    }
  }

  const found = router.find(method, url.pathname);
  if (!found) return httpError(res, 404, "404 page not found");
  if ("allow" in found) return httpError(res, 405, "Method Not Allowed", { Allow: found.allow.join(", ") });

  let principal: Principal = { tenant_id: "default", subject: "default", scopes: [], legacy: false };
  if (found.route.auth) {
    const bearer = extractBearer(req);
    const p = bearer !== undefined ? sim.tokens.get(bearer) : undefined;
    if (!p) return httpError(res, 401, "unauthorized");
    const required = requiredScopeFor(method, url.pathname);
    if (required !== "" && !hasScope(p.scopes, required)) {
      return httpError(res, 403, "insufficient scope", { "WWW-Authenticate": `Bearer scope="${required}"` });
    }
    principal = p;
  }
  // A round-robin balancer (nginx): a replica that is down refuses the connection, and the
  // request goes to the next one (a test may route one request to a replica: faults.routeTo).
  let replica = "";
  if (sim.cluster) {
    const up = sim.cluster.live();
    if (up.length === 0) return httpError(res, 502, "Bad Gateway");
    replica = sim.faults.takeRoute(method, url.pathname) ?? up[sim.served++ % up.length] ?? "";
    // The connection through this replica dies with it (killReplica).
    sim.cluster.serving(replica, res);
  }
  await found.route.handler({
    sim,
    req,
    res,
    method,
    path: url.pathname,
    query: url.searchParams,
    params: found.params,
    body: body.text,
    bodyBytes: body.bytes,
    principal,
    replica,
  });
}
