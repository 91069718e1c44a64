/**
 * The Datasets page (engineers and managers): build an export URL from the filters, freeze the
 * filtered export as a version, list the versions, and diff two of them.
 *
 * - The filter form is the one source of the export's parameters: each change rebuilds the URL
 *   (shown with a matching curl line), the Download link's href, the page's own query string (so
 *   a link to the page reopens the same filters) and the list of filters a freeze would store.
 * - Checking on the client, not by asking the server first: every choice offered comes from the
 *   project itself (class keys, slice values present, round numbers), so only the two thresholds
 *   and the date are free-form, and those are checked here. A preflight request would run the
 *   export view (and count against its hourly throttle) for nothing. If the server still refuses
 *   a download (the project changed under the page), the plain link opens its JSON message; a
 *   refused freeze shows the server's message next to the field it names.
 * - Versions page with the API's cursor; the diff pages with limit/offset and filters by reason.
 * - Everything from the server goes into the page with textContent, never as HTML.
 */

import { $, DATE_TIME, apiFetch, classLookup, el, plural, readConfig, showStatus } from "./api.js";

const config = readConfig("datasets-config");
const classes = classLookup(config.classes);
const DIFF_PAGE = 50;
const REASONS = {
  review_decision: "Review decision",
  new_labels: "New labels",
  reestimated: "Re-estimated",
  export_parameters: "Export parameters",
  added: "Added",
  removed: "Removed",
};
const REASON_HINTS = {
  review_decision: "An SME’s decision on the item is new, revised or withdrawn.",
  new_labels: "The item’s labels changed: a new round, more labels or a withdrawal.",
  reestimated: "Same labels, no new decision: Dawid–Skene re-weighed the labelers.",
  export_parameters: "The versions were frozen with different filters.",
  added: "The item is only in the newer version.",
  removed: "The item is only in the older version.",
};
const METHODS = { reviewed: "reviewed", dawid_skene: "Dawid–Skene", majority: "majority" };
const CHANGES = { changed: "Changed", added: "Added", removed: "Removed" };
const FILTER_FIELDS = [
  "min_agreement",
  "min_confidence",
  "reviewed_only",
  "borderline",
  "slice",
  "class",
  "round",
  "updated_since",
  "include_insufficient",
  "labelers",
  "format",
];

const ui = {
  exportForm: $("export-form"),
  minAgreement: $("min-agreement"),
  minAgreementRange: $("min-agreement-range"),
  minConfidence: $("min-confidence"),
  minConfidenceRange: $("min-confidence-range"),
  borderline: $("borderline"),
  format: $("format"),
  labelers: $("labelers"),
  reviewedOnly: $("reviewed-only"),
  includeInsufficient: $("include-insufficient"),
  updatedSince: $("updated-since"),
  exportCount: $("export-count"),
  exportUrl: $("export-url"),
  exportCurl: $("export-curl"),
  exportStatus: $("export-status"),
  download: $("export-download"),
  freezeForm: $("freeze-form"),
  name: $("version-name"),
  note: $("version-note"),
  freezeFilters: $("freeze-filters"),
  freezeError: $("freeze-error"),
  freezeStatus: $("freeze-status"),
  freezeSubmit: $("freeze-submit"),
  versions: $("versions"),
  versionsEmpty: $("versions-empty"),
  versionsCount: $("versions-count"),
  versionsStatus: $("versions-status"),
  versionsMore: $("versions-more"),
  versionsTable: $("versions-table-wrap"),
  versionsFoot: $("versions-foot"),
  compareForm: $("compare-form"),
  compareA: $("compare-a"),
  compareB: $("compare-b"),
  compareError: $("compare-error"),
  diff: $("diff"),
  diffTitle: $("diff-title"),
  diffCount: $("diff-count"),
  diffHint: $("diff-hint"),
  diffSummary: $("diff-summary"),
  diffReasons: $("diff-reasons"),
  diffReasonsGroup: $("diff-reasons-group"),
  diffTableWrap: $("diff-table-wrap"),
  diffItems: $("diff-items"),
  diffEmpty: $("diff-empty"),
  diffStatus: $("diff-status"),
  diffCaption: $("diff-caption"),
  diffPager: $("diff-pager"),
  diffRange: $("diff-range"),
  diffPrev: $("diff-prev"),
  diffNext: $("diff-next"),
};

