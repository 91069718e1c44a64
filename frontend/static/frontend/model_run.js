/**
 * One model run's error analysis (DOMAIN.md sections 2–5): headline figures, the slice
 * prioritisation table, per-class metrics, the confusion matrix, the audit of key slices and, for
 * a shadow run, agreement by week — all from GET runs/{id}/analysis/.
 *
 * - The reference (consensus or gold labels) and the smallest slice to rank live in the URL's
 *   query string (the API's own parameter names), so a reload or a shared link shows the same
 *   analysis; the CSV links carry the same string.
 * - Rates are printed as DOMAIN.md prints them: 94%, 88.3%, 0.6%, 0.16%, 0%.
 * - An undefined figure (0/0) is written "undefined" with its reason as a numbered note under the
 *   table and as a tooltip — never 0, never blank.
 * - Everything from the server goes into the page with textContent, never as HTML.
 */

import { $, apiFetch, el, plural, readConfig, showStatus } from "./api.js";

const config = readConfig("model-run-config");

const SVG = "http://www.w3.org/2000/svg";
const END = { "text-anchor": "end", "dominant-baseline": "central" };
const MIDDLE_LEFT = { "text-anchor": "start", "dominant-baseline": "central" };
const REFERENCES = {
  consensus: {
    name: "consensus labels",
    one: "a consensus label",
    hint:
      "Consensus labels: each item’s agreed label (a reviewer’s decision wins); " +
      "HLP is how often labelers agree with each other.",
  },
  gold: {
    name: "gold labels",
    one: "a gold label",
    hint:
      "Gold labels: the answers a manager set on some items; " +
      "HLP is the labelers’ accuracy on them.",
  },
};
const HLP_SOURCES = {
  hlp_agreement: "how often labelers agree with each other",
  hlp_gold: "the labelers’ accuracy on gold items",
};
const MIN_ITEMS = { low: 1, high: 100_000 };

const ui = {
  controls: $("analysis-controls"),
  minItems: $("min-slice-items"),
  referenceHint: $("reference-hint"),
  status: $("analysis-status"),
  error: $("analysis-error"),
  errorMessage: $("analysis-error-message"),
  retry: $("analysis-retry"),
  analysis: $("analysis"),
  headline: $("headline"),
  priorities: $("priorities"),
  classes: $("classes"),
  confusion: $("confusion"),
  audit: $("audit"),
  weeks: $("weeks"),
};

const classNames = new Map(config.classes.map((c) => [c.key, c.name]));
const className = (key) => classNames.get(key) ?? key;

const state = {
  reference: config.reference,
  minItems: config.min_slice_items,
  seq: 0, // the newest request; older answers are dropped
};

/* ---------- numbers ---------- */

/**
 * A rate in [0, 1] as a percentage the way DOMAIN.md prints it: one decimal at most from 1% up
 * (94%, 88.3%), two significant digits below (0.6%, 0.16%), "0%" for zero. null stays null.
 */
export function pct(value, { unit = true } = {}) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const size = Math.abs(value * 100);
  let digits;
  if (size === 0) digits = "0";
  else if (size < 0.01) digits = "<0.01";
  else if (size < 1) digits = String(Number(size.toPrecision(2)));
  else {
    digits = String(Number(size.toFixed(1)));
    // 99.96% is not 100%: only a perfect score is printed as one.
    if (digits === "100" && size < 100) digits = ">99.9";
  }
  return `${value < 0 && size !== 0 ? "−" : ""}${digits}${unit ? "%" : ""}`;
}

/** "87.1–92.3%" (a 95% interval), or null. */
const interval = (low, high) =>
  low === null || high === null || low === undefined || high === undefined
    ? null
    : `${pct(low, { unit: false })}–${pct(high)}`;

/** a − b without floating-point noise (0.95 − 0.94 = 0.010000000000000009). */
const minus = (a, b) => (a === null || b === null ? null : Math.round((a - b) * 1e9) / 1e9);

const count = (n) => Number(n).toLocaleString();

const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
/** A week's Monday ("2026-11-02", UTC) as "2 Nov 2026", or "2 Nov" without the year. */
const weekName = (iso, { year = true } = {}) => {
  const date = new Date(`${iso}T00:00:00Z`);
  const text = `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]}`;
  return year ? `${text} ${date.getUTCFullYear()}` : text;
};

/* ---------- small DOM helpers ---------- */

function th(text, { scope = "col", num = false, wrap = false, title } = {}) {
  const cell = el("th", [num && "num", wrap && "th--wrap"].filter(Boolean).join(" "), text);
  cell.scope = scope;
  if (title) cell.title = title;
  return cell;
}

function td(content, { num = false, col, className } = {}) {
  const cell = el("td", [num && "num", className].filter(Boolean).join(" "));
  if (col) cell.dataset.col = col;
  if (content instanceof Node) cell.append(content);
  else if (content !== undefined && content !== null) cell.textContent = content;
  return cell;
}

