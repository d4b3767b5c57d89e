// Tier (c) over TLS: the built binary against the simulator behind a TLS-terminating
// proxy with a self-signed certificate for localhost. Run streams (POST /v1/runs with an
// SSE answer, GET /v1/runs/{id}/stream) go through node:http
// (src/bridge/loomcycle/stream-request.ts) and JSON requests through fetch: both must trust the
// certificate through NODE_EXTRA_CA_CERTS, and neither may get past it without.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { StdioPeer } from "../stdio-peer.js";
import { waitFor } from "../helpers.js";

const HAVE_OPENSSL = spawnSync("openssl", ["version"], { encoding: "utf8" }).status === 0;
/** Shown in the test names when the tests are skipped: there is no other way to generate the certificate. */
const SKIPPED = HAVE_OPENSSL ? "" : " [skipped: the openssl CLI is not on PATH, needed to make a self-signed certificate]";
const TOKEN = "lc_tok_e2e_tls_secret_0123456789ABCDEF";

let sim: Simulator | undefined;
let proxy: tls.Server | undefined;
let proxyPort = 0;
let certDir = "";
let certPath = "";
/** TLS sessions the proxy completed, and bytes it carried upstream→client (so the tests can see the traffic went through TLS). */
let handshakes = 0;
let bytesToClient = 0;
/** Handshakes the client broke off (it did not trust the certificate). */
let refusedHandshakes = 0;
/** TCP connections the proxy accepted (each one's handshake then completes or is refused). */
let accepted = 0;
const proxied = new Set<net.Socket>();
const stateHome = mkdtempSync(join(tmpdir(), "lcb-e2e-tls-state-"));

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  certDir = mkdtempSync(join(tmpdir(), "lcb-e2e-tls-cert-"));
  certPath = join(certDir, "cert.pem");
  const keyPath = join(certDir, "key.pem");
  const gen = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-sha256",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ],
    { encoding: "utf8" },
  );
  if (gen.status !== 0) throw new Error(`openssl req failed: ${gen.stderr}`);

  sim = await startSimulator({ tailPollMs: 10, speed: 0.05, token: TOKEN });
  const upstream = new URL(sim.url);
  proxy = tls.createServer({ key: readFileSync(keyPath), cert: readFileSync(certPath) }, (client) => {
    handshakes++;
    const up = net.connect({ host: upstream.hostname, port: Number(upstream.port) });
    proxied.add(client);
    proxied.add(up);
    const done = (): void => {
      client.destroy();
      up.destroy();
      proxied.delete(client);
      proxied.delete(up);
    };
    client.on("error", done);
    up.on("error", done);
    client.on("close", done);
    up.on("close", done);
    up.on("data", (d: Buffer) => (bytesToClient += d.length));
    client.pipe(up);
    up.pipe(client);
  });
  // A client that refuses the certificate aborts the handshake: not an error of the proxy's.
  proxy.on("tlsClientError", () => refusedHandshakes++);
  proxy.on("connection", () => accepted++);
  await new Promise<void>((r) => proxy!.listen(0, "127.0.0.1", () => r()));
  proxyPort = (proxy.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of proxied) s.destroy();
  if (proxy) await new Promise<void>((r) => proxy!.close(() => r()));
  await sim?.close();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
  rmSync(stateHome, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  XDG_STATE_HOME: stateHome,
  LOOMCYCLE_BASE_URL: `https://localhost:${proxyPort}`,
  LOOMCYCLE_AUTH_TOKEN: TOKEN,
  LOOMCYCLE_USER_ID: "u_e2e_tls",
  LOOMCYCLE_MCP_LOG_LEVEL: "debug",
  ...extra,
});

