// Scenario 1 — stream cuts. Concurrent interactive runs driven through the MCP tools
// while the fault proxy cuts their SSE streams at exact bytes: inside a frame, inside
// a UTF-8 character, between frames, and during the replay of a re-attach (including
// fresh bridges attaching to the finished conversations). The host's own reads (raw,
// explicit cursors) must equal loomcycle's persisted events exactly, a fresh bridge
// must see the same positions, and every run must have been POSTed exactly once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullLog, readAllRaw, settledPhase, startFaultEnv, type FaultEnv } from "./env.js";
import { FrameCutter, type CutKind, type CutLanding, type ProxiedRequest } from "./proxy.js";
import { record, size } from "./report.js";
import { rng, waitFor } from "../helpers.js";

const RUNS = size(20, 8);
const TOTAL_CUTS = size(100, 30);
const MAX_TURNS = 14;
const SEED = Number(process.env.FAULTS_SEED ?? 1121);

let env: FaultEnv;
beforeAll(async () => {
  env = await startFaultEnv({ proxy: true, backoffMs: [0, 20, 50, 100], sim: { seed: 11 } });
});
afterAll(async () => {
  await env?.close();
});

interface Landed extends CutLanding {
  replay: boolean;
  path: string;
}

function isStream(r: ProxiedRequest): boolean {
  return (r.method === "POST" && r.path === "/v1/runs") || (r.method === "GET" && /^\/v1\/runs\/[^/]+\/stream$/.test(r.path));
}

/** Frames a re-attach with this from_seq replays at once (the `agent` frame included). */
function replayFrames(r: ProxiedRequest): number {
  if (r.method !== "GET") return 0;
  const runId = decodeURIComponent(r.path.split("/")[3] ?? "");
  const from = Number(r.query.get("from_seq") ?? "0");
  return 1 + env.sim.rowsOfRun(runId).filter((row) => row.seq > from && row.type !== "system_prompt").length;
}