function table(className, caption, headings) {
  const wrap = el("div", "table-wrap");
  const node = el("table", `data-table ${className}`);
  node.append(el("caption", "visually-hidden", caption));
  const head = el("thead");
  const row = el("tr");
  row.append(...headings);
  head.append(row);
  const body = el("tbody");
  node.append(head, body);
  wrap.append(node);
  return { wrap, table: node, body };
}

function empty(text) {
  return el("p", "panel__empty muted", text);
}

/**
 * Numbered notes for undefined figures: the same reason gets the same number in a table, and the
 * list goes under it.
 */
class Notes {
  constructor() {
    this.reasons = new Map();
  }

  number(reason) {
    const text = reason || "the figure divides 0 by 0";
    if (!this.reasons.has(text)) this.reasons.set(text, this.reasons.size + 1);
    return this.reasons.get(text);
  }

  /** "undefined¹" with the reason as a tooltip and, for screen readers, in words. */
  undefined(reason) {
    const n = this.number(reason);
    const span = el("span", "ma-undef", "undefined");
    span.title = reason || "the figure divides 0 by 0";
    const mark = el("sup", "ma-undef__note", String(n));
    mark.setAttribute("aria-hidden", "true");
    span.append(mark, el("span", "visually-hidden", ` (${span.title})`));
    return span;
  }

  /** A rate, or "undefined" with its reason. */
  figure(value, reason) {
    return value === null || value === undefined ? this.undefined(reason) : pct(value);
  }

  list() {
    if (!this.reasons.size) return null;
    const list = el("ol", "ma-notes");
    list.setAttribute("aria-label", "Why figures are undefined");
    for (const [reason, n] of this.reasons) {
      const item = el("li");
      item.value = n;
      item.append(el("span", "ma-notes__mark", `${n}`), ` undefined: ${reason}.`);
      list.append(item);
    }
    return list;
  }
}

/** What the tables say when no prediction has a reference label. */
function nothingCompared(data) {
  const reference = REFERENCES[data.reference];
  if (!data.predictions) return "This run has no predictions yet.";
  return (
    `None of the ${plural(data.predictions, "prediction")} has ${reference.one} ` +
    "to compare with yet."
  );
}

/* ---------- headline figures ---------- */

function card({ key, name, value, undefinedReason, ci, range, hint, tone }) {
  const item = el("li", `card metric ma-metric ma-metric--${key}`);
  if (tone) item.classList.add(`ma-metric--${tone}`);
  item.dataset.metric = key;
  if (value === null) item.classList.add("metric--undefined");
  item.append(el("h3", "metric__name", name));
  const row = el("p", "metric__value-row");
  row.append(el("span", "metric__value", value ?? "undefined"));
  item.append(row);
  if (value === null && undefinedReason) item.append(el("p", "metric__reason", undefinedReason));
  else if (ci) {
    const line = el("p", "metric__ci");
    line.append(...ci);
    item.append(line);
  }
  if (range) item.append(range);
  if (hint) item.append(el("p", "metric__hint", hint));
  return item;
}

/**
 * The accuracy's track, zoomed to the tenths around it and HLP (say 80–100%): its interval as a
 * band, itself as a dot, HLP as a dark tick.
 */
function accuracyRange(overall, hlp) {
  const values = [overall.accuracy_low ?? overall.accuracy, overall.accuracy];
  if (hlp !== null) values.push(hlp);
  const low = Math.max(0, Math.floor((Math.min(...values) - 0.02) * 10) / 10);
  const at = (v) => `${Math.max(0, Math.min(100, ((v - low) / (1 - low || 1)) * 100))}%`;
  const wrap = el("div", "ma-range-wrap");
  const track = el("div", "range ma-range");
  track.setAttribute("aria-hidden", "true");
  if (overall.accuracy_low !== null) {
    const band = el("span", "range__band");
    band.style.left = at(overall.accuracy_low);
    band.style.right = `calc(100% - ${at(overall.accuracy_high)})`;
    track.append(band);
  }
  if (hlp !== null) {
    const tick = el("span", "ma-range__hlp");
    tick.style.left = at(hlp);
    track.append(tick);
  }
  const dot = el("span", "range__dot");
  dot.style.left = at(overall.accuracy);
  track.append(dot);
  const scale = el("div", "ma-range__scale");
  scale.setAttribute("aria-hidden", "true");
  scale.append(el("span", null, pct(low)), el("span", null, "100%"));
  wrap.append(track, scale);
  return wrap;
}

