// Scenario 6 — bad upstream bytes. Error bodies in every format loomcycle and proxies
// produce (HTML 502 pages, plain text, JSON envelopes, a 200 with HTML or cut JSON),
// and SSE streams with malformed JSON frames, unknown event names, a 5 MB frame, a
// 17 MB frame, CRLF line endings and no final newline. No crash, each kind of bad
// frame logged once per stream, and the run goes on or ends cleanly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullLog, startFaultEnv, type FaultEnv } from "./env.js";
import { FrameSplitter, type BodyTap, type Plan, type ProxiedRequest } from "./proxy.js";
import { record } from "./report.js";
import { memoryLogger, waitFor } from "../helpers.js";
import { NGINX_502 } from "../../src/sim/http.js";

const mem = memoryLogger("warn");
let env: FaultEnv;
beforeAll(async () => {
  env = await startFaultEnv({ proxy: true, logger: mem.logger, backoffMs: [0, 20, 50, 100] });
});
afterAll(async () => {
  await env?.close();
});

const isStart = (r: ProxiedRequest, marker: string) => r.method === "POST" && r.path === "/v1/runs" && r.body.includes(marker);
const isRunStream = (r: ProxiedRequest) => (r.method === "POST" && r.path === "/v1/runs") || /\/stream$/.test(r.path);

/** Passes every frame, and after the first `started` frame adds `extra` frames. */
class InjectAfterStarted implements BodyTap {
  private readonly split = new FrameSplitter();
  private done = false;
  constructor(private readonly extra: Buffer[]) {}
  chunk(buf: Buffer) {
    const out: Buffer[] = [];
    for (const f of this.split.push(buf)) {
      out.push(f);
      if (!this.done && f.subarray(0, 15).toString() === "event: started\n") {
        this.done = true;
        out.push(...this.extra);
      }
    }
    return { out: Buffer.concat(out) };
  }
  flush() {
    return this.split.rest();
  }
}

/** LF → CRLF everywhere. */
const crlf: () => BodyTap = () => ({
  chunk: (b) => ({ out: Buffer.from(b.toString("latin1").replace(/\n/g, "\r\n"), "latin1") }),
});

/** Holds back the stream's last bytes and drops `drop` trailing newlines at the end. */
class NoFinalNewline implements BodyTap {
  private held = Buffer.alloc(0);
  constructor(private readonly drop: 1 | 2) {}
  chunk(buf: Buffer) {
    const all = Buffer.concat([this.held, buf]);
    this.held = all.subarray(Math.max(0, all.length - 2));
    return { out: all.subarray(0, Math.max(0, all.length - 2)) };
  }
  flush() {
    return this.held.subarray(0, this.held.length - this.drop);
  }
}

/** Is this request a stream of the run whose opening prompt contains `marker` (POST body, or a re-attach by run id)? */
function streamOf(r: ProxiedRequest, marker: string): boolean {
  if (!isRunStream(r)) return false;
  if (r.method === "POST") return r.body.includes(marker);
  const id = decodeURIComponent(r.path.split("/")[3] ?? "");
  return JSON.stringify(env.sim.rowsOfRun(id)[0]?.payload ?? "").includes(marker);
}

const frame = (name: string, data: string) => Buffer.from(`event: ${name}\ndata: ${data}\n\n`, "utf8");

