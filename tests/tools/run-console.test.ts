// The run console (issue 18, server side): its ui:// resource, its app-only tools listed only
// to hosts that declare MCP Apps, console_read's own cursor and long-poll, console_act's
// actions reaching loomcycle as the person's, and the marks every later read shows the model.
// A real MCP client over the in-memory transport against the simulator over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { ClientCapabilities, Tool } from "@modelcontextprotocol/sdk/types.js";
import {
  EXTENSION_ID as EA_EXTENSION_ID,
  RESOURCE_MIME_TYPE as EA_MIME,
  RESOURCE_URI_META_KEY as EA_URI_KEY,
  getUiCapability,
  registerAppResource,
  registerAppTool,
} from "@modelcontextprotocol/ext-apps/server";
import { createServer } from "../../src/server.js";
import {
  APP_ONLY,
  CONSOLE_LINK,
  CONSOLE_PAGE_META,
  EXTENSION_ID,
  RESOURCE_MIME_TYPE,
  RUN_CONSOLE_URI,
  declaresApps,
} from "../../src/tool-kit/mcp-apps.js";
import { APPS_CAPABILITY, sharedValidator } from "../mcp-client.js";
import { waitFor } from "../helpers.js";
import { startHarness, type Harness, type ToolOutcome } from "./harness.js";

type Item = Record<string, unknown>;

let h: Harness; // a host that declares MCP Apps: its model and the console share the connection
let plain: Harness; // a host that does not
beforeAll(async () => {
  h = await startHarness({}, { apps: true, timings: { progressEveryMs: 50 } });
  plain = await startHarness({}, { sim: h.sim });
});
afterAll(async () => {
  await plain?.close();
  await h?.close();
});

const readPos = (runId: string): number => h.bridge.tracker.get(runId)!.readPos;
const events = (r: ToolOutcome): Item[] => (r.sc.events ?? []) as Item[];

async function started(agent: string, prompt: string): Promise<{ runId: string; start: ToolOutcome }> {
  const start = await h.call("start_interactive_run", { agent, prompt });
  expect(start.isError, start.text).toBe(false);
  return { runId: String(start.sc.run_id), start };
}

/** The run's log holds a frame of `type` after position `from` (the echo of an action arrived). */
async function logged(runId: string, from: number, type: string): Promise<void> {
  const run = h.bridge.tracker.get(runId)!;
  await waitFor(() => run.events.slice(from).some((e) => e.type === type), {
    timeoutMs: 10_000,
    what: `${type} in ${runId} after ${from}`,
  });
}

/** Parked again after position `from`. */
const parkedAfter = (runId: string, from: number) => logged(runId, from, "awaiting_input");

/** A client of the same bridge declaring exactly `capabilities`. */
async function clientWith(capabilities: ClientCapabilities): Promise<{ client: Client; close: () => Promise<void> }> {
  const { server, close } = createServer({ bridge: plain.bridge });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "caps-host", version: "1" }, { capabilities, jsonSchemaValidator: sharedValidator });
  await Promise.all([server.connect(a), client.connect(b)]);
  return {
    client,
    close: async () => {
      await client.close();
      await close();
    },
  };
}

const modelFacing = (t: Tool) => ({
  name: t.name,
  title: t.title,
  description: t.description,
  inputSchema: t.inputSchema,
  outputSchema: t.outputSchema,
  annotations: t.annotations,
});

