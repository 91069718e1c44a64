/**
 * The "Classes" page: the project's classes, a merge with a what-if preview, the merge history
 * with undo, the aliases, and the borderline summary (DOMAIN.md §1).
 *
 * - Everything starts from the page's config; every change goes through the taxonomy and alias
 *   APIs and the tables are redrawn from their answers (or a fresh GET), so the page shows what
 *   the database holds. The server enforces the roles; ``can_manage`` only decides which
 *   controls are drawn.
 * - The preview is asked for on every change of the selection, debounced (PREVIEW_DELAY_MS).
 *   Requests may finish out of order, so each carries a sequence number and only the answer to
 *   the newest one renders; an older answer (or error) is dropped. Apply uses the selection of
 *   the preview on screen, never a stale one.
 * - After a merge or an undo the report is recomputed in the background; the page polls the
 *   report until it names the new taxonomy version (REPORT_POLLS tries), then redraws the label
 *   counts and the borderline panel.
 * - Splitting a class (managers) needs new labels: the panel adds the new classes through the
 *   classes API, then starts a round on every item labeled the old class (``POST rounds/
 *   {"labeled": key}``). Keys are checked here as the API checks them (a lowercase slug, not a
 *   key the project has) before anything is sent; an API error goes next to the field it names.
 *   The item counts come from the page's config (``labeled_items``: items, not labels).
 * - Everything from the server goes into the page with textContent, never as HTML.
 */

import { $, DATE_TIME, apiFetch, el, plural, readConfig, showStatus } from "./api.js";

const config = readConfig("classes-config");
const PREVIEW_DELAY_MS = 300;
const REPORT_POLLS = 20;
const REPORT_POLL_MS = 1_500;
/** The overall coefficients the preview compares: report key and how people read it. */
const OVERALL = [
  ["krippendorff_alpha", "Krippendorff’s α"],
  ["percent_agreement", "Percent agreement"],
  ["gwet_ac1", "Gwet’s AC1"],
  ["fleiss_kappa", "Fleiss’ κ"],
];
/** Below this a change reads as "about the same" rather than up or down. */
const FLAT = 0.0005;

const ui = {
  pageStatus: $("page-status"),
  taxonomyVersion: $("taxonomy-version"),
  classes: $("classes"),
  classesCount: $("classes-count"),
  classesStatus: $("classes-status"),
  sources: $("sources"),
  sourcesError: $("sources-error"),
  target: $("target"),
  targetOptions: $("target-options"),
  targetHint: $("target-hint"),
  targetError: $("target-error"),
  targetNameField: $("target-name-field"),
  targetName: $("target-name"),
  targetNameError: $("target-name-error"),
  preview: $("preview"),
  previewIdle: $("preview-idle"),
  previewLoading: $("preview-loading"),
  previewError: $("preview-error"),
  previewResult: $("preview-result"),
  sentence: $("preview-sentence"),
  overall: $("preview-overall").tBodies[0],
  perClass: $("preview-classes"),
  slices: $("preview-slices").tBodies[0],
  slicesTable: $("preview-slices"),
  slicesEmpty: $("preview-slices-empty"),
  apply: $("apply-merge"),
  mergeNote: $("merge-note"),
  history: $("history"),
  historyCount: $("history-count"),
  historyEmpty: $("history-empty"),
  historyStatus: $("history-status"),
  aliases: $("aliases"),
  aliasesCount: $("aliases-count"),
  aliasesEmpty: $("aliases-empty"),
  aliasesStatus: $("aliases-status"),
  aliasForm: $("alias-form"),
  aliasText: $("alias-text"),
  aliasClass: $("alias-class"),
  aliasError: $("alias-error"),
  aliasClassError: $("alias-class-error"),
  aliasFormError: $("alias-form-error"),
  aliasSubmit: $("alias-submit"),
  borderlinePanel: $("borderline-panel"),
  borderlineOrdinal: $("borderline-ordinal"),
  borderlineSummary: $("borderline-summary"),
  borderline: $("borderline"),
  splitForm: $("split-form"),
  splitSource: $("split-source"),
  splitSourceHint: $("split-source-hint"),
  splitSourceError: $("split-source-error"),
  splitRows: $("split-rows"),
  splitAddRow: $("split-add-row"),
  splitSubmit: $("split-submit"),
  splitError: $("split-error"),
  splitNote: $("split-note"),
};

const state = {
  classes: config.classes,
  merges: config.merges,
  aliases: config.aliases,
  report: config.report,
  taxonomyVersion: config.taxonomy_version,
  /** The selection the preview on screen answers, or null. */
  previewed: null,
  previewSeq: 0,
  /** Where the report watcher says it has caught up: under the merge panel or the history. */
  noteFor: null,
  mergeNote: "",
  labeledItems: config.labeled_items ?? {},
  currentRound: config.current_round,
};
let previewTimer = null;
let pollTimer = null;

