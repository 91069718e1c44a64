/**
 * The review of one disputed item: the item, every label with its labeler and their reliability,
 * flags, the consensus, the discussion, and the decision.
 *
 * Rules that matter here, and why:
 * - Decisions never overwrite each other. A decision names the one it revises; when someone else
 *   decided first the API answers 409 with their decision, which is shown as it stands, and
 *   "Revise it" resubmits naming it — a conscious choice, never a silent overwrite.
 * - Comments are markdown-lite, rendered here by a tiny renderer that escapes HTML first and then
 *   adds only its own tags (strong, em, code, br, a mention span). Everything else from the
 *   server goes into the page with textContent.
 * - The queue filters ride along in the query string, so "Next item in queue" stays in the queue
 *   the SME came from.
 * - A transcription project's item (``config.task_type``) shows each labeler's transcript as
 *   text with a word diff against the consensus transcript, and its decision is a final
 *   transcript typed in a textarea (prefilled, "Use this" copies a labeler's) instead of a class.
 */

import {
  $,
  DATE_TIME,
  FLAG_KINDS,
  QUEUE_FILTER_KEYS,
  ago,
  apiFetch,
  classLookup,
  el,
  escapeHtml,
  itemThumbnail,
  plural,
  readConfig,
  showStatus,
} from "./api.js";

const config = readConfig("review-item-config");

const ui = {
  review: $("review"),
  eyebrow: $("item-eyebrow"),
  facts: $("item-facts"),
  status: $("page-status"),
  error: $("page-error"),
  errorMessage: $("page-error-message"),
  retry: $("page-retry"),
  backToQueue: $("back-to-queue"),
  crumbQueue: $("crumb-queue"),
  skip: $("skip-item"),
  stage: $("stage"),
  labels: $("labels"),
  labelCounts: $("label-counts"),
  flagsPanel: $("flags-panel"),
  flags: $("flags"),
  consensus: $("consensus"),
  comments: $("comments"),
  commentsEmpty: $("comments-empty"),
  threadCount: $("thread-count"),
  commentForm: $("comment-form"),
  commentBody: $("comment-body"),
  commentSubmit: $("comment-submit"),
  commentError: $("comment-error"),
  mentionList: $("mention-list"),
  decisionPanel: $("decision-panel"),
  decisionReadonly: $("decision-readonly"),
  decisionCurrent: $("decision-current"),
  decisionForm: $("decision-form"),
  decisionLabel: $("decision-label"), // classification only
  decisionText: $("decision-text"), // transcription only
  decisionTokens: $("decision-tokens"), // transcription only
  decisionReason: $("decision-reason"),
  decisionError: $("decision-error"),
  decisionSubmit: $("decision-submit"),
  conflict: $("decision-conflict"),
  conflictText: $("decision-conflict-text"),
  revise: $("decision-revise"),
  keep: $("decision-keep"),
  done: $("decision-done"),
  doneText: $("decision-done-text"),
  nextItem: $("next-item"),
  history: $("history"),
  historyEmpty: $("history-empty"),
  sameHint: $("same-hint"),
  samePair: $("same-pair"),
};

const { name: className, tone: toneOf } = classLookup(config.classes);
const classOrder = (key) => config.classes.findIndex((c) => c.key === key);
/** "Clean vs Scratch", in class order as the queue writes pairs (the review API lists the pair
 * in the order the labels came). */
const pairText = (pair) => {
  const [a, b] = [...pair].sort((x, y) => classOrder(x) - classOrder(y));
  return `${className(a)} vs ${className(b)}`;
};
const members = new Set(config.members);
const transcription = config.task_type === "transcription";

const state = {
  review: null, // the last answer of the review API
  current: null, // the item's current decision, if any
  conflict: null, // the decision that stood when ours was refused (409)
  pending: null, // the body of the decision being submitted, for "Revise it"
  textFilled: false, // the final transcript was prefilled once (later loads keep the edits)
  busy: false,
};

/* ---------- API ---------- */

// Errors are api.js's ApiErrors: ``code`` (409 already_decided carries the standing decision in
// ``details``) and ``field`` (the input a refusal names).
const request = (method, url, body) => apiFetch(url, { method, body });

const withId = (template, id) => template.replace(config.urls.id_placeholder, String(id));

/* ---------- small formatting helpers ---------- */