describe(`the built binary against loomcycle behind TLS${SKIPPED}`, () => {
  it.skipIf(!HAVE_OPENSSL)("runs a session over https with the certificate trusted through NODE_EXTRA_CA_CERTS", async () => {
    const p = new StdioPeer(env({ NODE_EXTRA_CA_CERTS: certPath }));
    try {
      await p.initialize();
      const handshakesBefore = handshakes;
      const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "hello over tls" });
      expect(s.isError, s.text).toBe(false);
      const runId = String(s.sc.run_id);
      expect(runId).toMatch(/^r_[0-9a-f]+$/);
      expect(s.sc.state).toBe("awaiting_input");
      // The run started with POST /v1/runs whose answer is the event stream: it came through the proxy.
      expect(handshakes).toBeGreaterThan(handshakesBefore);
      const start = sim!.requests.find((q) => q.method === "POST" && q.path === "/v1/runs");
      expect(start?.headers["accept"]).toBe("text/event-stream");
      expect(JSON.parse(start!.body) as Record<string, unknown>).toMatchObject({ agent: "echo" });

      const st = await p.callTool("send_steer", { run_id: runId, text: "and again, securely" });
      expect(st.isError, st.text).toBe(false);
      expect(st.sc.state).toBe("awaiting_input");

      const r = await p.callTool("read_run_events", { run_id: runId, cursor: 0 });
      expect(r.isError, r.text).toBe(false);
      expect(r.sc.state).toBe("awaiting_input");
      const events = r.sc.events as Array<Record<string, unknown>>;
      expect(Array.isArray(events)).toBe(true);
      // The echo agent's answers to both turns, and its parking after each: frames that only
      // the run's event stream carries.
      const kinds = events.map((e) => e.kind);
      expect(kinds.filter((k) => k === "awaiting_input")).toHaveLength(2);
      const texts = events.filter((e) => e.kind === "text").map((e) => e.text);
      expect(texts).toContain("You said: hello over tls");
      expect(texts).toContain("You said: and again, securely");
      expect(events.filter((e) => e.kind === "input").map((e) => e.text)).toEqual(["hello over tls", "and again, securely"]);
      expect(Number(r.sc.next_cursor)).toBeGreaterThan(Math.max(...events.map((e) => Number(e.cursor))));

      expect(sim!.runStatus(runId)).toBe("running");
      expect(bytesToClient).toBeGreaterThan(0);
      expect(p.nonJsonLines).toEqual([]);
      expect(p.stderr).not.toContain(TOKEN);
      expect(p.stdout).not.toContain(TOKEN);
    } finally {
      p.kill();
    }
  });

  it.skipIf(!HAVE_OPENSSL)(
    "refuses the self-signed certificate without NODE_EXTRA_CA_CERTS, with an error result that names it",
    async () => {
      // A state directory of its own: with the first test's, this bridge would follow that
      // test's run again at start-up, and its re-attach attempts (refused handshakes too)
      // would land in the count below whenever the machine is slow.
      const p = new StdioPeer(env({ XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "lcb-e2e-tls-state-")) }));
      try {
        await p.initialize();
        const requestsBefore = sim!.requests.length;
        const handshakesBefore = refusedHandshakes;
        const acceptedBefore = accepted;
        // The default wait: a refused handshake means the request was never sent, so the
        // answer comes at once, says no run was created and what to do (no lost-start hunt,
        // whose lookups would be more refused handshakes).
        const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "should not start" });
        expect(s.isError).toBe(true);
        expect(s.sc.run_id).toBeUndefined();
        // The cause is named, and the fix.
        expect(s.text).toContain("DEPTH_ZERO_SELF_SIGNED_CERT");
        expect(s.text, s.text).toContain("NODE_EXTRA_CA_CERTS");
        expect(s.text).not.toMatch(/may still be created/i);
        expect(s.text).toMatch(/did not reach loomcycle|no run was created/i);
        // One connection, its handshake broken off, and nothing got through to the simulator.
        // A client refuses a certificate the proxy sent, so every connection the call made was
        // accepted before its result came; the proxy may report a refusal after the result.
        const connections = accepted - acceptedBefore;
        expect(connections).toBe(1);
        await waitFor(() => refusedHandshakes - handshakesBefore === connections, {
          what: () => `the proxy to see the handshake refused (${refusedHandshakes - handshakesBefore} of ${connections})`,
        });
        expect(sim!.requests.length).toBe(requestsBefore);
        expect(p.nonJsonLines).toEqual([]);
        expect(p.stderr).not.toContain(TOKEN);
        expect(p.stdout).not.toContain(TOKEN);
      } finally {
        p.kill();
      }
    },
  );

  it("https against loomcycle's plain-HTTP port: a one-line error that says so and what to change, nothing sent", async () => {
    const p = new StdioPeer(env({ LOOMCYCLE_BASE_URL: sim!.url.replace(/^http:/, "https:") }));
    try {
      await p.initialize();
      const before = sim!.requests.length;
      const s = await p.callTool("start_interactive_run", { agent: "echo", prompt: "should not start" });
      expect(s.isError).toBe(true);
      expect(s.text).toContain("the server does not speak TLS at that address");
      expect(s.text).not.toMatch(/ssl3_get_record|openssl|\n/i);
      expect(s.text).toMatch(/if the base URL should be http, fix it/);
      expect(sim!.requests.length).toBe(before);
    } finally {
      p.kill();
    }
  });
});
