/**
 * A project's model runs, and (engineers, managers) the form that creates a run and uploads its
 * predictions.
 *
 * - The list comes from the server in the page's config, and again from the runs API after an
 *   import, so the prediction counts are the database's.
 * - A new run is created first (POST runs/), then the file goes to it (POST runs/{id}/predictions/
 *   as multipart). The import is all or nothing: when the file is refused, the run exists but is
 *   empty, and the form switches to that run so the corrected file goes into it.
 * - The API names the bad rows ({"error": {row, field, details: [{row, field, message}]}}); the
 *   form shows the first one as "Row 12, label: 'rust' is not a class of this project." and the
 *   next few below it.
 * - Everything from the server goes into the page with textContent, never as HTML.
 */

import {
  $,
  ApiError,
  DATE_TIME,
  TRY_AGAIN,
  apiFetch,
  csrfToken,
  el,
  plural,
  readConfig,
} from "./api.js";

const config = readConfig("models-config");

/** How many of the API's row problems are listed under the first one. */
const MORE_DETAILS = 4;
/** A large file can take a while to parse and store. */
const UPLOAD_TIMEOUT_MS = 120_000;

const ui = {
  runs: $("runs"),
  runsEmpty: $("runs-empty"),
  runsTable: $("runs-table"),
  runsCount: $("runs-count"),
  form: $("import-form"),
  newFields: $("new-run-fields"),
  existingFields: $("existing-run-fields"),
  targetExisting: $("target-existing"),
  name: $("run-name"),
  version: $("run-version"),
  description: $("run-description"),
  shadow: $("run-shadow"),
  select: $("run-select"),
  file: $("predictions-file"),
  error: $("import-error"),
  errorTitle: $("import-error-title"),
  errorNote: $("import-error-note"),
  errorDetails: $("import-error-details"),
  status: $("import-status"),
  submit: $("import-submit"),
};

const state = { runs: config.runs, busy: false };

const runUrl = (template, id) => template.replace(config.urls.id_placeholder, String(id));

/* ---------- the list ---------- */

function runRow(run) {
  const row = el("tr");
  row.dataset.runId = run.id;
  const name = el("th");
  name.scope = "row";
  const link = el("a", "ma-run-link", run.name);
  link.href = runUrl(config.urls.run_page, run.id);
  link.append(" ", el("span", "ma-version", `v${run.version}`));
  name.append(link);
  if (run.description) name.append(el("span", "ma-run-desc muted", run.description));
  const mode = el("td");
  mode.append(
    run.shadow
      ? Object.assign(el("span", "badge badge--shadow", "Shadow"), {
          title: "Recorded beside the labelers over time: the analysis shows agreement by week",
        })
      : el("span", "muted", "Offline"),
  );
  const when = el("td", "ma-when");
  const time = el("time", null, DATE_TIME.format(new Date(run.created_at)));
  time.dateTime = run.created_at;
  when.append(time);
  row.append(
    name,
    el("td", "num", run.predictions.toLocaleString()),
    mode,
    el("td", null, run.created_by ?? "—"),
    when,
  );
  return row;
}

function renderRuns() {
  ui.runs.replaceChildren(...state.runs.map(runRow));
  ui.runsTable.hidden = state.runs.length === 0;
  ui.runsEmpty.hidden = state.runs.length !== 0;
  ui.runsCount.textContent = plural(state.runs.length, "run");
  if (ui.select) renderSelect();
}

async function refreshRuns() {
  state.runs = await apiFetch(config.urls.runs_api);
  renderRuns();
}

/* ---------- the form ---------- */

function renderSelect(selected = ui.select.value) {
  ui.select.replaceChildren(
    ...state.runs.map((run) => {
      const option = el(
        "option",
        null,
        `${run.name} v${run.version} — ${plural(run.predictions, "prediction")}`,
      );
      option.value = String(run.id);
      return option;
    }),
  );
  if (selected && state.runs.some((run) => String(run.id) === String(selected))) {
    ui.select.value = String(selected);
  }
  ui.targetExisting.disabled = state.runs.length === 0;
}

const target = () => ui.form.elements.target.value;

function showTarget() {
  const existing = target() === "existing";
  ui.newFields.hidden = existing;
  ui.existingFields.hidden = !existing;
  ui.submit.querySelector(".btn__label").textContent = existing
    ? "Upload to this run"
    : "Create the run and upload";
}

function fieldError(input, errorNode, message) {
  input.setAttribute("aria-invalid", message ? "true" : "false");
  errorNode.textContent = message ?? "";
  errorNode.hidden = !message;
}

function clearMessages() {
  fieldError(ui.name, $("run-name-error"), null);
  fieldError(ui.version, $("run-version-error"), null);
  fieldError(ui.file, $("file-error"), null);
  ui.error.hidden = true;
  ui.errorDetails.replaceChildren();
  ui.errorNote.hidden = true;
  ui.status.replaceChildren();
  ui.status.className = "ma-status";
}