function renderHeadline(data) {
  const { overall } = data;
  const hlp = data.hlp.value;
  const reference = REFERENCES[data.reference].name;
  const one = REFERENCES[data.reference].one;
  const gap = minus(hlp, overall.accuracy);
  const macro = overall.macro;
  const ciText = interval(overall.accuracy_low, overall.accuracy_high);
  const cards = [
    card({
      key: "accuracy",
      name: "Model accuracy",
      value: pct(overall.accuracy),
      undefinedReason: `no prediction has ${one} to compare with`,
      ci: ciText ? ["95% CI ", el("span", "num", ciText)] : null,
      range: overall.accuracy === null ? null : accuracyRange(overall, hlp),
      hint: `Against the ${reference} of ${plural(data.compared, "item")}.`,
    }),
    card({
      key: "hlp",
      name: "Human-level performance",
      value: pct(hlp),
      undefinedReason:
        data.reference === "gold"
          ? "no labeler accuracy on gold in the newest consistency report"
          : "no consistency report with labeler agreement yet",
      ci: ["HLP: ", HLP_SOURCES[data.hlp.source] ?? data.hlp.source],
      hint: "From the newest consistency report; the dark tick on the accuracy’s track.",
    }),
    card({
      key: "gap",
      name: "Gap to HLP",
      value: pct(gap),
      undefinedReason: "needs both the accuracy and HLP",
      tone: gap !== null && gap > 0 ? "warm" : null,
      hint:
        gap === null
          ? "HLP − model accuracy."
          : gap > 0
            ? "HLP − model accuracy: how far the model trails the humans."
            : "The model matches or beats HLP overall: look at the slices below.",
    }),
    card({
      key: "f1",
      name: "Macro F1",
      value: pct(macro.f1),
      undefinedReason: macro.reasons.f1 ?? "F1 is undefined for every class",
      ci: [
        "P ",
        el("span", "num", pct(macro.precision) ?? "undefined"),
        " · R ",
        el("span", "num", pct(macro.recall) ?? "undefined"),
      ],
      hint:
        `Mean over classes. Micro F1 ${pct(overall.micro.f1) ?? "undefined"}, ` +
        `weighted ${pct(overall.weighted.f1) ?? "undefined"}.`,
    }),
    card({
      key: "compared",
      name: "Compared",
      value: count(data.compared),
      ci: [
        "of ",
        el("span", "num", count(data.predictions)),
        data.predictions === 1 ? " prediction" : " predictions",
      ],
      tone: data.without_reference ? "note" : null,
      hint: data.without_reference
        ? `${plural(data.without_reference, "prediction")} without ${one}: ` +
          "left out of every figure."
        : `Every prediction has ${one}.`,
    }),
  ];
  ui.headline.replaceChildren(...cards);
}

/* ---------- prioritisation table ---------- */

function meter(value, max, text, tone = "") {
  const wrap = el("span", "meter-cell meter-cell--narrow");
  const track = el("span", "meter-cell__track");
  track.setAttribute("aria-hidden", "true");
  const bar = el("span", `meter-cell__bar ${tone}`);
  bar.style.width = `${max > 0 ? Math.max(0, Math.min(100, (100 * value) / max)) : 0}%`;
  track.append(bar);
  wrap.append(track, el("span", "num", text));
  return wrap;
}