const percent = (value) => (value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`);

/** "just now", "1 minute ago", "3 hours ago", "yesterday", or (a week on) a date. */
function timeElement(iso) {
  const time = el("time", "ri-time", ago(iso, { dateAfterDays: 7 }));
  time.dateTime = iso;
  time.title = DATE_TIME.format(new Date(iso));
  return time;
}

function avatar(name) {
  const span = el("span", "avatar avatar--sm", (name || "?").slice(0, 1).toUpperCase());
  span.setAttribute("aria-hidden", "true");
  return span;
}

function classBadge(key) {
  const badge = el("span", `ri-class ${toneOf(key)}`, className(key));
  badge.dataset.label = key;
  return badge;
}

const OUTCOME_TEXT = {
  label: "Final label",
  input_insufficient: "Input lacks information",
  instructions_ambiguous: "Instructions ambiguous",
};

/** A transcript in quotes, cut to ``max`` characters for one-line summaries. */
function quoted(text, max = 80) {
  if (!text) return "an empty transcript";
  return `“${text.length > max ? `${text.slice(0, max - 1)}…` : text}”`;
}

/** What a decision says, in a few words: "‘Scratch’", "“turn left”" or "input lacks
 * information". */
function decisionWhat(decision) {
  if (decision.outcome === "label" && transcription) return quoted(decision.text);
  if (decision.outcome === "label") return `‘${className(decision.label)}’`;
  return (OUTCOME_TEXT[decision.outcome] ?? decision.outcome).toLowerCase();
}

/* ---------- markdown-lite ---------- */

/**
 * **bold**, *italic*, `code`, line breaks and @mentions of ``known`` names, as HTML.
 * HTML in ``text`` is escaped before any tag is added, and the only tags added are fixed ones,
 * so nothing a commenter types becomes markup. Code spans are set aside first, so nothing
 * inside them is formatted.
 */
function renderMarkdown(text, known) {
  const codes = [];
  let html = escapeHtml(text.replace(/\u0000/g, ""));
  html = html.replace(/`([^`\n]+)`/g, (_, code) => {
    codes.push(code);
    return `\u0000${codes.length - 1}\u0000`;
  });
  html = html.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>");
  html = html.replace(/(^|[^*\w])\*(?=\S)([^*\n]*?\S)\*(?![*\w])/g, "$1<em>$2</em>");
  html = html.replace(/(^|[^\w.])@([\w.@+-]+)/g, (match, before, name) => {
    const clean = name.replace(/\.+$/, ""); // a mention at the end of a sentence
    if (!known.has(clean)) return match;
    return `${before}<span class="mention">@${clean}</span>${name.slice(clean.length)}`;
  });
  html = html.replace(/\n/g, "<br>");
  return html.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${codes[Number(i)]}</code>`);
}

/* ---------- word diff (transcripts) ---------- */

/** Beyond this many word pairs (the LCS table's cells) a transcript is shown without a diff:
 * two 2,000-word transcripts, far longer than a clip a labeler transcribes at once. */
const DIFF_MAX_CELLS = 4_000_000;

const words = (text) => (text || "").split(/\s+/).filter(Boolean);

/**
 * The word-level diff of ``text`` against ``base``: ``[["same"|"ins"|"del", word], ...]``, from
 * a longest common subsequence of the two word lists (dynamic programming, O(n·m) time and
 * space; ``lcs[i][j]`` = LCS length of ``a[i:]`` and ``b[j:]``). Words are compared exactly, as
 * the labelers typed them; "ins" is a word of ``text`` missing from ``base``, "del" a word of
 * ``base`` that ``text`` leaves out. A substitution reads as a deletion then an insertion.
 * ``null`` when the texts are too long to compare (see DIFF_MAX_CELLS).
 */
export function wordDiff(base, text) {
  const a = words(base);
  const b = words(text);
  const n = a.length;
  const m = b.length;
  if ((n + 1) * (m + 1) > DIFF_MAX_CELLS) return null;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push(["same", b[j]]);
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      ops.push(["del", a[i++]]);
    } else {
      ops.push(["ins", b[j++]]);
    }
  }
  while (i < n) ops.push(["del", a[i++]]);
  while (j < m) ops.push(["ins", b[j++]]);
  return ops;
}

/** A transcript as text, its words marked up against the consensus (ins/del elements; the
 * words go in as text nodes, never as HTML). */
function transcriptElement(text, base) {
  const box = el("p", "rt-text");
  if (!text) {
    box.append(el("span", "muted", "(empty transcript)"));
    return box;
  }
  const ops = typeof base === "string" ? wordDiff(base, text) : null;
  if (!ops) {
    box.textContent = text;
    return box;
  }
  ops.forEach(([kind, word], index) => {
    if (index) box.append(" ");
    if (kind === "same") box.append(word);
    else box.append(el(kind, `rt-${kind}`, word));
  });
  const changes = ops.filter(([kind]) => kind !== "same").length;
  box.dataset.changes = String(changes);
  return box;
}

/* ---------- page state ---------- */

const say = (text, options) => showStatus(ui.status, text, options);

function showError(message) {
  ui.errorMessage.textContent = message;
  ui.error.hidden = false;
}

function queueFilters() {
  const params = new URLSearchParams(location.search);
  const filters = new URLSearchParams();
  for (const key of QUEUE_FILTER_KEYS) {
    const value = params.get(key);
    if (value) filters.set(key, value);
  }
  return filters;
}

function queueHref() {
  const query = queueFilters().toString();
  return query ? `${config.urls.queue_page}?${query}` : config.urls.queue_page;
}

function itemHref(itemId) {
  const query = queueFilters().toString();
  const base = withId(config.urls.item_page, itemId);
  return query ? `${base}?${query}` : base;
}

/* ---------- loading ---------- */

async function load() {
  ui.error.hidden = true;
  ui.review.setAttribute("aria-busy", "true");
  try {
    const review = await request("GET", config.urls.review);
    state.review = review;
    state.current = review.decisions.find((d) => d.current) ?? null;
    render(review);
  } catch (error) {
    showError(`The item could not be loaded: ${error.message}`);
  } finally {
    ui.review.setAttribute("aria-busy", "false");
  }
}

function render(review) {
  renderHeader(review);
  renderStage(review.item);
  renderLabels(review);
  renderFlags(review.flags);
  renderConsensus();
  renderDecisionPanel(review);
  renderHistory(review.decisions);
  renderSamePair(review);
  renderComments(review.comments);
}

function renderHeader(review) {
  const item = review.item;
  const old = item.round !== config.project.current_round;
  ui.eyebrow.textContent = `Review · Round ${item.round}${old ? " (an earlier round)" : ""}`;
  const facts = [];
  if (review.pair && !transcription) facts.push(pairText(review.pair));
  for (const [key, value] of Object.entries(item.slices || {})) facts.push(`${key}: ${value}`);
  if (item.gold) facts.push(`gold: ${className(item.gold)}`);
  facts.push(plural(item.labels_done, "label") + " in this round");
  ui.facts.textContent = facts.join(" · ");
}

function renderStage(item) {
  // A reload (after a decision) keeps the player as it is, so listening is not interrupted.
  if (item.kind === "audio" && ui.stage.dataset.itemId === String(item.id)) return;
  ui.stage.replaceChildren();
  ui.stage.dataset.kind = item.kind;
  if (item.kind === "audio" && item.audio) {
    ui.stage.dataset.itemId = String(item.id);
    const player = el("div", "ri-stage__audio");
    const audio = el("audio");
    audio.id = "item-audio";
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = item.audio;
    audio.setAttribute("aria-label", `The clip of ${item.external_id}`);
    audio.addEventListener("error", () => {
      audio.replaceWith(el("p", "ri-stage__missing", "The clip could not be loaded."));
    });
    player.append(audio);
    ui.stage.append(player);
    if (item.text) ui.stage.append(el("p", "ri-stage__caption", item.text));
  } else if (item.kind === "image" && item.image) {
    const link = el("a", "ri-stage__image");
    link.href = item.image;
    link.target = "_blank";
    link.rel = "noopener";
    link.title = "Open the full-size image";
    const img = el("img");
    img.src = item.image;
    img.alt = `Item ${item.external_id}`;
    img.id = "item-image";
    img.addEventListener("error", () => {
      link.replaceWith(el("p", "ri-stage__missing", "The image could not be loaded."));
    });
    link.append(img);
    ui.stage.append(link);
    if (item.text) ui.stage.append(el("p", "ri-stage__caption", item.text));
  } else {
    ui.stage.append(el("div", "ri-stage__text", item.text || "(This item has no text.)"));
  }
}

function renderLabels(review) {
  ui.labels.replaceChildren();
  ui.labelCounts.replaceChildren();
  if (transcription) {
    renderTranscripts(review);
    return;
  }
  for (const [key, n] of Object.entries(review.counts).sort((a, b) => b[1] - a[1])) {
    const chip = el("span", "chip");
    chip.append(className(key), " ", el("b", null, String(n)));
    ui.labelCounts.append(chip);
  }
  if (!review.labels.length) {
    ui.labels.append(el("p", "panel__empty muted", "No labels yet."));
    return;
  }
  const rounds = [...new Set(review.labels.map((l) => l.round))].sort((a, b) => b - a);
  for (const number of rounds) {
    const current = number === review.item.round;
    const group = el("div", `ri-round${current ? "" : " ri-round--earlier"}`);
    group.dataset.round = String(number);
    const title = el("h3", "ri-round__title", `Round ${number}`);
    title.append(
      el("span", `ri-round__tag${current ? " ri-round__tag--current" : ""}`, current ? "current" : "earlier round"),
    );
    group.append(title);
    const table = el("table", "data-table ri-label-table");
    const caption = el("caption", "visually-hidden", `Labels in round ${number}`);
    const head = table.createTHead().insertRow();
    for (const [text, numeric] of [
      ["Labeler", false],
      ["Label", false],
      ["Agreement with others", true],
      ["Gold accuracy", true],
      ["Time", true],
    ]) {
      const th = el("th", numeric ? "num" : "", text);
      th.scope = "col";
      head.append(th);
    }
    table.prepend(caption);
    const body = table.createTBody();
    for (const label of review.labels.filter((l) => l.round === number)) {
      const row = body.insertRow();
      row.dataset.labeler = label.labeler;
      const who = el("th");
      who.scope = "row";
      who.append(avatar(label.labeler), label.labeler);
      row.append(who);
      row.insertCell().append(classBadge(label.label));
      const reliability = label.reliability ?? {};
      const agreement = row.insertCell();
      agreement.className = "num";
      agreement.textContent = percent(reliability.agreement_with_others);
      const gold = row.insertCell();
      gold.className = "num";
      gold.textContent = percent(reliability.gold_accuracy);
      if (label.reliability) {
        const ds = percent(reliability.dawid_skene_accuracy);
        row.title = `${label.labeler}: ${reliability.labels ?? "?"} labels in the report · Dawid–Skene accuracy ${ds}`;
      } else {
        row.title = `${label.labeler} is not in the newest consistency report yet`;
      }
      const time = row.insertCell();
      time.className = "num muted";
      time.textContent = label.time_spent_ms === null ? "—" : `${(label.time_spent_ms / 1000).toFixed(1)} s`;
    }
    const wrap = el("div", "table-wrap");
    wrap.append(table);
    group.append(wrap);
    ui.labels.append(group);
  }
}

/** Each round's transcripts with their labelers, diffed against the consensus transcript, with
 * "Use this" (copies one into the final transcript) where the viewer may decide. */
function renderTranscripts(review) {
  const current = review.labels.filter((l) => l.round === review.item.round);
  if (current.length) {
    const distinct = new Set(current.map((l) => l.text ?? "")).size;
    const chip = el("span", "chip");
    chip.append(el("b", null, String(distinct)), ` distinct of ${current.length}`);
    ui.labelCounts.append(chip);
  }
  if (!review.labels.length) {
    ui.labels.append(el("p", "panel__empty muted", "No transcripts yet."));
    return;
  }
  const base = config.consensus && review.item.round === config.consensus.round ? config.consensus.text : null;
  const canDecide = review.can_decide && config.can_decide;
  const rounds = [...new Set(review.labels.map((l) => l.round))].sort((a, b) => b - a);
  for (const number of rounds) {
    const isCurrent = number === review.item.round;
    const group = el("div", `ri-round${isCurrent ? "" : " ri-round--earlier"}`);
    group.dataset.round = String(number);
    const title = el("h3", "ri-round__title", `Round ${number}`);
    title.append(
      el("span", `ri-round__tag${isCurrent ? " ri-round__tag--current" : ""}`, isCurrent ? "current" : "earlier round"),
    );
    group.append(title);
    const list = el("ol", "rt-list");
    list.setAttribute("aria-label", `Transcripts in round ${number}`);
    for (const label of review.labels.filter((l) => l.round === number)) {
      const li = el("li", "rt-row");
      li.dataset.labeler = label.labeler;
      const head = el("div", "rt-row__head");
      const who = el("strong", "rt-row__who");
      who.append(avatar(label.labeler), label.labeler);
      head.append(who);
      if (label.time_spent_ms !== null && label.time_spent_ms !== undefined) {
        head.append(el("span", "muted rt-row__time", `${(label.time_spent_ms / 1000).toFixed(1)} s`));
      }
      // Earlier rounds were labeled against another consensus: shown without a diff.
      const text = transcriptElement(label.text ?? "", isCurrent ? base : null);
      if (isCurrent && base !== null && text.dataset.changes === "0") {
        head.append(el("span", "level level--good", "same as consensus"));
      }
      if (canDecide) {
        const use = el("button", "btn btn--secondary btn--sm rt-use", "Use this");
        use.type = "button";
        use.setAttribute("aria-label", `Use ${label.labeler}'s transcript`);
        use.addEventListener("click", () => useTranscript(label.text ?? ""));
        head.append(use);
      }
      li.append(head, text);
      list.append(li);
    }
    group.append(list);
    ui.labels.append(group);
  }
}

