// Scenario 7 — fuzzing over stdio with fast-check. Thousands of tool calls with random
// valid and invalid arguments (huge strings, unicode, lone surrogates, wrong types,
// missing and extra keys, non-object arguments, unknown tools, unknown run ids) sent to
// the built binary over stdio, 8 in flight at a time. Every call must be answered
// (a result, an isError result, or a JSON-RPC error for a malformed request), the
// process must stay alive, stdout must carry nothing but JSON-RPC, and RSS stay bounded.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/sim/index.js";
import { percentile, record, rssMiB, size } from "./report.js";
import { StdioPeer, stateEnv } from "../stdio-peer.js";

const CALLS = size(10_000, 2_000);
const CONCURRENCY = 8;
const SEED = Number(process.env.FAULTS_SEED ?? 20261121);
/** Peak RSS bound. Runs started or steered with megabyte strings keep them in their logs
 * (by design), and each unknown run id read leaves a small tracker entry, so the process
 * grows somewhat with the calls; the report gives RSS after each quarter of them. */
const RSS_BOUND_MIB = 384;
/** wait_ms in generated calls: at most this (else 10,000 calls would take hours). */
const MAX_FUZZ_WAIT = 200;
const SAFE_AGENTS = [
  "echo",
  "asker",
  "questioner",
  "toolish",
  "longtalk",
  "failing",
  "compactfail",
  "slow",
  "unicode",
  "oneshot",
];

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ tailPollMs: 10, speed: 0.02, keepaliveMs: 0 });
});
afterAll(async () => {
  await sim?.close();
});

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  additionalProperties?: JsonSchema | boolean;
}

interface ToolInfo {
  name: string;
  inputSchema: JsonSchema;
}

const huge = fc
  .constantFrom(10_000, 100_000, 1_000_000)
  .chain((n) => fc.constantFrom("x", "é", "😀", "\u0000").map((c) => c.repeat(Math.ceil(n / c.length))));
const oddString = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "\t\n",
      "\u0000",
      "\uD800",
      "\uDFFF lone",
      "r_../../etc/passwd",
      "<script>alert(1)</script>",
      "💥".repeat(50),
      "Ünïcödé ✓ 日本語 🚀",
      "%00%0a",
      "${HOME}",
      "null",
      "[object Object]",
    ),
  },
  { weight: 1, arbitrary: huge },
);
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.integer(), fc.string({ maxLength: 6 })), { maxKeys: 3 }),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });

function hex16(): fc.Arbitrary<string> {
  return fc.array(fc.constantFrom(..."0123456789abcdef"), { minLength: 16, maxLength: 16 }).map((a) => a.join(""));
}