function renderPriorities(data) {
  const rows = data.priorities;
  if (!data.compared) {
    ui.priorities.replaceChildren(empty(nothingCompared(data)));
    return;
  }
  if (!rows.length) {
    ui.priorities.replaceChildren(
      empty(
        "The items carry no slices (such as background or camera): add them in the items’ " +
          "import to compare the model slice by slice.",
      ),
    );
    return;
  }
  const notes = new Notes();
  const dimensions = new Set(rows.map((r) => r.slice)).size;
  const ranked = rows.filter((r) => !r.too_small && r.gap_x_share !== null);
  const best = ranked.length && ranked[0].gap_x_share > 0 ? ranked[0].gap_x_share : null;
  const maxWeighted = Math.max(0, ...ranked.map((r) => r.gap_x_share));
  const { wrap, body } = table("ma-priorities", "Slices ranked by gap to HLP times share of data", [
    th("Slice"),
    th("Value"),
    th("Items", { num: true }),
    th("Accuracy", { num: true, title: "The model’s accuracy on the slice, its 95% interval" }),
    th("HLP", { num: true, title: "Human-level performance on the slice" }),
    th("Gap to HLP", { num: true, wrap: true }),
    th("% of data", {
      num: true,
      wrap: true,
      title: "The slice’s share of the compared items in its dimension",
    }),
    th("Gap × share", { wrap: true, title: "What the whole would gain if the slice reached HLP" }),
  ]);
  for (const row of rows) {
    const tr = el("tr", "ma-priority");
    tr.dataset.slice = row.slice;
    tr.dataset.value = row.value;
    const top = best !== null && !row.too_small && row.gap_x_share === best;
    if (top) tr.classList.add("ma-row--top");
    if (row.too_small) tr.classList.add("ma-row--small");
    const name = el("th", "ma-slice-name", row.slice);
    name.scope = "row";
    const value = el("td", "ma-slice-value");
    value.dataset.col = "value";
    value.append(el("span", "ma-slice-value__text", row.value));
    if (top) value.append(el("span", "ma-flag ma-flag--top", "Where work pays most"));
    if (row.too_small) {
      value.append(
        el(
          "span",
          "ma-flag ma-flag--small",
          `Too small: ${plural(row.items, "item")}, fewer than ${state.minItems} — not ranked`,
        ),
      );
    }
    const accuracy = el("span", "ma-figure");
    accuracy.append(pct(row.accuracy));
    const ci = interval(row.accuracy_low, row.accuracy_high);
    if (ci) {
      const ciNode = el("span", "ma-ci", ci);
      ciNode.title = "95% interval (Wilson)";
      accuracy.append(ciNode);
    }
    tr.append(
      name,
      value,
      td(count(row.items), { num: true, col: "items" }),
      td(accuracy, { num: true, col: "accuracy" }),
      td(row.hlp === null ? notes.undefined(row.reason || "no HLP for this slice") : pct(row.hlp), {
        num: true,
        col: "hlp",
      }),
      td(row.gap === null ? notes.undefined(row.reason || "no HLP for this slice") : pct(row.gap), {
        num: true,
        col: "gap",
        className: row.gap !== null && row.gap < 0 ? "ma-negative" : "",
      }),
      td(pct(row.share), { num: true, col: "share" }),
      td(
        row.gap_x_share === null
          ? notes.undefined(row.reason || "no HLP for this slice")
          : meter(Math.max(0, row.gap_x_share), maxWeighted, pct(row.gap_x_share), "ma-bar--gain"),
        { col: "gap_x_share" },
      ),
    );
    body.append(tr);
  }
  const foot = el("p", "panel__foot muted ma-foot");
  const parts = [
    `Sorted by gap × share; slices with fewer than ${plural(state.minItems, "compared item")} ` +
      "come last, greyed, with their wide intervals.",
  ];
  if (dimensions > 1) parts.push("Share is within each slice dimension.");
  if (data.hlp.value === null && rows.every((r) => r.hlp === null)) {
    parts.push(
      data.reference === "gold"
        ? "No HLP on gold yet: the consistency report needs labels on gold items."
        : "No HLP yet: it comes from the newest consistency report — " +
          "compute one on the consistency dashboard.",
    );
  } else if (best === null && ranked.length) {
    parts.push("The model matches or beats HLP on every slice large enough to rank.");
  }
  foot.textContent = parts.join(" ");
  ui.priorities.replaceChildren(...[wrap, notes.list(), foot].filter(Boolean));
}

/* ---------- per-class metrics ---------- */

function errorsCell(row) {
  if (!row.fp && !row.fn) return el("span", "muted", "no errors");
  if (row.errors === "more false positives") {
    const pill = el("span", "ma-pill ma-pill--fp", "More false positives");
    pill.title =
      `${row.fp} false positives vs ${row.fn} false negatives: ` +
      `the model says ${className(row.class)} too often`;
    return pill;
  }
  if (row.errors === "more false negatives") {
    const pill = el("span", "ma-pill ma-pill--fn", "More false negatives");
    pill.title =
      `${row.fn} false negatives vs ${row.fp} false positives: ` +
      `the model misses ${className(row.class)}`;
    return pill;
  }
  return el("span", "muted", "balanced");
}