function renderFlags(flags) {
  ui.flags.replaceChildren();
  ui.flagsPanel.hidden = !flags.length;
  for (const flag of flags) {
    const li = el("li", "ri-flag");
    const icon = el("span", `rq-flag rq-flag--${flag.kind}`, "⚑");
    icon.setAttribute("aria-hidden", "true");
    const text = el("div", "ri-flag__text");
    const head = el("p", "ri-flag__head");
    head.append(el("strong", null, FLAG_KINDS[flag.kind] ?? flag.kind), ` · ${flag.labeler} · `, timeElement(flag.created_at));
    text.append(head);
    if (flag.note) text.append(el("p", "ri-flag__note", `“${flag.note}”`));
    li.append(icon, text);
    ui.flags.append(li);
  }
}

function renderTranscriptConsensus() {
  const computed = config.consensus;
  const decision = state.current;
  if (decision) {
    const box = el("div", "ri-consensus__main");
    if (decision.outcome === "label") {
      box.append(el("span", "level level--good", "reviewed"));
      ui.consensus.append(box, transcriptElement(decision.text, null));
      ui.consensus.lastChild.id = "decided-text";
    } else {
      box.append(el("span", "ri-consensus__label ri-consensus__label--muted", OUTCOME_TEXT[decision.outcome]));
      ui.consensus.append(box);
    }
    const by = el("p", "ri-consensus__meta muted");
    by.append(`Decided by ${decision.decided_by} `, timeElement(decision.decided_at));
    ui.consensus.append(by);
    if (decision.outcome === "input_insufficient") {
      ui.consensus.append(el("p", "ri-consensus__meta muted", "Left out of the export by default, and listed for the data owner."));
    }
  }
  if (!computed || !computed.n_labels) {
    if (!decision) ui.consensus.append(el("p", "muted", "No consensus yet: the item needs transcripts from two labelers or more."));
    return;
  }
  const line = el("div", decision ? "ri-consensus__computed" : "ri-consensus__main");
  line.append(el("span", decision ? "muted" : "rt-consensus__title", decision ? "Consensus from the transcripts:" : "Consensus transcript"));
  if (!decision) line.append(el("span", "level level--tentative", computed.tied ? "tied" : "disputed"));
  ui.consensus.append(line);
  const text = transcriptElement(computed.text, null);
  text.id = "consensus-text";
  text.classList.add("rt-text--consensus");
  ui.consensus.append(text);
  const share = el("p", "ri-consensus__meta");
  share.id = "consensus-share";
  share.append(
    el("strong", null, percent(computed.majority_share)),
    ` of ${plural(computed.n_labels, "transcript")} match it`,
  );
  const wer = el("p", "ri-consensus__meta");
  wer.id = "consensus-wer";
  wer.title = "Word error rate between the item's transcripts, pooled over every pair: Σ 2·edits / Σ (words a + words b)";
  wer.append("Word error rate between labelers ", el("strong", null, percent(computed.word_error_rate)));
  ui.consensus.append(share, wer, el("p", "ri-consensus__meta muted", computed.method_name));
}