const state = { versions: [], next: null, totalKnown: false };
const diffState = { a: null, b: null, reason: "", offset: 0, data: null };

const withId = (template, id) => template.replace(config.urls.id_placeholder, String(id));
const checkedValues = (name) =>
  [...ui.exportForm.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);

/* ---------- field errors ---------- */

function errorNode(field) {
  return field ? document.getElementById(`${field}-error`) : null;
}

function controlOf(field) {
  return ui.exportForm.querySelector(`[name="${field}"]`) ?? ui.freezeForm.querySelector(`[name="${field}"]`);
}

function setFieldError(field, message) {
  const node = errorNode(field);
  if (!node) return false;
  node.textContent = message ?? "";
  node.hidden = !message;
  const control = controlOf(field);
  if (control && control.type !== "checkbox") {
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
  return true;
}

function clearErrors(fields) {
  for (const field of fields) setFieldError(field, null);
}

/* ---------- the filters ---------- */

/** A threshold in [0, 1], or null when the box is empty; an error message when it is not one. */
function readFraction(input, label) {
  if (input.validity.badInput) return { error: `${label} must be a number between 0 and 1.` };
  const raw = input.value.trim();
  if (raw === "") return { value: null };
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    return { error: `${label} must be a number between 0 and 1.` };
  }
  return { value };
}

/**
 * The form as the export's parameters: ``entries`` for a query string (in the API's order),
 * ``params`` as the JSON object a freeze takes (no format, never usernames), ``errors`` by field.
 */
function readFilters() {
  const errors = {};
  const entries = [["format", ui.format.value]];
  const params = {};
  for (const [field, input, label] of [
    ["min_agreement", ui.minAgreement, "Minimum agreement"],
    ["min_confidence", ui.minConfidence, "Minimum confidence"],
  ]) {
    const read = readFraction(input, label);
    if (read.error) errors[field] = read.error;
    else if (read.value !== null) {
      entries.push([field, String(read.value)]);
      params[field] = read.value;
    }
  }
  if (ui.reviewedOnly.checked) {
    entries.push(["reviewed_only", "true"]);
    params.reviewed_only = true;
  }
  if (ui.borderline.value !== "keep") {
    entries.push(["borderline", ui.borderline.value]);
    params.borderline = ui.borderline.value;
  }
  const slices = checkedValues("slice");
  for (const slice of slices) entries.push(["slice", slice]);
  if (slices.length) params.slice = slices;
  const keys = checkedValues("class");
  if (keys.length) {
    entries.push(["class", keys.join(",")]);
    params.class = keys;
  }
  const rounds = checkedValues("round");
  if (rounds.length) {
    entries.push(["round", rounds.join(",")]);
    params.round = rounds.map(Number);
  }
  if (ui.updatedSince.validity.badInput) {
    errors.updated_since = "Give a full date and time, or clear the field.";
  } else if (ui.updatedSince.value) {
    // datetime-local gives "YYYY-MM-DDTHH:MM[:SS]" without a zone; the label says UTC.
    const since = `${ui.updatedSince.value.length === 16 ? `${ui.updatedSince.value}:00` : ui.updatedSince.value}Z`;
    entries.push(["updated_since", since]);
    params.updated_since = since;
  }
  if (ui.includeInsufficient.checked) {
    entries.push(["include_insufficient", "true"]);
    params.include_insufficient = true;
  }
  if (ui.labelers.value === "username") entries.push(["labelers", "username"]);
  return { entries, params, errors };
}