const withId = (template, id) => template.replace(config.urls.id_placeholder, String(id));
const byKey = () => new Map(state.classes.map((c) => [c.key, c]));
const className = (key) => byKey().get(key)?.name || key;

/* ---------- numbers ---------- */

const fixed = (value, digits = 3) => (value === null || value === undefined ? "—" : value.toFixed(digits));
const percent = (value) => (value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`);

/** "+0.034", "−0.012", "±0.000"; and a class for its colour (up good, down bad). */
function delta(before, after, digits = 3) {
  if (before === null || before === undefined || after === null || after === undefined) {
    return { text: "—", tone: "tx-delta--none", value: null };
  }
  const change = after - before;
  if (Math.abs(change) < FLAT) return { text: `±${(0).toFixed(digits)}`, tone: "tx-delta--flat", value: 0 };
  const sign = change > 0 ? "+" : "−";
  return {
    text: `${sign}${Math.abs(change).toFixed(digits)}`,
    tone: change > 0 ? "tx-delta--up" : "tx-delta--down",
    value: change,
  };
}

function figureCell(figure, format = fixed) {
  const cell = el("td", "num", format(figure?.value ?? null));
  if (figure && figure.value === null && figure.reason) {
    cell.title = figure.reason;
    cell.classList.add("undefined");
  }
  return cell;
}

function deltaCell(before, after, digits = 3) {
  const d = delta(before, after, digits);
  const cell = el("td", `num tx-delta ${d.tone}`, d.text);
  return cell;
}

/* ---------- the classes table ---------- */

function labelCounts() {
  return new Map((state.report?.per_class ?? []).map((row) => [row.class, row.labels]));
}

function classRow(cls, counts) {
  const row = el("tr");
  row.dataset.classKey = cls.key;
  if (cls.merged_into) row.classList.add("tx-row--merged");
  row.append(el("td", "tx-mono", cls.key), el("td", null, cls.name));
  const kind = el("td");
  if (cls.kind === "borderline") kind.append(el("span", "badge tx-badge--borderline", "Borderline"));
  else kind.append(el("span", "muted", "Normal"));
  row.append(kind, el("td", "tx-mono", cls.hotkey || "—"));
  const count = counts.get(cls.key);
  row.append(el("td", "num", count === undefined ? "—" : count.toLocaleString()));
  const stateCell = el("td");
  if (cls.merged_into) {
    stateCell.append(el("span", "badge tx-badge--merged", `merged into ${cls.merged_into}`));
  } else {
    stateCell.append(el("span", "muted", "active"));
  }
  row.append(stateCell);
  if (config.can_manage) {
    const action = el("td", "tx-actions");
    const remove = el("button", "btn btn--ghost btn--sm", "Delete");
    remove.type = "button";
    remove.setAttribute("aria-label", `Delete class ${cls.key}`);
    remove.addEventListener("click", () => deleteClass(cls, remove));
    action.append(remove);
    row.append(action);
  }
  return row;
}

function renderClasses() {
  const counts = labelCounts();
  ui.classes.replaceChildren(...state.classes.map((c) => classRow(c, counts)));
  ui.classesCount.textContent = String(state.classes.length);
  ui.taxonomyVersion.textContent = String(state.taxonomyVersion);
  renderSourceChoices();
  renderTargetOptions();
  renderAliasClassOptions();
  renderSplitSources();
}

async function deleteClass(cls, button) {
  if (!window.confirm(`Delete the class ${cls.key} (${cls.name})? Only a class nothing refers to can be deleted.`)) return;
  button.disabled = true;
  try {
    await apiFetch(withId(config.urls.class, cls.id), { method: "DELETE" });
    state.classes = state.classes.filter((c) => c.id !== cls.id);
    renderClasses();
    showStatus(ui.classesStatus, `Class ${cls.key} deleted.`);
  } catch (error) {
    button.disabled = false;
    showStatus(ui.classesStatus, error.message, { error: true });
  }
}

async function reloadClasses() {
  state.classes = await apiFetch(config.urls.classes);
  renderClasses();
}

/* ---------- choosing the merge ---------- */

function renderSourceChoices() {
  const ticked = new Set(selectedSources());
  const boxes = state.classes.map((cls) => {
    const label = el("label", "tx-check");
    const box = el("input");
    box.type = "checkbox";
    box.name = "sources";
    box.value = cls.key;
    box.checked = ticked.has(cls.key) && !cls.merged_into;
    box.disabled = Boolean(cls.merged_into);
    box.addEventListener("change", schedulePreview);
    const text = el("span", null, cls.name);
    text.append(el("code", "tx-code", cls.key));
    if (cls.merged_into) text.append(el("span", "muted", ` — merged into ${cls.merged_into}`));
    label.append(box, text);
    return label;
  });
  ui.sources.replaceChildren(...boxes);
}

function renderTargetOptions() {
  const options = state.classes
    .filter((c) => !c.merged_into && c.kind !== "borderline")
    .map((c) => {
      const option = el("option");
      option.value = c.key;
      option.label = c.name;
      return option;
    });
  ui.targetOptions.replaceChildren(...options);
}

function selectedSources() {
  return [...ui.sources.querySelectorAll("input[name=sources]:checked")].map((b) => b.value);
}

function selection() {
  return { sources: selectedSources(), target: ui.target.value.trim() };
}

const sameSelection = (a, b) =>
  a !== null && b !== null && a.target === b.target && a.sources.join("\n") === b.sources.join("\n");

function fieldError(node, message) {
  node.textContent = message ?? "";
  node.hidden = !message;
}

function clearMergeErrors() {
  fieldError(ui.sourcesError, null);
  fieldError(ui.targetError, null);
  fieldError(ui.targetNameError, null);
  fieldError(ui.previewError, null);
  ui.target.removeAttribute("aria-invalid");
}

/** Show an API error next to the field it names (``sources``, ``target``), else in the panel. */
function showMergeError(error) {
  if (error.field === "sources") fieldError(ui.sourcesError, error.message);
  else if (error.field === "target") {
    fieldError(ui.targetError, error.message);
    ui.target.setAttribute("aria-invalid", "true");
  } else if (error.field === "target_name") fieldError(ui.targetNameError, error.message);
  else fieldError(ui.previewError, error.message);
}

function updateTargetHint() {
  const key = ui.target.value.trim();
  const existing = byKey().get(key);
  const isNew = key !== "" && !existing;
  ui.targetNameField.hidden = !isNew || !config.can_manage;
  if (!key) ui.targetHint.textContent = "";
  else if (existing) ui.targetHint.textContent = `The existing class “${existing.name}”.`;
  else ui.targetHint.textContent = "A new class: the merge creates it.";
}

function setPreviewMode(mode) {
  ui.previewIdle.hidden = mode !== "idle";
  ui.previewLoading.hidden = mode !== "loading";
  ui.preview.setAttribute("aria-busy", mode === "loading" ? "true" : "false");
  if (mode !== "result") {
    ui.previewResult.hidden = true;
    state.previewed = null;
  }
  if (ui.apply) ui.apply.disabled = mode !== "result";
}

function schedulePreview() {
  clearTimeout(previewTimer);
  updateTargetHint();
  clearMergeErrors();
  const wanted = selection();
  // A newer selection makes any answer still on its way stale, whether or not it is asked for.
  state.previewSeq += 1;
  if (wanted.sources.length === 0 || !wanted.target) {
    setPreviewMode("idle");
    return;
  }
  setPreviewMode("loading");
  previewTimer = setTimeout(() => runPreview(wanted, state.previewSeq), PREVIEW_DELAY_MS);
}

async function runPreview(wanted, seq) {
  try {
    const preview = await apiFetch(config.urls.preview, { method: "POST", body: wanted });
    if (seq !== state.previewSeq) return; // an older selection's answer: drop it
    renderPreview(preview, wanted);
  } catch (error) {
    if (seq !== state.previewSeq) return;
    setPreviewMode("error");
    showMergeError(error);
  }
}

/* ---------- the preview ---------- */

function listWords(words) {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}

function targetLabel(preview) {
  if (!preview.creates_target) return className(preview.target);
  const name = ui.targetName.value.trim();
  return name || preview.target;
}

function sentenceFor(preview) {
  const sources = listWords(preview.sources.map(className));
  const target = targetLabel(preview);
  const before = preview.before.overall.krippendorff_alpha ?? {};
  const after = preview.after.overall.krippendorff_alpha ?? {};
  let alpha;
  if (before.value === null || before.value === undefined || after.value === null || after.value === undefined) {
    const reason = after.reason || before.reason || "not enough labels";
    alpha = `leaves α undefined (${reason})`;
  } else {
    const d = after.value - before.value;
    const verb = Math.abs(d) < FLAT ? "leaves α at" : d > 0 ? "raises α from" : "lowers α from";
    const ci = after.low !== null && after.low !== undefined
      ? ` (95% CI ${fixed(after.low, 2)}–${fixed(after.high, 2)})`
      : "";
    alpha = Math.abs(d) < FLAT
      ? `${verb} ${fixed(after.value, 2)}${ci}`
      : `${verb} ${fixed(before.value, 2)} to ${fixed(after.value, 2)}${ci}`;
  }
  const counted = preview.after.per_class.find((row) => row.class === preview.target)?.labels ?? preview.labels_remapped;
  return (
    `Merging ${sources} into ${target}${preview.creates_target ? " (a new class)" : ""} ${alpha}; ` +
    `${plural(preview.changed_items, "item")} ${preview.changed_items === 1 ? "changes" : "change"} consensus; ` +
    `${plural(counted, "label")} counted as ${target}.`
  );
}

function renderOverall(preview) {
  const rows = OVERALL.map(([key, label]) => {
    const before = preview.before.overall[key];
    const after = preview.after.overall[key];
    const row = el("tr");
    row.dataset.coefficient = key;
    const format = key === "percent_agreement" ? percent : fixed;
    row.append(el("th", null, label), figureCell(before, format), figureCell(after, format));
    if (key === "percent_agreement") {
      const d = delta(before?.value, after?.value, 1);
      const scaled = d.value === null ? "—" : d.value === 0 ? "±0.0 pts" : `${d.text.slice(0, 1)}${(Math.abs(d.value) * 100).toFixed(1)} pts`;
      row.append(el("td", `num tx-delta ${d.tone}`, scaled));
    } else {
      row.append(deltaCell(before?.value, after?.value));
    }
    row.firstChild.scope = "row";
    return row;
  });
  ui.overall.replaceChildren(...rows);
}

function classFigureRow(row, label, note) {
  const tr = el("tr");
  tr.dataset.classKey = row?.class ?? "";
  const head = el("th", null, label);
  head.scope = "row";
  if (note) head.append(el("span", "muted tx-row-note", note));
  tr.append(
    head,
    el("td", "num", row ? row.labels.toLocaleString() : "0"),
    el("td", "num", fixed(row?.specific_agreement ?? null)),
    el("td", "num", fixed(row?.kappa ?? null)),
  );
  return tr;
}

function renderPerClass(preview) {
  const before = new Map(preview.before.per_class.map((row) => [row.class, row]));
  const after = new Map(preview.after.per_class.map((row) => [row.class, row]));
  const beforeBody = el("tbody", "tx-group");
  const beforeHead = el("tr", "tx-group__head");
  beforeHead.append(el("th", null, "Before"));
  beforeHead.firstChild.colSpan = 4;
  beforeHead.firstChild.scope = "rowgroup";
  beforeBody.append(beforeHead);
  const keys = preview.creates_target ? preview.sources : [...preview.sources, preview.target];
  for (const key of keys) beforeBody.append(classFigureRow(before.get(key), className(key)));
  const afterBody = el("tbody", "tx-group");
  const afterHead = el("tr", "tx-group__head");
  afterHead.append(el("th", null, "After"));
  afterHead.firstChild.colSpan = 4;
  afterHead.firstChild.scope = "rowgroup";
  afterBody.append(afterHead);
  afterBody.append(classFigureRow(after.get(preview.target), targetLabel(preview), " (merged)"));
  afterBody.lastChild.classList.add("tx-row--after");
  ui.perClass.replaceChildren(ui.perClass.tHead, beforeBody, afterBody);
}

function renderSlices(preview) {
  const key = (row) => `${row.slice}\u0000${row.value}`;
  const after = new Map(preview.after.per_slice.map((row) => [key(row), row]));
  const rows = preview.before.per_slice.map((row) => {
    const next = after.get(key(row));
    const a = row.krippendorff_alpha?.value ?? null;
    const b = next?.krippendorff_alpha?.value ?? null;
    return { row, next, change: a === null || b === null ? null : b - a };
  });
  // Largest change first (a rise above a fall of the same size); undefined changes last.
  rows.sort((x, y) => {
    if (x.change === null) return y.change === null ? 0 : 1;
    if (y.change === null) return -1;
    return Math.abs(y.change) - Math.abs(x.change) || y.change - x.change;
  });
  ui.slices.replaceChildren(
    ...rows.map(({ row, next }) => {
      const tr = el("tr");
      tr.dataset.slice = key(row);
      const head = el("th", null, `${row.slice} = ${row.value}`);
      head.scope = "row";
      tr.append(
        head,
        el("td", "num", row.items.toLocaleString()),
        figureCell(row.krippendorff_alpha),
        figureCell(next?.krippendorff_alpha),
        deltaCell(row.krippendorff_alpha?.value, next?.krippendorff_alpha?.value),
      );
      return tr;
    }),
  );
  ui.slicesTable.hidden = rows.length === 0;
  ui.slicesEmpty.hidden = rows.length > 0;
}

function renderPreview(preview, wanted) {
  ui.sentence.textContent = sentenceFor(preview);
  renderOverall(preview);
  renderPerClass(preview);
  renderSlices(preview);
  setPreviewMode("result");
  ui.previewResult.hidden = false;
  state.previewed = { ...wanted, preview };
}

/* ---------- applying and undoing ---------- */

function setBusy(button, busy) {
  if (!button) return;
  button.disabled = busy;
  const spinner = button.querySelector(".btn__spinner");
  if (spinner) spinner.hidden = !busy;
}

/** The note under the merge panel; ``done`` once the report has caught up. */
function note(text, { done = false } = {}) {
  ui.mergeNote.hidden = !text;
  ui.mergeNote.textContent = text ?? "";
  ui.mergeNote.classList.toggle("tx-note--done", done);
}

async function applyMerge() {
  const shown = state.previewed;
  if (!shown || !sameSelection(shown, selection())) return; // the preview is not of this selection
  const { preview } = shown;
  const sources = listWords(preview.sources.map(className));
  const target = targetLabel(preview);
  const question =
    `Merge ${sources} into ${target}?\n\n` +
    `Raw labels are kept: the ${plural(preview.labels_remapped, "label")} of ${sources} will count as ${target} ` +
    `from taxonomy version ${state.taxonomyVersion + 1} on. The merge can be undone from the history.`;
  if (!window.confirm(question)) return;
  setBusy(ui.apply, true);
  try {
    const body = { sources: shown.sources, target: shown.target };
    if (preview.creates_target) body.target_name = ui.targetName.value.trim();
    const merge = await apiFetch(config.urls.merges, { method: "POST", body });
    state.merges = [merge, ...state.merges.filter((m) => m.id !== merge.id)];
    state.taxonomyVersion = merge.taxonomy_version;
    renderHistory();
    await reloadClasses();
    ui.target.value = "";
    ui.targetName.value = "";
    schedulePreview();
    state.mergeNote = `Merged ${sources} into ${target} (taxonomy version ${merge.taxonomy_version}).`;
    note(`${state.mergeNote} The consistency report is being recomputed under the new version…`);
    showStatus(ui.classesStatus, "");
    state.noteFor = "merge";
    watchReport(merge.taxonomy_version);
  } catch (error) {
    setBusy(ui.apply, false);
    showMergeError(error);
    return;
  }
  setBusy(ui.apply, false);
  ui.apply.disabled = true;
}

async function undoMerge(merge, button) {
  const names = listWords(merge.sources.map(className));
  if (!window.confirm(`Undo the merge of ${names} into ${merge.target}? Their labels count as themselves again in a new taxonomy version.`)) return;
  button.disabled = true;
  try {
    const undone = await apiFetch(withId(config.urls.merge, merge.id), { method: "DELETE" });
    state.merges = state.merges.map((m) => (m.id === undone.id ? undone : m));
    state.taxonomyVersion = undone.undo_taxonomy_version;
    renderHistory();
    await reloadClasses();
    schedulePreview();
    state.mergeNote = `Merge #${merge.id} undone (taxonomy version ${undone.undo_taxonomy_version}).`;
    showStatus(ui.historyStatus, `${state.mergeNote} The report is being recomputed…`);
    state.noteFor = "undo";
    note(null);
    watchReport(undone.undo_taxonomy_version);
  } catch (error) {
    button.disabled = false;
    showStatus(ui.historyStatus, error.message, { error: true });
  }
}

