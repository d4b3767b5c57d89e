// The run console, an MCP App (ext-apps `App`): opened by the host for a call of
// start_interactive_run or attach_run, it learns the run from that call's result and shows
// it live: state, usage, the conversation, a pending question, a message box while the run
// is parked. What the person does goes through console_act and is told to the model once
// (ui/update-model-context) when the host takes it. Links open only through the host.
import {
  App,
  applyDocumentTheme,
  applyHostFonts,
  applyHostStyleVariables,
  type McpUiHostContext,
} from "@modelcontextprotocol/ext-apps";
import { Conversation } from "./conversation.js";
import { Follower, type CallTool } from "./follow.js";
import { announce, badgeFor, type BadgeView } from "./states.js";
import type { ActAction, ConsoleRead, PendingInterrupt } from "./types.js";

declare const __APP_VERSION__: string;

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the console's page has no #${id}`);
  return e as T;
}

const ui = {
  agent: $("agent"),
  badge: $("badge"),
  badgeText: $("badge-text"),
  runId: $("run-id"),
  usage: $("usage"),
  cancelTurn: $<HTMLButtonElement>("cancel-turn"),
  cancelRun: $<HTMLButtonElement>("cancel-run"),
  stuck: $("stuck"),
  log: $("log"),
  questions: $("questions"),
  composer: $<HTMLFormElement>("composer"),
  messageLabel: $("message-label"),
  message: $<HTMLTextAreaElement>("message"),
  send: $<HTMLButtonElement>("send"),
  status: $("status"),
  announce: $("announce"),
  confirm: $<HTMLDialogElement>("confirm"),
  confirmKeep: $<HTMLButtonElement>("confirm-keep"),
  confirmCancel: $<HTMLButtonElement>("confirm-cancel"),
};

const app = new App({ name: "loomcycle run console", version: __APP_VERSION__ }, {}, { autoResize: true });

let agentName = "";
let runId = "";
let shown: BadgeView | undefined;
let last: ConsoleRead | undefined;
/** An action was accepted and the next read has not shown its effect yet: controls wait. */
let settling = false;
let busy = false;
let follower: Follower | undefined;

const conversation = new Conversation(ui.log, () => agentName || "The agent");

function setStatus(text: string, tone: "info" | "error" = "info"): void {
  ui.status.textContent = text;
  ui.status.dataset.tone = tone;
}

function setAgent(name: string): void {
  if (!name || name === agentName) return;
  agentName = name;
  ui.agent.textContent = name;
  ui.messageLabel.textContent = `Message to ${name}`;
  document.title = `${name} · loomcycle run console`;
}

// ---- what the person sees -------------------------------------------------------------

function render(r: ConsoleRead): void {
  if (r.agent) setAgent(r.agent);
  const b = badgeFor(r.state, r.stuck);
  ui.badge.hidden = false;
  ui.badge.dataset.badge = b.badge;
  let label = b.detail ? `${b.badge} · ${b.detail}` : b.badge;
  if (r.state === "cancelled" && r.cancelled_by)
    label = `ended · cancelled by ${r.cancelled_by === "person" ? "you" : "the model"}`;
  if (r.state_as_of) label += ` (as of ${clock(r.state_as_of)})`;
  ui.badgeText.textContent = label;
  if (b.over) conversation.end(`run ${label}`);
  if (!shown || shown.badge !== b.badge || shown.detail !== b.detail)
    ui.announce.textContent = announce(b, agentName || "The agent");
  shown = b;
  const u = r.usage;
  ui.usage.textContent =
    u && (u.input_tokens || u.output_tokens)
      ? `${(u.input_tokens ?? 0).toLocaleString("en-US")} tokens in · ${(u.output_tokens ?? 0).toLocaleString("en-US")} out`
      : "";
  ui.stuck.hidden = !r.stuck;
  if (r.stuck) ui.stuck.textContent = r.stuck.remedy ?? `The run has been silent for ${r.stuck.idle_seconds ?? "?"} s.`;
  renderControls();
}

/** A timestamp as the person's wall-clock time (hours and minutes). */
function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderControls(): void {
  const b = shown;
  const off = !b || b.over;
  ui.cancelRun.hidden = off;
  ui.cancelTurn.hidden = off || !(b.badge === "working" || b.badge === "stuck");
  const parked = !off && b.badge === "parked";
  ui.composer.hidden = !parked;
  for (const c of [ui.cancelRun, ui.cancelTurn, ui.send, ui.message]) c.disabled = busy || settling;
  // An ended run (a lost loop is still followed) takes no answer: its questions are not offered.
  renderQuestions(off || b.badge === "ended" || !last ? [] : last.pending_interrupts);
}