describe("the console's tools are listed only to hosts that declare MCP Apps", () => {
  it("a host that declares MCP Apps lists console_read and console_act as app-only; start_interactive_run and attach_run link the console", async () => {
    const tools = (await h.client.listTools()).tools;
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const n of ["console_read", "console_act"]) {
      const t = byName.get(n)!;
      expect(t, n).toBeDefined();
      expect(t._meta, n).toEqual({ ui: { visibility: ["app"] } });
      for (const k of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const)
        expect(typeof t.annotations?.[k], `${n}.${k}`).toBe("boolean");
      expect(t.outputSchema, n).toBeTruthy();
      for (const [p, def] of Object.entries((t.inputSchema.properties ?? {}) as Record<string, { description?: string }>))
        expect(def.description, `${n}.${p}`).toMatch(/Example|e\.g\.|default|"/);
    }
    for (const n of ["start_interactive_run", "attach_run"])
      expect(byName.get(n)!._meta, n).toEqual({ ui: { resourceUri: RUN_CONSOLE_URI }, "ui/resourceUri": RUN_CONSOLE_URI });
    // The tools its model sees are exactly those of a host without the extension.
    const others = (await plain.client.listTools()).tools;
    expect(tools.filter((t) => !t.name.startsWith("console_")).map(modelFacing)).toEqual(others.map(modelFacing));
  });

  it("a host that does not declare them sees the tools it saw before, and calling a console tool anyway is refused", async () => {
    const names = (await plain.client.listTools()).tools.map((t) => t.name);
    expect(names).toHaveLength(13);
    expect(names.filter((n) => n.startsWith("console_"))).toEqual([]);
    const { runId } = await started("echo", "not for plain hosts");
    const before = h.sim.requests.length;
    for (const [name, args] of [
      ["console_read", { run_id: runId }],
      ["console_act", { run_id: runId, action: "steer", text: "hi" }],
    ] as const) {
      const r = await plain.call(name, args);
      expect(r.isError, name).toBe(true);
      expect(r.text).toMatch(new RegExp(`Tool ${name} disabled`));
    }
    expect(h.sim.requests.slice(before).filter((q) => q.method === "POST")).toEqual([]);
    // Declaring the extension without HTML views is not enough: the console is an HTML view.
    for (const caps of [
      { extensions: { [EXTENSION_ID]: {} } },
      { extensions: { [EXTENSION_ID]: { mimeTypes: ["text/plain"] } } },
      { experimental: { [EXTENSION_ID]: { mimeTypes: [RESOURCE_MIME_TYPE] } } },
    ]) {
      const c = await clientWith(caps);
      try {
        const listed = (await c.client.listTools()).tools.map((t) => t.name);
        expect(
          listed.filter((n) => n.startsWith("console_")),
          JSON.stringify(caps),
        ).toEqual([]);
      } finally {
        await c.close();
      }
    }
  });

  it("its names and metadata are ext-apps' own: the constants, registerAppTool's _meta, registerAppResource's mime type, getUiCapability", () => {
    expect(EXTENSION_ID).toBe(EA_EXTENSION_ID);
    expect(RESOURCE_MIME_TYPE).toBe(EA_MIME);
    expect(Object.keys(CONSOLE_LINK)).toContain(EA_URI_KEY);
    const seen: Array<{ name: string; config: Record<string, unknown> }> = [];
    // What the helpers hand the SDK's McpServer.
    const fake = {
      registerTool: (name: string, config: Record<string, unknown>) => void seen.push({ name, config }),
      registerResource: (name: string, _uri: string, config: Record<string, unknown>) => void seen.push({ name, config }),
    } as unknown as Parameters<typeof registerAppResource>[0] & Parameters<typeof registerAppTool>[0];
    registerAppTool(fake, "linked", { _meta: { ui: { resourceUri: RUN_CONSOLE_URI } } }, () => ({ content: [] }));
    registerAppTool(fake, "app_only", { _meta: APP_ONLY }, () => ({ content: [] }));
    registerAppResource(fake, "page", RUN_CONSOLE_URI, { _meta: CONSOLE_PAGE_META }, () => ({ contents: [] }));
    expect(seen[0]!.config._meta).toEqual(CONSOLE_LINK);
    expect(seen[1]!.config._meta).toEqual(APP_ONLY);
    expect(seen[2]!.config.mimeType).toBe(RESOURCE_MIME_TYPE);
    for (const caps of [
      {},
      { extensions: { [EXTENSION_ID]: { mimeTypes: [RESOURCE_MIME_TYPE] } } },
      { extensions: { [EXTENSION_ID]: { mimeTypes: ["text/plain"] } } },
      { extensions: { other: { mimeTypes: [RESOURCE_MIME_TYPE] } } },
    ] as ClientCapabilities[])
      expect(declaresApps(caps), JSON.stringify(caps)).toBe(getUiCapability(caps)?.mimeTypes?.includes(EA_MIME) ?? false);
    expect(declaresApps({ extensions: APPS_CAPABILITY })).toBe(true);
  });
});

describe("ui://loomcycle/run-console.html", () => {
  it("is read from the built page when first asked for, then kept, and served as an MCP App's HTML; a missing build is a clear error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lcb-console-page-"));
    const page = join(dir, "run-console.html");
    const { server, close } = createServer({ bridge: plain.bridge, consolePage: page });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const client = new Client(
      { name: "page-host", version: "1" },
      { capabilities: { extensions: APPS_CAPABILITY }, jsonSchemaValidator: sharedValidator },
    );
    try {
      // Nothing was read at start-up: the file does not exist yet and the server started.
      await Promise.all([server.connect(a), client.connect(b)]);
      const listed = (await client.listResources()).resources.find((r) => r.uri === RUN_CONSOLE_URI);
      expect(listed).toMatchObject({ mimeType: RESOURCE_MIME_TYPE, _meta: { ui: { prefersBorder: true } } });
      await expect(client.readResource({ uri: RUN_CONSOLE_URI })).rejects.toThrow(
        /run console's page is not built: .*run-console\.html is missing\. Run `npm run build`/,
      );
      writeFileSync(page, "<!doctype html><title>one</title>");
      const r = await client.readResource({ uri: RUN_CONSOLE_URI });
      expect(r.contents).toEqual([
        {
          uri: RUN_CONSOLE_URI,
          mimeType: "text/html;profile=mcp-app",
          text: "<!doctype html><title>one</title>",
          _meta: { ui: { prefersBorder: true } },
        },
      ]);
      writeFileSync(page, "<!doctype html><title>two</title>");
      const again = await client.readResource({ uri: RUN_CONSOLE_URI });
      expect((again.contents[0] as { text: string }).text).toBe("<!doctype html><title>one</title>"); // kept
    } finally {
      await client.close();
      await close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serves the page `npm run build` wrote to dist/app/run-console.html", async () => {
    const built = readFileSync(fileURLToPath(new URL("../../dist/app/run-console.html", import.meta.url)), "utf8");
    const r = await h.client.readResource({ uri: RUN_CONSOLE_URI });
    expect((r.contents[0] as { text: string }).text).toBe(built);
    expect(built).toMatch(/^<!doctype html>/i);
  });
});