function renderClasses(data) {
  if (!data.compared) {
    ui.classes.replaceChildren(empty(nothingCompared(data)));
    return;
  }
  const notes = new Notes();
  const { wrap, table: node, body } = table("ma-classes", "Precision, recall and F1 per class", [
    th("Class"),
    th("Support", { num: true, title: "Items whose reference label is the class" }),
    th("Predicted", { num: true, title: "Items the model gave the class" }),
    th("TP", { num: true, title: "True positives" }),
    th("FP", { num: true, title: "False positives" }),
    th("FN", { num: true, title: "False negatives" }),
    th("Precision", { num: true }),
    th("Recall", { num: true }),
    th("F1", { num: true }),
    th("Errors"),
  ]);
  for (const row of data.classes) {
    const tr = el("tr", "ma-class");
    tr.dataset.class = row.class;
    if (row.rare) tr.classList.add("ma-row--rare");
    if (!row.support && !row.predicted) tr.classList.add("ma-row--absent");
    const name = el("th", "ma-class-name");
    name.scope = "row";
    name.append(className(row.class));
    if (row.rare) {
      const badge = el("span", "ma-flag ma-flag--rare", "rare");
      badge.title = "Under 5% of the reference labels: check it on its own, accuracy hides it";
      name.append(badge);
    }
    const reasons = row.reasons ?? {};
    tr.append(
      name,
      td(count(row.support), { num: true, col: "support" }),
      td(count(row.predicted), { num: true, col: "predicted" }),
      td(count(row.tp), { num: true, col: "tp" }),
      td(count(row.fp), { num: true, col: "fp", className: row.fp > row.fn ? "ma-hot" : "" }),
      td(count(row.fn), { num: true, col: "fn", className: row.fn > row.fp ? "ma-hot" : "" }),
      td(notes.figure(row.precision, reasons.precision), { num: true, col: "precision" }),
      td(notes.figure(row.recall, reasons.recall), { num: true, col: "recall" }),
      td(notes.figure(row.f1, reasons.f1), { num: true, col: "f1" }),
      td(errorsCell(row), { col: "errors" }),
    );
    body.append(tr);
  }
  const foot = el("tfoot");
  for (const [kind, label, title] of [
    ["macro", "Macro average", "The plain mean over classes with a defined figure"],
    ["micro", "Micro average", "From the summed TP, FP and FN of all classes"],
    ["weighted", "Weighted average", "The mean over classes weighted by support"],
  ]) {
    const average = data.overall[kind];
    const tr = el("tr", "ma-average");
    tr.dataset.average = kind;
    const name = th(label, { scope: "row", title });
    const blank = () => td("", { num: true });
    tr.append(
      name,
      blank(),
      blank(),
      blank(),
      blank(),
      blank(),
      td(notes.figure(average.precision, average.reasons.precision), {
        num: true,
        col: "precision",
      }),
      td(notes.figure(average.recall, average.reasons.recall), { num: true, col: "recall" }),
      td(notes.figure(average.f1, average.reasons.f1), { num: true, col: "f1" }),
      td(""),
    );
    foot.append(tr);
  }
  node.append(foot);
  if (!data.classes.length) {
    ui.classes.replaceChildren(empty("The project has no classes."));
    return;
  }
  ui.classes.replaceChildren(...[wrap, notes.list()].filter(Boolean));
}

/* ---------- confusion matrix ---------- */

/** Cell shade by the row-normalised share: blue on the diagonal (agreement), orange off it. */
function shade(share, diagonal) {
  if (!share) return { background: "", color: "" };
  const alpha = 0.1 + 0.85 * share;
  const rgb = diagonal ? "52 81 209" : "214 110 24";
  return { background: `rgb(${rgb} / ${alpha.toFixed(3)})`, color: alpha > 0.55 ? "#fff" : "" };
}

function renderConfusion(data) {
  const { labels, matrix } = data.confusion;
  const reference = REFERENCES[data.reference];
  if (!labels.length || !data.compared) {
    ui.confusion.replaceChildren(empty(nothingCompared(data)));
    return;
  }
  const wrap = el("div", "table-wrap ma-cm-wrap");
  const node = el("table", "ma-cm");
  node.id = "confusion-matrix";
  node.append(
    el(
      "caption",
      "visually-hidden",
      `Confusion matrix: rows are the ${reference.name}, columns the model’s labels; ` +
        "each cell counts items",
    ),
  );
  const head = el("thead");
  const axis = el("tr");
  const corner = el("td", "ma-cm__corner");
  corner.rowSpan = 2;
  corner.append(el("span", "ma-cm__axis-y", "Humans ↓"));
  const modelAxis = el("th", "ma-cm__axis", "Model →");
  modelAxis.colSpan = labels.length;
  modelAxis.scope = "colgroup";
  axis.append(corner, modelAxis, el("td", "ma-cm__corner"));
  const names = el("tr");
  for (const label of labels) {
    const cell = th(className(label), { title: `The model said ${className(label)}` });
    cell.className = "ma-cm__col";
    names.append(cell);
  }
  const totalHead = th("Items", { num: true });
  totalHead.className = "ma-cm__total-head";
  names.append(totalHead);
  head.append(axis, names);
  const body = el("tbody");
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    const tr = el("tr");
    tr.dataset.reference = labels[i];
    const name = th(className(labels[i]), {
      scope: "row",
      title: `The humans said ${className(labels[i])}`,
    });
    name.className = "ma-cm__row";
    tr.append(name);
    row.forEach((n, j) => {
      const diagonal = i === j;
      const share = total ? n / total : 0;
      const cell = el("td", "ma-cm__cell");
      if (diagonal) cell.classList.add("ma-cm__cell--diag");
      if (!n) cell.classList.add("ma-cm__cell--zero");
      cell.dataset.reference = labels[i];
      cell.dataset.model = labels[j];
      const { background, color } = shade(share, diagonal);
      cell.style.background = background;
      cell.style.color = color;
      const ofRow = total ? `, ${pct(share)} of the ${className(labels[i])} items` : "";
      const where = diagonal ? ", agreement" : "";
      cell.title =
        `Humans ${className(labels[i])}, model ${className(labels[j])}: ` +
        `${plural(n, "item")}${ofRow}${diagonal ? " (agreement)" : ""}`;
      cell.append(el("span", "ma-cm__count", count(n)));
      const spoken = `${total ? pct(share) : "no items"} of the row${where}`;
      cell.append(el("span", "visually-hidden", ` (${spoken})`));
      tr.append(cell);
    });
    tr.append(td(count(total), { num: true, className: "ma-cm__total" }));
    body.append(tr);
  });
  node.append(head, body);
  wrap.append(node);
  const legend = el("div", "ma-cm__legend");
  legend.setAttribute("aria-hidden", "true");
  legend.append(
    el("span", "ma-cm__swatch ma-cm__swatch--diag"),
    "agreement",
    el("span", "ma-cm__swatch ma-cm__swatch--off"),
    "confusion",
    el("span", "muted", " · darker: a larger share of the row"),
  );
  ui.confusion.replaceChildren(wrap, legend);
}