/** Poll the report until it was computed under ``version`` (or later), then redraw what reads
 * from it. Gives up quietly after REPORT_POLLS tries: the figures say which version they are. */
function watchReport(version, tries = 0) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(async () => {
    try {
      const body = await apiFetch(config.urls.report);
      const report = body.report;
      if (report && report.taxonomy_version >= version && !body.stale) {
        state.report = {
          version: report.version,
          taxonomy_version: report.taxonomy_version,
          stale: body.stale,
          recomputing: body.recomputing,
          per_class: report.per_class ?? [],
          borderline: report.overall?.borderline ?? null,
        };
        renderClasses();
        renderBorderline();
        const text = `The consistency report is up to date (taxonomy version ${report.taxonomy_version}).`;
        if (state.noteFor === "merge") note(`${state.mergeNote} ${text}`, { done: true });
        else if (state.noteFor === "undo") showStatus(ui.historyStatus, `${state.mergeNote} ${text}`);
        else showStatus(ui.pageStatus, text);
        return;
      }
    } catch {
      // A failed poll is retried like an unfinished one.
    }
    if (tries + 1 < REPORT_POLLS) watchReport(version, tries + 1);
  }, tries === 0 ? 200 : REPORT_POLL_MS);
}

/* ---------- history ---------- */