/** Words for each filter a freeze would store ("agreement ≥ 0.8", "camera: A or B"). */
function describeFilters(params) {
  const words = [];
  if (params.min_agreement !== undefined) words.push(`agreement ≥ ${params.min_agreement}`);
  if (params.min_confidence !== undefined) words.push(`confidence ≥ ${params.min_confidence}`);
  if (params.reviewed_only) words.push("reviewed only");
  if (params.borderline === "drop") words.push("borderline dropped");
  else if (params.borderline === "soft") words.push("borderline as soft labels");
  else if (params.borderline) words.push(`borderline → ${classes.name(params.borderline)}`);
  if (params.class) words.push(`class: ${params.class.map((k) => classes.name(k)).join(" or ")}`);
  const byName = new Map();
  for (const slice of params.slice ?? []) {
    const at = slice.indexOf(":");
    const name = slice.slice(0, at);
    byName.set(name, [...(byName.get(name) ?? []), slice.slice(at + 1)]);
  }
  for (const [name, values] of byName) words.push(`${name}: ${values.join(" or ")}`);
  if (params.round) words.push(`round ${params.round.join(", ")}`);
  if (params.updated_since) {
    const since = utcMinutes(params.updated_since);
    words.push(`updated since ${since ? `${since.replace("T", " ")} UTC` : params.updated_since}`);
  }
  if (params.include_insufficient) words.push("with items lacking information");
  return words;
}

function exportQuery(entries) {
  return new URLSearchParams(entries).toString();
}

/** Rebuild the URL, the curl line, the link, the page's query string and the freeze summary. */
function refresh() {
  const { entries, params, errors } = readFilters();
  clearErrors(FILTER_FIELDS);
  for (const [field, message] of Object.entries(errors)) setFieldError(field, message);
  const valid = Object.keys(errors).length === 0;
  const query = exportQuery(entries);
  const path = `${config.urls.export}?${query}`;
  const absolute = new URL(path, window.location.origin).href;
  ui.exportUrl.value = valid ? absolute : "";
  ui.exportUrl.placeholder = valid ? "" : "Fix the filters above";
  // The name the server's Content-Disposition gives the file.
  const file = `labelhub-project-${config.project.id}.${ui.format.value}`;
  ui.exportCurl.value = valid ? `curl -H "Authorization: Bearer <token>" -o ${file} '${absolute}'` : "";
  if (valid) {
    ui.download.href = path;
    ui.download.removeAttribute("aria-disabled");
  } else {
    ui.download.setAttribute("aria-disabled", "true");
  }
  const words = describeFilters(params);
  ui.exportCount.textContent = words.length ? plural(words.length, "filter") : "All items";
  ui.freezeFilters.replaceChildren(
    ...(words.length ? words.map((w) => el("li", "chip", w)) : [el("li", "chip", "none: every labeled item")]),
  );
  if (valid) {
    const pageQuery = exportQuery(entries.filter(([name, value]) => !(name === "format" && value === "jsonl")));
    const target = pageQuery ? `?${pageQuery}` : window.location.pathname;
    window.history.replaceState(null, "", target + window.location.hash);
  }
  return { valid, params, errors };
}

/** UTC "YYYY-MM-DDTHH:MM" for the datetime-local box, from any ISO 8601 time; null if none. */
function utcMinutes(iso) {
  let text = String(iso).trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += "T00:00";
  // No offset: UTC, as the API reads it.
  if (!/([zZ]|[+-]\d{2}:?\d{2})$/.test(text)) text += "Z";
  const time = Date.parse(text);
  return Number.isNaN(time) ? null : new Date(time).toISOString().slice(0, 16);
}

/**
 * Put filters into the form: every control is set (absent parameters back to their defaults).
 * ``query`` is a URLSearchParams in the export's words. Returns the values the form does not
 * offer (a slice value no item carries any more), which are left out.
 */