/* ---------- audit ---------- */

function renderAudit(data) {
  const audit = data.audit;
  const margin = pct(audit.margin);
  if (!audit.key_slices.length) {
    const box = el("div", "ma-howto");
    box.append(el("p", "ma-howto__title", "No key slices are set for this project."));
    const how = el("p", "muted");
    const dims = config.slice_names;
    how.append(
      "A manager marks the slice dimensions that matter (protected attributes, major user or " +
        "product categories) with ",
      el("code", null, `PATCH ${config.urls.project_api}`),
      " and a body such as ",
      el("code", null, JSON.stringify({ audit_slices: dims.length ? dims.slice(0, 2) : ["sex"] })),
      `; the optional audit_margin (now ${margin}) is how far below the whole a slice may ` +
        "fall before it is flagged.",
    );
    box.append(how);
    if (dims.length) {
      box.append(el("p", "muted", `This project’s items carry the slices: ${dims.join(", ")}.`));
    }
    ui.audit.replaceChildren(box);
    return;
  }
  const summary = el("p", "ma-audit__summary");
  summary.append(
    "Whole: accuracy ",
    el("strong", "num", pct(audit.whole.accuracy) ?? "undefined"),
    ", macro F1 ",
    el("strong", "num", pct(audit.whole.f1) ?? "undefined"),
    ` · flagged more than ${margin} below`,
  );
  if (!data.compared) {
    ui.audit.replaceChildren(empty(nothingCompared(data)));
    return;
  }
  if (!audit.rows.length) {
    ui.audit.replaceChildren(
      summary,
      empty(`None of the key slices (${audit.key_slices.join(", ")}) appear on this run’s items.`),
    );
    return;
  }
  const notes = new Notes();
  const { wrap, table: node, body: first } = table(
    "ma-audit",
    "Accuracy and macro precision, recall and F1 on the key slices",
    [
      th("Slice"),
      th("Value"),
      th("Items", { num: true }),
      th("Accuracy", { num: true }),
      th("P", { num: true, title: "Macro precision" }),
      th("R", { num: true, title: "Macro recall" }),
      th("F1", { num: true, title: "Macro F1" }),
    ],
  );
  first.remove();
  let warned = 0;
  const groups = new Map();
  for (const row of audit.rows) {
    if (!groups.has(row.slice)) groups.set(row.slice, []);
    groups.get(row.slice).push(row);
  }
  for (const [slice, rows] of groups) {
    const body = el("tbody", "slice-group");
    rows.forEach((row, index) => {
      const tr = el("tr", "ma-audit-row");
      tr.dataset.slice = row.slice;
      tr.dataset.value = row.value;
      if (index === 0) {
        const name = el("th", "ma-slice-name slice-group__name", slice);
        name.scope = "rowgroup";
        name.rowSpan = rows.length;
        tr.append(name);
      }
      const value = el("th", "ma-slice-value");
      value.scope = "row";
      value.append(el("span", "ma-slice-value__text", row.value));
      if (row.warning) {
        warned += 1;
        tr.classList.add("ma-row--warning");
        value.append(el("span", "ma-flag ma-flag--warning", `⚠ ${row.warning}`));
      }
      tr.append(
        value,
        td(count(row.items), { num: true }),
        td(notes.figure(row.accuracy, "no compared items"), { num: true, col: "accuracy" }),
        td(notes.figure(row.precision, "precision is undefined for every class"), { num: true }),
        td(notes.figure(row.recall, "recall is undefined for every class"), { num: true }),
        td(notes.figure(row.f1, "F1 is undefined for every class"), { num: true, col: "f1" }),
      );
      body.append(tr);
    });
    node.append(body);
  }
  const verdict = el(
    "p",
    `ma-audit__verdict${warned ? " ma-audit__verdict--warn" : ""}`,
    warned
      ? `${plural(warned, "slice")} below the whole by more than ${margin}.`
      : `No key slice falls more than ${margin} below the whole.`,
  );
  ui.audit.replaceChildren(...[summary, verdict, wrap, notes.list()].filter(Boolean));
}

