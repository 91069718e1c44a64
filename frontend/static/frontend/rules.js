/**
 * The "Standardisation rules" page of a transcription project: an ordered rule list editor, a
 * live what-if preview, saving a version and activating one (DOMAIN.md §1, "standardise labels").
 *
 * - The editor starts from the active version's rules (none when the raw transcripts are
 *   active). Each rule is drawn with the fields of its kind (``consensus/standardise.py``'s
 *   module docstring lists them); the page sends the rules as the API's JSON and lets the API
 *   validate them, so the engine's rules are checked in one place. An ``invalid_rule`` error names
 *   ``rules[i].field`` (``rules[2].pattern``, ``rules[0].variants[3]``): the message goes next to
 *   that field of that rule.
 * - The preview is asked for on every edit, debounced (PREVIEW_DELAY_MS). Answers may arrive out
 *   of order, so each request carries a sequence number and only the newest one's answer (or
 *   error) renders; an older one is dropped.
 * - Agreement figures compare the active version (``before``) with the edited rules (``after``).
 *   Exact agreement and α are better higher, WER and CER better lower; the change is coloured
 *   by whether it is better, not by its sign.
 * - Everything from the server goes into the page with textContent, never as HTML.
 */

import { $, DATE_TIME, apiFetch, el, plural, readConfig, showStatus } from "./api.js";

const config = readConfig("rules-config");
const PREVIEW_DELAY_MS = 350;
/** Below this a change reads as "about the same". */
const FLAT = 0.0005;

/**
 * The rule kinds and their fields, in the order the select offers them. A field is ``text``
 * (a string), ``list`` (strings, typed comma-separated), ``flag`` (a checkbox) or ``flags``
 * (letters from i, m, s). ``required`` fields are always sent, even empty (a fillers rule's
 * canonical "" means "drop the fillers"); optional ones only when filled in.
 */
const KINDS = {
  case_fold: { label: "Fold case", hint: "“Nearest Gas Station” → “nearest gas station”.", fields: [] },
  whitespace: { label: "Collapse whitespace", hint: "Runs of spaces become one; leading and trailing spaces go. Put it last.", fields: [] },
  punctuation: {
    label: "Remove punctuation",
    hint: "Removes every punctuation character except those kept (and except inside tokens).",
    fields: [{ name: "keep", label: "Keep these characters", type: "text", placeholder: "e.g. '-" }],
  },
  fillers: {
    label: "Filler words",
    hint: "Whole words matching a variant or the pattern become the canonical spelling (case-insensitive). An empty canonical drops them.",
    fields: [
      { name: "canonical", label: "Canonical spelling", type: "text", required: true, placeholder: "um" },
      { name: "variants", label: "Variants", type: "list", placeholder: "umm, uhm, erm (comma-separated)" },
      { name: "pattern", label: "Pattern (regex)", type: "text", mono: true, placeholder: "u+h*m+" },
    ],
  },
  replace: {
    label: "Replace text",
    hint: "Literal and case-sensitive.",
    fields: [
      { name: "find", label: "Find", type: "text", required: true, placeholder: "gonna" },
      { name: "replace", label: "Replace with", type: "text", required: true, placeholder: "going to" },
      { name: "whole_word", label: "Whole words only", type: "flag" },
    ],
  },
  regex: {
    label: "Regular expression",
    hint: "Replace every match; the replacement may use \\1 or \\g<name>.",
    fields: [
      { name: "pattern", label: "Pattern", type: "text", required: true, mono: true, placeholder: "(\\d+) percent" },
      { name: "replace", label: "Replace with", type: "text", required: true, mono: true, placeholder: "\\1%" },
      { name: "flags", label: "Flags (i, m, s)", type: "text", mono: true, placeholder: "e.g. i" },
    ],
  },
  token: {
    label: "Canonical token",
    hint: "Standalone variants (or the token in another case) become the token; punctuation removal keeps its brackets.",
    fields: [
      { name: "canonical", label: "Token", type: "text", required: true, placeholder: "[unintelligible]" },
      { name: "variants", label: "Variants", type: "list", required: true, placeholder: "[inaudible], (unclear)" },
    ],
  },
};

/** The agreement figures the preview compares: key, how people read it, format, better when. */
const FIGURES = [
  ["exact_agreement", "Exact agreement", "percent", "higher"],
  ["word_error_rate", "Word error rate (WER)", "percent", "lower"],
  ["character_error_rate", "Character error rate (CER)", "percent", "lower"],
  ["alpha", "Krippendorff’s α", "fixed", "higher"],
];