function restoreFilters(query) {
  const missing = [];
  const pick = (select, value, fallback) => {
    const offered = value !== null && [...select.options].some((o) => o.value === value);
    if (value !== null && !offered) missing.push(value);
    select.value = offered ? value : fallback;
  };
  for (const [name, input, range] of [
    ["min_agreement", ui.minAgreement, ui.minAgreementRange],
    ["min_confidence", ui.minConfidence, ui.minConfidenceRange],
  ]) {
    const value = query.get(name) ?? "";
    input.value = value;
    range.value = value === "" || !Number.isFinite(Number(value)) ? "0" : value;
  }
  pick(ui.format, query.get("format"), "jsonl");
  pick(ui.borderline, query.get("borderline"), "keep");
  pick(ui.labelers, query.get("labelers"), "pseudonymous");
  ui.reviewedOnly.checked = query.get("reviewed_only") === "true";
  ui.includeInsufficient.checked = query.get("include_insufficient") === "true";
  const wanted = {
    slice: new Set(query.getAll("slice")),
    class: new Set(query.getAll("class").flatMap((v) => v.split(","))),
    round: new Set(query.getAll("round").flatMap((v) => v.split(","))),
  };
  for (const [name, values] of Object.entries(wanted)) {
    const boxes = [...ui.exportForm.querySelectorAll(`input[name="${name}"]`)];
    for (const box of boxes) box.checked = values.has(box.value);
    const offered = new Set(boxes.map((box) => box.value));
    missing.push(...[...values].filter((value) => value && !offered.has(value)));
  }
  const since = query.get("updated_since");
  ui.updatedSince.value = (since && utcMinutes(since)) || "";
  return missing;
}

/** A frozen version's canonical params (``ExportParams.canonical()``) in the export's words. */
function versionQuery(params) {
  const query = new URLSearchParams();
  for (const name of ["min_agreement", "min_confidence"]) {
    if (params[name] !== null && params[name] !== undefined) query.set(name, String(params[name]));
  }
  if (params.reviewed_only) query.set("reviewed_only", "true");
  if (params.borderline && params.borderline !== "keep") query.set("borderline", params.borderline);
  for (const [name, values] of Object.entries(params.slice ?? {})) {
    for (const value of values) query.append("slice", `${name}:${value}`);
  }
  if (params.class?.length) query.set("class", params.class.join(","));
  if (params.round?.length) query.set("round", params.round.join(","));
  if (params.updated_since) query.set("updated_since", params.updated_since);
  if (params.include_insufficient) query.set("include_insufficient", "true");
  return query;
}

/** A version's filters in words, as the freeze panel lists them. */
function versionFilters(version) {
  const query = versionQuery(version.params ?? {});
  const params = {};
  for (const name of ["min_agreement", "min_confidence", "borderline", "updated_since"]) {
    if (query.has(name)) params[name] = query.get(name);
  }
  if (query.has("reviewed_only")) params.reviewed_only = true;
  if (query.has("include_insufficient")) params.include_insufficient = true;
  if (query.has("slice")) params.slice = query.getAll("slice");
  if (query.has("class")) params.class = query.get("class").split(",");
  if (query.has("round")) params.round = query.get("round").split(",");
  return describeFilters(params);
}

function useVersionFilters(version) {
  const missing = restoreFilters(versionQuery(version.params ?? {}));
  refresh();
  showStatus(
    ui.exportStatus,
    missing.length
      ? `Filters of version ${version.number} loaded, except what this project no longer offers: ${missing.join(", ")}.`
      : `Filters of version ${version.number} loaded into the export form.`,
    { error: missing.length > 0 },
  );
  $("export-title").scrollIntoView({ behavior: "smooth", block: "start" });
  ui.minAgreement.focus({ preventScroll: true });
}

for (const [input, range] of [
  [ui.minAgreement, ui.minAgreementRange],
  [ui.minConfidence, ui.minConfidenceRange],
]) {
  range.addEventListener("input", () => {
    // 0 keeps every item: the same as no minimum, so the box says "none".
    input.value = Number(range.value) === 0 ? "" : range.value;
    refresh();
  });
  input.addEventListener("input", () => {
    const value = Number(input.value);
    if (input.value !== "" && Number.isFinite(value)) range.value = String(value);
    else if (input.value === "") range.value = "0";
  });
}

ui.exportForm.addEventListener("input", refresh);
ui.exportForm.addEventListener("change", refresh);
ui.exportForm.addEventListener("submit", (event) => event.preventDefault());
ui.exportForm.addEventListener("reset", () => {
  // After the browser has put the defaults back.
  setTimeout(() => {
    ui.minAgreementRange.value = "0";
    ui.minConfidenceRange.value = "0";
    refresh();
    showStatus(ui.exportStatus, "Filters cleared: the export holds every labeled item.");
  });
});

