// /v1/_snapshots: list (limit, label filter, invalid_limit), admin-only, seeded through the options.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { api } from "./sim-helpers.js";

let sim: Simulator;
const USER = "user-token-0123456789";

beforeAll(async () => {
  sim = await startSimulator({
    speed: 0,
    extraTokens: [{ token: USER, scopes: ["runs:create", "runs:read"], tenant_id: "acme", subject: "u1" }],
  });
});
afterAll(async () => {
  await sim.close();
});

type Entry = { id: string; created_at: string; label?: string; schema_version: number; byte_size: number };
const list = async (q = ""): Promise<Entry[]> =>
  ((await api(sim, "GET", `/v1/_snapshots${q}`)).json() as { entries: Entry[] }).entries;

describe("snapshots", () => {
  it("lists the seeded entries newest first with loomcycle's fields", async () => {
    const res = await api(sim, "GET", "/v1/_snapshots");
    expect(res.status).toBe(200);
    expect(res.text.endsWith("}\n")).toBe(true);
    const entries = (res.json() as { entries: Entry[] }).entries;
    expect(entries.length).toBe(3);
    for (const e of entries) {
      expect(Object.keys(e)).toEqual(["id", "created_at", "label", "schema_version", "byte_size"]);
      expect(e.id).toMatch(/^snap_\d{13}_[0-9a-f]{8}$/);
      expect(e.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const times = entries.map((e) => e.created_at);
    expect(times).toEqual([...times].sort().reverse());
  });

  it("honours limit (0 = default) and a case-insensitive label filter", async () => {
    expect((await list("?limit=2")).length).toBe(2);
    expect((await list("?limit=0")).length).toBe(3);
    const nightly = await list("?label_contains=NIGHTLY");
    expect(nightly.map((e) => e.label)).toEqual(["Nightly-Backup-2", "nightly-backup"]);
    expect(await list("?label_contains=zzz")).toEqual([]);
  });

  it("400s invalid_limit as a JSON envelope without a trailing newline", async () => {
    for (const q of ["-1", "abc", "1.5"]) {
      const r = await api(sim, "GET", `/v1/_snapshots?limit=${q}`);
      expect(r.status).toBe(400);
      expect(r.headers.get("content-type")).toBe("application/json");
      expect(r.text).toBe('{"code":"invalid_limit","error":"limit must be a non-negative integer"}');
    }
  });

  it("refuses a token without substrate:admin", async () => {
    const r = await api(sim, "GET", "/v1/_snapshots", undefined, USER);
    expect(r.status).toBe(403);
    expect(r.text).toBe("insufficient scope\n");
    expect(r.headers.get("www-authenticate")).toBe('Bearer scope="substrate:admin"');
  });

  it("holds the snapshots given in its options instead of the default ones", async () => {
    const seeded = await startSimulator({
      speed: 0,
      snapshots: [{ label: "seeded", byte_size: 42, created_at: "2030-01-01T00:00:00.000Z" }],
    });
    try {
      const entries = ((await api(seeded, "GET", "/v1/_snapshots")).json() as { entries: Entry[] }).entries;
      expect(entries).toEqual([
        {
          id: expect.stringMatching(/^snap_\d{13}_[0-9a-f]{8}$/),
          created_at: "2030-01-01T00:00:00.000Z",
          label: "seeded",
          schema_version: 1,
          byte_size: 42,
        },
      ]);
    } finally {
      await seeded.close();
    }
  });
});