let questionsKey = "";
function renderQuestions(pending: PendingInterrupt[]): void {
  const key = pending.map((p) => p.interrupt_id).join(" ");
  if (key !== questionsKey) {
    questionsKey = key;
    const hadFocus = ui.questions.contains(document.activeElement);
    ui.questions.replaceChildren(...pending.map(questionPanel));
    // Focus stays in the console when the question it was on goes away.
    if (hadFocus)
      (ui.questions.querySelector<HTMLElement>("button, input") ?? (ui.composer.hidden ? ui.log : ui.message)).focus();
  }
  for (const c of ui.questions.querySelectorAll<HTMLButtonElement | HTMLInputElement>("button, input"))
    c.disabled = busy || settling;
}

function questionPanel(q: PendingInterrupt, index: number): HTMLElement {
  const section = document.createElement("section");
  section.className = "ask";
  const titleId = `ask-title-${index}`;
  section.setAttribute("aria-labelledby", titleId);
  const h = document.createElement("h2");
  h.id = titleId;
  h.textContent = `${agentName || "The agent"} asks you`;
  const question = document.createElement("p");
  question.className = "question";
  question.textContent = q.question;
  section.append(h, question);
  if (q.expires_at) {
    const when = document.createElement("p");
    when.className = "expires";
    when.textContent = `Unanswered, it expires at ${clock(q.expires_at)}.`;
    section.append(when);
  }
  const choices = document.createElement("div");
  choices.className = "choices";
  if (q.options && q.options.length > 0) {
    choices.setAttribute("role", "group");
    choices.setAttribute("aria-label", "Answers and decline");
    for (const option of q.options) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "primary";
      b.textContent = option;
      b.setAttribute("aria-label", `Answer ${option}`);
      b.addEventListener("click", () => void answer(q, option));
      choices.append(b);
    }
  } else {
    const form = document.createElement("form");
    form.className = "row";
    const input = document.createElement("input");
    input.type = "text";
    input.autocomplete = "off";
    input.id = `answer-${index}`;
    input.setAttribute("aria-label", "Your answer");
    input.placeholder = "Your answer";
    const submit = document.createElement("button");
    submit.type = "submit";
    submit.className = "primary";
    submit.textContent = "Answer";
    form.append(input, submit);
    form.style.flex = "1 1 14rem";
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return setStatus("Write an answer first, or decline the question.", "error");
      void answer(q, text);
    });
    choices.append(form);
  }
  const decline = document.createElement("button");
  decline.type = "button";
  decline.className = "decline";
  decline.textContent = "Decline";
  decline.setAttribute("aria-label", "Decline the question");
  decline.addEventListener(
    "click",
    () => void act("decline", { interrupt_id: q.interrupt_id }, `declined the question “${q.question}”`),
  );
  choices.append(decline);
  section.append(choices);
  return section;
}

// ---- what the person does ---------------------------------------------------------------

async function answer(q: PendingInterrupt, text: string): Promise<void> {
  const ok = await act("answer", { interrupt_id: q.interrupt_id, answer: text }, `answered “${text}” to “${q.question}”`);
  if (ok) conversation.settle(q.interrupt_id, `You answered “${text}”.`);
}

/** One console_act call; on success the model is told once, briefly, when the host takes it. */
async function act(action: ActAction, args: Record<string, unknown>, told: string): Promise<boolean> {
  if (busy || !runId) return false;
  busy = true;
  renderControls();
  setStatus("Sending…");
  try {
    const res = await app.callServerTool({ name: "console_act", arguments: { run_id: runId, action, ...args } });
    const text = textOf(res.content);
    if (res.isError) {
      setStatus(text || "That did not go through.", "error");
      return false;
    }
    const sc = (res.structuredContent ?? {}) as { message?: unknown };
    setStatus(typeof sc.message === "string" ? sc.message : text || "Done.");
    if (action === "decline") conversation.settle(String(args.interrupt_id), "You declined.");
    settling = true;
    void tellModel(`The person ${told} in the run console (run ${runId}).`, action);
    return true;
  } catch (err) {
    setStatus(`That did not go through: ${err instanceof Error ? err.message : String(err)}`, "error");
    return false;
  } finally {
    busy = false;
    renderControls();
  }
}

async function tellModel(text: string, action: ActAction): Promise<void> {
  if (!app.getHostCapabilities()?.updateModelContext) return;
  try {
    await app.updateModelContext({
      content: [{ type: "text", text }],
      structuredContent: { run_id: runId, action, by: "person" },
    });
  } catch {
    // The host declined the update; the model still sees the person's marks in its next read.
  }
}

