// Agent text as Markdown, rendered so that it stays data. markdown-it with `html: false`
// escapes every tag the agent writes (`<script>`, `<img onerror>` come out as text), and
// three rules are ours:
//   - a link is a link only when it is http(s): `javascript:`, `data:`, `file:`… stay the
//     text they were written as (validateLink);
//   - a link carries no href: the frame can never be navigated by it (not by a click, a
//     middle-click or a drag); the console opens `data-href` through the host (ui/open-link);
//   - an image is never loaded: it becomes a link to its address, labelled with its alt text.
// Then, as a second fence, the output is parsed into an inert <template> and anything but
// the few elements and attributes Markdown makes is dropped before it reaches the page.
import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });
md.linkify.set({ fuzzyEmail: false });

export function isWebLink(url: string): boolean {
  return /^https?:\/\/[^\s]/i.test(url.trim());
}
md.validateLink = isWebLink;

const esc = md.utils.escapeHtml;

function linkOpen(href: string, extraClass = ""): string {
  return `<a class="link${extraClass}" role="link" tabindex="0" data-href="${esc(href)}" title="${esc(href)}">`;
}

md.renderer.rules.link_open = (tokens, idx) => linkOpen(String(tokens[idx]?.attrGet("href") ?? ""));
md.renderer.rules.image = (tokens, idx) => {
  const t = tokens[idx];
  const src = String(t?.attrGet("src") ?? "");
  const alt = t ? md.renderer.renderInlineAsText(t.children ?? [], md.options, {}) : "";
  const label = `image${alt ? `: ${alt}` : ""}`;
  return isWebLink(src) ? `${linkOpen(src, " image-link")}${esc(label)}</a>` : esc(`[${label}]`);
};

const ALLOWED = new Set(
  "P BR HR EM STRONG S DEL CODE PRE BLOCKQUOTE UL OL LI H1 H2 H3 H4 H5 H6 A TABLE THEAD TBODY TR TH TD".split(" "),
);

function attributeAllowed(el: Element, name: string, value: string): boolean {
  switch (el.tagName) {
    case "A":
      if (name === "data-href") return isWebLink(value);
      return (
        (name === "class" && /^link( image-link)?$/.test(value)) ||
        (name === "role" && value === "link") ||
        name === "title" ||
        (name === "tabindex" && value === "0")
      );
    case "OL":
      return name === "start" && /^\d+$/.test(value);
    case "TH":
    case "TD":
      return name === "style" && /^text-align:(left|right|center)$/.test(value);
    case "CODE":
      return name === "class" && /^language-[\w+-]+$/.test(value);
    default:
      return false;
  }
}

/** Keep only what Markdown makes; anything else becomes its text. */
function scrub(root: ParentNode): void {
  for (const el of Array.from(root.children)) {
    if (!ALLOWED.has(el.tagName)) {
      el.replaceWith(document.createTextNode(el.textContent ?? ""));
      continue;
    }
    for (const a of Array.from(el.attributes)) if (!attributeAllowed(el, a.name, a.value)) el.removeAttribute(a.name);
    scrub(el);
  }
}

/** The agent's Markdown as DOM nodes that hold no markup of the agent's and load nothing. */
export function renderMarkdown(text: string): DocumentFragment {
  const tpl = document.createElement("template");
  // The renderer's output with raw HTML off and the link and image rules above; the
  // template's content is inert (no script runs, nothing loads) while it is scrubbed.
  tpl.innerHTML = md.render(text);
  scrub(tpl.content);
  return tpl.content;
}
