/**
 * A tiny markdown renderer for guideline texts: headings, **bold**, *italic*, lists, `code` and
 * line breaks. No library, no links, no images, no raw HTML.
 *
 * Safety: the whole text is HTML-escaped first (& < > " '), and every rule below only wraps
 * escaped text in fixed tags without attributes. Nothing a guideline author types can become an
 * element, an attribute or a URL, so the result may be given to innerHTML.
 *
 * Blocks: "# " … "###### " headings (shifted down by ``headingOffset`` so a guideline's "#"
 * does not compete with the page's own headings), "- ", "* " or "+ " bullets, "1. " or "1) "
 * numbered items (an indented line continues the item), blank lines between paragraphs, and a
 * single newline inside a paragraph kept as a line break.
 */

import { escapeHtml } from "./api.js";

export { escapeHtml };

const HEADING = /^(#{1,6})[ \t]+(.*?)[ \t#]*$/;
const BULLET = /^[ \t]{0,3}[-*+][ \t]+(.*)$/;
const NUMBERED = /^[ \t]{0,3}(\d{1,9})[.)][ \t]+(.*)$/;
const CONTINUATION = /^[ \t]{2,}\S/;

/** Emphasis on escaped text (no code in it): **strong** / __strong__, then *em* / _em_. */
function emphasis(text) {
  return text
    .replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^\w])__(?=\S)(.+?)(?<=\S)__(?!\w)/g, "$1<strong>$2</strong>")
    .replace(/(^|[^*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])/g, "$1<em>$2</em>")
    .replace(/(^|[^_\w])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![_\w])/g, "$1<em>$2</em>");
}

/** Inline rules on one escaped line: `code` spans first (nothing inside them is formatted). */
function inline(escaped) {
  return escaped
    .split(/(`[^`]+`)/)
    .map((part, i) => (i % 2 ? `<code>${part.slice(1, -1)}</code>` : emphasis(part)))
    .join("");
}

/** One line of inline markdown (no blocks): for a summary line. Escaped first, like the rest. */
export function renderInline(text) {
  return inline(escapeHtml(text).trim());
}

/** Lines of one paragraph or list item, joined by line breaks. */
const joinLines = (lines) => lines.map((line) => inline(line.trim())).join("<br>");

/**
 * The HTML of ``text`` (a string of escaped, fixed tags; see the module comment).
 * ``headingOffset``: "#" becomes h(1 + offset), capped at h6.
 */
export function renderMarkdown(text, { headingOffset = 2 } = {}) {
  const lines = escapeHtml(text).replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let paragraph = [];
  let list = null; // {tag: "ul" | "ol", start, items: [[line, ...], ...]}

  const flushParagraph = () => {
    if (paragraph.length) out.push(`<p>${joinLines(paragraph)}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (!list) return;
    const start = list.tag === "ol" && list.start !== 1 ? ` start="${list.start}"` : "";
    const items = list.items.map((item) => `<li>${joinLines(item)}</li>`).join("");
    out.push(`<${list.tag}${start}>${items}</${list.tag}>`);
    list = null;
  };
  const addItem = (tag, body, start = 1) => {
    flushParagraph();
    if (list && list.tag !== tag) flushList();
    if (!list) list = { tag, start, items: [] };
    list.items.push([body]);
  };

  for (const line of lines) {
    if (!line.trim()) {
      flushParagraph();
      flushList();
      continue;
    }
    const heading = HEADING.exec(line);
    const bullet = BULLET.exec(line);
    const numbered = NUMBERED.exec(line);
    if (heading) {
      flushParagraph();
      flushList();
      const level = Math.min(6, heading[1].length + headingOffset);
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
    } else if (bullet) {
      addItem("ul", bullet[1]);
    } else if (numbered) {
      addItem("ol", numbered[2], Number(numbered[1]));
    } else if (list && CONTINUATION.test(line)) {
      list.items.at(-1).push(line);
    } else {
      flushList();
      paragraph.push(line);
    }
  }
  flushParagraph();
  flushList();
  return out.join("\n");
}

/** Render ``text`` into ``element`` (replacing its content); an empty text leaves ``empty``. */
export function renderInto(element, text, { empty = "", headingOffset = 2 } = {}) {
  const html = renderMarkdown(text, { headingOffset });
  if (html) element.innerHTML = html;
  else element.textContent = empty;
  element.classList.add("gl-md");
}