const ui = {
  pageStatus: $("page-status"),
  activeVersion: $("active-version"),
  rules: $("rules"),
  rulesCount: $("rules-count"),
  rulesEmpty: $("rules-empty"),
  rulesError: $("rules-error"),
  origin: $("editor-origin"),
  addKind: $("add-kind"),
  addRule: $("add-rule"),
  note: $("version-note"),
  save: $("save-version"),
  saveStatus: $("save-status"),
  preview: $("preview"),
  previewLoading: $("preview-loading"),
  previewError: $("preview-error"),
  previewResult: $("preview-result"),
  sentence: $("preview-sentence"),
  warnings: $("preview-warnings"),
  agreement: $("preview-agreement").tBodies[0],
  changedItems: $("preview-changed-items"),
  samples: $("preview-samples"),
  samplesEmpty: $("preview-samples-empty"),
  versions: $("versions"),
  versionsCount: $("versions-count"),
  versionsEmpty: $("versions-empty"),
  versionsStatus: $("versions-status"),
};

let nextUid = 1;
const state = {
  /** The rules being edited: {uid, kind, note, <field>: value}. */
  rules: [],
  versions: config.versions,
  activeVersion: config.active_version,
  /** Which version the editor was loaded from, and whether it was edited since. */
  origin: null,
  edited: false,
  previewSeq: 0,
  /** rule_no_effect warnings of the preview on screen, by rule index. */
  noEffect: new Map(),
};
let previewTimer = null;

const withId = (template, id) => template.replace(config.urls.id_placeholder, String(id));
const newestVersion = () => state.versions.reduce((top, v) => Math.max(top, v.version), 0);

/* ---------- rules as the API reads them ---------- */

/** An editor rule from the API's JSON (a saved version's rule). */
function fromJson(rule) {
  const kind = KINDS[rule.kind] ? rule.kind : "case_fold";
  const out = { uid: nextUid++, kind, note: rule.note ?? "" };
  for (const field of KINDS[kind].fields) {
    const value = rule[field.name];
    if (field.type === "list") out[field.name] = Array.isArray(value) ? value.join(", ") : "";
    else if (field.type === "flag") out[field.name] = Boolean(value);
    else out[field.name] = value ?? "";
  }
  return out;
}

/** The API's JSON for an editor rule: required fields always, optional ones when filled in. */
function toJson(rule) {
  const out = { kind: rule.kind };
  for (const field of KINDS[rule.kind].fields) {
    const value = rule[field.name];
    if (field.type === "list") {
      const items = String(value ?? "")
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean);
      if (items.length || field.required) out[field.name] = items;
    } else if (field.type === "flag") {
      out[field.name] = Boolean(value);
    } else if (field.required || value) {
      out[field.name] = value ?? "";
    }
  }
  if (rule.note.trim()) out.note = rule.note.trim();
  return out;
}

const rulesBody = () => state.rules.map(toJson);

/* ---------- the editor ---------- */

function fieldControl(rule, field, index) {
  const id = `rule-${rule.uid}-${field.name}`;
  const wrap = el("div", `field rl-field rl-field--${field.type}`);
  wrap.dataset.field = field.name;
  const error = el("p", "field__error");
  error.id = `${id}-error`;
  error.dataset.errorFor = field.name;
  error.hidden = true;
  let input;
  if (field.type === "flag") {
    const label = el("label", "rl-check");
    input = el("input");
    input.type = "checkbox";
    input.id = id;
    input.checked = Boolean(rule[field.name]);
    input.addEventListener("change", () => edit(rule, field.name, input.checked));
    label.append(input, el("span", null, field.label));
    wrap.append(label, error);
  } else {
    const label = el("label", null, field.label);
    label.htmlFor = id;
    input = el("input");
    input.id = id;
    input.type = "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.maxLength = 10_000;
    if (field.placeholder) input.placeholder = field.placeholder;
    if (field.mono) input.classList.add("rl-mono");
    input.value = rule[field.name] ?? "";
    input.addEventListener("input", () => edit(rule, field.name, input.value));
    wrap.append(label, input, error);
  }
  input.setAttribute("aria-describedby", error.id);
  input.dataset.rule = String(index);
  return wrap;
}

