// `loomcycle-mcp-bridge doctor`: checks, one line each, whether the bridge would work
// with the current configuration — loomcycle reachable (/healthz), the token accepted
// (GET /v1/_me), runnable agents visible (GET /v1/_runnable-agents), the user id
// sensible for the token — and prints the fix under each problem. Exit 0 when the
// bridge would work, 1 otherwise. Every request is bounded (5 s), nothing is retried,
// and the token is never printed (only where it came from).
import { USER_ID_PLACEHOLDER, type BridgeConfig } from "../config.js";
import { LoomcycleClient } from "../bridge/loomcycle/http.js";
import { tlsFailure } from "../bridge/loomcycle/network-errors.js";
import type { Me, RunnableAgents } from "../bridge/loomcycle/api-types.js";
import {
  ForbiddenError,
  LoomcycleError,
  ProtocolError,
  RateLimitedError,
  TimeoutError,
  UnauthorizedError,
  UnavailableError,
  UnreachableError,
  UpstreamError,
} from "../bridge/loomcycle/errors.js";
import { redactSecrets, secretsOf } from "../logger.js";
import { version } from "../version.js";
import { printLine } from "./terminal.js";

/** Upper bound for each request doctor makes. */
export const DOCTOR_REQUEST_TIMEOUT_MS = 5000;

export interface DoctorOptions {
  /** Where the report goes (one call per line). Default: stdout. */
  print?: (line: string) => void;
  /** Per-request bound. Default 5000. */
  requestTimeoutMs?: number;
}

type Mark = "ok" | "fail" | "skip";

interface Check {
  mark: Mark;
  name: string;
  text: string;
  /** Indented lines under the check: `fix:` for problems, `note:` for advice. */
  more: string[];
}

const TENANT_IMPLIED = new Set(["runs:create", "runs:read", "channel:read", "channel:write", "providers:operator-key"]);
const USER_IMPLIED = new Set(["runs:create", "runs:read"]);

/** loomcycle's scope rules: admin satisfies everything; tenant and user imply some. */
export function scopeAllows(granted: readonly string[], want: string): boolean {
  for (const g of granted) {
    if (g === want || g === "substrate:admin") return true;
    if (g === "substrate:tenant" && (TENANT_IMPLIED.has(want) || want.startsWith("runs:") || want.startsWith("channel:")))
      return true;
    if (g === "substrate:user" && USER_IMPLIED.has(want)) return true;
    if (g.endsWith(":*") && want.startsWith(g.slice(0, -1))) return true;
  }
  return false;
}

function describe(err: unknown, secrets: readonly string[]): string {
  const msg = err instanceof Error ? err.message : String(err);
  return redactSecrets(msg, secrets);
}