ui.download.addEventListener("click", (event) => {
  if (ui.download.getAttribute("aria-disabled") === "true") {
    event.preventDefault();
    showStatus(ui.exportStatus, "Fix the filters marked above first.", { error: true });
    ui.exportForm.querySelector("[aria-invalid=true]")?.focus();
  }
});

async function copyFrom(node, status, what) {
  try {
    await navigator.clipboard.writeText(node.value ?? node.textContent);
    showStatus(status, `${what} copied to the clipboard.`);
  } catch {
    // No clipboard (an insecure origin): select the text so the user can copy it.
    if (node.select) node.select();
    else window.getSelection()?.selectAllChildren(node);
    showStatus(status, "Press Ctrl+C (⌘C) to copy the selected text.");
  }
}

for (const button of document.querySelectorAll("[data-copy]")) {
  const target = $(button.dataset.copy);
  const what = button.dataset.copy === "export-url" ? "The URL" : "The curl command";
  button.addEventListener("click", () => copyFrom(target, ui.exportStatus, what));
}

/* ---------- freezing ---------- */

ui.freezeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  ui.freezeError.hidden = true;
  clearErrors(["name", "note"]);
  const { valid, params } = refresh();
  if (!valid) {
    ui.freezeError.textContent = "Fix the filters marked in the export form first.";
    ui.freezeError.hidden = false;
    ui.exportForm.querySelector("[aria-invalid=true]")?.focus();
    return;
  }
  const spinner = ui.freezeSubmit.querySelector(".btn__spinner");
  ui.freezeSubmit.disabled = true;
  spinner.hidden = false;
  showStatus(ui.freezeStatus, "Freezing… the export is written and hashed.");
  try {
    const version = await apiFetch(config.urls.datasets, {
      method: "POST",
      body: { name: ui.name.value.trim(), note: ui.note.value.trim(), params },
      timeoutMs: 120_000,
    });
    state.versions = [version, ...state.versions.filter((v) => v.id !== version.id)];
    renderVersions({ fresh: true });
    ui.name.value = "";
    ui.note.value = "";
    showStatus(
      ui.freezeStatus,
      `Version ${version.number} frozen: ${plural(version.n_items, "item")}, ` +
        `SHA-256 ${version.content_hash.slice(0, 12)}…`,
    );
    ui.versions.querySelector(`tr[data-version-id="${version.id}"]`)?.classList.add("ds-row--new");
  } catch (error) {
    showStatus(ui.freezeStatus, "");
    const field = error.field?.split(".")[0];
    if (!setFieldError(field, error.message)) {
      ui.freezeError.textContent = error.message;
      ui.freezeError.hidden = false;
    } else {
      (controlOf(field) ?? errorNode(field))?.focus?.();
    }
  } finally {
    ui.freezeSubmit.disabled = false;
    spinner.hidden = true;
  }
});

/* ---------- the versions ---------- */

function alphaOf(version) {
  const summary = version.summary ?? {};
  if (summary.report_version === null || summary.report_version === undefined) {
    return { text: "—", level: "undefined", title: "No consistency report existed when this version was frozen." };
  }
  const alpha = summary.overall?.krippendorff_alpha;
  const value = alpha?.value;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return { text: "—", level: "undefined", title: alpha?.reason ? `Undefined: ${alpha.reason}` : "Undefined" };
  }
  const level = value >= config.alpha_good ? "good" : value >= config.alpha_tentative ? "tentative" : "low";
  const interval = typeof alpha.low === "number" ? ` (95% CI ${alpha.low.toFixed(3)}–${alpha.high.toFixed(3)})` : "";
  return {
    text: value.toFixed(3),
    level,
    title: `Krippendorff’s α ${value.toFixed(3)}${interval}, report v${summary.report_version}`,
  };
}