function ruleItem(rule, index) {
  const kind = KINDS[rule.kind];
  const item = el("li", "rl-rule");
  item.dataset.index = String(index);
  item.dataset.kind = rule.kind;
  const head = el("div", "rl-rule__head");
  const title = el("h3", "rl-rule__title");
  title.append(el("span", "rl-rule__number", `${index + 1}`), el("span", null, kind.label));
  const badge = el("span", "badge rl-badge--idle", "changes nothing");
  badge.dataset.role = "no-effect";
  badge.hidden = !state.noEffect.has(index);
  if (state.noEffect.has(index)) badge.title = state.noEffect.get(index);
  title.append(badge);
  const tools = el("div", "rl-rule__tools");
  const button = (text, label, disabled, action) => {
    const b = el("button", "btn btn--ghost btn--sm", text);
    b.type = "button";
    b.setAttribute("aria-label", label);
    b.disabled = disabled;
    b.addEventListener("click", action);
    return b;
  };
  tools.append(
    button("↑", `Move rule ${index + 1} up`, index === 0, () => move(index, -1)),
    button("↓", `Move rule ${index + 1} down`, index === state.rules.length - 1, () => move(index, 1)),
    button("Remove", `Remove rule ${index + 1}`, false, () => remove(index)),
  );
  head.append(title, tools);
  item.append(head, el("p", "rl-hint muted", kind.hint));
  if (kind.fields.length) {
    const fields = el("div", "rl-fields");
    fields.append(...kind.fields.map((field) => fieldControl(rule, field, index)));
    item.append(fields);
  }
  item.append(fieldControl(rule, { name: "note", label: "Note", type: "text", placeholder: "why this rule (optional)" }, index));
  const ruleError = el("p", "field__error rl-rule__error");
  ruleError.dataset.errorFor = "";
  ruleError.hidden = true;
  item.append(ruleError);
  return item;
}

function renderRules() {
  ui.rules.replaceChildren(...state.rules.map(ruleItem));
  ui.rulesEmpty.hidden = state.rules.length > 0;
  ui.rulesCount.textContent = plural(state.rules.length, "rule");
  ui.addRule.disabled = state.rules.length >= config.max_rules;
  renderOrigin();
}

function renderOrigin() {
  const from = state.origin
    ? `version ${state.origin}${state.origin === state.activeVersion ? " (active)" : ""}`
    : "no rules (the raw transcripts)";
  ui.origin.textContent = state.edited
    ? `Edited, starting from ${from}. Nothing changes until a manager saves and activates a version.`
    : `Showing ${from}. Edit, reorder or add rules: the preview follows.`;
}

function edit(rule, name, value) {
  rule[name] = value;
  state.edited = true;
  renderOrigin();
  schedulePreview();
}

function move(index, step) {
  const to = index + step;
  [state.rules[index], state.rules[to]] = [state.rules[to], state.rules[index]];
  changed();
  ui.rules.querySelector(`li[data-index="${to}"] button[aria-label^="Move rule ${to + 1} ${step < 0 ? "up" : "down"}"]`)?.focus();
}

function remove(index) {
  state.rules.splice(index, 1);
  changed();
}

function changed() {
  state.edited = true;
  state.noEffect = new Map(); // indexes moved: the badges wait for the new preview
  renderRules();
  schedulePreview();
}

function loadRules(rules, version) {
  state.rules = rules.map(fromJson);
  state.origin = version || null;
  state.edited = false;
  state.noEffect = new Map();
  renderRules();
  schedulePreview();
}

/* ---------- errors on the rule and field the API names ---------- */

function clearErrors() {
  for (const node of ui.rules.querySelectorAll(".field__error")) {
    node.textContent = "";
    node.hidden = true;
  }
  for (const input of ui.rules.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const item of ui.rules.querySelectorAll(".rl-rule--invalid")) item.classList.remove("rl-rule--invalid");
  ui.rulesError.hidden = true;
  ui.rulesError.textContent = "";
}

/** ``rules[2].pattern`` → {index: 2, field: "pattern"}; ``rules[0].variants[3]`` → variants. */
function parseField(field) {
  const match = /^rules\[(\d+)\](?:\.([A-Za-z_]+))?/.exec(field ?? "");
  return match ? { index: Number(match[1]), field: match[2] ?? "" } : null;
}