function historyRow(merge) {
  const row = el("tr");
  row.dataset.mergeId = merge.id;
  if (merge.undone_at) row.classList.add("tx-row--undone");
  const what = el("td");
  what.append(el("span", "tx-mono", `#${merge.id} `));
  what.append(el("span", null, `${merge.sources.join(", ")} → ${merge.target}`));
  if (merge.created_target) what.append(el("span", "muted", " (new class)"));
  const version = el("td", "num", `v${merge.taxonomy_version}`);
  const when = el("td", "tx-when", DATE_TIME.format(new Date(merge.created_at)));
  const stateCell = el("td");
  const inner = el("span", "tx-state__inner");
  stateCell.append(inner);
  if (merge.undone_at) {
    inner.append(
      el(
        "span",
        "muted",
        `Undone in v${merge.undo_taxonomy_version}${merge.undone_by ? ` by ${merge.undone_by}` : ""}, ${DATE_TIME.format(new Date(merge.undone_at))}`,
      ),
    );
  } else {
    inner.append(el("span", "badge tx-badge--active", "Active"));
    if (config.can_manage) {
      const undo = el("button", "btn btn--secondary btn--sm", "Undo");
      undo.type = "button";
      undo.setAttribute("aria-label", `Undo merge ${merge.id}`);
      undo.addEventListener("click", () => undoMerge(merge, undo));
      inner.append(undo);
    }
  }
  row.append(what, version, el("td", null, merge.created_by ?? "—"), when, stateCell);
  return row;
}