function unreachableWhy(err: UnreachableError, secrets: readonly string[]): string {
  switch (err.code) {
    case "connect_refused":
      return "connection refused: nothing listens there";
    case "dns_failed":
      return "DNS lookup failed: unknown host name";
    case "connect_timeout":
      return "connect timed out";
    case "host_unreachable":
      return "host unreachable";
    case "tls_failed":
      return `TLS handshake failed: ${tlsFailure(err.cause) ?? redactSecrets(err.detail, secrets)}`;
    case "connection_reset":
      return "the connection was reset or closed";
    default:
      return redactSecrets(err.detail, secrets);
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError"));
}

function list(items: readonly string[], max: number): string {
  return items.length <= max ? items.join(", ") : `${items.slice(0, max).join(", ")}, … (${items.length - max} more)`;
}

/** For whoever has no loomcycle (yet): the bridge works without one. */
const NO_LOOMCYCLE =
  "no loomcycle at all? `loomcycle-mcp-bridge --sandbox` serves the bridge against a built-in simulator (use it as the host's command), `loomcycle-mcp-bridge demo` shows a session";

const TOKEN_FIX =
  "set LOOMCYCLE_AUTH_TOKEN (or LOOMCYCLE_AUTH_TOKEN_FILE / --token-file) in the MCP host's config for this server to a valid loomcycle token";

/** A token that is a host's unexpanded reference (the host's env did not have the variable). */
export function unexpandedToken(token: string | undefined): boolean {
  return token !== undefined && (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(token) || /^\{env:[A-Za-z_][A-Za-z0-9_]*\}$/.test(token));
}

export async function runDoctor(cfg: BridgeConfig, opts: DoctorOptions = {}): Promise<number> {
  const print = opts.print ?? printLine;
  const bound = opts.requestTimeoutMs ?? DOCTOR_REQUEST_TIMEOUT_MS;
  const secrets = secretsOf(cfg.token);
  const client = new LoomcycleClient({
    baseUrl: cfg.baseUrl,
    ...(cfg.token ? { token: cfg.token } : {}),
    headersTimeoutMs: bound,
    retry: { attempts: 1 },
    userAgent: `loomcycle-mcp-bridge/${version()} doctor`,
  });
  // Each request: at most `bound` ms in all (headers and body), whatever the server does.
  const call = <T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> => fn(AbortSignal.timeout(bound));
  const seconds = `${Math.round(bound / 100) / 10} s`;
  const checks: Check[] = [];
  const add = (mark: Mark, name: string, text: string, ...more: string[]): Check => {
    const c = { mark, name, text, more };
    checks.push(c);
    return c;
  };

  print(`loomcycle-mcp-bridge ${version()} doctor`);
  print("");

  // 1. configuration (already validated by parseConfig; bad config never gets here)
  const src = cfg.token ? `token from ${cfg.tokenSource ?? "LOOMCYCLE_AUTH_TOKEN"}` : "no token set";
  add("ok", "config", `base URL ${cfg.baseUrl}, ${src}, user id ${cfg.userId ? JSON.stringify(cfg.userId) : "not set"}`);
  // A value still holding a config snippet's placeholder is not configured.
  const placeholderUser = cfg.userId === USER_ID_PLACEHOLDER;
  if (placeholderUser) {
    add(
      "fail",
      "config",
      `user id ${JSON.stringify(cfg.userId)} is the config snippet's placeholder, not a configured user id`,
      "fix: set LOOMCYCLE_USER_ID (or --user-id) in the MCP host's config for this server to your loomcycle user id",
    );
  }
  if (unexpandedToken(cfg.token)) {
    add(
      "fail",
      "config",
      `the token is ${JSON.stringify(cfg.token)}: a reference the MCP host did not expand, not a token`,
      "fix: export LOOMCYCLE_AUTH_TOKEN in the environment the MCP host starts from (or use LOOMCYCLE_AUTH_TOKEN_FILE)",
    );
  }

  // 2. reach: /healthz (no auth)
  let reached = false;
  const t0 = Date.now();
  try {
    const h = await call((signal) => client.healthz({ signal }));
    const build = [h.commit ? `commit ${h.commit}` : undefined, h.built ? `built ${h.built}` : undefined]
      .filter(Boolean)
      .join(", ");
    const replicas = h.replica_id ? `, replica ${h.replica_id}${h.replicas ? ` of ${h.replicas.length}` : ""}` : "";
    add(
      "ok",
      "reach",
      `loomcycle ${h.version ?? "(version not reported)"}${build ? ` (${build})` : ""} answers at ${cfg.baseUrl} in ${Date.now() - t0} ms${replicas}`,
    );
    reached = true;
  } catch (err) {
    if (err instanceof UnreachableError) {
      add(
        "fail",
        "reach",
        `cannot reach loomcycle at ${cfg.baseUrl} (${unreachableWhy(err, secrets)})`,
        err.code === "tls_failed"
          ? "fix: for a certificate from a private CA, set NODE_EXTRA_CA_CERTS to the CA's PEM file in the bridge's environment; if loomcycle serves plain HTTP, use http:// in LOOMCYCLE_BASE_URL"
          : `fix: start loomcycle, or set LOOMCYCLE_BASE_URL (or --base-url) to the address it listens on (a load balancer in front of a cluster works too); ${NO_LOOMCYCLE}`,
      );
    } else if (isTimeout(err)) {
      add(
        "fail",
        "reach",
        `cannot reach loomcycle at ${cfg.baseUrl}: no answer within ${seconds}`,
        `fix: check that loomcycle runs and that LOOMCYCLE_BASE_URL (or --base-url) is its address; a firewall or a wrong host can swallow requests; ${NO_LOOMCYCLE}`,
      );
    } else if (err instanceof UnavailableError || err instanceof UpstreamError || err instanceof RateLimitedError) {
      add(
        "fail",
        "reach",
        `loomcycle at ${cfg.baseUrl} is not healthy: ${describe(err, secrets)}`,
        "fix: wait until loomcycle is up (it may be starting or overloaded), or check its logs and the proxy in front of it",
      );
    } else if (err instanceof ProtocolError || err instanceof LoomcycleError) {
      add(
        "fail",
        "reach",
        `something answers at ${cfg.baseUrl} but not like loomcycle: ${describe(err, secrets)}`,
        "fix: point LOOMCYCLE_BASE_URL (or --base-url) at loomcycle itself (scheme, host and port; no path)",
      );
    } else {
      add(
        "fail",
        "reach",
        `cannot reach loomcycle at ${cfg.baseUrl}: ${describe(err, secrets)}`,
        "fix: check LOOMCYCLE_BASE_URL (or --base-url)",
      );
    }
  }

  // 3. auth: GET /v1/_me
  let me: Me | undefined;
  let authOk = false;
  if (!reached) add("skip", "auth", "skipped (loomcycle not reachable)");
  else {
    try {
      me = await call((signal) => client.me({ signal }));
    } catch (err) {
      if (err instanceof UnauthorizedError) {
        if (cfg.token)
          add(
            "fail",
            "auth",
            `the token was refused by loomcycle (401 unauthorized: unknown, expired or revoked)`,
            `fix: ${TOKEN_FIX}`,
          );
        else add("fail", "auth", "loomcycle requires a token and none is set (401 unauthorized)", `fix: ${TOKEN_FIX}`);
      } else if (err instanceof ForbiddenError) {
        add("fail", "auth", `loomcycle refused GET /v1/_me: ${describe(err, secrets)}`, `fix: ${TOKEN_FIX}`);
      } else if (isTimeout(err)) {
        add(
          "fail",
          "auth",
          `GET /v1/_me did not answer within ${seconds}`,
          "fix: loomcycle is overloaded or a proxy holds requests; try again, or check the proxy in front of it",
        );
      } else {
        add(
          "fail",
          "auth",
          `GET /v1/_me failed: ${describe(err, secrets)}`,
          "fix: check that LOOMCYCLE_BASE_URL points at loomcycle (this endpoint exists in every loomcycle with token auth)",
        );
      }
    }
    if (me) {
      const scopes = me.scopes.length ? me.scopes.join(" ") : "(none)";
      const admin = me.is_admin ?? scopeAllows(me.scopes, "substrate:admin");
      if (me.open_mode) {
        const c = add("ok", "auth", "loomcycle runs in open mode: no token needed, every request is admin");
        if (cfg.token)
          c.more.push("note: the configured token is not checked in open mode; it will be once loomcycle requires tokens");
        authOk = true;
      } else {
        const who = `tenant ${JSON.stringify(me.tenant_id ?? "?")}, subject ${JSON.stringify(me.subject ?? "?")}, scopes ${scopes}, admin: ${admin ? "yes" : "no"}${me.legacy ? " (legacy shared secret)" : ""}`;
        const granted = me.scopes;
        const missing = ["runs:create", "runs:read"].filter((s) => !scopeAllows(granted, s));
        if (missing.length) {
          add(
            "fail",
            "auth",
            `token accepted (${who}) but it lacks ${missing.join(" and ")}: it cannot ${missing.includes("runs:create") ? "start or steer" : "read"} runs`,
            "fix: use a token with runs:create and runs:read (substrate:user, substrate:tenant and substrate:admin include both)",
          );
        } else {
          const c = add("ok", "auth", `token accepted: ${who}`);
          if (!admin)
            c.more.push(
              "note: not admin — list_snapshots and loomcycle://snapshots need substrate:admin; everything else works with this token",
            );
          authOk = true;
        }
      }
    }
  }

  // 4. runnable agents: GET /v1/_runnable-agents
  if (!reached || (!me && !authOk))
    add("skip", "agents", `skipped (${!reached ? "loomcycle not reachable" : "needs a working token"})`);
  else {
    let agents: RunnableAgents | undefined;
    try {
      agents = await call((signal) => client.runnableAgents({ signal }));
    } catch (err) {
      if (err instanceof ForbiddenError)
        add("fail", "agents", `cannot list runnable agents: ${describe(err, secrets)}`, "fix: use a token with runs:read");
      else if (isTimeout(err))
        add(
          "fail",
          "agents",
          `GET /v1/_runnable-agents did not answer within ${seconds}`,
          "fix: loomcycle is overloaded or a proxy holds requests; try again",
        );
      else
        add(
          "fail",
          "agents",
          `cannot list runnable agents: ${describe(err, secrets)}`,
          "fix: check loomcycle's logs; this loomcycle may be too old for the bridge",
        );
    }
    if (agents) {
      const names = agents.agents.map((a) => a.name);
      if (names.length === 0) {
        add(
          "fail",
          "agents",
          "no runnable agents are visible to this token: start_interactive_run has nothing to start",
          "fix: define an agent in loomcycle (bundled config or the tenant's agent definitions), or use a token of the tenant that has them",
        );
      } else {
        add("ok", "agents", `${names.length} runnable: ${list(names, 12)}`);
      }
    }
  }

  // 5. user id vs. the token's identity (a non-legacy token runs as its own subject)
  if (placeholderUser) add("skip", "user id", "skipped (not configured: see above)");
  else if (cfg.userId) {
    if (me && !me.open_mode && !me.legacy && me.subject && me.subject !== cfg.userId) {
      add(
        "fail",
        "user id",
        `LOOMCYCLE_USER_ID is ${JSON.stringify(cfg.userId)} but this token always runs as its subject ${JSON.stringify(me.subject)}: user-scoped lists for ${JSON.stringify(cfg.userId)} would miss the runs it starts`,
        `fix: set LOOMCYCLE_USER_ID=${me.subject} (or --user-id ${me.subject})`,
      );
    } else {
      add("ok", "user id", `new runs and user-scoped lists use ${JSON.stringify(cfg.userId)}`);
    }
  } else if (me && !me.open_mode && !me.legacy && me.subject) {
    add(
      "ok",
      "user id",
      `not set; loomcycle runs this token's runs as its subject ${JSON.stringify(me.subject)}`,
      `note: set LOOMCYCLE_USER_ID=${me.subject} so user-scoped lists (your runs and questions) find them`,
    );
  } else {
    add(
      "ok",
      "user id",
      "not set; runs started by the bridge go to loomcycle's default user",
      "note: set LOOMCYCLE_USER_ID (or --user-id) to your loomcycle user id to start runs as you and list your runs and questions",
    );
  }

  // report
  const icon: Record<Mark, string> = { ok: "✓", fail: "✗", skip: "–" };
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) {
    print(`${icon[c.mark]} ${c.name.padEnd(width)}  ${c.text}`);
    for (const m of c.more) print(`  ${" ".repeat(width)}  ${m}`);
  }
  const problems = checks.filter((c) => c.mark === "fail").length;
  print("");
  if (problems === 0) print("All checks passed: the bridge should work with this configuration.");
  else
    print(
      `${problems} problem${problems === 1 ? "" : "s"} found: fix ${problems === 1 ? "it" : "them"} (see "fix:" above), then run \`loomcycle-mcp-bridge doctor\` again.`,
    );
  return problems === 0 ? 0 : 1;
}