/** Show an API error on the rule and field it names; anything else above the list. Returns
 * whether it was placed on a rule. */
function showRuleError(error) {
  const where = parseField(error.field);
  const item = where && ui.rules.querySelector(`li[data-index="${where.index}"]`);
  if (!item) {
    ui.rulesError.textContent = error.message;
    ui.rulesError.hidden = false;
    return false;
  }
  item.classList.add("rl-rule--invalid");
  const prefix = `${error.field}: `;
  const message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  const slot =
    item.querySelector(`.rl-field[data-field="${where.field}"] .field__error`) ?? item.querySelector(".rl-rule__error");
  slot.textContent = slot.classList.contains("rl-rule__error") && where.field ? `${where.field}: ${message}` : message;
  slot.hidden = false;
  item.querySelector(`.rl-field[data-field="${where.field}"] input`)?.setAttribute("aria-invalid", "true");
  ui.rulesError.textContent = `Rule ${where.index + 1} (${KINDS[state.rules[where.index]?.kind]?.label ?? "rule"}): ${message}`;
  ui.rulesError.hidden = false;
  return true;
}

/* ---------- the preview ---------- */

function setPreviewMode(mode) {
  ui.previewLoading.hidden = mode !== "loading";
  ui.preview.setAttribute("aria-busy", mode === "loading" ? "true" : "false");
  if (mode !== "result") ui.previewResult.hidden = true;
  if (mode !== "error") ui.previewError.hidden = true;
}

function schedulePreview() {
  clearTimeout(previewTimer);
  state.previewSeq += 1; // any answer still on its way is stale from now on
  const seq = state.previewSeq;
  setPreviewMode("loading");
  previewTimer = setTimeout(() => runPreview(rulesBody(), seq), PREVIEW_DELAY_MS);
}

async function runPreview(rules, seq) {
  try {
    const preview = await apiFetch(config.urls.preview, { method: "POST", body: { rules } });
    if (seq !== state.previewSeq) return; // an older edit's answer: drop it
    clearErrors();
    renderPreview(preview);
  } catch (error) {
    if (seq !== state.previewSeq) return;
    clearErrors();
    setPreviewMode("error");
    if (!showRuleError(error) || error.code === "rule_timeout") {
      ui.previewError.textContent = error.message;
    } else {
      ui.previewError.textContent = "Fix the rule marked in the list to see the preview.";
    }
    ui.previewError.hidden = false;
  }
}