/** Class counts as a thin stacked bar (decorative) and words ("Clean 120 · Scratch 40"). */
function classCounts(version) {
  const cell = el("td", "ds-classes");
  const counts = Object.entries(version.class_counts ?? {}).sort(
    ([a], [b]) => config.classes.findIndex((c) => c.key === a) - config.classes.findIndex((c) => c.key === b),
  );
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  if (!total) {
    cell.append(el("span", "muted", "—"));
    return cell;
  }
  const bar = el("span", "ds-bar");
  bar.setAttribute("aria-hidden", "true");
  for (const [key, n] of counts) {
    const part = el("span", `ds-bar__part ${classes.tone(key)}`);
    part.style.width = `${(100 * n) / total}%`;
    bar.append(part);
  }
  const words = el("span", "ds-classes__words");
  counts.forEach(([key, n], i) => {
    if (i) words.append(" · ");
    const word = el("span", `ds-count ${classes.tone(key)}`);
    word.append(el("span", "ds-count__swatch"), `${classes.name(key)} ${n.toLocaleString()}`);
    words.append(word);
  });
  cell.append(bar, words);
  return cell;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}

function versionRow(version) {
  const row = el("tr");
  row.dataset.versionId = version.id;
  const head = el("th", "ds-version");
  head.scope = "row";
  head.append(el("span", "ds-version__number", `v${version.number}`));
  if (version.name) head.append(el("span", "ds-version__name", version.name));
  if (version.note) {
    const note = el("span", "ds-version__note muted", version.note);
    note.title = version.note;
    head.append(note);
  }
  const filters = versionFilters(version);
  const used = el("span", "ds-version__filters");
  used.append(el("span", "muted", filters.length ? filters.join(" · ") : "no filters"));
  const reuse = el("button", "linklike ds-version__reuse", "Use these filters");
  reuse.type = "button";
  reuse.setAttribute("aria-label", `Use the filters of version ${version.number} in the export form`);
  reuse.addEventListener("click", () => useVersionFilters(version));
  used.append(" ", reuse);
  head.append(used);

  const alpha = alphaOf(version);
  const alphaCell = el("td", "num ds-alpha");
  alphaCell.title = alpha.title;
  alphaCell.append(el("span", `dot dot--${alpha.level}`), alpha.text);
  alphaCell.querySelector(".dot").setAttribute("aria-hidden", "true");

  const hash = el("td", "ds-hash");
  const code = el("code", "ds-hash__value", version.content_hash.slice(0, 12));
  code.title = `SHA-256 ${version.content_hash}`;
  const copy = el("button", "btn btn--ghost btn--sm", "Copy");
  copy.type = "button";
  copy.setAttribute("aria-label", `Copy the full SHA-256 of version ${version.number}`);
  const full = el("span", "visually-hidden", version.content_hash);
  copy.addEventListener("click", () => copyFrom(full, ui.versionsStatus, `The SHA-256 of version ${version.number}`));
  hash.append(code, full, copy);

  const created = el("td", "ds-when");
  created.append(
    el("span", null, version.created_by ?? "—"),
    el("span", "muted", DATE_TIME.format(new Date(version.created_at))),
  );

  const action = el("td", "ds-download");
  const link = el("a", "btn btn--secondary btn--sm", "Download");
  link.href = version.download;
  link.title = `JSONL, ${formatBytes(version.size_bytes)} compressed`;
  link.append(el("span", "visually-hidden", ` version ${version.number}`));
  action.append(link);

  row.append(
    head,
    el("td", "num", version.n_items.toLocaleString()),
    classCounts(version),
    alphaCell,
    hash,
    created,
    action,
  );
  return row;
}

function versionLabel(version) {
  return `v${version.number}${version.name ? ` · ${version.name}` : ""}`;
}

/** The compare pickers; ``fresh``: back to the newest against the one before it. */
function renderCompare({ fresh = false } = {}) {
  const keepA = fresh ? "" : ui.compareA.value;
  const keepB = fresh ? "" : ui.compareB.value;
  const options = () =>
    state.versions.map((version) => {
      const option = el("option", null, versionLabel(version));
      option.value = String(version.id);
      return option;
    });
  ui.compareA.replaceChildren(...options());
  ui.compareB.replaceChildren(...options());
  ui.compareForm.hidden = state.versions.length < 2;
  if (state.versions.length < 2) return;
  // Default: the newest against the one before it (older → newer reads as "what changed").
  const ids = new Set(state.versions.map((v) => String(v.id)));
  ui.compareA.value = ids.has(keepA) && keepA !== String(state.versions[0].id) ? keepA : String(state.versions[1].id);
  ui.compareB.value = ids.has(keepB) && keepB !== keepA ? keepB : String(state.versions[0].id);
  if (ui.compareA.value === ui.compareB.value) ui.compareB.value = String(state.versions[0].id);
}