function renderConsensus() {
  ui.consensus.replaceChildren();
  if (transcription) {
    renderTranscriptConsensus();
    return;
  }
  const computed = config.consensus;
  const decision = state.current;
  if (decision) {
    const box = el("div", "ri-consensus__main");
    if (decision.outcome === "label") {
      box.append(el("span", "ri-consensus__label", className(decision.label)));
      box.append(el("span", "level level--good", "reviewed"));
    } else {
      box.append(el("span", "ri-consensus__label ri-consensus__label--muted", OUTCOME_TEXT[decision.outcome]));
    }
    ui.consensus.append(box);
    const by = el("p", "ri-consensus__meta muted");
    by.append(`Decided by ${decision.decided_by} `, timeElement(decision.decided_at));
    ui.consensus.append(by);
    if (decision.outcome === "input_insufficient") {
      ui.consensus.append(el("p", "ri-consensus__meta muted", "Left out of the export by default, and listed for the data owner."));
    }
  }
  if (!computed || !computed.label) {
    if (!decision) ui.consensus.append(el("p", "muted", "No consensus yet: the item needs labels from two labelers or more."));
    return;
  }
  const line = el("div", decision ? "ri-consensus__computed" : "ri-consensus__main");
  if (decision) line.append(el("span", "muted", "Computed from the labels: "));
  line.append(el("span", decision ? "" : "ri-consensus__label", className(computed.label)));
  if (!decision) line.append(el("span", "level level--tentative", computed.tied ? "tied" : "disputed"));
  ui.consensus.append(line);
  const facts = [
    computed.method_name,
    `majority ${percent(computed.majority_share)}`,
    `confidence ${percent(computed.confidence)}`,
    plural(computed.n_labels, "label"),
  ];
  ui.consensus.append(el("p", "ri-consensus__meta muted", facts.join(" · ")));
}

