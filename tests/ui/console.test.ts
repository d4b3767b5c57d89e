// The run console in a real browser (Debian's Chromium), inside a minimal MCP Apps host
// whose client talks to the built bridge over stdio, the bridge pointed at the simulator
// (./harness.ts). Each scenario asserts on what the simulator (loomcycle) records as well as
// on the page.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUi, type HostWindow, type ToolResult, type UiHarness } from "./harness.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SHOTS = join(ROOT, "test-results", "ui");

let ui: UiHarness;
beforeAll(async () => {
  ui = await startUi({ speed: 1 });
});
afterAll(async () => {
  await ui?.close();
});

type Args = Record<string, unknown>;
type Opts = { width?: number; theme?: "light" | "dark"; styles?: boolean };

/** The host's model calls a tool (no UI). */
function model(name: string, args: Args): Promise<ToolResult> {
  return ui.page.evaluate(([n, a]) => (globalThis as unknown as HostWindow).host.callTool(n, a), [name, args] as const);
}

/** The host's model calls a tool with a UI: the host opens the console for it. */
function modelWithConsole(name: string, args: Args, opts: Opts = {}): Promise<ToolResult> {
  return ui.page.evaluate(([n, a, o]) => (globalThis as unknown as HostWindow).host.callToolWithUi(n, a, o), [
    name,
    args,
    opts,
  ] as const);
}

function hostLog() {
  return ui.page.evaluate(() => {
    const h = (globalThis as unknown as HostWindow).host;
    return { appCalls: h.appCalls, refusedCalls: h.refusedCalls, modelContext: h.modelContext, openedLinks: h.openedLinks };
  });
}

function badge(): Promise<string | null> {
  return ui.app.locator("#badge").getAttribute("data-badge");
}

async function waitBadge(b: string, timeout = 30_000): Promise<void> {
  await expect.poll(badge, { timeout, interval: 50 }).toBe(b);
}

function simRequests(runId: string, method: string, suffix: string) {
  return ui.sim.requests.filter((r) => r.method === method && r.path.startsWith(`/v1/runs/${runId}`) && r.path.endsWith(suffix));
}

/** Until the host has sized the frame to the console's content (ui/notifications/size-changed). */
async function settled(): Promise<void> {
  const frame = await ui.appFrame();
  let last = "";
  await expect
    .poll(
      async () => {
        const want = await frame.evaluate(() => Math.ceil(document.documentElement.getBoundingClientRect().height));
        const box = await ui.page.locator("#app-frame").boundingBox();
        const now = `${want}/${Math.round(box?.height ?? 0)}`;
        const same = now === last && Math.abs((box?.height ?? 0) - want - 2) <= 1;
        last = now;
        if (process.env.UI_DEBUG) process.stderr.write(`settle ${now}\n`);
        return same;
      },
      { timeout: 10_000, interval: 100 },
    )
    .toBe(true);
}

/** Relative luminance of a CSS rgb()/rgba() colour (WCAG 2). */
function luminance(css: string): number {
  const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
}

/**
 * What a person would notice first, checked on the console as it is now: nothing wider than
 * the frame, every control named and at least 32 px tall, and text that stands out from
 * what it sits on (WCAG AA: 4.5:1, 3:1 for the semibold labels and badges).
 */