function renderVersions({ fresh = false } = {}) {
  ui.versions.replaceChildren(...state.versions.map(versionRow));
  ui.versionsEmpty.hidden = state.versions.length > 0;
  ui.versionsCount.hidden = state.versions.length === 0;
  ui.versionsCount.textContent = state.next ? `${state.versions.length}+` : String(state.versions.length);
  ui.versionsMore.hidden = !state.next;
  ui.versionsTable.hidden = state.versions.length === 0;
  renderCompare({ fresh });
  ui.versionsFoot.hidden = ui.versionsMore.hidden && ui.compareForm.hidden;
}

async function loadVersions({ more = false } = {}) {
  showStatus(ui.versionsStatus, "Loading versions…");
  try {
    const page = await apiFetch(more && state.next ? state.next : config.urls.datasets);
    const known = new Set(state.versions.map((v) => v.id));
    const fresh = page.results.filter((v) => !known.has(v.id));
    state.versions = more ? [...state.versions, ...fresh] : page.results;
    state.next = page.next;
    renderVersions();
    showStatus(ui.versionsStatus, "");
  } catch (error) {
    showStatus(ui.versionsStatus, error.message, { error: true });
  }
}

ui.versionsMore.addEventListener("click", () => loadVersions({ more: true }));

/* ---------- the diff ---------- */

function diffUrl() {
  const path = config.urls.diff
    .replace(config.urls.id_placeholder, String(diffState.a))
    .replace(config.urls.b_placeholder, String(diffState.b));
  const query = new URLSearchParams({ limit: String(DIFF_PAGE), offset: String(diffState.offset) });
  if (diffState.reason) query.set("reason", diffState.reason);
  return `${path}?${query}`;
}