function renderHistory() {
  ui.history.replaceChildren(...state.merges.map(historyRow));
  ui.historyEmpty.hidden = state.merges.length > 0;
  ui.historyCount.textContent = String(state.merges.length);
}

/* ---------- aliases ---------- */

function aliasRow(alias) {
  const row = el("tr");
  row.dataset.aliasId = alias.id;
  const text = el("td");
  text.append(el("code", "tx-alias", alias.alias));
  if (alias.normalized && alias.normalized !== alias.alias) text.append(el("span", "muted", ` matches “${alias.normalized}”`));
  row.append(text, el("td", null, `${className(alias.label_class)} `));
  row.lastChild.append(el("code", "tx-code", alias.label_class));
  if (config.can_manage) {
    const action = el("td", "tx-actions");
    const remove = el("button", "btn btn--ghost btn--sm", "Delete");
    remove.type = "button";
    remove.setAttribute("aria-label", `Delete alias ${alias.alias}`);
    remove.addEventListener("click", () => deleteAlias(alias, remove));
    action.append(remove);
    row.append(action);
  }
  return row;
}

function renderAliases() {
  ui.aliases.replaceChildren(...state.aliases.map(aliasRow));
  ui.aliasesEmpty.hidden = state.aliases.length > 0;
  ui.aliasesCount.textContent = String(state.aliases.length);
}

