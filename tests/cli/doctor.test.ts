// `loomcycle-mcp-bridge doctor` against the simulator (and against nothing, and against a
// server that never answers): in process, as the bin runs it (runCommand); the good-token
// case also over the built binary, the smoke test of the command's wiring.
import { createServer as createHttpServer, type RequestListener } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { runBin, runCommand } from "./run-bin.js";
import { parseConfig } from "../../src/config.js";
import { runDoctor } from "../../src/cli/doctor.js";

const ADMIN = "lc_tok_doctor_admin_0123456789abcdef";
const DEV = "lc_tok_doctor_dev_0123456789abcdef";
const READER = "lc_tok_doctor_reader_0123456789abcdef";
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({
    tailPollMs: 20,
    speed: 0.05,
    token: ADMIN,
    extraTokens: [
      { token: DEV, scopes: ["runs:create", "runs:read"], tenant_id: "acme", subject: "u_dev", legacy: false },
      { token: READER, scopes: ["runs:read"], tenant_id: "acme", subject: "u_reader", legacy: false },
    ],
  });
});
afterAll(async () => {
  await sim?.close();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway HTTP server on loopback; returns its URL and a close function. */
async function serve(handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Lines of the report that start with a mark (✓ ✗ –). */
function checkLines(out: string): string[] {
  return out.split("\n").filter((l) => /^[✓✗–] /.test(l));
}

describe("doctor", () => {
  it("reports a config snippet's placeholders as not configured (exit 1)", async () => {
    const user = await runCommand(["doctor"], {
      LOOMCYCLE_BASE_URL: sim.url,
      LOOMCYCLE_AUTH_TOKEN: ADMIN,
      LOOMCYCLE_USER_ID: "your-user-id",
    });
    expect(user.code).toBe(1);
    expect(user.stdout).toMatch(/✗ config .*"your-user-id" is the config snippet's placeholder/);
    expect(user.stdout).toMatch(/fix: set LOOMCYCLE_USER_ID/);
    const tok = await runCommand(["doctor"], {
      LOOMCYCLE_BASE_URL: sim.url,
      LOOMCYCLE_AUTH_TOKEN: "${LOOMCYCLE_AUTH_TOKEN}",
      LOOMCYCLE_USER_ID: "u_1",
    });
    expect(tok.code).toBe(1);
    expect(tok.stdout).toMatch(/✗ config .*a reference the MCP host did not expand/);
  });

  it("good admin token: exit 0, shows version, identity, scopes and agents, never the token (over the built binary)", async () => {
    const r = await runBin(["doctor"], { LOOMCYCLE_BASE_URL: sim.url, LOOMCYCLE_AUTH_TOKEN: ADMIN, LOOMCYCLE_USER_ID: "u_42" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = checkLines(r.stdout);
    expect(lines.map((l) => l.split(/\s+/)[1])).toEqual(["config", "reach", "auth", "agents", "user"]);
    expect(lines.every((l) => l.startsWith("✓"))).toBe(true);
    expect(r.stdout).toMatch(/✓ reach .*loomcycle v1\.\d+\.\d+\S* \(commit sim/);
    expect(r.stdout).toMatch(
      /✓ auth .*tenant "default", subject "default", scopes substrate:admin, admin: yes \(legacy shared secret\)/,
    );
    expect(r.stdout).toMatch(/✓ agents .*runnable: .*\basker\b.*\becho\b/);
    expect(r.stdout).toMatch(/✓ user id .*"u_42"/);
    expect(r.stdout).toMatch(/All checks passed/);
    expect(r.stdout + r.stderr).not.toContain(ADMIN);
    expect(r.stdout).toMatch(/token from LOOMCYCLE_AUTH_TOKEN\b/);
  });

  it("a token file: says where the token came from, never its content", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lc-doctor-"));
    const file = join(dir, "token");
    writeFileSync(file, ADMIN + "\n", { mode: 0o600 });
    const r = await runCommand(["doctor", "--token-file", file], { LOOMCYCLE_BASE_URL: sim.url, LOOMCYCLE_USER_ID: "u_42" });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`token from --token-file ${file}`);
    expect(r.stdout + r.stderr).not.toContain(ADMIN);
  });

  it("bad token: exit 1, says it was refused and how to fix it", async () => {
    const bad = "lc_tok_wrong_SECRET_value_42";
    const r = await runCommand(["doctor"], { LOOMCYCLE_BASE_URL: sim.url, LOOMCYCLE_AUTH_TOKEN: bad });
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/✓ reach/);
    expect(r.stdout).toMatch(/✗ auth .*the token was refused/);
    expect(r.stdout).toMatch(/^\s+fix: set LOOMCYCLE_AUTH_TOKEN/m);
    expect(r.stdout).toMatch(/– agents .*skipped/);
    expect(r.stdout).toMatch(/1 problem found/);
    expect(r.stdout + r.stderr).not.toContain(bad);
  });

  it("no token while loomcycle requires one: exit 1, says so", async () => {
    const r = await runCommand(["doctor"], { LOOMCYCLE_BASE_URL: sim.url });
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/no token set/);
    expect(r.stdout).toMatch(/✗ auth .*requires a token and none is set/);
    expect(r.stdout).toMatch(/fix: set LOOMCYCLE_AUTH_TOKEN/);
  });

  it("unreachable URL: exit 1, says it cannot reach loomcycle and how to fix it", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const r = await runCommand(["doctor"], { LOOMCYCLE_BASE_URL: url, LOOMCYCLE_AUTH_TOKEN: ADMIN });
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain(`✗ reach    cannot reach loomcycle at ${url} (connection refused`);
    expect(r.stdout).toMatch(/fix: start loomcycle, or set LOOMCYCLE_BASE_URL/);
    // and, for whoever has none, how to try the bridge without one
    expect(r.stdout).toMatch(
      /no loomcycle at all\? `loomcycle-mcp-bridge --sandbox` serves .*`loomcycle-mcp-bridge demo` shows a session/,
    );
    expect(r.stdout).toMatch(/– auth .*skipped/);
    expect(r.stdout + r.stderr).not.toContain(ADMIN);
  });

  it("https against a plain-HTTP loomcycle: exit 1 at once (no retries), says the server does not speak TLS and what to change", async () => {
    // A plain-HTTP listener that counts connections: one means doctor did not retry.
    let connections = 0;
    const plainHttp: Server = createNetServer((s) => {
      connections += 1;
      s.on("error", () => undefined);
      s.once("data", () => s.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"));
    });
    await new Promise<void>((resolve) => plainHttp.listen(0, "127.0.0.1", resolve));
    const url = `https://127.0.0.1:${(plainHttp.address() as AddressInfo).port}`;
    const r = await runCommand(["doctor"], { LOOMCYCLE_BASE_URL: url, LOOMCYCLE_AUTH_TOKEN: ADMIN }).finally(() =>
      plainHttp.close(),
    );
    expect(r.code, r.stdout).toBe(1);
    expect(connections).toBe(1);
    expect(r.stdout).toContain(
      `✗ reach    cannot reach loomcycle at ${url} (TLS handshake failed: the server does not speak TLS at that address)`,
    );
    expect(r.stdout).toMatch(
      /fix: for a certificate from a private CA, set NODE_EXTRA_CA_CERTS .* use http:\/\/ in LOOMCYCLE_BASE_URL/,
    );
    expect(r.stdout + r.stderr).not.toContain(ADMIN);
  });

  it("a server that never answers: each request is bounded, exit 1", async () => {
    const sockets = new Set<Socket>();
    const hang: Server = createNetServer((s) => sockets.add(s)); // accept, read nothing, answer nothing
    await new Promise<void>((resolve) => hang.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(hang.address() as { port: number }).port}`;
      // In process, with a short bound: the 5 s default would only make the test slow.
      const lines: string[] = [];
      const cfg = parseConfig(["doctor"], { LOOMCYCLE_BASE_URL: url, LOOMCYCLE_AUTH_TOKEN: ADMIN });
      const code = await runDoctor(cfg, { requestTimeoutMs: 300, print: (l) => lines.push(l) });
      const out = lines.join("\n");
      expect(code, out).toBe(1);
      expect(out).toMatch(/✗ reach .*no answer within 0\.3 s/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hang.close(resolve));
    }
  });

  it("non-admin token: works (exit 0), says it is not admin and that snapshots need admin", async () => {
    const r = await runCommand(["doctor"], {
      LOOMCYCLE_BASE_URL: sim.url,
      LOOMCYCLE_AUTH_TOKEN: DEV,
      LOOMCYCLE_USER_ID: "u_dev",
    });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/✓ auth .*tenant "acme", subject "u_dev", scopes runs:create runs:read, admin: no/);
    expect(r.stdout).toMatch(/note: not admin — list_snapshots .*substrate:admin/);
    expect(r.stdout).toMatch(/✓ agents/);
    expect(r.stdout).not.toContain("✗");
  });

  it("non-legacy token with another LOOMCYCLE_USER_ID: exit 1, names the subject to use", async () => {
    const r = await runCommand(["doctor"], {
      LOOMCYCLE_BASE_URL: sim.url,
      LOOMCYCLE_AUTH_TOKEN: DEV,
      LOOMCYCLE_USER_ID: "someone_else",
    });
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/✗ user id .*"someone_else".*"u_dev"/);
    expect(r.stdout).toMatch(/fix: set LOOMCYCLE_USER_ID=u_dev/);
  });

  it("a read-only token: exit 1, says it cannot start runs", async () => {
    const r = await runCommand(["doctor"], { LOOMCYCLE_BASE_URL: sim.url, LOOMCYCLE_AUTH_TOKEN: READER });
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/✗ auth .*lacks runs:create.*cannot start or steer runs/);
    expect(r.stdout).toMatch(/fix: use a token with runs:create and runs:read/);
  });

  it("loomcycle in open mode (no token needed): exit 0, says so", async () => {
    // A loomcycle with no token configured answers /v1/_me with a synthetic admin.
    const open = await serve((req, res) => {
      const json = (body: unknown): void => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.url === "/healthz") return json({ ok: true, version: "v1.59.0", commit: "4292f357" });
      if (req.url === "/v1/_me")
        return json({
          is_admin: true,
          legacy: false,
          open_mode: true,
          scopes: ["substrate:admin"],
          subject: "default",
          tenant_id: "default",
        });
      if (req.url === "/v1/_runnable-agents") return json({ agents: [{ name: "helper", source: "bundled" }] });
      res.writeHead(404).end();
    });
    try {
      const r = await runCommand(["doctor"], { LOOMCYCLE_BASE_URL: open.url, LOOMCYCLE_USER_ID: "u_1" });
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toMatch(/✓ reach .*loomcycle v1\.59\.0 \(commit 4292f357\)/);
      expect(r.stdout).toMatch(/✓ auth .*open mode: no token needed/);
      expect(r.stdout).toMatch(/✓ agents .*1 runnable: helper/);
    } finally {
      await open.close();
    }
  });

  it("something that is not loomcycle at the URL: exit 1, says so", async () => {
    const other = await serve((_req, res) => {
      res.writeHead(404, { "Content-Type": "text/html" });
      res.end("<html><head><title>Not Found</title></head><body>nope</body></html>");
    });
    try {
      const r = await runCommand(["doctor"], { LOOMCYCLE_BASE_URL: other.url, LOOMCYCLE_AUTH_TOKEN: ADMIN });
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toMatch(/✗ reach .*something answers at .* but not like loomcycle/);
      expect(r.stdout).toMatch(/fix: point LOOMCYCLE_BASE_URL/);
    } finally {
      await other.close();
    }
  });

  it("bad config still exits 2 with one stderr line", async () => {
    const r = await runCommand(["doctor"], { LOOMCYCLE_BASE_URL: "ftp://example" });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