const percent = (value) => (value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`);
const fixed = (value) => (value === null || value === undefined ? "—" : value.toFixed(3));

/** The change from ``before`` to ``after`` as text and a tone: better, worse or flat. */
function delta(before, after, format, better) {
  if (before === null || before === undefined || after === null || after === undefined) {
    return { text: "—", tone: "rl-delta--none" };
  }
  const change = after - before;
  if (Math.abs(change) < FLAT) return { text: format === "percent" ? "±0.0 pts" : "±0.000", tone: "rl-delta--flat" };
  const sign = change > 0 ? "+" : "−";
  const size = format === "percent" ? `${(Math.abs(change) * 100).toFixed(1)} pts` : Math.abs(change).toFixed(3);
  const good = better === "higher" ? change > 0 : change < 0;
  return { text: `${sign}${size}`, tone: good ? "rl-delta--better" : "rl-delta--worse" };
}

function figureCell(side, key, format) {
  const value = side?.[key];
  const cell = el("td", "num", format === "percent" ? percent(value) : fixed(value));
  if (value === null || value === undefined) {
    const reason = key === "alpha" ? side?.alpha_reason || side?.reason : side?.reason;
    if (reason) cell.title = reason;
  }
  return cell;
}

function renderAgreement(preview) {
  const rows = FIGURES.map(([key, label, format, better]) => {
    const row = el("tr");
    row.dataset.figure = key;
    const head = el("th", null, label);
    head.scope = "row";
    const d = delta(preview.before?.[key], preview.after?.[key], format, better);
    row.append(head, figureCell(preview.before, key, format), figureCell(preview.after, key, format));
    row.append(el("td", `num rl-delta ${d.tone}`, d.text));
    return row;
  });
  ui.agreement.replaceChildren(...rows);
  const compared = preview.after?.items_compared ?? 0;
  const changedItems = preview.changed_items ?? 0;
  ui.changedItems.textContent =
    `${plural(changedItems, "item")} of ${plural(compared, "item")} compared ${changedItems === 1 ? "gets" : "get"} ` +
    `a different consensus transcript. Before: version ${state.activeVersion || "0 (raw transcripts)"}; ` +
    `α compares ${preview.after?.alpha_distance ?? "word"} sequences.`;
}

function sentenceFor(preview) {
  const share = preview.changed_share === null || preview.changed_share === undefined ? "" : ` (${percent(preview.changed_share)})`;
  const distinct =
    preview.distinct_before === preview.distinct_after
      ? `${plural(preview.distinct_after, "distinct transcript")} either way`
      : `${preview.distinct_before.toLocaleString()} distinct transcripts become ${preview.distinct_after.toLocaleString()}`;
  const emptied = preview.empty_after ? `; ${plural(preview.empty_after, "transcript")} become empty` : "";
  return `${preview.changed.toLocaleString()} of ${plural(preview.total, "transcript")} change${share}; ${distinct}${emptied}.`;
}

function renderWarnings(preview) {
  state.noEffect = new Map();
  const items = (preview.warnings ?? []).map((warning) => {
    const li = el("li", `rl-warning rl-warning--${warning.code}`);
    li.dataset.code = warning.code;
    const where = warning.rule_index === null || warning.rule_index === undefined ? "" : `Rule ${warning.rule_index + 1}: `;
    const text = warning.code === "rule_no_effect" ? `${where}changes no transcript.` : `${where}${warning.message}.`;
    li.textContent = text;
    if (warning.code === "rule_no_effect") state.noEffect.set(warning.rule_index, warning.message);
    return li;
  });
  ui.warnings.replaceChildren(...items);
  ui.warnings.hidden = items.length === 0;
  for (const item of ui.rules.querySelectorAll("li.rl-rule")) {
    const index = Number(item.dataset.index);
    const badge = item.querySelector('[data-role="no-effect"]');
    badge.hidden = !state.noEffect.has(index);
    badge.title = state.noEffect.get(index) ?? "";
  }
}

/** One side of a word diff: equal parts plain, the changed ones in <del> (before) or <ins>. */
function diffLine(diff, side) {
  const line = el("p", `rl-diff rl-diff--${side}`);
  line.append(el("span", "rl-diff__side", side === "before" ? "Before" : "After"));
  const text = el("span", "rl-diff__text");
  let first = true;
  for (const part of diff) {
    const words = side === "before" ? part.before : part.after;
    if (part.op === (side === "before" ? "insert" : "delete") || !words) continue;
    if (!first) text.append(" ");
    first = false;
    if (part.op === "equal") text.append(words);
    else text.append(el(side === "before" ? "del" : "ins", null, words));
  }
  if (first) text.append(el("span", "muted", "(empty)"));
  line.append(text);
  return line;
}

function sampleItem(sample) {
  const li = el("li", "rl-sample");
  li.append(diffLine(sample.diff, "before"), diffLine(sample.diff, "after"));
  const meta = el("p", "rl-sample__meta muted");
  const by = (sample.rules ?? []).map((rule) => {
    const label = KINDS[rule.kind]?.label ?? rule.kind;
    return `${rule.index + 1}. ${label}${rule.note ? ` (${rule.note})` : ""}`;
  });
  meta.textContent = `${sample.count > 1 ? `${plural(sample.count, "transcript")} like this · ` : ""}changed by ${by.join(", ") || "—"}`;
  li.append(meta);
  return li;
}

function renderPreview(preview) {
  setPreviewMode("result");
  ui.sentence.textContent = sentenceFor(preview);
  renderWarnings(preview);
  renderAgreement(preview);
  ui.samples.replaceChildren(...(preview.samples ?? []).map(sampleItem));
  ui.samplesEmpty.hidden = (preview.samples ?? []).length > 0;
  ui.previewResult.hidden = false;
}

/* ---------- versions ---------- */

function versionRow(version) {
  const row = el("tr");
  row.dataset.version = String(version.version);
  if (version.active) row.classList.add("rl-row--active");
  const name = el("th", "rl-mono", `v${version.version}`);
  name.scope = "row";
  const saved = version.created_at ? DATE_TIME.format(new Date(version.created_at)) : "—";
  row.append(
    name,
    el("td", "num", String(version.rules.length)),
    el("td", null, version.note || "—"),
    el("td", null, version.created_by ?? "—"),
    el("td", "rl-when", saved),
  );
  const cell = el("td");
  const inner = el("span", "rl-state");
  cell.append(inner);
  if (version.active) inner.append(el("span", "badge rl-badge--active", "Active"));
  const load = el("button", "btn btn--ghost btn--sm", "Edit");
  load.type = "button";
  load.setAttribute("aria-label", `Load version ${version.version} into the editor`);
  load.addEventListener("click", () => {
    loadRules(version.rules, version.version);
    showStatus(ui.versionsStatus, `Version ${version.version} loaded into the editor.`);
  });
  inner.append(load);
  if (config.can_manage && !version.active) {
    const activate = el("button", "btn btn--secondary btn--sm", "Activate");
    activate.type = "button";
    activate.setAttribute("aria-label", `Activate version ${version.version}`);
    activate.addEventListener("click", () => activateVersion(version.version, activate));
    inner.append(activate);
  }
  row.append(cell);
  return row;
}

/** Version 0: no rules, the raw transcripts. Always there, so a manager can go back to it. */
function rawRow() {
  return versionRow({
    version: 0,
    rules: [],
    note: "No rules: the raw transcripts (whitespace collapsed and trimmed).",
    created_by: null,
    created_at: null,
    active: state.activeVersion === 0,
  });
}

function renderVersions() {
  const rows = state.versions.map(versionRow);
  ui.versions.replaceChildren(...rows, rawRow());
  ui.versionsEmpty.hidden = state.versions.length > 0;
  ui.versionsCount.textContent = String(state.versions.length);
  if (ui.activeVersion) {
    ui.activeVersion.textContent = state.activeVersion ? `v${state.activeVersion}` : "none (raw transcripts)";
  }
  if (ui.save) ui.save.querySelector(".btn__label").textContent = `Save as version ${newestVersion() + 1}`;
}

async function saveVersion() {
  clearErrors();
  showStatus(ui.saveStatus, "");
  ui.save.disabled = true;
  try {
    const body = { rules: rulesBody(), note: ui.note.value.trim() };
    const created = await apiFetch(config.urls.rules, { method: "POST", body });
    state.versions = [created, ...state.versions.filter((v) => v.version !== created.version)];
    state.origin = created.version;
    state.edited = false;
    ui.note.value = "";
    renderVersions();
    renderOrigin();
    showStatus(ui.saveStatus, `Saved as version ${created.version}. Activate it below to use it in the report.`);
  } catch (error) {
    if (!showRuleError(error)) showStatus(ui.saveStatus, error.message, { error: true });
    else showStatus(ui.saveStatus, "Not saved: fix the rule marked in the list.", { error: true });
  } finally {
    ui.save.disabled = false;
  }
}

async function activateVersion(version, button) {
  const what = version === 0 ? "the raw transcripts (no rules)" : `version ${version}`;
  const question =
    `Activate ${what}?\n\n` +
    "Every transcript's standardised text is stored for it and the consistency report is recomputed. " +
    "Raw transcripts are kept: any version can be activated again.";
  if (!window.confirm(question)) return;
  button.disabled = true;
  showStatus(ui.versionsStatus, `Activating ${what}…`);
  try {
    await apiFetch(withId(config.urls.activate, version), { method: "POST" });
    state.activeVersion = version;
    if (ui.saveStatus) showStatus(ui.saveStatus, "");
    state.versions = state.versions.map((v) => ({ ...v, active: v.version === version }));
    renderVersions();
    renderOrigin();
    showStatus(ui.versionsStatus, `${version === 0 ? "The raw transcripts are" : `Version ${version} is`} active; the report is being recomputed.`);
    schedulePreview(); // "before" is the active version: it just changed
  } catch (error) {
    button.disabled = false;
    showStatus(ui.versionsStatus, error.message, { error: true });
  }
}

/* ---------- start ---------- */

for (const [kind, spec] of Object.entries(KINDS)) {
  const option = el("option", null, spec.label);
  option.value = kind;
  ui.addKind.append(option);
}
ui.addRule.addEventListener("click", () => {
  state.rules.push(fromJson({ kind: ui.addKind.value }));
  changed();
  ui.rules.lastElementChild?.querySelector("input")?.focus();
});
ui.save?.addEventListener("click", saveVersion);

renderVersions();
const active = state.versions.find((v) => v.version === state.activeVersion);
loadRules(active ? active.rules : [], active ? active.version : null);