function renderAliasClassOptions() {
  if (!ui.aliasClass) return;
  const current = ui.aliasClass.value;
  const options = state.classes
    .filter((c) => !c.merged_into)
    .map((c) => {
      const option = el("option", null, `${c.name} (${c.key})`);
      option.value = c.key;
      return option;
    });
  ui.aliasClass.replaceChildren(...options);
  if (options.some((o) => o.value === current)) ui.aliasClass.value = current;
}

async function deleteAlias(alias, button) {
  button.disabled = true;
  try {
    await apiFetch(withId(config.urls.alias, alias.id), { method: "DELETE" });
    state.aliases = state.aliases.filter((a) => a.id !== alias.id);
    renderAliases();
    showStatus(ui.aliasesStatus, `Alias “${alias.alias}” deleted.`);
  } catch (error) {
    button.disabled = false;
    showStatus(ui.aliasesStatus, error.message, { error: true });
  }
}

ui.aliasForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  fieldError(ui.aliasError, null);
  fieldError(ui.aliasClassError, null);
  fieldError(ui.aliasFormError, null);
  const alias = ui.aliasText.value;
  if (!alias.trim()) {
    fieldError(ui.aliasError, "Type the other spelling.");
    ui.aliasText.focus();
    return;
  }
  ui.aliasSubmit.disabled = true;
  try {
    const created = await apiFetch(config.urls.aliases, {
      method: "POST",
      body: { alias, class: ui.aliasClass.value },
    });
    state.aliases = [...state.aliases, created].sort((a, b) => a.normalized.localeCompare(b.normalized));
    renderAliases();
    ui.aliasText.value = "";
    showStatus(ui.aliasesStatus, `“${created.alias}” now counts as ${created.label_class}.`);
  } catch (error) {
    if (error.field === "alias") fieldError(ui.aliasError, error.message);
    else if (error.field === "class") fieldError(ui.aliasClassError, error.message);
    else fieldError(ui.aliasFormError, error.message);
  } finally {
    ui.aliasSubmit.disabled = false;
  }
});

/* ---------- borderline ---------- */