/* ---------- decisions ---------- */

function renderDecisionPanel(review) {
  const canDecide = review.can_decide && config.can_decide;
  ui.decisionPanel.hidden = !canDecide;
  ui.decisionReadonly.hidden = canDecide;
  if (!canDecide) return;
  if (transcription) {
    if (!state.textFilled) {
      // A revision starts from the transcript that stands, a first decision from the consensus.
      const standing = state.current?.outcome === "label" ? state.current.text : null;
      ui.decisionText.value = standing ?? config.consensus?.text ?? "";
      state.textFilled = true;
    }
  } else if (!ui.decisionLabel.options.length) {
    // Every class, the borderline one included; the most chosen first would bias: keep the order.
    for (const cls of config.classes) {
      const option = el("option", null, cls.kind === "borderline" ? `${cls.name} (borderline)` : cls.name);
      option.value = cls.key;
      ui.decisionLabel.append(option);
    }
    const top = Object.entries(review.counts).sort((a, b) => b[1] - a[1])[0];
    if (top) ui.decisionLabel.value = top[0];
  }
  renderCurrentDecision();
}

function renderCurrentDecision() {
  const current = state.current;
  ui.decisionCurrent.hidden = !current || ui.decisionForm.hidden;
  ui.decisionCurrent.replaceChildren();
  if (current) {
    ui.decisionCurrent.append(
      `${current.decided_by} decided ${decisionWhat(current)} `,
      timeElement(current.decided_at),
      ". A new decision revises it (the history is kept).",
    );
  }
  ui.decisionSubmit.textContent = current ? "Revise the decision" : "Record decision";
}

/** The form, with the note on the decision it would revise; hidden while a conflict or a
 * confirmation is shown. */
function showForm(visible) {
  ui.decisionForm.hidden = !visible;
  ui.decisionCurrent.hidden = !visible || !state.current;
}