/* ---------- agreement by week ---------- */

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A small line of weekly agreement with its interval as a band (and HLP as a dashed line). */
function weekChart(weeks, hlp) {
  const width = 640;
  const height = 190;
  const pad = { left: 44, right: 64, top: 12, bottom: 30 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const defined = weeks.filter((w) => w.agreement !== null);
  const lows = defined.map((w) => w.low ?? w.agreement);
  if (hlp !== null) lows.push(hlp);
  const yMin = Math.max(0, Math.floor((Math.min(...lows) - 0.02) * 10) / 10);
  const y = (v) => pad.top + plotH * (1 - (v - yMin) / (1 - yMin || 1));
  const x = (i) => pad.left + (weeks.length === 1 ? plotW / 2 : (i * plotW) / (weeks.length - 1));
  const title = "Model–human agreement by week";
  const chart = svg("svg", {
    class: "ma-weeks-chart",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": "weeks-chart-title weeks-chart-desc",
  });
  chart.append(svg("title", { id: "weeks-chart-title" }, title));
  chart.append(
    svg(
      "desc",
      { id: "weeks-chart-desc" },
      defined.map((w) => `Week of ${weekName(w.week)}: ${pct(w.agreement)}`).join("; "),
    ),
  );
  const step = 1 - yMin > 0.5 ? 0.2 : 1 - yMin > 0.2 ? 0.1 : 0.05;
  for (let v = 1; v >= yMin - 1e-9; v -= step) {
    const yy = y(v);
    const [x1, x2] = [pad.left, width - pad.right];
    chart.append(svg("line", { class: "chart__grid", x1, x2, y1: yy, y2: yy }));
    const label = pct(Math.round(v * 100) / 100);
    chart.append(svg("text", { class: "chart__tick", x: x1 - 6, y: yy, ...END }, label));
  }
  if (hlp !== null) {
    const [x1, x2, yy] = [pad.left, width - pad.right, y(hlp)];
    chart.append(svg("line", { class: "ma-weeks-chart__hlp", x1, x2, y1: yy, y2: yy }));
    const label = { class: "ma-weeks-chart__hlp-label", x: x2 + 8, y: yy, ...MIDDLE_LEFT };
    chart.append(svg("text", label, `HLP ${pct(hlp)}`));
  }
  // Runs of consecutive weeks with a figure: a week without compared items breaks the line.
  const runs = [];
  let current = [];
  weeks.forEach((w, i) => {
    if (w.agreement === null) {
      if (current.length) runs.push(current);
      current = [];
    } else current.push(i);
  });
  if (current.length) runs.push(current);
  for (const indexes of runs) {
    const upper = indexes.map((i) => `${x(i)},${y(weeks[i].high ?? weeks[i].agreement)}`);
    const lower = indexes.map((i) => `${x(i)},${y(weeks[i].low ?? weeks[i].agreement)}`).reverse();
    if (indexes.length === 1) {
      const i = indexes[0];
      const [top, bottom] = [y(weeks[i].high), y(weeks[i].low)];
      const box = { x: x(i) - 6, y: top, width: 12, height: Math.max(1, bottom - top), rx: 3 };
      chart.append(svg("rect", { class: "ma-weeks-chart__band", ...box }));
    } else {
      const line = indexes.map((i) => `${x(i)},${y(weeks[i].agreement)}`).join(" ");
      const band = [...upper, ...lower].join(" ");
      chart.append(svg("polygon", { class: "ma-weeks-chart__band", points: band }));
      chart.append(svg("polyline", { class: "ma-weeks-chart__line", points: line }));
    }
  }
  const every = Math.ceil(weeks.length / 8);
  weeks.forEach((w, i) => {
    if (i % every === 0 || i === weeks.length - 1) {
      const at = { class: "chart__tick", x: x(i), y: height - 10, "text-anchor": "middle" };
      chart.append(svg("text", at, weekName(w.week, { year: false })));
    }
    if (w.agreement === null) return;
    const dot = svg("circle", { class: "ma-weeks-chart__dot", cx: x(i), cy: y(w.agreement), r: 4 });
    const tip =
      `Week of ${weekName(w.week)}: ${pct(w.agreement)} agreement ` +
      `(95% interval ${interval(w.low, w.high)}) on ${plural(w.compared, "item")}`;
    dot.append(svg("title", {}, tip));
    chart.append(dot);
  });
  return chart;
}

function renderWeeks(data) {
  if (!ui.weeks) return;
  const weeks = data.weeks;
  if (!weeks.length) {
    ui.weeks.replaceChildren(empty("No predictions yet."));
    return;
  }
  const { wrap, body } = table("ma-weeks", "Model–human agreement per week", [
    th("Week of"),
    th("Predictions", { num: true }),
    th("Compared", { num: true }),
    th("Agreement", { num: true }),
    th("95% interval", { num: true }),
  ]);
  for (const w of weeks) {
    const tr = el("tr");
    tr.dataset.week = w.week;
    const name = th(weekName(w.week), { scope: "row" });
    const time = el("time", null, name.textContent);
    time.dateTime = w.week;
    name.replaceChildren(time);
    tr.append(
      name,
      td(count(w.predictions), { num: true }),
      td(count(w.compared), { num: true }),
      td(
        w.agreement === null
          ? Object.assign(el("span", "muted", "—"), {
              title: `No prediction that week has ${REFERENCES[data.reference].name}`,
            })
          : pct(w.agreement),
        { num: true, col: "agreement" },
      ),
      td(interval(w.low, w.high) ?? "—", { num: true }),
    );
    body.append(tr);
  }
  const layout = el("div", "ma-weeks-layout");
  const figure = el("div", "ma-weeks-figure");
  if (weeks.some((w) => w.agreement !== null)) figure.append(weekChart(weeks, data.hlp.value));
  else figure.append(empty(`No week has predictions with ${REFERENCES[data.reference].name} yet.`));
  layout.append(figure, wrap);
  ui.weeks.replaceChildren(layout);
}

/* ---------- loading and the controls ---------- */

function query() {
  return new URLSearchParams({
    reference: state.reference,
    min_slice_items: String(state.minItems),
  });
}

function syncControls() {
  for (const radio of ui.controls.elements.reference) {
    radio.checked = radio.value === state.reference;
  }
  ui.minItems.value = String(state.minItems);
  ui.referenceHint.textContent = REFERENCES[state.reference].hint;
  const search = query().toString();
  for (const link of document.querySelectorAll("a.ma-csv")) {
    link.href = `${config.urls.csv[link.dataset.table]}?${search}`;
  }
}

function render(data) {
  renderHeadline(data);
  renderPriorities(data);
  renderClasses(data);
  renderConfusion(data);
  renderAudit(data);
  renderWeeks(data);
}

async function load() {
  const seq = ++state.seq;
  ui.analysis.setAttribute("aria-busy", "true");
  ui.analysis.classList.add("ma-analysis--loading");
  ui.error.hidden = true;
  showStatus(ui.status, `Comparing with ${REFERENCES[state.reference].name}…`);
  try {
    const data = await apiFetch(`${config.urls.analysis}?${query()}`);
    if (seq !== state.seq) return;
    render(data);
    ui.analysis.dataset.reference = data.reference;
    showStatus(ui.status, "");
  } catch (error) {
    if (seq !== state.seq) return;
    showStatus(ui.status, "");
    ui.errorMessage.textContent = `The analysis could not be loaded. ${error.message}`;
    ui.error.hidden = false;
  } finally {
    if (seq === state.seq) {
      ui.analysis.setAttribute("aria-busy", "false");
      ui.analysis.classList.remove("ma-analysis--loading");
    }
  }
}

/** The controls' values into the state and the URL (a new history entry), then a new analysis. */
function apply() {
  const reference = ui.controls.elements.reference.value;
  const minItems = Number(ui.minItems.value);
  if (!Number.isInteger(minItems) || minItems < MIN_ITEMS.low || minItems > MIN_ITEMS.high) {
    ui.minItems.setAttribute("aria-invalid", "true");
    const range = `${MIN_ITEMS.low} to ${count(MIN_ITEMS.high)}`;
    showStatus(ui.status, `Give a whole number of items from ${range}.`, { error: true });
    ui.minItems.focus();
    return;
  }
  ui.minItems.removeAttribute("aria-invalid");
  if (reference === state.reference && minItems === state.minItems) return;
  state.reference = reference;
  state.minItems = minItems;
  syncControls();
  history.pushState(null, "", `${location.pathname}?${query()}`);
  load();
}

/** Back and forward: the URL's values (the server's defaults when it has none). */
function fromLocation() {
  const params = new URLSearchParams(location.search);
  const reference = params.get("reference");
  const minItems = Number(params.get("min_slice_items"));
  state.reference = reference in REFERENCES ? reference : config.reference;
  state.minItems =
    Number.isInteger(minItems) && minItems >= MIN_ITEMS.low && minItems <= MIN_ITEMS.high
      ? minItems
      : config.default_min_slice_items;
}

ui.controls.addEventListener("submit", (event) => {
  event.preventDefault();
  apply();
});
ui.controls.addEventListener("change", (event) => {
  if (event.target.name === "reference") apply();
});
ui.retry.addEventListener("click", load);
window.addEventListener("popstate", () => {
  fromLocation();
  syncControls();
  load();
});

syncControls();
load();