describe("scenario 1: stream cuts", () => {
  it(`${TOTAL_CUTS} random cuts across ${RUNS} concurrent interactive runs: nothing lost or repeated, same cursors, one POST per run`, async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 1,
      name: `${TOTAL_CUTS} cuts, ${RUNS} concurrent runs`,
      injected: `${TOTAL_CUTS} SSE cuts by the proxy at exact bytes (TCP reset or clean EOF, 50/50): inside a frame, inside a UTF-8 character, between frames; live and during re-attach replays (also 2 fresh bridges attaching mid-conversation). Agents unicode/echo/toolish/longtalk, unicode prompts; seed ${SEED}`,
      expected:
        "host's raw reads = loomcycle's persisted events (0 lost, 0 duplicated); cursors equal in a fresh bridge; exactly 1 POST /v1/runs per run",
    });
    const rand = rng(SEED);
    const landed: Landed[] = [];
    let armed = 0;
    const arm = (r: ProxiedRequest, phase: "live" | "replay") => {
      if (!isStream(r) || landed.length + armed >= TOTAL_CUTS) return undefined;
      const replay = replayFrames(r);
      let frame: number;
      if (phase === "replay") {
        if (replay < 3) return undefined;
        frame = 2 + Math.floor(rand() * (replay - 1));
      } else {
        if (rand() < 0.3) return undefined;
        frame =
          r.method === "POST"
            ? 1 + Math.floor(rand() * 10)
            : replay >= 3 && rand() < 0.3
              ? 2 + Math.floor(rand() * (replay - 1))
              : replay + 1 + Math.floor(rand() * 8);
      }
      const kinds: CutKind[] = ["mid-frame", "mid-utf8", "between-frames"];
      const kind = kinds[Math.floor(rand() * 3)]!;
      const mode = rand() < 0.5 ? "destroy" : "end";
      const seed = Math.floor(rand() * 2 ** 31);
      armed += 1;
      let open = true;
      const disarm = () => {
        if (open) {
          open = false;
          armed -= 1;
        }
      };
      const tap = new FrameCutter({ kind, frame, mode, rand: rng(seed) }, (l) => {
        disarm();
        landed.push({ ...l, replay: r.method === "GET" && l.frame <= replay, path: r.path });
      });
      return { kind: "forward" as const, tap, onClose: disarm };
    };
    const postsBefore = env.sim.requests.filter((q) => q.method === "POST" && q.path === "/v1/runs").length;
    const agents = ["unicode", "echo", "toolish", "longtalk", "unicode"];
    const t0 = Date.now();

    // Phase 1: live runs, cut while they stream, steered whenever they park.
    const liveBudget = TOTAL_CUTS - 2 * RUNS > 0 ? TOTAL_CUTS - Math.min(2 * RUNS, Math.floor(TOTAL_CUTS * 0.4)) : TOTAL_CUTS;
    const stopLive = () => landed.length >= liveBudget;
    const removeLive = env.proxy!.use((r) => (stopLive() ? undefined : arm(r, "live")));
    const hostLogs = new Map<string, Array<{ cursor: number; event: Record<string, unknown> }>>();
    const cursorProblems: string[] = [];
    const runIds = await Promise.all(
      Array.from({ length: RUNS }, async (_, i) => {
        const s = await env.call("start_interactive_run", {
          agent: agents[i % agents.length],
          prompt: `run ${i}: héllo ✓ 你好 🎉`,
          wait_ms: 10_000,
        });
        expect(s.isError, s.text).toBe(false);
        const runId = String(s.sc.run_id);
        const log: Array<{ cursor: number; event: Record<string, unknown> }> = [];
        hostLogs.set(runId, log);
        let cursor = 0;
        const readNew = async () => {
          const r = await env.call("read_run_events", {
            run_id: runId,
            cursor,
            format: "raw",
            max_events: 1000,
            max_chars: 40_000,
          });
          expect(r.isError, r.text).toBe(false);
          for (const e of r.sc.events ?? []) {
            const c = Number(e.cursor);
            if (c !== cursor) cursorProblems.push(`${runId}: expected cursor ${cursor}, got ${c}`);
            log.push(e as { cursor: number; event: Record<string, unknown> });
            cursor = c + 1;
          }
          if (Number(r.sc.next_cursor) !== cursor)
            cursorProblems.push(`${runId}: next_cursor ${String(r.sc.next_cursor)} after cursor ${cursor}`);
          if (r.sc.has_more === true) await readNew();
        };
        for (let turn = 1; turn <= MAX_TURNS; turn++) {
          // Follow the run to its park, as a host does.
          for (let k = 0; k < 20; k++) {
            const w = await env.call("read_run_events", { run_id: runId, wait_ms: 10_000, max_events: 1000, max_chars: 40_000 });
            expect(w.isError, w.text).toBe(false);
            if (w.sc.state === "awaiting_input") break;
          }
          await readNew();
          if (stopLive()) break;
          const st = await env.call("send_steer", {
            run_id: runId,
            text: `turn ${turn} of run ${i}: ünïcödé 🎉 ${"word ".repeat(turn)}`,
            wait_ms: 10_000,
          });
          expect(st.isError, st.text).toBe(false);
          expect(st.sc.delivered).toBe(true);
        }
        await readNew();
        return runId;
      }),
    );
    removeLive();
    for (const id of runIds) await env.sim.waitForStopPoint(id, 20_000);
    const liveCuts = landed.length;

    // Phase 2: fresh bridges attach the conversations through the proxy; their replays are cut.
    const removeReplay = env.proxy!.use((r) => arm(r, "replay"));
    const replayReaders: Array<Awaited<ReturnType<FaultEnv["freshBridge"]>>> = [];
    for (let round = 0; round < 2 && landed.length < TOTAL_CUTS; round++) {
      const fb = await env.freshBridge("proxy");
      replayReaders.push(fb);
      await Promise.all(
        runIds.map(async (id) => {
          const expected = env.sim.expectedTailFrames(id).length;
          const r = await fb.call("read_run_events", { run_id: id, cursor: 0, format: "raw", max_events: 1 });
          expect(r.isError, r.text).toBe(false);
          await waitFor(
            () =>
              (fb.bridge.tracker.get(id)?.events.length ?? 0) >= expected &&
              settledPhase(fb.bridge.tracker.get(id)?.stream.state.phase),
            { timeoutMs: 30_000, what: `replay of ${id}` },
          );
        }),
      );
    }
    removeReplay();
    // Whatever budget is left (short runs of the dice): cut live streams of new turns.
    if (landed.length < TOTAL_CUTS) {
      const removeRest = env.proxy!.use((r) => arm(r, "live"));
      for (let k = 0; k < 40 && landed.length < TOTAL_CUTS; k++) {
        const id = runIds[k % runIds.length]!;
        const st = await env.call("send_steer", { run_id: id, text: `extra turn ${k} ✓`, wait_ms: 10_000 });
        expect(st.isError, st.text).toBe(false);
      }
      removeRest();
    }
    env.proxy!.clear();
    for (const id of runIds) await env.sim.waitForStopPoint(id, 20_000);

    // Verify: the host's log, the bridges' logs and a clean fresh bridge against loomcycle's rows.
    let lost = 0;
    let duplicated = 0;
    let events = 0;
    let cursorMismatches = 0;
    const fresh = await env.freshBridge("sim");
    for (const id of runIds) {
      const expected = env.sim.expectedTailFrames(id).map(([, d]) => d);
      // Catch the host up on anything after its last read (e.g. the extra turns).
      const log = hostLogs.get(id)!;
      const tail = await readAllRaw(env.call, id, log.length);
      log.push(...tail);
      events += expected.length;
      const got = log.map((e) => JSON.stringify(e.event));
      const want = expected.map((d) => JSON.stringify(d));
      const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
      const g = count(got);
      for (const [k, n] of count(want)) lost += Math.max(0, n - (g.get(k) ?? 0));
      const w = count(want);
      for (const [k, n] of g) duplicated += Math.max(0, n - (w.get(k) ?? 0));
      expect(log.map((e) => e.event)).toEqual(expected);
      expect(log.map((e) => e.cursor)).toEqual(expected.map((_, i) => i));
      const again = await readAllRaw(fresh.call, id);
      if (JSON.stringify(again) !== JSON.stringify(log)) cursorMismatches += 1;
      for (const rb of replayReaders) {
        const held = rb.bridge.tracker.get(id);
        if (!held || JSON.stringify(await fullLog(held)) !== JSON.stringify(expected)) cursorMismatches += 1;
      }
    }
    const posts = env.sim.requests.filter((q) => q.method === "POST" && q.path === "/v1/runs").length - postsBefore;
    const byKind = (k: CutKind) => landed.filter((l) => l.kind === k).length;
    const replayCuts = landed.filter((l) => l.replay).length;
    const resets = landed.filter((l) => l.mode === "destroy").length;
    const reattaches = runIds.reduce((n, id) => n + (env.bridge.tracker.get(id)?.stream.state.reattaches ?? 0), 0);
    const fromSeq = runIds.reduce((n, id) => n + (env.bridge.tracker.get(id)?.stream.state.reattachesFromSeq ?? 0), 0);
    const startCuts = landed.filter((l) => l.path === "/v1/runs" && l.frame <= 2).length;
    Object.assign(rec.figures, {
      runs: RUNS,
      cuts: landed.length,
      mid_frame: byKind("mid-frame"),
      mid_utf8: byKind("mid-utf8"),
      between_frames: byKind("between-frames"),
      during_replay: replayCuts,
      live: liveCuts,
      resets,
      clean_eofs: landed.length - resets,
      start_streams_cut_before_agent_frame: startCuts,
      events,
      lost,
      duplicated,
      cursor_mismatches: cursorMismatches + cursorProblems.length,
      posts_per_run: posts / RUNS,
      reattaches_main_bridge: reattaches,
      reattaches_with_from_seq: fromSeq,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    });
    rec.measured =
      `${landed.length} cuts (${byKind("mid-frame")} mid-frame, ${byKind("mid-utf8")} mid-UTF-8, ${byKind("between-frames")} between frames; ${replayCuts} during replay; ${resets} resets / ${landed.length - resets} clean EOFs; ${startCuts} start streams cut before their agent frame); ` +
      `${events} events: ${lost} lost, ${duplicated} duplicated, ${cursorMismatches + cursorProblems.length} cursor mismatches; ${posts} POST /v1/runs for ${RUNS} runs; ${reattaches} re-attaches (${fromSeq} from a transcript seq)`;
    expect(cursorProblems).toEqual([]);
    expect(landed.length).toBe(TOTAL_CUTS);
    expect(byKind("mid-frame")).toBeGreaterThan(0);
    expect(byKind("mid-utf8")).toBeGreaterThan(0);
    expect(byKind("between-frames")).toBeGreaterThan(0);
    expect(replayCuts).toBeGreaterThan(0);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(cursorMismatches).toBe(0);
    expect(posts).toBe(RUNS);
  });
});
