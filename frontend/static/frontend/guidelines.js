/**
 * The guidelines page: renders each version's markdown, lets a member confirm they have read
 * the newest version, and (reviewers, managers) publishes the next version through the API.
 *
 * - Versions are drawn on the server as plain text (readable without this script); here they
 *   are replaced by rendered markdown (markdown.js escapes all HTML first).
 * - Publishing POSTs JSON to the guidelines API, so the service's rules (a non-empty text,
 *   examples of this project's items and classes, open decisions only) are checked in one place;
 *   its error names the field, which is marked here. After success the page reloads to show the
 *   new version in the history.
 */

import { $, ApiError, apiFetch, readConfig, serverProblem } from "./api.js";
import { renderInline, renderInto, renderMarkdown } from "./markdown.js";

const config = readConfig("guidelines-config");

const NO_ANSWER = "Network error: the server could not be reached. Try again.";
const WORDING = { timeout: NO_ANSWER, network: NO_ANSWER, failed: serverProblem };

const request = (method, url, body) => apiFetch(url, { method, body, wording: WORDING });

/* ---------- rendered versions ---------- */

function renderVersions() {
  for (const block of document.querySelectorAll("[data-markdown]")) {
    renderInto(block, block.textContent, { empty: "(empty)" });
    block.classList.remove("gl-md--plain");
  }
  // A version's summary line: the changelog's first line, markers rendered (CSS cuts it short).
  for (const line of document.querySelectorAll("[data-markdown-line]")) {
    const first = line.textContent.split("\n").find((l) => l.trim()) ?? "";
    line.innerHTML = renderInline(first.replace(/^\s*(#{1,6}|[-*+]|\d+[.)])\s+/, ""));
  }
}

/* ---------- acknowledging ---------- */

function wireAcknowledge() {
  const button = $("ack-page");
  if (!button) return;
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    button.disabled = true;
    const url = config.urls.acknowledge.replace(
      config.urls.version_placeholder,
      button.dataset.version,
    );
    const banner = $("ack-banner");
    const message = banner.querySelector(".banner__message");
    try {
      const result = await request("POST", url);
      message.textContent = `Thank you: you have confirmed reading version ${result.acknowledged}.`;
      banner.classList.replace("banner--notice", "banner--success");
      button.remove();
    } catch (error) {
      message.textContent = error.message;
      button.disabled = false;
    }
  });
}

/* ---------- publishing ---------- */

const form = $("publish-form");

function exampleRow(example = {}) {
  const row = $("example-row-template").content.firstElementChild.cloneNode(true);
  const field = (name) => row.querySelector(`[name=${name}]`);
  if (example.item) field("item").value = String(example.item);
  if (example.label) field("label").value = example.label;
  field("is_example").value = example.is_example === false ? "false" : "true";
  field("note").value = example.note ?? "";
  row.querySelector(".example-row__remove").addEventListener("click", () => {
    row.remove();
    renderExamplesEmpty();
  });
  return row;
}

function renderExamplesEmpty() {
  const rows = $("example-rows").rows.length;
  $("examples-empty").hidden = rows > 0;
  $("examples-table").hidden = rows === 0;
}

function addExample(example) {
  const row = exampleRow(example);
  $("example-rows").append(row);
  renderExamplesEmpty();
  return row;
}

function renderPreview() {
  const html = renderMarkdown($("guideline-body").value);
  const preview = $("guideline-preview");
  if (html) preview.innerHTML = html; // escaped first; see markdown.js
  else preview.textContent = "Nothing to preview yet.";
  preview.classList.toggle("editor__preview--empty", !html);
}

/** The form as the API's input, or an ApiError naming the first bad field. */
function formInput() {
  const body = $("guideline-body").value;
  if (!body.trim()) throw new ApiError("Write the guideline text first.", { field: "body" });
  const examples = [];
  const rows = [...$("example-rows").rows];
  for (const [index, row] of rows.entries()) {
    const value = (name) => row.querySelector(`[name=${name}]`).value.trim();
    const item = value("item");
    const note = value("note");
    if (!item && !note) continue; // an untouched row
    if (!/^[1-9]\d*$/.test(item)) {
      throw new ApiError(`Example ${index + 1}: give the item's id (a number).`, {
        field: `row:${index}`,
      });
    }
    examples.push({
      item: Number(item),
      label: value("label"),
      is_example: value("is_example") === "true",
      note,
    });
  }
  const decisions = [...form.querySelectorAll("input[name=decisions]:checked")].map((box) =>
    Number(box.value),
  );
  const input = { body, examples, decisions };
  // Omitted when empty: the API refuses "" for it (it accepts a missing changelog).
  const changelog = $("guideline-changelog").value.trim();
  if (changelog) input.changelog = changelog;
  return input;
}

function clearInvalid() {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  $("publish-error").hidden = true;
}

/** Mark the field an error names: "body", "changelog", "examples[2].item", "row:2" … */
function markInvalid(field) {
  if (!field) return;
  let target = null;
  const example = /^(?:examples\[(\d+)\](?:\.(\w+))?|row:(\d+))$/.exec(field);
  if (field === "body") target = $("guideline-body");
  else if (field === "changelog") target = $("guideline-changelog");
  else if (example) {
    // The API counts only the rows that were sent; untouched rows are skipped before sending.
    const sent = [...$("example-rows").rows].filter((row) =>
      ["item", "note"].some((name) => row.querySelector(`[name=${name}]`).value.trim()),
    );
    const row = example[3] !== undefined ? $("example-rows").rows[example[3]] : sent[example[1]];
    target = row?.querySelector(`[name=${example[2] || "item"}]`) ?? null;
  }
  if (target) {
    target.setAttribute("aria-invalid", "true");
    target.focus();
  }
}

function showPublishError(error) {
  const box = $("publish-error");
  const example = /^examples\[(\d+)\]/.exec(error.field || "");
  box.textContent = example ? `Example ${Number(example[1]) + 1}: ${error.message}` : error.message;
  box.hidden = false;
  markInvalid(error.field);
}

async function publish(event) {
  event.preventDefault();
  const button = $("publish-submit");
  if (button.disabled) return;
  clearInvalid();
  let input;
  try {
    input = formInput();
  } catch (error) {
    showPublishError(error);
    return;
  }
  button.disabled = true;
  const label = button.textContent;
  button.textContent = "Publishing…";
  try {
    const version = await request("POST", config.urls.guidelines, input);
    location.assign(`${config.urls.page}?published=${version.version}#version-${version.version}`);
  } catch (error) {
    showPublishError(error);
    button.disabled = false;
    button.textContent = label;
  }
}

function wirePublishing() {
  if (!form) return;
  for (const example of config.examples) addExample(example);
  renderExamplesEmpty();
  $("add-example").addEventListener("click", () => {
    addExample().querySelector("[name=item]").focus();
  });
  let frame = 0;
  $("guideline-body").addEventListener("input", () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(renderPreview);
  });
  renderPreview();
  form.addEventListener("submit", publish);
}

renderVersions();
wireAcknowledge();
wirePublishing();