/** JSON with sorted keys: a version's params compared as values, whatever the key order. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

function classBadge(key, method) {
  const cell = el("td", "ds-label");
  if (key === null || key === undefined) {
    cell.append(el("span", "muted", "—"));
    return cell;
  }
  cell.append(el("span", `ri-class ${classes.tone(key)}`, classes.name(key)));
  if (method) cell.append(el("span", "ds-method muted", METHODS[method] ?? method));
  return cell;
}

function diffRow(change) {
  const row = el("tr");
  row.dataset.itemId = change.item_id;
  const item = el("th", "ds-item");
  item.scope = "row";
  const link = el("a", null, change.external_id);
  link.href = withId(config.urls.review_item, change.item_id);
  link.title = `Review item ${change.external_id}`;
  item.append(link);
  const kind = el("td");
  kind.append(el("span", `ds-change ds-change--${change.change}`, CHANGES[change.change] ?? change.change));
  const arrow = el("td", "ds-arrow", "→");
  arrow.setAttribute("aria-hidden", "true");
  const why = el("td");
  const reasons = el("ul", "ds-reason-list");
  reasons.setAttribute("role", "list");
  for (const reason of change.reasons) {
    const badge = el("li", `ds-reason ds-reason--${reason}`, REASONS[reason] ?? reason);
    badge.title = REASON_HINTS[reason] ?? "";
    reasons.append(badge);
  }
  why.append(reasons);
  row.append(
    item,
    kind,
    classBadge(change.before, change.before_method),
    arrow,
    classBadge(change.after, change.after_method),
    why,
  );
  return row;
}

function reasonChip(value, label, count) {
  const li = el("li");
  const button = el("button", "ds-filter-chip");
  button.type = "button";
  button.dataset.reason = value;
  button.setAttribute("aria-pressed", String(diffState.reason === value));
  button.append(label, " ", el("b", null, count.toLocaleString()));
  button.addEventListener("click", () => {
    diffState.reason = value;
    diffState.offset = 0;
    loadDiff();
  });
  li.append(button);
  return li;
}

function renderDiff(data) {
  const { a, b, summary, count, items } = data;
  const total = summary.changed + summary.added + summary.removed;
  ui.diffTitle.textContent = `Changes from ${versionLabel(a)} to ${versionLabel(b)}`;
  ui.diffCaption.textContent = `Items whose label differs between version ${a.number} and version ${b.number}`;
  ui.diffCount.textContent = plural(total, "item");
  const sameParams = canonical(a.params) === canonical(b.params);
  const filtersOf = (version) => `v${version.number}: ${versionFilters(version).join(", ") || "none"}`;
  ui.diffHint.textContent = sameParams
    ? "Both versions were frozen with the same filters: every change comes from the data."
    : `The versions were frozen with different filters (${filtersOf(a)}; ${filtersOf(b)}), so some items ` +
      "changed or moved because of them (“Export parameters”).";
  if (a.number > b.number) {
    ui.diffHint.textContent += ` Version ${a.number} is the newer one here: “Added” means only in version ${b.number}.`;
  }

  const facts = [
    ["changed", "Label changed", summary.changed],
    ["added", "Added", summary.added],
    ["removed", "Removed", summary.removed],
  ];
  ui.diffSummary.replaceChildren(
    ...facts.map(([key, label, n]) => {
      const fact = el("div", `ds-fact ds-fact--${key}`);
      fact.append(el("dt", null, label), el("dd", null, n.toLocaleString()));
      return fact;
    }),
  );

  const byReason = summary.by_reason ?? {};
  const order = [...config.diff_reasons, ...Object.keys(byReason).filter((r) => !config.diff_reasons.includes(r))];
  ui.diffReasons.replaceChildren(
    reasonChip("", "All", total),
    ...order.filter((r) => byReason[r]).map((r) => reasonChip(r, REASONS[r] ?? r, byReason[r])),
  );

  ui.diffReasonsGroup.hidden = total === 0;
  ui.diffItems.replaceChildren(...items.map(diffRow));
  ui.diffTableWrap.hidden = items.length === 0;
  ui.diffEmpty.hidden = items.length > 0;
  ui.diffEmpty.textContent = total === 0
    ? `No label differs: versions ${a.number} and ${b.number} hold the same labels.`
    : "No item changed for this reason.";
  const first = count ? diffState.offset + 1 : 0;
  const last = diffState.offset + items.length;
  ui.diffPager.hidden = count <= DIFF_PAGE;
  ui.diffRange.textContent = `${first.toLocaleString()}–${last.toLocaleString()} of ${count.toLocaleString()}`;
  ui.diffPrev.disabled = diffState.offset === 0;
  ui.diffNext.disabled = last >= count;
}

async function loadDiff({ focus = false } = {}) {
  ui.diff.hidden = false;
  ui.diff.setAttribute("aria-busy", "true");
  showStatus(ui.diffStatus, "Comparing…");
  try {
    const data = await apiFetch(diffUrl(), { timeoutMs: 120_000 });
    diffState.data = data;
    renderDiff(data);
    showStatus(ui.diffStatus, "");
    if (focus) {
      ui.diffTitle.focus({ preventScroll: true });
      ui.diff.scrollIntoView({ behavior: "smooth", block: "start" });
    }
  } catch (error) {
    showStatus(ui.diffStatus, error.message, { error: true });
  } finally {
    ui.diff.removeAttribute("aria-busy");
  }
}

ui.compareForm.addEventListener("submit", (event) => {
  event.preventDefault();
  ui.compareError.hidden = true;
  if (ui.compareA.value === ui.compareB.value) {
    ui.compareError.textContent = "Pick two different versions.";
    ui.compareError.hidden = false;
    ui.compareB.focus();
    return;
  }
  Object.assign(diffState, { a: Number(ui.compareA.value), b: Number(ui.compareB.value), reason: "", offset: 0 });
  loadDiff({ focus: true });
});

ui.diffPrev.addEventListener("click", () => {
  diffState.offset = Math.max(0, diffState.offset - DIFF_PAGE);
  loadDiff();
});
ui.diffNext.addEventListener("click", () => {
  diffState.offset += DIFF_PAGE;
  loadDiff();
});

/* ---------- start ---------- */

restoreFilters(new URLSearchParams(window.location.search));
refresh();
loadVersions();