describe("console_read", () => {
  it("reads from the console's own cursor, in full, and leaves the model's read position where it was", async () => {
    const prompt = `Summarize this: ${"long prompt ".repeat(30)}`.trim();
    const { runId, start } = await started("echo", prompt);
    expect(events(start)[0]).toMatchObject({ kind: "input", source: "host", truncated: true }); // the model's echo is short
    const pos = readPos(runId);
    const r = await h.call("console_read", { run_id: runId });
    expect(r.isError, r.text).toBe(false);
    expect(r.sc).toMatchObject({
      run_id: runId,
      agent_id: start.sc.agent_id,
      session_id: start.sc.session_id,
      agent: "echo",
      state: "awaiting_input",
      next_cursor: start.sc.next_cursor,
      has_more: false,
      pending_interrupts: [],
    });
    expect(r.sc.next_step).toBeUndefined();
    expect(events(r)[0]).toEqual({ kind: "input", cursor: events(start)[0]!.cursor, text: prompt, source: "host" });
    expect(events(r).map((e) => e.kind)).toEqual(events(start).map((e) => e.kind));
    expect(r.text).toContain(`input (host): ${prompt}`);
    // From a later cursor: only what follows it.
    const later = await h.call("console_read", { run_id: runId, cursor: Number(r.sc.next_cursor) });
    expect(events(later)).toEqual([]);
    expect(readPos(runId)).toBe(pos);
  });

  it("long-polls: it returns on a new event, on a state other than since_state, or when wait_ms runs out", async () => {
    const { runId, start } = await started("echo", "poll me");
    const end = Number(start.sc.next_cursor);
    // A new event: the wait (far longer than this test may take) ends with the steer's echo.
    let waiting!: () => void;
    const isWaiting = new Promise<void>((resolve) => (waiting = resolve));
    const poll = h.call(
      "console_read",
      { run_id: runId, cursor: end, wait_ms: 55_000, since_state: "awaiting_input" },
      { onprogress: () => waiting() },
    );
    await isWaiting;
    const s = await h.call("send_steer", { run_id: runId, text: "wake up", wait_ms: 0 });
    expect(s.isError, s.text).toBe(false);
    // Delivered, the run's state says a turn is coming (issue 19 item 12): the poll returns on
    // that (or on the echo, if it came first); the next one from the same cursor has the echo.
    let woke = await poll;
    expect(woke.isError, woke.text).toBe(false);
    if (events(woke).length === 0) {
      expect(woke.sc.state).toBe("running");
      woke = await h.call("console_read", { run_id: runId, cursor: end, wait_ms: 55_000, since_state: "running" });
    }
    expect(events(woke)[0]).toMatchObject({ kind: "input", text: "wake up", source: "host", cursor: end });
    await parkedAfter(runId, end);
    // A state other than the one the console shows: at once, with nothing new.
    const tail = h.bridge.tracker.get(runId)!.events.length;
    const state = await h.call("console_read", { run_id: runId, cursor: tail, wait_ms: 55_000, since_state: "running" });
    expect(state.sc).toMatchObject({ state: "awaiting_input", events: [], next_cursor: tail });
    // Nothing new and the same state: it waits out wait_ms.
    const quiet = await h.call("console_read", { run_id: runId, cursor: tail, wait_ms: 200, since_state: "awaiting_input" });
    expect(quiet.isError, quiet.text).toBe(false);
    expect(quiet.sc).toMatchObject({ state: "awaiting_input", events: [], next_cursor: tail, has_more: false });
  });

  it("sends progress while it waits and stops waiting when the host cancels", async () => {
    const { runId, start } = await started("echo", "cancel my wait");
    const run = h.bridge.tracker.get(runId)!;
    const ac = new AbortController();
    let waiting!: () => void;
    const isWaiting = new Promise<void>((resolve) => (waiting = resolve));
    const progress: Array<{ message?: string }> = [];
    const pending = h.call(
      "console_read",
      { run_id: runId, cursor: Number(start.sc.next_cursor), wait_ms: 55_000 },
      {
        signal: ac.signal,
        onprogress: (p) => {
          progress.push(p as { message?: string });
          waiting();
        },
      },
    );
    await isWaiting;
    expect(progress[0]?.message).toMatch(new RegExp(`^run ${runId}: awaiting_input, \\d+ events$`));
    // The wait holds the run's stream open: it cannot be released while the call waits.
    expect(run.releaseIfIdle(0, Date.now() + 1)).toBe(false);
    ac.abort();
    await expect(pending).rejects.toThrow();
    // Once the bridge stopped waiting, nothing holds the run any more.
    await waitFor(() => run.releaseIfIdle(0, Date.now() + 1), { what: "the cancelled wait to let go of the run" });
  });

  it("refuses bad arguments with one line each, and a cursor past the log's end without touching the read position", async () => {
    const { runId, start } = await started("echo", "bad arguments");
    const pos = readPos(runId);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { run_id: runId, waitms: 10 },
        /unknown argument "waitms" \(did you mean wait_ms\?\); console_read takes run_id, cursor, wait_ms, since_state, max_chars/,
      ],
      [{ run_id: runId, since_state: "parked" }, /since_state must be "starting", "running", .*, not the string "parked"/],
      [{ run_id: runId, cursor: -1 }, /cursor must be a non-negative integer log position, not -1/],
      [{ run_id: runId, max_chars: 10 }, /max_chars must be an integer 200 … 40000, not 10/],
      [{ run_id: runId, wait_ms: 60_000 }, /wait_ms must be an integer number of milliseconds, 0 … 55000/],
      [{ run_id: "r 1" }, /run_id/],
    ];
    for (const [args, line] of cases) {
      const r = await h.call("console_read", args);
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(r.text).toMatch(line);
      expect(r.text.split("\n")).toHaveLength(1);
    }
    const len = Number(start.sc.next_cursor);
    const past = await h.call("console_read", { run_id: runId, cursor: len + 5 });
    expect(past.isError).toBe(true);
    expect(past.text).toBe(
      `cursor ${len + 5} is past the end of run ${runId}'s log, which holds ${len} events: read from a cursor of ${len} or less (0 reads it from the start).`,
    );
    expect(readPos(runId)).toBe(pos);
  });
});