function syncOutcome() {
  const outcome = ui.decisionForm.elements.outcome.value;
  if (transcription) {
    ui.decisionText.disabled = outcome !== "label";
    for (const button of ui.decisionTokens.querySelectorAll("button")) button.disabled = outcome !== "label";
  } else {
    ui.decisionLabel.disabled = outcome !== "label";
  }
}

function decisionBody() {
  const outcome = ui.decisionForm.elements.outcome.value;
  const body = { outcome, reason: ui.decisionReason.value.trim() };
  // The transcript goes as typed (the decision keeps the exact text, like a labeler's).
  if (outcome === "label" && transcription) body.text = ui.decisionText.value;
  else if (outcome === "label") body.label = ui.decisionLabel.value;
  return body;
}

/** "Use this": a labeler's transcript into the final transcript, ready to edit. */
function useTranscript(text) {
  ui.decisionForm.elements.outcome.value = "label";
  syncOutcome();
  ui.done.hidden = true;
  ui.conflict.hidden = true;
  showForm(true);
  ui.decisionText.value = text;
  decisionFieldError("");
  ui.decisionText.focus();
  ui.decisionText.setSelectionRange(text.length, text.length);
  say("Copied into the final transcript.");
}

/** The project's standard tokens ("[unintelligible]") as buttons that insert at the cursor. */
function renderTokens() {
  const tokens = config.transcript_tokens || [];
  ui.decisionTokens.hidden = !tokens.length;
  if (!tokens.length) return;
  ui.decisionTokens.append(el("span", "muted", "Insert: "));
  for (const token of tokens) {
    const button = el("button", "btn btn--ghost btn--sm rt-token", token);
    button.type = "button";
    button.setAttribute("aria-label", `Insert ${token}`);
    button.addEventListener("click", () => insertToken(token));
    ui.decisionTokens.append(button, " ");
  }
}

function insertToken(token) {
  const area = ui.decisionText;
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? start;
  const before = area.value.slice(0, start);
  const after = area.value.slice(end);
  const lead = before && !/\s$/.test(before) ? " " : "";
  const trail = after && !/^\s/.test(after) ? " " : "";
  area.setRangeText(`${lead}${token}${trail}`, start, end, "end");
  area.focus();
}

function setDecisionBusy(busy) {
  state.busy = busy;
  ui.decisionSubmit.disabled = busy;
  ui.revise.disabled = busy;
  ui.decisionPanel.setAttribute("aria-busy", String(busy));
}

/** The decision form's one error line, marking the field it is about (the reason, or the
 * final transcript for ``field === "text"``). */
function decisionFieldError(message, field = "reason") {
  ui.decisionError.textContent = message;
  ui.decisionError.hidden = !message;
  const target = field === "text" && ui.decisionText ? ui.decisionText : ui.decisionReason;
  ui.decisionReason.setAttribute("aria-invalid", String(Boolean(message) && target === ui.decisionReason));
  ui.decisionText?.setAttribute("aria-invalid", String(Boolean(message) && target === ui.decisionText));
}

async function submitDecision(body) {
  if (state.busy) return;
  setDecisionBusy(true);
  decisionFieldError("");
  state.pending = body;
  try {
    const decision = await request("POST", config.urls.decision, body);
    state.conflict = null;
    ui.conflict.hidden = true;
    await load();
    showDone(decision);
  } catch (error) {
    if (error.code === "already_decided" && error.details?.length) {
      // Their decision shows in the panel and the history at once; the form keeps our values.
      await load();
      // The 409's summary names no transcript; the reloaded review has the full decision.
      const summary = error.details[0];
      showConflict(state.current?.id === summary.id ? { ...summary, ...state.current } : summary);
    } else if (error.field === "reason" || error.field === "label" || error.field === "text") {
      decisionFieldError(error.message, error.field);
    } else {
      decisionFieldError(`Not saved: ${error.message}`);
    }
  } finally {
    setDecisionBusy(false);
  }
}

function onDecisionSubmit(event) {
  event.preventDefault();
  const body = decisionBody();
  if (transcription && body.outcome === "label" && !body.text.trim() && !config.allow_empty_transcripts) {
    decisionFieldError("Write the final transcript: this project takes no empty transcript.", "text");
    ui.decisionText.focus();
    return;
  }
  if (!body.reason) {
    decisionFieldError("Say why: the reason is kept with the decision.");
    ui.decisionReason.focus();
    return;
  }
  if (state.current) body.revises = state.current.id;
  submitDecision(body);
}

function showConflict(standing) {
  state.conflict = standing;
  showForm(false);
  ui.done.hidden = true;
  ui.conflict.hidden = false;
  ui.conflictText.replaceChildren(
    el("strong", null, standing.decided_by),
    ` decided ${decisionWhat(standing)} `,
    timeElement(standing.decided_at),
    standing.reason ? `: “${standing.reason}”` : ".",
  );
  const mine = state.pending;
  ui.revise.textContent = `Revise it to ${decisionWhat(mine)}`;
  ui.revise.focus();
}