ui.composer.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.message.value;
  if (!text.trim()) return setStatus("Write a message first.", "error");
  const preview = text.trim().length > 120 ? `${text.trim().slice(0, 119)}…` : text.trim();
  void act("steer", { text }, `sent this message: “${preview}”`).then((ok) => {
    if (ok) ui.message.value = "";
    else ui.message.focus();
  });
});
ui.message.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.composer.requestSubmit();
  }
});
ui.cancelTurn.addEventListener("click", () => void act("cancel_turn", {}, "cancelled the current turn"));
ui.cancelRun.addEventListener("click", () => ui.confirm.showModal());
ui.confirmKeep.addEventListener("click", () => ui.confirm.close("keep"));
ui.confirmCancel.addEventListener("click", () => {
  ui.confirm.close("cancel");
  void act("cancel_run", {}, "cancelled the whole run");
});
ui.confirm.addEventListener("close", () => {
  if (ui.confirm.returnValue !== "cancel") ui.cancelRun.focus();
});

// Links in agent text carry no href (./markdown.ts): they open through the host, or not at all.
function openLink(target: EventTarget | null): boolean {
  const a = target instanceof Element ? target.closest<HTMLElement>("a[data-href]") : null;
  const url = a?.dataset.href;
  if (!url) return false;
  if (!app.getHostCapabilities()?.openLinks) {
    setStatus(`This host does not open links. The address is ${url}`);
    return true;
  }
  app.openLink({ url }).then(
    (r) => {
      if (r.isError) setStatus(`The host did not open ${url}`, "error");
    },
    () => setStatus(`The host did not open ${url}`, "error"),
  );
  return true;
}
ui.log.addEventListener("click", (e) => {
  if (openLink(e.target)) e.preventDefault();
});
ui.log.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && openLink(e.target)) e.preventDefault();
});

// ---- the run ----------------------------------------------------------------------------

const call: CallTool = async (name, args, signal) => {
  const res = await app.callServerTool({ name, arguments: args }, { signal });
  return { isError: res.isError === true, structuredContent: res.structuredContent, text: textOf(res.content) };
};

function textOf(content: unknown): string {
  if (!Array.isArray(content)) return "";
  return content
    .filter(
      (c): c is { type: "text"; text: string } =>
        typeof c === "object" && c !== null && c.type === "text" && typeof c.text === "string",
    )
    .map((c) => c.text)
    .join("\n")
    .trim();
}

function follow(id: string): void {
  if (runId) return;
  runId = id;
  ui.runId.textContent = id;
  conversation.showEmpty("Reading the run…");
  follower = new Follower(id, call, (r) => badgeFor(r.state, r.stuck).over, {
    onRead(r) {
      last = r;
      settling = false;
      if (ui.status.dataset.tone === "error" && ui.status.textContent?.startsWith("Lost touch")) setStatus("");
      conversation.add(r.events, r.state === "running" || r.state === "starting");
      conversation.settleMissing(new Set(r.pending_interrupts.map((p) => p.interrupt_id)));
      render(r);
    },
    onTrouble(message, retryMs) {
      setStatus(`Lost touch with the run (${message}). Trying again in ${Math.round(retryMs / 1000)} s.`, "error");
    },
    onStop() {
      renderControls();
    },
  });
  void follower.run();
}

function fail(message: string): void {
  conversation.showEmpty(message);
  setStatus(message, "error");
}

app.ontoolinput = (p) => {
  const args = p.arguments ?? {};
  if (typeof args.agent === "string") setAgent(args.agent);
};
app.ontoolresult = (r) => {
  const sc = (r.structuredContent ?? {}) as Record<string, unknown>;
  if (r.isError || typeof sc.run_id !== "string") {
    const why = textOf(r.content);
    return fail(`No run to show${why ? `: ${why}` : "."}`);
  }
  if (typeof sc.agent === "string") setAgent(sc.agent);
  follow(sc.run_id);
};
app.ontoolcancelled = (p) => {
  if (!runId) fail(`The call was cancelled before a run was known${p.reason ? ` (${p.reason})` : ""}.`);
};
app.onhostcontextchanged = (ctx) => applyContext(ctx);
app.onteardown = async () => {
  follower?.stop();
  return {};
};

function applyContext(ctx: McpUiHostContext | undefined): void {
  if (!ctx) return;
  if (ctx.theme) applyDocumentTheme(ctx.theme);
  if (ctx.styles?.variables) applyHostStyleVariables(ctx.styles.variables);
  if (ctx.styles?.css?.fonts) applyHostFonts(ctx.styles.css.fonts);
  const root = document.documentElement;
  const dims = ctx.containerDimensions;
  if (dims) {
    root.classList.toggle("fixed-height", "height" in dims);
    if ("maxHeight" in dims && dims.maxHeight) root.style.setProperty("--log-max", `${Math.max(160, dims.maxHeight - 260)}px`);
  }
  const inset = ctx.safeAreaInsets;
  if (inset)
    for (const side of ["top", "right", "bottom", "left"] as const) root.style.setProperty(`--inset-${side}`, `${inset[side]}px`);
}

// Fall back to the system's theme until (or unless) the host says.
applyDocumentTheme(matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
app.connect().then(
  () => applyContext(app.getHostContext()),
  (err: unknown) => fail(`The console could not connect to the host: ${err instanceof Error ? err.message : String(err)}`),
);