function renderBorderline() {
  const summary = state.report?.borderline;
  ui.borderlinePanel.hidden = !summary;
  if (!summary) return;
  const ordinal = summary.ordinal_alpha ?? {};
  ui.borderlineOrdinal.textContent =
    ordinal.value === null || ordinal.value === undefined ? "Ordinal α: —" : `Ordinal α ${fixed(ordinal.value)}`;
  ui.borderlineOrdinal.title = ordinal.reason ?? "Krippendorff’s ordinal α over the class order";
  const reason = ordinal.value === null || ordinal.value === undefined ? ` Ordinal α is not reported: ${ordinal.reason ?? "undefined"}.` : "";
  ui.borderlineSummary.textContent =
    `“${className(summary.class)}” was given ${plural(summary.labels, "time")} on ${plural(summary.items, "item")}. ` +
    `Below: how often each class meets it on the same item.${reason}`;
  const rows = [...summary.confused]
    .sort((a, b) => (b.share ?? -1) - (a.share ?? -1))
    .map((row) => {
      const tr = el("tr");
      tr.dataset.classKey = row.class;
      const head = el("th", null, className(row.class));
      head.scope = "row";
      const share = el("td");
      const meter = el("span", "meter-cell meter-cell--narrow");
      const track = el("span", "meter-cell__track");
      track.setAttribute("aria-hidden", "true");
      const bar = el("span", "meter-cell__bar meter-cell__bar--warm");
      bar.style.width = `${Math.round((row.share ?? 0) * 100)}%`;
      track.append(bar);
      meter.append(track, el("span", "num", percent(row.share)));
      share.append(meter);
      tr.append(head, el("td", "num", row.items.toLocaleString()), share);
      return tr;
    });
  ui.borderline.replaceChildren(...rows);
}

/* ---------- split a class ---------- */

/** A class key as the classes API and the merge accept it: lowercase slug, 64 at most. */
const KEY_PATTERN = /^[a-z0-9_-]{1,64}$/;
const MIN_SPLIT_CLASSES = 2;
const MAX_SPLIT_CLASSES = 10;

function renderSplitSources() {
  if (!ui.splitSource) return;
  const current = ui.splitSource.value;
  const options = state.classes
    .filter((c) => !c.merged_into && c.kind !== "borderline")
    .map((c) => {
      const n = state.labeledItems[c.key] ?? 0;
      const option = el("option", null, `${c.name} (${c.key}) — ${plural(n, "item")}`);
      option.value = c.key;
      return option;
    });
  ui.splitSource.replaceChildren(...options);
  if (options.some((o) => o.value === current)) ui.splitSource.value = current;
  updateSplitHint();
}

function updateSplitHint() {
  const key = ui.splitSource.value;
  if (!key) {
    ui.splitSourceHint.textContent = "The project has no class to split.";
    return;
  }
  const n = state.labeledItems[key] ?? 0;
  ui.splitSourceHint.textContent =
    n === 0
      ? `No item is labeled ${className(key)} in its current round: there is nothing to relabel.`
      : `${plural(n, "item")} ${n === 1 ? "is" : "are"} labeled ${className(key)} now: round ${state.currentRound + 1} starts on ${n === 1 ? "it" : "all of them"}.`;
}

function splitRow(index) {
  const row = el("div", "tx-split__row");
  row.dataset.row = String(index);
  const make = (name, labelText, attrs) => {
    const field = el("div", "field");
    const id = `split-${name}-${index}`;
    const label = el("label", null, labelText);
    label.htmlFor = id;
    const input = el("input");
    input.id = id;
    input.name = name;
    input.autocomplete = "off";
    input.spellcheck = false;
    Object.assign(input, attrs);
    const error = el("p", "field__error");
    error.id = `${id}-error`;
    error.hidden = true;
    input.setAttribute("aria-describedby", error.id);
    field.append(label, input, error);
    return field;
  };
  row.append(
    make("key", `New class ${index + 1}: key`, { maxLength: 64, placeholder: index === 0 ? "e.g. hairline" : "e.g. gouge" }),
    make("name", `New class ${index + 1}: name`, { maxLength: 120, placeholder: index === 0 ? "e.g. Hairline scratch" : "e.g. Gouge" }),
  );
  return row;
}

function splitRows() {
  return [...ui.splitRows.querySelectorAll(".tx-split__row")].map((row) => ({
    row,
    key: row.querySelector("input[name=key]"),
    name: row.querySelector("input[name=name]"),
  }));
}

function addSplitRow() {
  const count = splitRows().length;
  if (count >= MAX_SPLIT_CLASSES) return;
  ui.splitRows.append(splitRow(count));
  ui.splitAddRow.disabled = count + 1 >= MAX_SPLIT_CLASSES;
}