async function looksRight(theme: "light" | "dark"): Promise<void> {
  const frame = await ui.appFrame();
  expect(await frame.evaluate(() => document.documentElement.dataset.theme)).toBe(theme);
  const report = await frame.evaluate(() => {
    const problems: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) problems.push(`wider than the frame: ${root.scrollWidth} > ${root.clientWidth}`);
    const visible = (e: Element): boolean => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
    };
    for (const c of document.querySelectorAll<HTMLElement>("button, input, textarea, summary, [role=link]")) {
      if (!visible(c) || c.closest("dialog:not([open])")) continue;
      const label =
        c.getAttribute("aria-label") ??
        (c instanceof HTMLInputElement || c instanceof HTMLTextAreaElement ? c.labels?.[0]?.textContent : c.textContent) ??
        "";
      if (!label.trim()) problems.push(`no name: ${c.outerHTML.slice(0, 80)}`);
      const r = c.getBoundingClientRect();
      if (c.matches("button, input, textarea") && r.height < 32)
        problems.push(`too small (${Math.round(r.height)} px): ${label}`);
      if (r.right > root.clientWidth + 1) problems.push(`cut off at the right: ${label}`);
    }
    const rgb = (s: string): number[] => (s.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (s: string): number => {
      const [r, g, b] = rgb(s).map((v) => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
    };
    const backdrop = (e: Element | null): string => {
      for (let x = e; x; x = x.parentElement) {
        const c = getComputedStyle(x).backgroundColor;
        const a = rgb(c)[3];
        if (a === undefined || a > 0.5) return c;
      }
      return "rgb(255, 255, 255)";
    };
    const texts = document.querySelectorAll<HTMLElement>(
      ".agent-name, .meta, .badge, button, .who, .body, .line, .status, .ask h2, .question, summary, label, a.link",
    );
    for (const t of texts) {
      if (!visible(t) || !t.textContent?.trim()) continue;
      const fg = getComputedStyle(t).color;
      const l1 = lum(fg);
      const l2 = lum(backdrop(t));
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const bold = Number(getComputedStyle(t).fontWeight) >= 600;
      if (ratio < (bold ? 3 : 4.5))
        problems.push(`contrast ${ratio.toFixed(2)}: ${t.className || t.tagName} "${t.textContent.trim().slice(0, 30)}"`);
    }
    return problems;
  });
  expect(report).toEqual([]);
}

async function shot(name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await ui.page.locator("#app-frame").screenshot({ path, animations: "disabled" });
  return path;
}