export function fuzzCalls(
  tools: ToolInfo[],
  pools: { runIds: string[]; interruptIds: string[] },
): fc.Arbitrary<{ name: string; args: unknown }> {
  const runId = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...pools.runIds) },
    { weight: 3, arbitrary: hex16().map((h) => `r_${h}`) },
    { weight: 2, arbitrary: oddString },
  );
  const named: Record<string, fc.Arbitrary<unknown>> = {
    run_id: runId,
    agent: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...SAFE_AGENTS) }, { weight: 2, arbitrary: oddString }),
    interrupt_id: fc.oneof(
      { weight: 3, arbitrary: pools.interruptIds.length ? fc.constantFrom(...pools.interruptIds) : fc.constant("intr_0") },
      { weight: 2, arbitrary: hex16().map((h) => `intr_${h}00000000`) },
      { weight: 1, arbitrary: oddString },
    ),
    run_ids: fc.array(runId, { maxLength: 25 }),
    wait_ms: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: MAX_FUZZ_WAIT }) },
      { weight: 2, arbitrary: fc.constantFrom(-1, 55_001, 1e12, 1.5, "100", null, Number.MAX_SAFE_INTEGER) },
    ),
    user_id: fc.oneof(fc.constantFrom("u_fuzz", "u_other"), oddString),
    session_id: fc.oneof(
      hex16().map((h) => `s_${h}`),
      oddString,
    ),
  };
  const validFor = (name: string, s: JsonSchema): fc.Arbitrary<unknown> => {
    const n = named[name];
    if (n) return n;
    if (s.enum && s.enum.length > 0)
      return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...s.enum) }, { weight: 1, arbitrary: oddString });
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    switch (type) {
      case "integer":
      case "number": {
        const min = s.minimum ?? -10;
        const max = Math.min(s.maximum ?? 100_000, 100_000);
        return fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) },
          { weight: 1, arbitrary: fc.constantFrom(min - 1, max + 1, -0, 0.5, Number.MAX_SAFE_INTEGER, -1e300) },
        );
      }
      case "boolean":
        return fc.boolean();
      case "array":
        return fc.array(s.items ? validFor("", s.items) : anyJson, { maxLength: 5 });
      case "object":
        return fc.dictionary(
          oddString.filter((k) => k.length < 100),
          fc.oneof({ weight: 4, arbitrary: oddString }, { weight: 1, arbitrary: wrongType }),
          { maxKeys: 4 },
        );
      default:
        return fc.oneof({ weight: 4, arbitrary: fc.lorem({ maxCount: 8 }) }, { weight: 3, arbitrary: oddString });
    }
  };
  const argsFor = (t: ToolInfo): fc.Arbitrary<unknown> => {
    const props = t.inputSchema.properties ?? {};
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, s] of Object.entries(props))
      model[k] = fc.oneof(
        { weight: 7, arbitrary: validFor(k, s) },
        { weight: 1, arbitrary: wrongType },
        { weight: 1, arbitrary: oddString },
      );
    const required = (t.inputSchema.required ?? []).filter((k) => k in model);
    const obj = fc
      .tuple(
        fc.oneof(
          { weight: 8, arbitrary: fc.record(model, { requiredKeys: required }) },
          { weight: 1, arbitrary: fc.record(model, { requiredKeys: [] }) },
        ),
        // Unknown keys on one call in ten: the bridge refuses them, so more would leave few
        // calls that reach loomcycle at all.
        fc.oneof(
          { weight: 9, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { minKeys: 1, maxKeys: 2 }) },
        ),
        named.wait_ms!,
      )
      .map(([o, extra, wait]) => {
        const out: Record<string, unknown> = { ...(extra ?? {}), ...(o as Record<string, unknown>) };
        // Keep every call short: a tool that waits always gets a small (or invalid) wait_ms.
        if ("wait_ms" in props) out.wait_ms = wait;
        return out;
      });
    return fc.oneof(
      { weight: 20, arbitrary: obj },
      {
        weight: 1,
        arbitrary: fc.oneof(fc.constant(null), fc.array(anyJson, { maxLength: 3 }), fc.string({ maxLength: 10 }), fc.integer()),
      },
    );
  };
  return fc.oneof(
    { weight: 30, arbitrary: fc.constantFrom(...tools).chain((t) => argsFor(t).map((args) => ({ name: t.name, args }))) },
    { weight: 1, arbitrary: fc.tuple(oddString, fc.option(anyJson)).map(([name, args]) => ({ name, args: args ?? {} })) },
  );
}