describe("scenario 6: bad upstream bytes", () => {
  it("error bodies of every format: each call fails clearly, nothing crashes, the bridge keeps working", async ({ task }) => {
    const rec = record(task, {
      scenario: 6,
      name: "error bodies (HTML, plain, JSON, bad 200s)",
      injected:
        "HTML 502 (nginx) on start, steer, resolve_interrupt and attach; JSON 503 runtime_paused on start; JSON 500 without code on steer; plain 401 and 200-with-HTML and 200-with-cut-JSON on list_snapshots; loomcycle's plain 404 (unknown run) and JSON 409 not_mid_turn",
      expected:
        "every call answered (isError with a message naming the upstream problem, no HTML dumped, no stack), retried GETs recover, steer failures never advise a blind resend, the bridge answers normally afterwards",
    });
    const parked = await env.call("start_interactive_run", { agent: "echo", prompt: "errors around me" });
    const runId = String(parked.sc.run_id);
    const foreign = String(
      (await (await env.freshBridge()).call("start_interactive_run", { agent: "echo", prompt: "attach me through a 502" })).sc
        .run_id,
    );
    const once = (match: (r: ProxiedRequest) => boolean, plan: Plan, times = 1) => {
      let n = 0;
      return env.proxy!.use((r) => (match(r) && n++ < times ? plan : undefined));
    };
    const html = {
      kind: "respond" as const,
      status: 502,
      headers: { "Content-Type": "text/html", Server: "nginx" },
      body: NGINX_502,
    };
    const results: Array<[string, Awaited<ReturnType<FaultEnv["call"]>>]> = [];
    const check = async (label: string, rm: () => void, p: Promise<Awaited<ReturnType<FaultEnv["call"]>>>) => {
      const r = await p;
      rm();
      results.push([label, r]);
      return r;
    };
    const startHtml = await check(
      "start ← HTML 502",
      once((r) => isStart(r, "html start"), html),
      env.call("start_interactive_run", { agent: "echo", prompt: "html start" }),
    );
    const startPaused = await check(
      "start ← JSON 503 runtime_paused",
      once((r) => isStart(r, "paused start"), {
        kind: "respond",
        status: 503,
        headers: { "Content-Type": "application/json" },
        body: '{"code":"runtime_paused","error":"runtime is paused for a snapshot"}',
      }),
      env.call("start_interactive_run", { agent: "echo", prompt: "paused start" }),
    );
    const steerHtml = await check(
      "steer ← HTML 502",
      once((r) => r.path.endsWith("/input"), html),
      env.call("send_steer", { run_id: runId, text: "through a 502" }),
    );
    const steer500 = await check(
      "steer ← JSON 500",
      once((r) => r.path.endsWith("/input"), {
        kind: "respond",
        status: 500,
        headers: { "Content-Type": "application/json" },
        body: '{"error":"internal server error"}\n',
      }),
      env.call("send_steer", { run_id: runId, text: "through a 500" }),
    );
    const asker = await env.call("start_interactive_run", { agent: "asker", prompt: "ask me through a 502" });
    const intr = String((asker.sc.pending_interrupts ?? [])[0]?.interrupt_id ?? "");
    const resolveHtml = await check(
      "resolve_interrupt ← HTML 502",
      once((r) => r.path.endsWith("/resolve"), html),
      env.call("resolve_interrupt", { run_id: asker.sc.run_id, interrupt_id: intr, answer: "yes" }),
    );
    const attach = await check(
      "attach ← HTML 502 ×2 (GET retried)",
      once((r) => r.path === `/v1/runs/${foreign}/stream`, html, 2),
      env.call("read_run_events", { run_id: foreign, wait_ms: 3000 }),
    );
    const snap401 = await check(
      "list_snapshots ← plain 401",
      once((r) => r.path === "/v1/_snapshots", {
        kind: "respond",
        status: 401,
        headers: { "Content-Type": "text/plain; charset=utf-8" },
        body: "unauthorized\n",
      }),
      env.call("list_snapshots", {}),
    );
    const snapHtml200 = await check(
      "list_snapshots ← 200 HTML",
      once((r) => r.path === "/v1/_snapshots", {
        kind: "respond",
        status: 200,
        headers: { "Content-Type": "text/html" },
        body: "<!doctype html><html><head><title>Sign in to the Wi-Fi</title></head><body>portal</body></html>",
      }),
      env.call("list_snapshots", {}),
    );
    const snapCut = await check(
      "list_snapshots ← 200 cut JSON",
      once((r) => r.path === "/v1/_snapshots", {
        kind: "respond",
        status: 200,
        headers: { "Content-Type": "application/json" },
        body: '{"entries":[{"id":"snap_1","label":"half',
      }),
      env.call("list_snapshots", {}),
    );
    const unknown = await check(
      "read unknown run ← plain 404",
      () => undefined,
      env.call("read_run_events", { run_id: "r_00000000deadbeef" }),
    );
    const notMidTurn = await check(
      "cancel_turn parked ← JSON 409 not_mid_turn",
      () => undefined,
      env.call("cancel_turn", { run_id: runId }),
    );
    const after = await env.call("send_steer", { run_id: runId, text: "still fine?" });

    const lines = results.map(
      ([l, r]) =>
        `${l} → ${r.isError ? "isError" : `ok (${String(r.sc.state ?? "")})`}: "${r.text.split("\n")[0]!.slice(0, 110)}"`,
    );
    rec.measured = `${results.length} calls, ${results.length} answered: ${lines.join("; ")}; afterwards a steer → ${String(after.sc.state)}`;
    Object.assign(rec.figures, { calls: results.length, answered: results.length, crashed: false, warn_lines: mem.lines.length });

    for (const [label, r] of results) {
      expect(r.text, label).not.toMatch(/<html|<center|Internal error|at .*\.ts:\d+/i);
    }
    expect(startHtml.isError).toBe(true);
    expect(startHtml.text).toMatch(/502/);
    expect(startHtml.text).toMatch(/No run was created/);
    expect(startPaused.isError).toBe(true);
    expect(startPaused.text).toMatch(/runtime is paused/);
    expect(startPaused.text).toMatch(/No run was created/);
    for (const r of [steerHtml, steer500]) {
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/may or may not have been delivered/);
      expect(r.text).toMatch(/read_run_events/);
    }
    expect(resolveHtml.isError).toBe(true);
    expect(resolveHtml.text).toMatch(/may or may not have been recorded/);
    expect(attach.isError, attach.text).toBe(false);
    expect(attach.sc.state).toBe("awaiting_input");
    expect(snap401.isError).toBe(true);
    expect(snap401.text).toMatch(/refused the bearer token/);
    expect(snapHtml200.isError).toBe(true);
    expect(snapHtml200.text).toMatch(/HTML page/);
    expect(snapCut.isError).toBe(true);
    expect(snapCut.text).toMatch(/non-JSON body/);
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toMatch(/no run r_00000000deadbeef visible/);
    expect(notMidTurn.isError).toBe(true);
    expect(after.isError, after.text).toBe(false);
    expect(after.sc.state).toBe("awaiting_input");
    // Neither refused start reached loomcycle as a second POST.
    expect(
      env.sim.requests.filter((q) => q.method === "POST" && q.path === "/v1/runs" && /html start|paused start/.test(q.body)),
    ).toHaveLength(0);
  });

  it("malformed JSON frames, unknown events, a 5 MB and a 17 MB frame in a live stream: logged once per kind, the run goes on, results stay small", async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 6,
      name: "bad frames in a live stream",
      injected:
        "after `started`: 25 malformed-JSON frames, 10 schema-breaking `usage` frames, 5 unknown event names, one 5 MB `text` frame, one 17 MB frame (over the 16 MiB frame bound)",
      expected:
        "one warning per kind of bad frame per stream; the run parks normally with every good frame in order; results < 51,200 bytes with the big frame marked truncated",
    });
    const big = "Ω".repeat((5 * 1024 * 1024) / 2); // 5 MiB of UTF-8
    const inject: Buffer[] = [];
    for (let i = 0; i < 25; i++) inject.push(frame("text", `{"type":"text","text":"unterminated ${i}`));
    for (let i = 0; i < 10; i++) inject.push(frame("usage", `{"type":"usage","usage":"not an object ${i}"}`));
    for (let i = 0; i < 5; i++)
      inject.push(frame(`galaxy_brain_${i}`, `{"type":"galaxy_brain_${i}","note":"an event from a newer loomcycle"}`));
    inject.push(frame("text", JSON.stringify({ type: "text", text: big })));
    inject.push(
      frame(
        "tool_result",
        JSON.stringify({
          type: "tool_result",
          text: "x".repeat(17 * 1024 * 1024),
          tool_use: { id: "t17", name: "Huge", input: {} },
        }),
      ),
    );
    let used = false;
    const rm = env.proxy!.use((r) => {
      if (!isStart(r, "bad frames") || used) return undefined;
      used = true;
      return { kind: "forward", tap: new InjectAfterStarted(inject) };
    });
    const linesBefore = mem.lines.length;
    const s = await env.call("start_interactive_run", { agent: "echo", prompt: "bad frames", wait_ms: 20_000 });
    rm();
    expect(s.isError, s.text).toBe(false);
    const runId = String(s.sc.run_id);
    const run = env.bridge.tracker.get(runId)!;
    const st = await env.call("send_steer", { run_id: runId, text: "and on we go" });
    // Page through the whole log, digest and raw, as a host would.
    const pages: Array<Awaited<ReturnType<FaultEnv["call"]>>> = [];
    const digestItems: Array<Record<string, unknown>> = [];
    for (const format of ["digest", "raw"]) {
      let cursor = 0;
      for (let i = 0; i < 50; i++) {
        const p = await env.call("read_run_events", { run_id: runId, cursor, format });
        expect(p.isError, p.text).toBe(false);
        pages.push(p);
        if (format === "digest") digestItems.push(...(p.sc.events ?? []));
        cursor = Number(p.sc.next_cursor);
        if (p.sc.has_more !== true) break;
      }
    }
    const warns = mem.lines.slice(linesBefore).map((l) => JSON.parse(l) as { msg: string; reason?: string; level: number });
    const badFrameWarns = warns.filter((w) => /unusable SSE frame/.test(w.msg));
    const byReason = (k: string) => badFrameWarns.filter((w) => w.reason === k).length;
    const expected = env.sim.expectedTailFrames(runId).map(([, d]) => d);
    const held = (await fullLog(run)) as Array<Record<string, unknown>>;
    const good = held.filter((e) => !String(e.type).startsWith("galaxy_brain") && !(e.type === "text" && e.text === big));
    const sizes = [s, st, ...pages].map((r) => ({
      text: Buffer.byteLength(r.text),
      sc: Buffer.byteLength(JSON.stringify(r.sc)),
    }));
    const maxBytes = Math.max(...sizes.flatMap((x) => [x.text, x.sc]));
    const bigItem = digestItems.find((e) => e.kind === "text" && String(e.text).startsWith("ΩΩ"));
    const rawBig = pages
      .flatMap((p) => p.sc.events ?? [])
      .find((e) => (e.event as { text?: string } | undefined)?.text?.startsWith("ΩΩ"));
    Object.assign(rec.figures, {
      malformed_frames: 25,
      schema_frames: 10,
      unknown_events: 5,
      warnings_malformed: byReason("malformed_json"),
      warnings_schema: byReason("schema_mismatch"),
      warnings_oversized: byReason("oversized"),
      warn_lines_total: warns.length,
      state_after: String(st.sc.state),
      largest_result_bytes: maxBytes,
      good_frames_in_order: JSON.stringify(good) === JSON.stringify(expected),
    });
    rec.measured =
      `warnings: ${byReason("malformed_json")} for 25 malformed, ${byReason("schema_mismatch")} for 10 schema-breaking, ${byReason("oversized")} for the 17 MB frame (${warns.length} warn lines in all); ` +
      `unknown events kept as notices: ${digestItems.filter((e) => e.kind === "notice").length}; ${pages.length} pages read; run parked, steered, parked again (${String(st.sc.state)}); ` +
      `good frames in order: ${JSON.stringify(good) === JSON.stringify(expected)}; largest result ${maxBytes} bytes; 5 MB frame returned as ${bigItem ? `${String(bigItem.text).length} chars, truncated: ${String(bigItem.truncated)}` : "(missing)"} (raw: ${rawBig ? `truncated: ${String(rawBig.truncated)}` : "(missing)"})`;
    expect(byReason("malformed_json")).toBe(1);
    expect(byReason("schema_mismatch")).toBe(1);
    expect(byReason("oversized")).toBe(1);
    expect(st.isError, st.text).toBe(false);
    expect(st.sc.state).toBe("awaiting_input");
    expect(good).toEqual(expected);
    expect(held.filter((e) => String(e.type).startsWith("galaxy_brain"))).toHaveLength(5);
    expect(maxBytes).toBeLessThan(51_200);
    expect(bigItem?.truncated).toBe(true);
    expect(rawBig?.truncated).toBe(true);
  });

  it("CRLF line endings and a stream whose last frame has no final newline: exact logs, the run ends cleanly with its done", async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 6,
      name: "CRLF, no final newline",
      injected:
        "every byte of one run's streams rewritten LF → CRLF; two one-shot runs whose stream ends without the final blank line (`…}\\n` + EOF) or without any newline (`…}` + EOF)",
      expected:
        "CRLF run: log equal to loomcycle's through a steer; one-shot runs: state completed with their `done` event in the log (nothing lost)",
    });
    const rmCrlf = env.proxy!.use((r) => (streamOf(r, "crlf please") ? { kind: "forward", tap: crlf() } : undefined));
    const s = await env.call("start_interactive_run", { agent: "unicode", prompt: "crlf please ✓" });
    expect(s.isError, s.text).toBe(false);
    const crlfRun = String(s.sc.run_id);
    const st = await env.call("send_steer", { run_id: crlfRun, text: "again in CRLF ✓" });
    rmCrlf();
    const crlfExact =
      JSON.stringify(await fullLog(env.bridge.tracker.get(crlfRun)!)) ===
      JSON.stringify(env.sim.expectedTailFrames(crlfRun).map(([, d]) => d));

    const endings: Array<[1 | 2, string]> = [
      [1, "…}\\n + EOF"],
      [2, "…} + EOF"],
    ];
    const outcomes: string[] = [];
    const ok: boolean[] = [];
    for (const [drop, label] of endings) {
      const marker = `no final newline ${drop}`;
      const rm = env.proxy!.use((r) => (streamOf(r, marker) ? { kind: "forward", tap: new NoFinalNewline(drop) } : undefined));
      const o = await env.call("start_interactive_run", { agent: "oneshot", prompt: marker, wait_ms: 10_000 });
      expect(o.isError, o.text).toBe(false);
      const id = String(o.sc.run_id);
      const t = env.bridge.tracker.get(id)!;
      await waitFor(() => t.terminal !== undefined, { timeoutMs: 10_000, what: "the one-shot run to end" });
      rm();
      const evs = t.events.slice();
      const hasDone = evs.some((e) => e.type === "done");
      const exact = JSON.stringify(evs) === JSON.stringify(env.sim.expectedTailFrames(id).map(([, d]) => d));
      const streams = env.proxy!.requests.filter((q) => streamOf(q, marker)).length;
      outcomes.push(
        `${label}: state ${t.state}, done ${hasDone ? "kept" : "LOST"}, log ${exact ? "exact" : "differs"}, ${streams} stream request(s)`,
      );
      ok.push(t.state === "completed" && hasDone && exact);
    }
    Object.assign(rec.figures, {
      crlf_exact: crlfExact,
      crlf_state: String(st.sc.state),
      no_final_newline_ok: ok.filter(Boolean).length,
    });
    rec.measured = `CRLF run: ${String(s.sc.state)} → steer → ${String(st.sc.state)}, log ${crlfExact ? "exact" : "differs"}; ${outcomes.join("; ")}`;
    expect(st.isError, st.text).toBe(false);
    expect(st.sc.state).toBe("awaiting_input");
    expect(crlfExact).toBe(true);
    expect(ok).toEqual([true, true]);
  });
});