describe("console_act: what the person does reaches loomcycle and is shown as the person's", () => {
  it("steer: loomcycle gets the message; the model's next read shows it as the person's input, in full, as does the console", async () => {
    const { runId, start } = await started("echo", "first");
    const pos = readPos(runId);
    const text = `Use the staging database. ${"Details follow. ".repeat(20)}`.trim();
    const before = h.sim.requests.length;
    const act = await h.call("console_act", { run_id: runId, action: "steer", text });
    expect(act.isError, act.text).toBe(false);
    expect(act.sc).toEqual({ run_id: runId, action: "steer", done: true, state: expect.any(String), message: "Sent." });
    expect(act.text.split("\n")[0]).toBe("Sent.");
    const sent = h.sim.requests.slice(before).filter((q) => q.method === "POST" && q.path === `/v1/runs/${runId}/input`);
    expect(sent.map((q) => JSON.parse(q.body) as unknown)).toEqual([{ text }]);
    await parkedAfter(runId, pos);
    expect(readPos(runId)).toBe(pos);

    const next = await h.call("read_run_events", { run_id: runId });
    const input = events(next).find((e) => e.kind === "input");
    expect(input).toEqual({ kind: "input", cursor: pos, text, source: "person" }); // not shortened: it is news to the model
    expect(next.text).toContain(`[${pos}] input (person): ${text}`);
    expect(events(next).map((e) => e.kind)).toEqual(["input", "text", "awaiting_input"]);
    const seen = await h.call("console_read", { run_id: runId, cursor: Number(start.sc.next_cursor) });
    expect(events(seen)[0]).toMatchObject({ kind: "input", source: "person", text });
  });

  it("answer: loomcycle's question is resolved with the person's answer (resolved_by mcp-console), and every later read says the person answered", async () => {
    const { runId, start } = await started("asker", "deploy?");
    expect(start.sc.state).toBe("awaiting_answer");
    const iid = String(start.sc.pending_interrupts![0]!.interrupt_id);
    const pos = readPos(runId);
    const before = h.sim.requests.length;
    const act = await h.call("console_act", { run_id: runId, action: "answer", interrupt_id: iid, answer: "yes" });
    expect(act.isError, act.text).toBe(false);
    expect(act.sc).toMatchObject({ action: "answer", done: true, message: "Answered yes." });
    const resolves = h.sim.requests.slice(before).filter((q) => q.path.endsWith(`/interrupts/${iid}/resolve`));
    expect(resolves.map((q) => JSON.parse(q.body) as unknown)).toEqual([
      { kind: "question", answer: "yes", resolved_by: "mcp-console" },
    ]);
    const rows = await h.call("list_interrupts", { run_id: runId, status: "all" });
    expect(rows.sc.interrupts).toEqual([expect.objectContaining({ interrupt_id: iid, status: "resolved", answer: "yes" })]);
    await parkedAfter(runId, pos);
    expect(readPos(runId)).toBe(pos);

    // The model's next read: the question's result, marked with who answered it.
    const next = await h.call("read_run_events", { run_id: runId });
    const result = events(next).find((e) => e.kind === "tool_result");
    expect(result).toMatchObject({ tool: "Interruption", answered_by: "person" });
    expect(next.text).toMatch(/tool_result Interruption .* answered_by=person/);
    expect(events(next).find((e) => e.kind === "text")?.text).toBe("Answer was yes");
    // A re-read of the question itself carries the answer.
    const again = await h.call("read_run_events", { run_id: runId, cursor: 0 });
    const q = events(again).find((e) => e.kind === "interrupt");
    expect(q).toMatchObject({ interrupt_id: iid, answer: "yes", answered_by: "person" });
    expect(again.text).toMatch(
      new RegExp(`interrupt ${iid}: Proceed\\? options=\\["yes","no"\\].* answer="yes" answered_by=person`),
    );
    const seen = await h.call("console_read", { run_id: runId });
    expect(events(seen).find((e) => e.kind === "interrupt")).toMatchObject({ answer: "yes", answered_by: "person" });
  });

  it("decline: loomcycle's question is declined by the person, and the reads say so", async () => {
    const { runId, start } = await started("asker", "deploy?");
    const iid = String(start.sc.pending_interrupts![0]!.interrupt_id);
    const pos = readPos(runId);
    const before = h.sim.requests.length;
    const act = await h.call("console_act", { run_id: runId, action: "decline", interrupt_id: iid });
    expect(act.sc).toMatchObject({ action: "decline", done: true, message: "Declined." });
    const resolves = h.sim.requests.slice(before).filter((q) => q.path.endsWith(`/interrupts/${iid}/resolve`));
    expect(resolves.map((q) => JSON.parse(q.body) as unknown)).toEqual([
      { kind: "question", disposition: "declined", resolved_by: "mcp-console" },
    ]);
    await parkedAfter(runId, pos);
    const again = await h.call("read_run_events", { run_id: runId, cursor: 0 });
    expect(events(again).find((e) => e.kind === "interrupt")).toMatchObject({ declined: true, answered_by: "person" });
    expect(events(again).find((e) => e.kind === "interrupt")?.answer).toBeUndefined();
    expect(again.text).toMatch(/declined=true answered_by=person/);
    expect(events(again).findLast((e) => e.kind === "text")?.text).toBe("Declined");
    const seen = await h.call("console_read", { run_id: runId });
    expect(events(seen).find((e) => e.kind === "interrupt")).toMatchObject({ declined: true, answered_by: "person" });
  });

  it("an answer that is not one of the question's options is refused before loomcycle is called, naming the options", async () => {
    const { runId, start } = await started("asker", "deploy?");
    const iid = String(start.sc.pending_interrupts![0]!.interrupt_id);
    const before = h.sim.requests.length;
    const r = await h.call("console_act", { run_id: runId, action: "answer", interrupt_id: iid, answer: "maybe" });
    expect(r.isError).toBe(true);
    expect(r.text).toBe(`The answer must be one of the question's options: "yes", "no" (got "maybe"). Or pass decline: true.`);
    expect(h.sim.requests.slice(before).filter((q) => q.path.endsWith("/resolve"))).toEqual([]);
    const still = await h.call("console_read", { run_id: runId });
    expect(still.sc).toMatchObject({ state: "awaiting_answer", pending_interrupts: [{ interrupt_id: iid }] });
  });

  it("cancel_turn mid-turn: loomcycle stops the turn; the model's next read shows turn_cancelled as the person's", async () => {
    const s = await h.call("start_interactive_run", { agent: "longtalk", prompt: "talk", wait_ms: 0 });
    const runId = String(s.sc.run_id);
    const run = h.bridge.tracker.get(runId)!;
    await waitFor(() => run.events.length > 8, { timeoutMs: 10_000, what: "longtalk to talk" });
    const pos = readPos(runId);
    const before = h.sim.requests.length;
    const act = await h.call("console_act", { run_id: runId, action: "cancel_turn", reason: "enough" });
    expect(act.isError, act.text).toBe(false);
    expect(act.sc).toMatchObject({ action: "cancel_turn", done: true, message: "Turn cancelled." });
    const cancels = h.sim.requests.slice(before).filter((q) => q.path === `/v1/runs/${runId}/cancel`);
    expect(cancels.map((q) => JSON.parse(q.body) as unknown)).toEqual([{ reason: "enough" }]);
    await parkedAfter(runId, pos);
    expect(readPos(runId)).toBe(pos);
    const next = await h.call("read_run_events", { run_id: runId, max_events: 1000 });
    const cancelled = events(next).find((e) => e.kind === "turn_cancelled");
    expect(cancelled).toMatchObject({ source: "person", reason: "enough" });
    expect(next.text).toMatch(/turn_cancelled \(person\): enough/);
    expect(next.sc.state).toBe("awaiting_input");
    const seen = await h.call("console_read", { run_id: runId, cursor: pos });
    expect(events(seen).find((e) => e.kind === "turn_cancelled")).toMatchObject({ source: "person" });
  });

  it("cancel_run: loomcycle ends the run; every later result says cancelled_by person", async () => {
    const { runId, start } = await started("echo", "end me");
    const pos = readPos(runId);
    const before = h.sim.requests.length;
    const act = await h.call("console_act", { run_id: runId, action: "cancel_run" });
    expect(act.isError, act.text).toBe(false);
    expect(act.sc).toMatchObject({ action: "cancel_run", done: true, message: "Run cancelled." });
    const cancels = h.sim.requests.slice(before).filter((q) => q.path === `/v1/agents/${String(start.sc.agent_id)}/cancel`);
    expect(cancels.map((q) => JSON.parse(q.body) as unknown)).toEqual([
      { reason: "cancelled by the person from the run console (loomcycle-mcp-bridge)" },
    ]);
    await waitFor(() => h.sim.runStatus(runId) === "cancelled", { timeoutMs: 10_000, what: "loomcycle to cancel the run" });
    // The console's long-poll ends at once on a run that ended.
    const ended = await h.call("console_read", { run_id: runId, cursor: pos, wait_ms: 55_000, since_state: "awaiting_input" });
    expect(ended.sc).toMatchObject({ state: "cancelled", cancelled_by: "person" });
    expect(readPos(runId)).toBe(pos);
    const next = await h.call("read_run_events", { run_id: runId, wait_ms: 5000 });
    expect(next.sc).toMatchObject({ state: "cancelled", cancelled_by: "person" });
    expect(next.text.split("\n")[0]).toMatch(/state=cancelled .*cancelled_by=person/);
    const list = await h.call("list_runs", {});
    const row = (list.sc.runs as Item[]).find((r) => r.run_id === runId);
    expect(row).toMatchObject({ state: "cancelled", cancelled_by: "person" });
    expect(list.text).toMatch(new RegExp(`${runId} .*cancelled_by=person`));
    const waited = await h.call("wait_for_runs", { run_ids: [runId], wait_ms: 0 });
    expect((waited.sc.runs as Item[])[0]).toMatchObject({ cancelled_by: "person" });
    const res = await h.client.readResource({ uri: `loomcycle://runs/${runId}` });
    expect(JSON.parse((res.contents[1] as { text: string }).text)).toMatchObject({ cancelled_by: "person" });
    expect((res.contents[0] as { text: string }).text).toMatch(/cancelled_by=person/);
  });

  it("the host's own actions are marked as the host's", async () => {
    const a = await started("asker", "deploy?");
    const iid = String(a.start.sc.pending_interrupts![0]!.interrupt_id);
    const answered = await h.call("resolve_interrupt", { run_id: a.runId, interrupt_id: iid, answer: "no" });
    expect(events(answered).find((e) => e.kind === "tool_result")).toMatchObject({ answered_by: "host" });
    const reread = await h.call("read_run_events", { run_id: a.runId, cursor: 0 });
    expect(events(reread).find((e) => e.kind === "interrupt")).toMatchObject({ answer: "no", answered_by: "host" });

    const s = await h.call("start_interactive_run", { agent: "longtalk", prompt: "talk", wait_ms: 0 });
    const runId = String(s.sc.run_id);
    await waitFor(() => h.bridge.tracker.get(runId)!.events.length > 8, { timeoutMs: 10_000, what: "longtalk to talk" });
    const stopped = await h.call("cancel_turn", { run_id: runId });
    expect(events(stopped).find((e) => e.kind === "turn_cancelled")).toMatchObject({ source: "host" });
    const ended = await h.call("cancel_run", { run_id: runId });
    expect(ended.sc).toMatchObject({ final_state: "cancelled", cancelled_by: "host" });
    expect(ended.text).toMatch(/cancelled_by=host/);
  });

  it("an answer the person gave through elicitation (questions: human) is marked so", async () => {
    const human = await startHarness(
      {},
      { sim: h.sim, questions: "human", onElicit: async () => ({ action: "accept", content: { answer: "yes" } }) },
    );
    try {
      const s = await human.call("start_interactive_run", { agent: "asker", prompt: "ask the person" });
      expect(s.sc.questions_to_person).toEqual([expect.objectContaining({ outcome: "answered", answer: "yes" })]);
      const runId = String(s.sc.run_id);
      const all = await human.call("read_run_events", { run_id: runId, cursor: 0, wait_ms: 5000 });
      expect(events(all).find((e) => e.kind === "interrupt")).toMatchObject({ answer: "yes", answered_by: "elicitation" });
      expect(events(all).find((e) => e.kind === "tool_result")).toMatchObject({ answered_by: "elicitation" });
    } finally {
      await human.close();
    }
  });

  it("refuses bad arguments with one line each, before loomcycle is called", async () => {
    const { runId, start } = await started("asker", "deploy?");
    const iid = String(start.sc.pending_interrupts![0]!.interrupt_id);
    const before = h.sim.requests.filter((q) => q.method === "POST").length;
    const cases: Array<[Record<string, unknown>, string | RegExp]> = [
      [{ run_id: runId, action: "steer" }, 'text is missing: action "steer" sends it to the run'],
      [{ run_id: runId, action: "steer", text: "  " }, 'text is empty: action "steer" sends it to the run'],
      [
        { run_id: runId, action: "steer", text: "x", answer: "yes" },
        'answer does not go with action "steer" (it is for "answer")',
      ],
      [{ run_id: runId, action: "answer", answer: "yes" }, /^interrupt_id is missing: action "answer" needs the question's id/],
      [
        { run_id: runId, action: "answer", interrupt_id: iid },
        'answer is missing: action "answer" sends it (or use action "decline")',
      ],
      [{ run_id: runId, action: "cancel_run", text: "bye" }, 'text does not go with action "cancel_run" (it is for "steer")'],
      [
        { run_id: runId, action: "decline", interrupt_id: iid, reason: "no" },
        'reason does not go with action "decline" (it is for "cancel_turn" and "cancel_run")',
      ],
      [
        { run_id: runId, action: "stop" },
        'action must be "steer", "answer", "decline", "cancel_turn" or "cancel_run", not the string "stop"',
      ],
      [{ run_id: runId }, /action is missing: give "steer", "answer"/],
      [
        { run_id: runId, action: "steer", txt: "hi" },
        /unknown argument "txt" \(did you mean text\?\); console_act takes run_id, action/,
      ],
    ];
    for (const [args, line] of cases) {
      const r = await h.call("console_act", args);
      expect(r.isError, JSON.stringify(args)).toBe(true);
      if (typeof line === "string") expect(r.text).toContain(line);
      else expect(r.text).toMatch(line);
      expect(r.text.split("\n"), r.text).toHaveLength(1);
    }
    expect(h.sim.requests.filter((q) => q.method === "POST").length).toBe(before);
    // A run that ended takes no more input.
    await h.call("cancel_run", { run_id: runId });
    const late = await h.call("console_act", { run_id: runId, action: "steer", text: "too late" });
    expect(late.text).toBe(
      `Run ${runId} has ended (state cancelled); it cannot take more input. Start a new run with start_interactive_run.`,
    );
  });
});

describe("the console never moves the model's read position and never hides an event from it", () => {
  it("whatever the console reads, waits for or does, the model's next read holds everything after its own position", async () => {
    const { runId, start } = await started("asker", "deploy?");
    const pos = readPos(runId);
    expect(pos).toBe(Number(start.sc.next_cursor));
    const iid = String(start.sc.pending_interrupts![0]!.interrupt_id);
    let cursor = 0;
    const consoleReads = async (): Promise<void> => {
      for (;;) {
        const r = await h.call("console_read", { run_id: runId, cursor, max_chars: 200 });
        expect(r.isError, r.text).toBe(false);
        cursor = Number(r.sc.next_cursor);
        if (r.sc.has_more !== true) break;
      }
      expect(readPos(runId)).toBe(pos);
    };
    await consoleReads();
    expect((await h.call("console_act", { run_id: runId, action: "answer", interrupt_id: iid, answer: "yes" })).isError).toBe(
      false,
    );
    await parkedAfter(runId, pos);
    await consoleReads();
    expect((await h.call("console_act", { run_id: runId, action: "steer", text: "again" })).isError).toBe(false);
    await consoleReads();
    await h.call("console_read", { run_id: runId, cursor, wait_ms: 10_000 });
    expect(readPos(runId)).toBe(pos);
    // wait_for_runs still sees what the console read as unread for the model.
    await logged(runId, pos, "interruption_pending");
    const w = await h.call("wait_for_runs", { run_ids: [runId], wait_ms: 0 });
    expect(w.sc.ready).toEqual([runId]);
    expect((w.sc.runs as Item[])[0]!.unread).toBeGreaterThan(0);
    // The model reads on from its own position and is given every event after it, once.
    const run = h.bridge.tracker.get(runId)!;
    const seen: number[] = [];
    for (;;) {
      const r = await h.call("read_run_events", { run_id: runId, max_events: 3 });
      for (const e of events(r)) seen.push(Number(e.cursor));
      if (r.sc.has_more !== true) break;
    }
    const items: number[] = [];
    for (let p = pos; p < run.events.length; p++) {
      const t = run.events.at(p)?.type;
      if (t && !["started", "thinking", "usage"].includes(t)) items.push(p);
    }
    // Text deltas merge into one item: each item's first frame is among the positions.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((c) => items.includes(c))).toBe(true);
    expect(seen[0]).toBe(items[0]);
    expect(readPos(runId)).toBe(run.events.length);
    const kinds = await h.call("read_run_events", { run_id: runId, cursor: pos, max_events: 1000 });
    expect(
      events(kinds)
        .filter((e) => e.kind === "input")
        .map((e) => e.source),
    ).toEqual(["person"]);
    expect(events(kinds).some((e) => e.kind === "tool_result" && e.answered_by === "person")).toBe(true);
  });
});

describe("the person's marks across a restart of the bridge", () => {
  it("a new bridge process reading the same state file still shows the person's input, answer and cancel", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lcb-console-state-"));
    const stateFilePath = join(dir, "state.json");
    let first: Harness | undefined = await startHarness({}, { sim: h.sim, apps: true, stateFilePath });
    let second: Harness | undefined;
    try {
      const echo = await first.call("start_interactive_run", { agent: "echo", prompt: "remember me" });
      const echoId = String(echo.sc.run_id);
      await first.call("console_act", { run_id: echoId, action: "steer", text: "from the person" });
      const asker = await first.call("start_interactive_run", { agent: "asker", prompt: "ask" });
      const askerId = String(asker.sc.run_id);
      const iid = String(asker.sc.pending_interrupts![0]!.interrupt_id);
      await first.call("console_act", { run_id: askerId, action: "answer", interrupt_id: iid, answer: "no" });
      await first.call("console_act", { run_id: askerId, action: "cancel_run" });
      await waitFor(() => first!.bridge.tracker.get(askerId)?.state === "cancelled", {
        timeoutMs: 10_000,
        what: "the asker run to end",
      });
      await waitFor(
        () =>
          first!.bridge.tracker
            .get(echoId)!
            .events.slice(Number(echo.sc.next_cursor))
            .some((e) => e.type === "awaiting_input"),
        { timeoutMs: 10_000, what: "the echo run to park again" },
      );
      await first.close();
      first = undefined;
      second = await startHarness({}, { sim: h.sim, stateFilePath });
      const e = await second.call("read_run_events", { run_id: echoId, cursor: 0 });
      expect(
        events(e)
          .filter((x) => x.kind === "input")
          .map((x) => x.source),
      ).toEqual(["host", "person"]);
      const a = await second.call("read_run_events", { run_id: askerId, cursor: 0, wait_ms: 5000 });
      expect(events(a).find((x) => x.kind === "interrupt")).toMatchObject({ answer: "no", answered_by: "person" });
      expect(events(a).find((x) => x.kind === "tool_result")).toMatchObject({ answered_by: "person" });
      expect(a.sc).toMatchObject({ state: "cancelled", cancelled_by: "person" });
    } finally {
      await first?.close();
      await second?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("console_act goes through the model's tools' own checks (conformance)", () => {
  it("an answer to a run whose loop loomcycle lost is not sent", async () => {
    const { runId, start } = await started("asker", "ask me");
    const iid = String(start.sc.pending_interrupts![0]!.interrupt_id);
    await h.sim.restart(50);
    await h.sim.whenAccepting?.();
    const before = h.sim.requests.length;
    const r = await h.call("console_act", { run_id: runId, action: "answer", interrupt_id: iid, answer: "yes" });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/no longer runs this run's loop.*The answer was NOT sent\./);
    expect(h.sim.requests.slice(before).filter((q) => q.path.endsWith("/resolve"))).toEqual([]);
  });

  it("in a cluster, a person's steer that lands on a replica not running the run is sent again, exactly once in the log", async () => {
    const c = await startHarness({ replicas: ["replica-a", "replica-b"] }, { apps: true });
    try {
      const s = await c.call("start_interactive_run", { agent: "echo", prompt: "cluster" });
      const runId = String(s.sc.run_id);
      for (let i = 0; i < 4; i++) {
        const r = await c.call("console_act", { run_id: runId, action: "steer", text: `person ${i}` });
        expect(r.isError, r.text).toBe(false);
        const run = c.bridge.tracker.get(runId)!;
        await waitFor(() => run.state === "awaiting_input" && run.marks.inputs.size === i + 2, {
          timeoutMs: 10_000,
          what: `steer ${i} to land`,
        });
      }
      expect(c.sim.rowsOfRun(runId).filter((x) => x.type === "user_input")).toHaveLength(5);
      expect(c.sim.requests.filter((q) => q.path.endsWith("/input")).length).toBeGreaterThan(4);
      const all = await c.call("read_run_events", { run_id: runId, cursor: 0 });
      expect(
        events(all)
          .filter((e) => e.kind === "input")
          .map((e) => e.source),
      ).toEqual(["host", "person", "person", "person", "person"]);
    } finally {
      await c.close();
    }
  });
});