function reviseConflict() {
  if (!state.conflict || !state.pending) return;
  const body = { ...state.pending, revises: state.conflict.id };
  ui.conflict.hidden = true;
  showForm(true);
  submitDecision(body);
}

function keepTheirs() {
  state.conflict = null;
  ui.conflict.hidden = true;
  showForm(true);
  say("Their decision stands. Submitting the form now revises it.");
  load();
}

function showDone(decision) {
  showForm(false);
  ui.done.hidden = false;
  ui.doneText.replaceChildren(
    el("strong", null, "Decided: "),
    decisionWhat(decision),
    decision.revision > 1 ? ` (revision ${decision.revision})` : "",
    ". ",
  );
  const again = el("button", "linklike", "Revise");
  again.type = "button";
  again.addEventListener("click", () => {
    ui.done.hidden = true;
    showForm(true);
    ui.decisionReason.focus();
  });
  ui.doneText.append(again);
  say(`Decision recorded for ${config.item.external_id}.`);
  ui.nextItem.focus();
}

function renderHistory(decisions) {
  ui.history.replaceChildren();
  ui.historyEmpty.hidden = decisions.length > 0;
  for (const decision of decisions) {
    const li = el("li", `ri-decision${decision.current ? " ri-decision--current" : ""}`);
    li.dataset.revision = String(decision.revision);
    const head = el("p", "ri-decision__head");
    let what;
    if (decision.outcome !== "label") what = OUTCOME_TEXT[decision.outcome];
    else what = transcription ? "Final transcript" : className(decision.label);
    head.append(el("span", "ri-decision__rev", `#${decision.revision}`), el("strong", null, what));
    if (decision.current) head.append(el("span", "level level--good", "current"));
    const meta = el("p", "ri-decision__meta muted");
    meta.append(`${decision.decided_by} · round ${decision.round} · `, timeElement(decision.decided_at));
    if (decision.guideline_version) meta.append(` · led to guideline v${decision.guideline_version}`);
    li.append(head);
    if (transcription && decision.outcome === "label") {
      const text = transcriptElement(decision.text, null);
      text.classList.add("ri-decision__text");
      li.append(text);
    }
    li.append(meta, el("p", "ri-decision__reason", decision.reason));
    ui.history.append(li);
  }
}

async function nextInQueue(button) {
  button.disabled = true;
  const query = queueFilters();
  query.set("limit", "3");
  try {
    const queue = await request("GET", `${config.urls.queue_api}?${query}`);
    const next = queue.results.find((entry) => entry.item.id !== config.item.id);
    if (next) {
      location.assign(itemHref(next.item.id));
      return;
    }
    say("No other item waits in this queue. Back to the queue for other filters.");
  } catch (error) {
    say(`The queue could not be read: ${error.message}`, { error: true });
  } finally {
    button.disabled = false;
  }
}

/* ---------- same confusion pair ---------- */

function renderSamePair(review) {
  ui.samePair.replaceChildren();
  if (transcription) {
    ui.sameHint.textContent = "Transcripts have no confusion pair: the queue ranks them by how far they disagree.";
    return;
  }
  if (!review.pair) {
    ui.sameHint.textContent = "This item's labels name one class only, so it has no confusion pair.";
    return;
  }
  const pair = pairText(review.pair);
  ui.sameHint.textContent = review.same_pair.length
    ? `Other queued items labeled ${pair}.`
    : `No other queued item is labeled ${pair}.`;
  for (const item of review.same_pair) {
    const li = el("li");
    const link = el("a", "ri-same__item");
    link.href = itemHref(item.id);
    link.title = `Review ${item.external_id}`;
    const img = itemThumbnail(item, 72);
    if (img) link.append(img);
    else link.append(el("span", "ri-same__text", (item.text || "").slice(0, 80)));
    link.append(el("span", "ri-same__ref", item.external_id));
    li.append(link);
    ui.samePair.append(li);
  }
}

/* ---------- discussion ---------- */

function renderComments(comments) {
  ui.comments.replaceChildren(...comments.map(commentElement));
  ui.commentsEmpty.hidden = comments.length > 0;
  ui.threadCount.hidden = !comments.length;
  ui.threadCount.textContent = plural(comments.length, "comment");
}

function commentBody(text, mentions) {
  const body = el("div", "ri-comment__body");
  body.innerHTML = renderMarkdown(text, new Set([...members, ...(mentions || [])]));
  return body;
}