describe("the run console", () => {
  it("shows a run the model started, and longtalk's text streams into one bubble", async () => {
    const start = await modelWithConsole("start_interactive_run", {
      agent: "longtalk",
      prompt: "Tell me everything.",
      wait_ms: 0,
    });
    expect(start.isError, JSON.stringify(start)).toBeFalsy();
    const runId = String(start.structuredContent?.run_id);
    await expect.poll(() => ui.app.locator("#run-id").textContent()).toBe(runId);
    await expect.poll(() => ui.app.locator("#agent").textContent()).toBe("longtalk");

    // Every change of the reply's text, as the person would see it.
    const frame = await ui.appFrame();
    await frame.evaluate(() => {
      const w = globalThis as unknown as { lengths: number[] };
      w.lengths = [];
      const log = document.getElementById("log")!;
      new MutationObserver(() => {
        const n = log.querySelector(".msg.reply .body")?.textContent?.length ?? 0;
        if (n > 0 && w.lengths[w.lengths.length - 1] !== n) w.lengths.push(n);
      }).observe(log, { subtree: true, childList: true, characterData: true });
    });
    await waitBadge("working");
    await expect.poll(async () => (await ui.app.locator(".msg.reply .body").textContent())?.length ?? 0).toBeGreaterThan(200);
    await shot("longtalk-streaming");
    await waitBadge("parked");
    const lengths = await frame.evaluate(() => (globalThis as unknown as { lengths: number[] }).lengths);
    expect(lengths.length).toBeGreaterThanOrEqual(3);
    expect([...lengths].sort((a, b) => a - b)).toEqual(lengths);

    // One bubble, holding exactly what loomcycle streamed.
    const said = ui.sim
      .rowsOfRun(runId)
      .filter((r) => r.type === "text")
      .map((r) => String(r.event.text ?? ""))
      .join("");
    expect(said.split(" ").length).toBeGreaterThan(2500);
    expect(await ui.app.locator(".msg.reply").count()).toBe(1);
    expect((await ui.app.locator(".msg.reply .body").textContent())?.trim()).toBe(said.trim());
    expect(await ui.app.locator(".msg.input .body").textContent()).toBe("Tell me everything.");

    // The console followed by console_read, from its own cursor onwards, and called nothing else.
    const reads = ui.calls.filter((c) => c.caller === "app" && c.arguments.run_id === runId);
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(new Set(reads.map((c) => c.name))).toEqual(new Set(["console_read"]));
    const cursors = reads.map((c) => Number(c.arguments.cursor));
    expect([...cursors].sort((a, b) => a - b)).toEqual(cursors);
  });

  it("the person answers a question with one click: loomcycle resolves it, and the console and the model show it as the person's", async () => {
    // The model starts the run and moves on; the person answers in the console before the model reads again.
    const start = await modelWithConsole("start_interactive_run", { agent: "asker", prompt: "Deploy the site.", wait_ms: 0 });
    const runId = String(start.structuredContent?.run_id);
    await waitBadge("asking");
    expect(await ui.app.locator(".ask .question").textContent()).toBe("Proceed?");
    await ui.app.getByRole("button", { name: "Answer yes" }).click();

    await expect
      .poll(
        () =>
          ui.sim.requests.filter(
            (r) => r.method === "POST" && /\/interrupts\/[^/]+\/resolve$/.test(r.path) && r.path.includes(runId),
          ).length,
      )
      .toBe(1);
    const resolve = ui.sim.requests.find((r) => r.method === "POST" && r.path.includes(runId) && r.path.endsWith("/resolve"))!;
    const sent = JSON.parse(resolve.body) as { answer?: string; disposition?: string };
    expect(sent.answer).toBe("yes");
    expect(sent.disposition ?? "answer").toBe("answer");

    await waitBadge("parked");
    await expect.poll(() => ui.app.locator(".msg.asked .outcome").textContent()).toBe("You answered “yes”.");
    await expect.poll(() => ui.app.locator(".msg.reply").last().textContent()).toContain("Answer was yes");
    expect(await ui.app.locator(".ask").count()).toBe(0);
    const told = await hostLog();
    expect(told.modelContext.at(-1)?.content?.[0]?.text).toBe(
      `The person answered “yes” to “Proceed?” in the run console (run ${runId}).`,
    );

    // The model's next read: the question, answered by the person, in both the structured result and the text.
    const read = await model("read_run_events", { run_id: runId });
    const asked = (read.structuredContent?.events as Array<Record<string, unknown>>).find((e) => e.kind === "interrupt");
    expect(asked).toMatchObject({ answer: "yes", answered_by: "person" });
    expect(read.content[0]?.text).toMatch(/person/);
    expect(Number((read.structuredContent?.events as Array<{ cursor: number }>)[0]?.cursor)).toBe(
      Number(start.structuredContent?.next_cursor),
    );
  });

  it("a question without options takes free text; a question can be declined from the keyboard", async () => {
    const q = await modelWithConsole("start_interactive_run", { agent: "questioner", prompt: "Hello." });
    const qRun = String(q.structuredContent?.run_id);
    await waitBadge("asking");
    expect(await ui.app.locator(".ask .choices button", { hasText: /^(yes|no)$/ }).count()).toBe(0);
    const answer = ui.app.getByRole("textbox", { name: "Your answer" });
    await answer.fill("Ada");
    await answer.press("Enter");
    await expect.poll(() => ui.sim.requests.filter((r) => r.path.includes(qRun) && r.path.endsWith("/resolve")).length).toBe(1);
    expect(JSON.parse(ui.sim.requests.find((r) => r.path.includes(qRun) && r.path.endsWith("/resolve"))!.body)).toMatchObject({
      answer: "Ada",
    });
    await expect.poll(() => ui.app.locator(".msg.reply").last().textContent()).toContain("You answered: Ada");
    await waitBadge("parked");

    const a = await modelWithConsole("start_interactive_run", { agent: "asker", prompt: "Delete everything." });
    const aRun = String(a.structuredContent?.run_id);
    await waitBadge("asking");
    await ui.app.getByRole("button", { name: "Answer no" }).focus();
    await ui.page.keyboard.press("Tab");
    expect(await ui.app.getByRole("button", { name: "Decline the question" }).evaluate((b) => b === document.activeElement)).toBe(
      true,
    );
    expect(
      await ui.app.getByRole("button", { name: "Decline the question" }).evaluate((b) => {
        const st = getComputedStyle(b);
        return `${st.outlineStyle} ${parseFloat(st.outlineWidth) >= 2}`;
      }),
    ).toBe("solid true");
    await ui.page.keyboard.press("Enter");
    await expect.poll(() => ui.sim.requests.filter((r) => r.path.includes(aRun) && r.path.endsWith("/resolve")).length).toBe(1);
    expect(JSON.parse(ui.sim.requests.find((r) => r.path.includes(aRun) && r.path.endsWith("/resolve"))!.body)).toMatchObject({
      disposition: "declined",
    });
    await expect.poll(() => ui.app.locator(".msg.asked .outcome").textContent()).toBe("You declined.");
    await expect.poll(() => ui.app.locator(".msg.reply").last().textContent()).toContain("Declined");
    await waitBadge("parked");
  });

  it("a message typed in the console steers the parked run, and the model reads it as the person's", async () => {
    const start = await modelWithConsole("start_interactive_run", { agent: "echo", prompt: "hello" });
    const runId = String(start.structuredContent?.run_id);
    expect(start.structuredContent?.state).toBe("awaiting_input");
    await waitBadge("parked");
    const box = ui.app.getByRole("textbox", { name: "Message to echo" });
    await box.fill("from the console");
    await box.press("Enter");

    await expect.poll(() => simRequests(runId, "POST", "/input").length).toBe(1);
    expect(JSON.parse(simRequests(runId, "POST", "/input")[0]!.body)).toMatchObject({ text: "from the console" });
    await expect.poll(() => ui.app.locator(".msg.reply").last().textContent()).toContain("You said: from the console");
    await waitBadge("parked");
    const mine = ui.app.locator('.msg.input[data-source="person"]');
    expect(await mine.locator(".who").textContent()).toBe("You");
    expect(await mine.locator(".body").textContent()).toBe("from the console");
    expect(await box.inputValue()).toBe("");
    await settled();
    await shot("echo-steered-by-you");
    const told = await hostLog();
    expect(told.modelContext.filter((c) => String(c.structuredContent?.run_id) === runId)).toHaveLength(1);

    const read = await model("read_run_events", { run_id: runId });
    const input = (read.structuredContent?.events as Array<Record<string, unknown>>).find((e) => e.kind === "input");
    expect(input).toMatchObject({ text: "from the console", source: "person" });
    expect(read.content[0]?.text).toMatch(/person/);
  });

  it("shows loomcycle out of reach while the bridge re-attaches, then goes on where it was", async () => {
    const start = await modelWithConsole("start_interactive_run", { agent: "longtalk", prompt: "Keep going.", wait_ms: 0 });
    const runId = String(start.structuredContent?.run_id);
    await expect.poll(async () => (await ui.app.locator(".msg.reply .body").textContent())?.length ?? 0).toBeGreaterThan(0);
    await ui.sim.faults.refuseConnections(3_000);
    await waitBadge("unreachable");
    await waitBadge("working");
    await waitBadge("parked");
    const said = ui.sim
      .rowsOfRun(runId)
      .filter((r) => r.type === "text")
      .map((r) => String(r.event.text ?? ""))
      .join("");
    expect((await ui.app.locator(".msg.reply .body").textContent())?.trim()).toBe(said.trim());
    expect(await ui.app.locator(".msg.reply").count()).toBe(1);
  });

  it("cancel turn stops longtalk mid-reply; the run parks again", async () => {
    const start = await modelWithConsole("start_interactive_run", { agent: "longtalk", prompt: "Go on and on.", wait_ms: 0 });
    const runId = String(start.structuredContent?.run_id);
    await expect.poll(() => ui.app.locator(".msg.reply .body").count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(async () => (await ui.app.locator(".msg.reply .body").textContent())?.length ?? 0).toBeGreaterThan(0);
    const cancel = ui.app.getByRole("button", { name: "Cancel turn" });
    await cancel.click();
    await expect.poll(() => simRequests(runId, "POST", "/cancel").length).toBe(1);
    await waitBadge("parked");
    await expect.poll(() => ui.app.locator(".line.notice").last().textContent()).toMatch(/^Turn cancelled/);
    expect(await cancel.isHidden()).toBe(true);
    const said = ui.sim.rowsOfRun(runId).filter((r) => r.type === "text").length;
    expect(said).toBeLessThan(1000);
  });

  it("cancel run asks first: keeping the run sends nothing; confirming ends it", async () => {
    const start = await modelWithConsole("start_interactive_run", { agent: "echo", prompt: "stay a while" });
    const runId = String(start.structuredContent?.run_id);
    const agentId = String(start.structuredContent?.agent_id);
    await waitBadge("parked");
    const cancelsOfRun = () => ui.sim.requests.filter((r) => r.method === "POST" && r.path === `/v1/agents/${agentId}/cancel`);

    // By keyboard: the button, Enter, the dialog opens on "Keep the run"; Escape closes it.
    const cancelRun = ui.app.getByRole("button", { name: "Cancel run…" });
    await cancelRun.focus();
    await ui.page.keyboard.press("Enter");
    const dialog = ui.app.getByRole("dialog", { name: "Cancel the whole run?" });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await ui.app.getByRole("button", { name: "Keep the run" }).evaluate((b) => b === document.activeElement)).toBe(true);
    await ui.page.keyboard.press("Escape");
    await expect.poll(() => dialog.isVisible()).toBe(false);
    // By mouse: "Keep the run".
    await cancelRun.click();
    await ui.app.getByRole("button", { name: "Keep the run" }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(cancelsOfRun()).toHaveLength(0);
    expect(ui.calls.filter((c) => c.name === "console_act" && c.arguments.run_id === runId)).toHaveLength(0);
    expect(await badge()).toBe("parked");

    await cancelRun.click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await shot("cancel-run-confirmation");
    await ui.app.getByRole("dialog").getByRole("button", { name: "Cancel run" }).click();
    await expect.poll(() => cancelsOfRun().length).toBe(1);
    await waitBadge("ended");
    expect(ui.sim.runStatus(runId)).toBe("cancelled");
    await expect.poll(() => ui.app.locator("#badge-text").textContent()).toMatch(/^ended · cancelled/);
    expect(await cancelRun.isHidden()).toBe(true);
    expect(await ui.app.locator("#composer").isHidden()).toBe(true);
    await settled();
    await shot("echo-cancelled-by-you");
  });

  it("nothing the console reads moves the model's read position", async () => {
    const start = await modelWithConsole("start_interactive_run", { agent: "echo", prompt: "one" });
    const runId = String(start.structuredContent?.run_id);
    const modelNext = Number(start.structuredContent?.next_cursor);
    await waitBadge("parked");
    for (const text of ["two", "three"]) {
      const box = ui.app.getByRole("textbox", { name: "Message to echo" });
      await box.fill(text);
      await ui.app.getByRole("button", { name: "Send" }).click();
      await expect.poll(() => ui.app.locator(".msg.reply").last().textContent()).toContain(`You said: ${text}`);
      await waitBadge("parked");
    }
    const consoleReads = ui.calls.filter((c) => c.caller === "app" && c.name === "console_read" && c.arguments.run_id === runId);
    expect(consoleReads.length).toBeGreaterThanOrEqual(3);

    // The model reads on from where it stopped: everything after its own last read, nothing skipped.
    const read = await model("read_run_events", { run_id: runId });
    const events = read.structuredContent?.events as Array<{ kind: string; cursor: number; text?: string; source?: string }>;
    expect(events[0]?.cursor).toBe(modelNext);
    expect(events.filter((e) => e.kind === "input").map((e) => [e.text, e.source])).toEqual([
      ["two", "person"],
      ["three", "person"],
    ]);
    expect(events.filter((e) => e.kind === "text").map((e) => e.text)).toEqual(["You said: two", "You said: three"]);
    const again = await model("read_run_events", { run_id: runId, cursor: modelNext });
    expect(again.structuredContent?.events).toEqual(events);
  });

  it("a hostile reply stays text: nothing runs, nothing loads, no tool is called", async () => {
    const callsBefore = ui.calls.length;
    const requestsBefore = ui.requests.length;
    const linksBefore = (await hostLog()).openedLinks.length;
    const linesBefore = ui.consoleLines.length;
    const hostile = [
      "<img src=x onerror=\"window.__pwned='img'\">",
      "<script>window.__pwned='script'</script>",
      "[click me](javascript:window.__pwned='link')",
      "![tracker](http://198.51.100.7/x.png)",
      "[a real link](https://example.org/page)",
    ].join("\n\n");
    const start = await modelWithConsole("start_interactive_run", { agent: "echo", prompt: hostile });
    const runId = String(start.structuredContent?.run_id);
    await waitBadge("parked");
    const reply = ui.app.locator(".msg.reply .body").last();
    await expect.poll(() => reply.textContent()).toContain("You said:");
    const frame = await ui.appFrame();

    // The markup is shown as text, the javascript: link is not a link, the image is a link to its address.
    expect(await reply.textContent()).toContain("<img src=x onerror=");
    expect(await reply.textContent()).toContain("<script>window.__pwned='script'</script>");
    expect(
      await frame.evaluate(() => document.querySelectorAll("img, script:not(:first-of-type), iframe, object, embed").length),
    ).toBe(0);
    expect(
      await frame.evaluate(() => [...document.querySelectorAll("[href], [src], [onerror], [onclick]")].map((e) => e.outerHTML)),
    ).toEqual([]);
    const links = await reply.locator("a").evaluateAll((as) => as.map((a) => (a as HTMLElement).dataset.href));
    expect(links).toEqual(["http://198.51.100.7/x.png", "https://example.org/page"]);
    // Clicking them asks the host to open them; it never navigates the frame, and the javascript: text is inert.
    await reply.getByText("[click me](javascript:window.__pwned='link')").click();
    await reply.getByRole("link", { name: "image: tracker" }).click();
    await reply.getByRole("link", { name: "a real link" }).click();
    await expect
      .poll(async () => (await hostLog()).openedLinks.slice(linksBefore))
      .toEqual(["http://198.51.100.7/x.png", "https://example.org/page"]);
    expect(frame.url()).toBe("about:blank");
    expect(await frame.evaluate(() => (globalThis as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    expect(ui.dialogs).toEqual([]);

    // Nothing was fetched: every request of the page and its frames stayed on the two test origins.
    const fetched = ui.requests.slice(requestsBefore);
    expect(
      fetched.filter((u) => !u.startsWith(ui.hostOrigin) && !u.startsWith(ui.sandboxOrigin) && !/^(about|data):/.test(u)),
    ).toEqual([]);
    expect(
      ui.consoleLines.slice(linesBefore).filter((l) => /Refused|Content Security Policy|blocked|alert|pwned/i.test(l)),
    ).toEqual([]);

    // And no tool was called but the console's reads: the model made its one call, loomcycle got no input.
    const calls = ui.calls.slice(callsBefore);
    expect(calls.filter((c) => c.caller === "model").map((c) => c.name)).toEqual(["start_interactive_run"]);
    expect(new Set(calls.filter((c) => c.caller === "app").map((c) => c.name))).toEqual(new Set(["console_read"]));
    expect(simRequests(runId, "POST", "/input")).toHaveLength(0);
    expect(simRequests(runId, "POST", "/cancel")).toHaveLength(0);
    await settled();
    await shot("hostile-reply");
  });

  it("a start that failed shows why, and the console calls nothing", async () => {
    const callsBefore = ui.calls.length;
    const r = await modelWithConsole("start_interactive_run", { agent: "no-such-agent", prompt: "hi" });
    expect(r.isError).toBe(true);
    await expect.poll(() => ui.app.locator("#status").textContent()).toMatch(/^No run to show: .*no-such-agent/);
    expect(await ui.app.locator("#badge").isHidden()).toBe(true);
    expect(await ui.app.locator("#composer").isHidden()).toBe(true);
    expect(ui.calls.slice(callsBefore).filter((c) => c.caller === "app")).toEqual([]);
  });

  it("proves its recorders: a fetch the page attempts and a script that runs are seen", async () => {
    // The hostile test's "nothing fetched" and "nothing ran" would pass vacuously if the
    // recorders were blind: make the app frame do both, deliberately, and see them recorded.
    const frame = await ui.appFrame();
    const before = ui.requests.length;
    await frame.evaluate(() => {
      const img = document.createElement("img");
      img.src = "http://198.51.100.7/probe.png";
      document.body.append(img);
      img.remove();
    });
    await expect.poll(() => ui.requests.slice(before).some((u) => u.includes("198.51.100.7/probe.png"))).toBe(true);
    await expect.poll(() => ui.consoleLines.some((l) => /Content Security Policy/.test(l))).toBe(true);
    ui.consoleLines.length = 0;
  });

  it("follows the host's theme and fits a narrow and a wide frame: readable, labelled, nothing cut off", async () => {
    for (const width of [360, 1200]) {
      for (const theme of ["light", "dark"] as const) {
        const r = await modelWithConsole(
          "start_interactive_run",
          { agent: "toolish", prompt: "What does the README say?" },
          { width, theme },
        );
        expect(r.structuredContent?.state).toBe("awaiting_input");
        await waitBadge("parked");
        await expect.poll(() => ui.app.locator("details.tool").count()).toBe(1);
        // The tool call opens from the keyboard.
        await ui.app.locator("details.tool > summary").focus();
        await ui.page.keyboard.press("Enter");
        await expect.poll(() => ui.app.locator("details.tool").getAttribute("open")).toBe("");
        await settled();
        await looksRight(theme);
        await shot(`toolish-${theme}-${width}`);

        const a = await modelWithConsole(
          "start_interactive_run",
          { agent: "asker", prompt: "Deploy the site." },
          { width, theme },
        );
        expect(a.structuredContent?.state).toBe("awaiting_answer");
        await waitBadge("asking");
        await settled();
        await looksRight(theme);
        await shot(`asker-${theme}-${width}`);
      }
    }
  });

  it("changes theme and width live, as the host's context changes", async () => {
    await modelWithConsole("start_interactive_run", { agent: "asker", prompt: "Ship it?" }, { width: 720, theme: "light" });
    await waitBadge("asking");
    await settled();
    await shot("run-console");
    copyFileSync(join(SHOTS, "run-console.png"), join(ROOT, "docs", "img", "run-console.png"));
    const frame = await ui.appFrame();
    const bg = () => frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await bg();
    await ui.page.evaluate(() => (globalThis as unknown as HostWindow).host.setTheme("dark"));
    await expect.poll(() => frame.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    expect(luminance(await bg())).toBeLessThan(0.1);
    expect(luminance(light)).toBeGreaterThan(0.8);
    await looksRight("dark");
    await ui.page.evaluate(() => (globalThis as unknown as HostWindow).host.setWidth(320));
    await settled();
    await looksRight("dark");
    await shot("asker-dark-320");
  });
});

describe("a run whose loop loomcycle lost", () => {
  it("shows as ended with the reason, offers no answer or message, and keeps following the run", async () => {
    // Last in the file: the simulated restart drops every loop, as loomcycle's does.
    const start = await modelWithConsole("start_interactive_run", { agent: "asker", prompt: "Deploy it.", wait_ms: 0 });
    const runId = String(start.structuredContent?.run_id);
    await waitBadge("asking");
    await expect.poll(() => ui.app.getByRole("button", { name: "Answer yes" }).count()).toBe(1);
    await ui.sim.restart(100);
    // The console learns it from its next read (the model's read re-attaches the run now).
    await model("read_run_events", { run_id: runId });
    await waitBadge("ended");
    expect(await ui.app.locator("#badge").textContent()).toContain("loomcycle lost its loop");
    expect(await ui.app.getByRole("button", { name: "Answer yes" }).count()).toBe(0);
    expect(await ui.app.getByRole("button", { name: "Decline the question" }).count()).toBe(0);
    expect(await ui.app.locator("#composer").isHidden()).toBe(true);
    // Nothing was sent to loomcycle for it, and the run is not closed: loomcycle fails it later, with
    // its reason, and the console is still following it to show that.
    expect(ui.sim.requests.filter((r) => r.method === "POST" && r.path.includes(`/v1/runs/${runId}/interrupts`))).toHaveLength(0);
    expect(await ui.app.locator(".line.divider").count()).toBe(0);
    await shot("asker-loop-lost");
  });
});