/** "Row 12, label: 'rust' is not a class of this project." */
export function rowProblem({ row, field, message }) {
  const where = row ? `Row ${row}${field ? `, ${field}` : ""}` : field;
  const text = String(message ?? "").trim();
  return where ? `${where}: ${text}` : text;
}

function showError(error, { note } = {}) {
  const details = error.details ?? [];
  ui.errorTitle.textContent = details.length ? rowProblem(details[0]) : error.message;
  const total = /\((\d+) problems in all\)/.exec(error.message ?? "");
  const more = details.slice(1, 1 + MORE_DETAILS);
  ui.errorDetails.replaceChildren(...more.map((detail) => el("li", null, rowProblem(detail))));
  const left = (total ? Number(total[1]) : details.length) - 1 - more.length;
  if (left > 0) ui.errorDetails.append(el("li", "muted", `and ${plural(left, "more problem")}`));
  ui.errorNote.textContent = note ?? "";
  ui.errorNote.hidden = !note;
  ui.error.hidden = false;
}

function setBusy(busy) {
  state.busy = busy;
  ui.submit.disabled = busy;
  ui.submit.querySelector(".btn__spinner").hidden = !busy;
  ui.form.setAttribute("aria-busy", String(busy));
}

/** POST a file as multipart (api.js's apiFetch sends JSON only); errors as ApiError. */
async function uploadFile(url, file) {
  const body = new FormData();
  body.append("file", file);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), UPLOAD_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      body,
      signal: controller.signal,
    });
  } catch (error) {
    throw new ApiError(error.name === "AbortError" ? TRY_AGAIN.timeout : TRY_AGAIN.network);
  } finally {
    clearTimeout(timer);
  }
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  const problem = data?.error;
  throw new ApiError(TRY_AGAIN.failed(response.status, problem), {
    status: response.status,
    code: (response.status < 500 && problem?.code) || "server_error",
    field: problem?.field ?? null,
    details: Array.isArray(problem?.details) ? problem.details : [],
    body: data,
  });
}

function validate(file) {
  let ok = true;
  if (target() === "new") {
    if (!ui.name.value.trim()) {
      fieldError(ui.name, $("run-name-error"), "Give the run a name.");
      ok = false;
    }
    if (!ui.version.value.trim()) {
      fieldError(ui.version, $("run-version-error"), "Give the run a version.");
      ok = false;
    }
  } else if (!ui.select.value) {
    ok = false;
  }
  if (!file) {
    fieldError(ui.file, $("file-error"), "Choose a file of predictions (.csv, .json or .jsonl).");
    ok = false;
  }
  return ok;
}

async function createRun() {
  try {
    return await apiFetch(config.urls.runs_api, {
      method: "POST",
      body: {
        name: ui.name.value.trim(),
        version: ui.version.value.trim(),
        description: ui.description.value.trim(),
        shadow: ui.shadow.checked,
      },
    });
  } catch (error) {
    const input = { name: ui.name, version: ui.version }[error.field];
    if (input) {
      fieldError(input, $(`run-${error.field}-error`), error.message);
      input.focus();
    } else {
      showError(error);
    }
    return null;
  }
}

async function submit(event) {
  event.preventDefault();
  if (state.busy) return;
  clearMessages();
  const file = ui.file.files[0];
  if (!validate(file)) return;
  setBusy(true);
  try {
    let run;
    let created = false;
    if (target() === "new") {
      run = await createRun();
      if (!run) return;
      created = true;
      state.runs = [run, ...state.runs];
      renderRuns();
    } else {
      run = state.runs.find((r) => String(r.id) === ui.select.value);
    }
    let result;
    try {
      result = await uploadFile(runUrl(config.urls.predictions_api, run.id), file);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      // The run exists now; the corrected file goes into it, not into a second new run.
      ui.targetExisting.checked = true;
      renderSelect(run.id);
      showTarget();
      showError(error, {
        note: created
          ? `Nothing from the file was saved. The run ${run.name} v${run.version} was created: ` +
            "fix the file and upload it again into that run."
          : "Nothing from the file was saved. Fix the file and upload it again.",
      });
      return;
    }
    const link = el("a", null, "Open its analysis →");
    link.href = runUrl(config.urls.run_page, run.id);
    ui.status.className = "ma-status ma-status--done";
    ui.status.replaceChildren(
      `Imported ${plural(result.imported, "prediction")} into ${run.name} v${run.version}. `,
      link,
    );
    ui.form.reset();
    ui.targetExisting.checked = false;
    showTarget();
    await refreshRuns().catch(() => {});
  } catch (error) {
    showError(error);
  } finally {
    setBusy(false);
  }
}

renderRuns();
if (ui.form) {
  renderSelect();
  showTarget();
  ui.form.addEventListener("change", (event) => {
    if (event.target.name === "target") showTarget();
  });
  ui.form.addEventListener("submit", submit);
}