function inputError(input, message) {
  const error = document.getElementById(`${input.id}-error`);
  fieldError(error, message);
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function clearSplitErrors() {
  for (const { key, name } of splitRows()) {
    inputError(key, null);
    inputError(name, null);
  }
  fieldError(ui.splitSourceError, null);
  fieldError(ui.splitError, null);
}

/** The new classes typed in, checked as the API would: rows left blank are skipped. Returns the
 * classes, or null after putting a message next to each field that is wrong. */
function splitClasses() {
  const existing = byKey();
  const seen = new Set();
  const chosen = [];
  let ok = true;
  for (const { key, name } of splitRows()) {
    const k = key.value.trim();
    const n = name.value.trim();
    if (!k && !n) continue;
    if (!KEY_PATTERN.test(k)) {
      inputError(key, k ? "A key takes lowercase letters, digits, - and _ (64 at most)." : "Type a key for this class.");
      ok = false;
    } else if (existing.has(k)) {
      inputError(key, `The project already has a class ${k}.`);
      ok = false;
    } else if (seen.has(k)) {
      inputError(key, "Two new classes cannot share a key.");
      ok = false;
    }
    if (!n) {
      inputError(name, "Name the class.");
      ok = false;
    }
    seen.add(k);
    chosen.push({ key: k, name: n, input: { key, name } });
  }
  if (ok && chosen.length < MIN_SPLIT_CLASSES) {
    const first = splitRows()[chosen.length];
    inputError(first.key, `A split makes at least ${MIN_SPLIT_CLASSES} new classes.`);
    ok = false;
  }
  return ok ? chosen : null;
}

function splitNote(text, { done = false } = {}) {
  ui.splitNote.hidden = !text;
  ui.splitNote.textContent = text ?? "";
  ui.splitNote.classList.toggle("tx-note--done", done);
}

async function submitSplit(event) {
  event.preventDefault();
  clearSplitErrors();
  splitNote(null);
  const source = ui.splitSource.value;
  if (!source) {
    fieldError(ui.splitSourceError, "Choose the class to split.");
    return;
  }
  const items = state.labeledItems[source] ?? 0;
  if (items === 0) {
    fieldError(ui.splitSourceError, `No item is labeled ${className(source)} now: a round needs at least one item.`);
    return;
  }
  const chosen = splitClasses();
  if (!chosen) return;
  const names = listWords(chosen.map((c) => `${c.name} (${c.key})`));
  const nextRound = state.currentRound + 1;
  const question =
    `Split ${className(source)} into ${names}?\n\n` +
    `The ${plural(chosen.length, "class", "classes")} ${chosen.length === 1 ? "is" : "are"} added, and round ${nextRound} starts on ` +
    `the ${plural(items, "item")} labeled ${className(source)}: labelers label them again and see the new classes. ` +
    `Earlier labels are kept with their round.`;
  if (!window.confirm(question)) return;
  setBusy(ui.splitSubmit, true);
  const created = [];
  try {
    for (const cls of chosen) {
      try {
        created.push(await apiFetch(config.urls.classes, { method: "POST", body: { key: cls.key, name: cls.name } }));
      } catch (error) {
        if (error.field === "key") inputError(cls.input.key, error.message);
        else if (error.field === "name") inputError(cls.input.name, error.message);
        else fieldError(ui.splitError, error.message);
        if (created.length) {
          fieldError(ui.splitError, `${error.message} Added before the error: ${created.map((c) => c.key).join(", ")}. No round was started.`);
        }
        return;
      }
    }
    let round;
    try {
      round = await apiFetch(config.urls.rounds, { method: "POST", body: { labeled: source } });
    } catch (error) {
      if (error.field === "labeled") fieldError(ui.splitSourceError, error.message);
      fieldError(
        ui.splitError,
        `The classes ${created.map((c) => c.key).join(", ")} were added, but the round did not start: ${error.message}`,
      );
      return;
    }
    state.currentRound = round.number;
    state.labeledItems = { ...state.labeledItems, [source]: 0 }; // its items are in the new round now
    for (const cls of created) state.labeledItems[cls.key] = 0;
    for (const { row } of splitRows()) row.remove();
    addSplitRow();
    addSplitRow();
    splitNote(
      `Round ${round.number} started on ${plural(round.items, "item")} labeled ${className(source)}; ` +
        `labelers will see the new classes ${listWords(created.map((c) => c.name))}.`,
      { done: true },
    );
  } finally {
    setBusy(ui.splitSubmit, false);
    if (created.length) await reloadClasses().catch(() => {});
  }
}

/* ---------- start ---------- */

ui.target.addEventListener("input", schedulePreview);
ui.targetName.addEventListener("input", () => {
  if (state.previewed) ui.sentence.textContent = sentenceFor(state.previewed.preview);
});
ui.apply?.addEventListener("click", applyMerge);
if (ui.splitForm) {
  addSplitRow();
  addSplitRow();
  ui.splitAddRow.addEventListener("click", addSplitRow);
  ui.splitSource.addEventListener("change", () => {
    fieldError(ui.splitSourceError, null);
    updateSplitHint();
  });
  ui.splitForm.addEventListener("submit", submitSplit);
}
document.getElementById("merge-form").addEventListener("submit", (event) => event.preventDefault());

renderClasses();
renderHistory();
renderAliases();
renderBorderline();
setPreviewMode("idle");
if (state.report?.stale || (state.report && state.report.taxonomy_version < state.taxonomyVersion)) {
  const recomputing = state.report.recomputing ? " It is being recomputed." : "";
  showStatus(ui.pageStatus, `The label counts are from a report older than the newest labels or merge.${recomputing}`);
  watchReport(state.taxonomyVersion);
}
