// The conversation log: digest items from console_read, appended as they arrive. Agent
// text goes through renderMarkdown (./markdown.ts); everything else is set as text.
import { renderMarkdown } from "./markdown.js";
import type { DigestItem } from "./types.js";

/** Whose an input or an answer is, in the person's words. */
export function whose(source: string | undefined): string {
  switch (source) {
    case "person":
      return "You";
    case "host":
      return "The model";
    case "elicitation":
      return "You (in the host's form)";
    case undefined:
    case "":
      return "loomcycle";
    default:
      return `loomcycle (${source})`;
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Tool input and output as sent, or laid out when it is a whole JSON object or array. */
function pretty(s: string): string {
  const t = s.trim();
  if (!/^[[{]/.test(t)) return s;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return s;
  }
}

function fmt(n: number | undefined): string {
  return n === undefined ? "?" : n.toLocaleString("en-US");
}

const INTERRUPTION = "Interruption";

interface OpenText {
  msg: HTMLElement;
  body: HTMLElement;
  text: string;
}

interface Asked {
  card: HTMLElement;
  outcome: HTMLElement;
  question: string;
  settled: boolean;
}

export class Conversation {
  private open: OpenText | undefined;
  private readonly tools = new Map<string, HTMLDetailsElement>();
  private readonly asked = new Map<string, Asked>();
  private readonly dirty = new Set<OpenText>();
  private frame = 0;
  private ended = false;
  private empty: HTMLElement | null;

  constructor(
    private readonly log: HTMLElement,
    private readonly agentName: () => string,
  ) {
    this.empty = log.querySelector(".empty");
  }

  /** Append a read's items. */
  add(items: DigestItem[], streaming: boolean): void {
    if (items.length === 0) return this.setStreaming(streaming);
    const stick = this.atBottom();
    if (this.empty) {
      this.empty.remove();
      this.empty = null;
    }
    for (const item of items) this.addOne(item);
    this.setStreaming(streaming);
    this.flushSoon(stick);
    if (stick) this.log.scrollTop = this.log.scrollHeight;
  }

  /** The question's outcome as the console learned it (an action of the person, or a later read). */
  settle(interruptId: string, outcome: string): void {
    const a = this.asked.get(interruptId);
    if (!a) return;
    a.outcome.textContent = outcome;
    a.settled = true;
  }

  /** Questions no longer pending whose outcome the console did not see. */
  settleMissing(pending: ReadonlySet<string>): void {
    for (const [id, a] of this.asked) if (!a.settled && !pending.has(id)) this.settle(id, "No longer waiting for an answer.");
  }

  questionText(interruptId: string): string | undefined {
    return this.asked.get(interruptId)?.question;
  }

  /** The run is over: a closing line, unless its `done` item already drew one. */
  end(text: string): void {
    if (this.ended) return;
    this.ended = true;
    this.closeText();
    const last = this.log.lastElementChild;
    if (last?.classList.contains("done")) return;
    this.log.append(el("div", "line divider", text));
    this.log.scrollTop = this.log.scrollHeight;
  }

  showEmpty(text: string): void {
    if (this.empty) this.empty.textContent = text;
  }

  private addOne(item: DigestItem): void {
    if (item.kind === "text") {
      if (this.open) {
        this.open.text += item.text;
        this.dirty.add(this.open);
      } else {
        const msg = el("div", "msg reply");
        msg.append(el("span", "who", this.agentName()));
        const body = el("div", "body");
        msg.append(body);
        this.log.append(msg);
        this.open = { msg, body, text: item.text };
        this.dirty.add(this.open);
      }
      if (item.partial !== true) this.closeText();
      return;
    }
    this.closeText();
    switch (item.kind) {
      case "input": {
        const msg = el("div", "msg input");
        msg.dataset.source = item.source;
        msg.append(el("span", "who", whose(item.source)), el("div", "body", item.text));
        this.log.append(msg);
        return;
      }
      case "tool_call": {
        // loomcycle's question mechanism: the question's own card (below) stands for it.
        if (item.tool === INTERRUPTION) return;
        const d = el("details", "tool");
        const summary = el("summary");
        summary.append(`Tool call: ${item.tool || "unnamed"} `, el("span", "result-state", "(running)"));
        d.append(summary);
        const part = el("div", "tool-part");
        part.append(el("span", "who", "Input"), el("pre", undefined, item.input ? pretty(item.input) : "(none)"));
        d.append(part);
        this.log.append(d);
        if (item.id) this.tools.set(item.id, d);
        return;
      }
      case "tool_result": {
        if (item.tool === INTERRUPTION) return;
        let d = item.id ? this.tools.get(item.id) : undefined;
        if (!d) {
          d = el("details", "tool");
          const summary = el("summary");
          summary.append(`Tool result: ${item.tool || "unnamed"} `, el("span", "result-state"));
          d.append(summary);
          this.log.append(d);
        }
        d.dataset.ok = String(item.ok);
        const state = d.querySelector(".result-state");
        if (state) state.textContent = item.ok ? "(done)" : "(failed)";
        const part = el("div", "tool-part");
        part.append(
          el("span", "who", item.ok ? "Output" : "Error"),
          el("pre", undefined, item.output ? pretty(item.output) : "(empty)"),
        );
        d.append(part);
        return;
      }
      case "interrupt": {
        const card = el("div", "msg asked");
        card.append(el("span", "who", `${this.agentName()} asks`), el("div", "body", item.question));
        if (item.options && item.options.length > 0) card.append(el("div", "options", `Options: ${item.options.join(" · ")}`));
        const outcome = el("div", "outcome", "Waiting for an answer.");
        card.append(outcome);
        this.log.append(card);
        const a: Asked = { card, outcome, question: item.question, settled: false };
        this.asked.set(item.interrupt_id, a);
        if (item.declined) this.settle(item.interrupt_id, `${whose(item.answered_by)} declined.`);
        else if (item.answer !== undefined)
          this.settle(item.interrupt_id, `${whose(item.answered_by)} answered “${item.answer}”.`);
        return;
      }
      case "awaiting_input":
        this.log.append(el("div", "line divider", "waiting for a message"));
        return;
      case "turn_cancelled": {
        const by = item.source ? ` by ${whose(item.source) === "You" ? "you" : whose(item.source).toLowerCase()}` : "";
        this.log.append(el("div", "line notice", `Turn cancelled${by}${item.reason ? `: ${item.reason}` : "."}`));
        return;
      }
      case "compaction":
        this.log.append(
          el("div", "line notice", `Context compacted: ${fmt(item.before_tokens)} → ${fmt(item.after_tokens)} tokens.`),
        );
        return;
      case "notice":
        this.log.append(el("div", "line notice", item.text));
        return;
      case "error": {
        const line = el("div", "line error");
        line.append(el("strong", undefined, "Error: "), item.message);
        this.log.append(line);
        return;
      }
      case "done":
        this.log.append(el("div", "line divider done", `run ended${item.stop_reason ? ` (${item.stop_reason})` : ""}`));
        return;
      default:
        return;
    }
  }

  private closeText(): void {
    if (!this.open) return;
    this.open.msg.dataset.streaming = "false";
    this.open = undefined;
  }

  private setStreaming(streaming: boolean): void {
    if (this.open) this.open.msg.dataset.streaming = String(streaming);
  }

  private atBottom(): boolean {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 32;
  }

  /** Markdown is rendered once per frame however many deltas arrived. */
  private flushSoon(stick: boolean): void {
    if (this.frame) return;
    const flush = (): void => {
      this.frame = 0;
      const keep = stick || this.atBottom();
      for (const t of this.dirty) t.body.replaceChildren(renderMarkdown(t.text));
      this.dirty.clear();
      if (keep) this.log.scrollTop = this.log.scrollHeight;
    };
    this.frame = requestAnimationFrame(flush);
  }
}