describe("scenario 7: fuzzing over stdio", () => {
  it(`${CALLS} random tool calls over stdio: every call answered, process alive, stdout only JSON-RPC, RSS bounded`, async ({
    task,
  }) => {
    const rec = record(task, {
      scenario: 7,
      name: `${CALLS} fast-check tool calls`,
      injected: `fast-check (seed ${SEED}) calls over stdio to the built binary, ${CONCURRENCY} in flight: every listed tool plus unknown names; arguments valid or not (wrong types, missing/extra keys, non-object arguments, huge strings up to 1 M chars, grapheme/binary/lone-surrogate unicode, unknown and malformed run ids); wait_ms ≤ ${MAX_FUZZ_WAIT} when present`,
      expected: `every call answered (result, isError or JSON-RPC error), none twice; within wait_ms + 5 s; process alive; 0 non-JSON-RPC stdout lines; peak RSS < ${RSS_BOUND_MIB} MiB`,
    });
    const peer = new StdioPeer(
      {
        ...stateEnv(),
        LOOMCYCLE_BASE_URL: sim.url,
        LOOMCYCLE_AUTH_TOKEN: sim.token,
        LOOMCYCLE_USER_ID: "u_fuzz",
        LOOMCYCLE_MCP_LOG_LEVEL: "warn",
      },
      [],
      { keepOutput: false },
    );
    try {
      await peer.initialize();
      const list = await peer.request("tools/list");
      const tools = (list.result as { tools: ToolInfo[] }).tools;
      expect(tools.length).toBeGreaterThanOrEqual(5);
      // A few real runs (parked, asking, ended) so that valid ids do real work.
      const runIds: string[] = [];
      const interruptIds: string[] = [];
      for (const agent of ["echo", "echo", "asker", "asker", "toolish", "oneshot", "failing", "unicode"]) {
        const r = await peer.callTool("start_interactive_run", { agent, prompt: `fuzz seed run (${agent})` });
        expect(r.isError, r.text).toBe(false);
        runIds.push(String(r.sc.run_id));
        for (const p of (r.sc.pending_interrupts as Array<{ interrupt_id: string }> | undefined) ?? [])
          interruptIds.push(p.interrupt_id);
      }
      const calls = fc.sample(fuzzCalls(tools, { runIds, interruptIds }), { numRuns: CALLS, seed: SEED });
      const rss: number[] = [];
      const rss0 = (await rssMiB(peer.proc.pid ?? 0)) ?? 0;
      const sampler = setInterval(() => {
        void rssMiB(peer.proc.pid ?? 0).then((v) => v !== undefined && rss.push(v));
      }, 200);
      let answered = 0;
      let results = 0;
      let isErrors = 0;
      let rpcErrors = 0;
      let overBound = 0;
      let next = 0;
      const latencies: number[] = [];
      const byTool = new Map<string, number>();
      const checkpoints: number[] = [];
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < calls.length) {
            const c = calls[next++]!;
            const r = await peer.callTool(c.name, c.args, 60_000);
            answered += 1;
            latencies.push(r.ms);
            const wait =
              typeof (c.args as { wait_ms?: unknown })?.wait_ms === "number"
                ? Math.max(0, (c.args as { wait_ms: number }).wait_ms)
                : 0;
            if (r.ms > Math.min(wait, 55_000) + 5000) overBound += 1;
            if (r.rpcError) rpcErrors += 1;
            else if (r.isError) isErrors += 1;
            else results += 1;
            byTool.set(c.name, (byTool.get(c.name) ?? 0) + 1);
            if (answered % Math.floor(calls.length / 4) === 0)
              void rssMiB(peer.proc.pid ?? 0).then((v) => checkpoints.push(Math.round(v ?? 0)));
          }
        }),
      );
      const seconds = (Date.now() - t0) / 1000;
      clearInterval(sampler);
      const rssEnd = (await rssMiB(peer.proc.pid ?? 0)) ?? 0;
      const alive = peer.alive;
      const after = await peer.callTool("read_run_events", { run_id: runIds[0], cursor: 0 });
      const peak = Math.max(rss0, rssEnd, ...rss);
      const known = tools.map((t) => t.name);
      Object.assign(rec.figures, {
        calls: calls.length,
        answered,
        results,
        is_error: isErrors,
        json_rpc_errors: rpcErrors,
        stray_or_duplicate_responses: peer.strayResponses.length,
        over_bound: overBound,
        p50_ms: percentile(latencies, 50),
        p99_ms: percentile(latencies, 99),
        max_ms: Math.max(...latencies),
        calls_per_s: Math.round(calls.length / seconds),
        tools_fuzzed: [...byTool.keys()].filter((n) => known.includes(n)).length,
        unknown_tool_calls: [...byTool.entries()].filter(([n]) => !known.includes(n)).reduce((s, [, v]) => s + v, 0),
        non_json_stdout_lines: peer.nonJsonLines.length,
        stdout_mib: Math.round((peer.stdoutBytes / 1048576) * 10) / 10,
        rss_start_mib: Math.round(rss0),
        rss_peak_mib: Math.round(peak),
        rss_end_mib: Math.round(rssEnd),
        rss_quarters_mib: checkpoints.join(","),
        alive,
      });
      rec.measured =
        `${answered}/${calls.length} answered in ${seconds.toFixed(1)} s (${results} results, ${isErrors} isError, ${rpcErrors} JSON-RPC errors; ${peer.strayResponses.length} stray/duplicate); ` +
        `latency p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms, ${overBound} over wait_ms + 5 s; ${rec.figures.tools_fuzzed} tools + ${rec.figures.unknown_tool_calls} calls to unknown names; ` +
        `process alive: ${alive}; ${peer.nonJsonLines.length} non-JSON-RPC stdout lines in ${rec.figures.stdout_mib} MiB; RSS ${Math.round(rss0)} MiB at start, ${checkpoints.join(" / ")} MiB after each quarter, peak ${Math.round(peak)} MiB`;
      expect(answered).toBe(calls.length);
      expect(peer.strayResponses).toEqual([]);
      expect(overBound).toBe(0);
      expect(alive).toBe(true);
      expect(after.isError, after.text).toBe(false);
      expect(peer.nonJsonLines).toEqual([]);
      expect(peak).toBeLessThan(RSS_BOUND_MIB);
      expect(rec.figures.tools_fuzzed).toBe(tools.length);
      // The fuzz does real work: a good share of the calls get past argument checking.
      expect(results).toBeGreaterThan(calls.length / 5);
    } finally {
      peer.kill();
    }
  });
});