function commentElement(comment) {
  const li = el("li", "ri-comment");
  li.dataset.commentId = String(comment.id);
  const head = el("div", "ri-comment__head");
  head.append(avatar(comment.author), el("strong", "ri-comment__author", comment.author), timeElement(comment.created_at));
  const body = commentBody(comment.body, comment.mentions);
  li.append(head, body);

  if (comment.edited_at) {
    const toggle = el("button", "linklike ri-comment__edited", "edited");
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", "false");
    toggle.title = `Edited ${DATE_TIME.format(new Date(comment.edited_at))}. Show earlier versions.`;
    const history = el("ol", "ri-comment__history");
    history.hidden = true;
    history.setAttribute("aria-label", "Earlier versions");
    for (const revision of [...comment.history].reverse()) {
      const entry = el("li");
      const when = el("p", "ri-comment__history-when muted");
      when.append("Replaced ", timeElement(revision.replaced_at));
      entry.append(when, commentBody(revision.body, comment.mentions));
      history.append(entry);
    }
    toggle.addEventListener("click", () => {
      history.hidden = !history.hidden;
      toggle.setAttribute("aria-expanded", String(!history.hidden));
    });
    head.append(toggle);
    li.append(history);
  }
  if (comment.author === config.me) {
    const edit = el("button", "linklike ri-comment__edit", "Edit");
    edit.type = "button";
    edit.setAttribute("aria-label", "Edit my comment");
    edit.addEventListener("click", () => startEdit(li, comment, body, edit));
    head.append(edit);
  }
  return li;
}

function startEdit(li, comment, body, editButton) {
  editButton.hidden = true;
  const form = el("form", "ri-edit");
  const label = el("label", "visually-hidden", "Edit the comment");
  const area = el("textarea");
  area.id = `edit-${comment.id}`;
  label.htmlFor = area.id;
  area.rows = Math.min(10, Math.max(3, comment.body.split("\n").length + 1));
  area.maxLength = 10_000;
  area.value = comment.body;
  const problem = el("p", "field__error");
  problem.hidden = true;
  problem.setAttribute("role", "alert");
  const save = el("button", "btn btn--primary btn--sm", "Save");
  save.type = "submit";
  const cancel = el("button", "btn btn--ghost btn--sm", "Cancel");
  cancel.type = "button";
  const actions = el("div", "ri-edit__actions");
  actions.append(save, cancel);
  form.append(label, area, actions, problem);
  body.replaceWith(form);
  area.focus();
  const stop = () => {
    form.replaceWith(body);
    editButton.hidden = false;
    editButton.focus();
  };
  cancel.addEventListener("click", stop);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") stop();
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      const updated = await request("PATCH", withId(config.urls.comment_edit, comment.id), { body: area.value });
      const fresh = commentElement(updated);
      li.replaceWith(fresh);
      fresh.querySelector(".ri-comment__edit")?.focus();
      say("Comment updated; the earlier version is kept.");
    } catch (error) {
      problem.hidden = false;
      problem.textContent = error.message;
      save.disabled = false;
    }
  });
}

async function onCommentSubmit(event) {
  event.preventDefault();
  const text = ui.commentBody.value;
  ui.commentError.hidden = true;
  if (!text.trim()) {
    ui.commentError.textContent = "Write something first.";
    ui.commentError.hidden = false;
    ui.commentBody.focus();
    return;
  }
  ui.commentSubmit.disabled = true;
  try {
    const comment = await request("POST", config.urls.comments, { body: text });
    ui.commentBody.value = "";
    const comments = [...(state.review?.comments ?? []), comment];
    if (state.review) state.review.comments = comments;
    renderComments(comments);
    const mentioned = comment.mentions.filter((name) => name !== config.me);
    say(mentioned.length ? `Comment posted; ${mentioned.join(", ")} will be notified.` : "Comment posted.");
  } catch (error) {
    ui.commentError.textContent = error.message;
    ui.commentError.hidden = false;
  } finally {
    ui.commentSubmit.disabled = false;
  }
}

function renderMentionList() {
  const others = config.members.filter((name) => name !== config.me);
  ui.mentionList.hidden = !others.length;
  if (!others.length) return;
  ui.mentionList.append("Mention: ");
  for (const name of others) {
    const button = el("button", "linklike ri-mention-pick", `@${name}`);
    button.type = "button";
    button.setAttribute("aria-label", `Mention ${name}`);
    button.addEventListener("click", () => insertMention(name));
    ui.mentionList.append(button, " ");
  }
}

function insertMention(name) {
  const area = ui.commentBody;
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? start;
  const before = area.value.slice(0, start);
  const space = before && !/\s$/.test(before) ? " " : "";
  const text = `${space}@${name} `;
  area.setRangeText(text, start, end, "end");
  area.focus();
}

/* ---------- start ---------- */

function wire() {
  const queue = queueHref();
  ui.backToQueue.href = queue;
  ui.crumbQueue.href = queue;
  ui.retry.addEventListener("click", load);
  ui.skip.addEventListener("click", () => nextInQueue(ui.skip));
  ui.nextItem.addEventListener("click", () => nextInQueue(ui.nextItem));
  ui.commentForm.addEventListener("submit", onCommentSubmit);
  ui.commentBody.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      ui.commentForm.requestSubmit();
    }
  });
  ui.decisionForm.addEventListener("submit", onDecisionSubmit);
  ui.decisionForm.addEventListener("change", syncOutcome);
  ui.decisionReason.addEventListener("input", () => decisionFieldError(""));
  ui.decisionText?.addEventListener("input", () => decisionFieldError(""));
  ui.revise.addEventListener("click", reviseConflict);
  ui.keep.addEventListener("click", keepTheirs);
}

wire();
renderMentionList();
if (transcription) renderTokens();
syncOutcome();
load();
