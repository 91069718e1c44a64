/**
 * The labeling page: one item at a time from the REST API, keyboard first.
 *
 * Rules that matter here, and why:
 * - One action at a time. While a request is in flight every key and click is ignored, so a
 *   double key press (or an impatient click on a slow server) cannot store two labels.
 * - One idempotency key per item + label attempt. A retry after a network error sends the same
 *   key, and the server answers with the first result instead of storing the label twice.
 * - Everything that comes from the server or from a manager (item text, class names,
 *   instructions) is put into the page with textContent, never as HTML. The one exception is a
 *   guideline's markdown, which goes through markdown.js (it escapes all HTML first).
 * - A new guideline version blocks labeling until it is acknowledged (409
 *   guideline_unacknowledged from any labeling request). The page then shows the version in a
 *   modal and, after "I have read it", resumes the interrupted action from the step that was
 *   refused, so a label or flag the labeler already gave is sent, not lost.
 * - The labeler sees only their own flags; nothing here reads other labelers' labels or flags.
 * - A transcription project's answer box and audio player live in transcribe.js; this file keeps
 *   the flow for both task types (it calls ``answer`` to submit a transcript, with the same
 *   busy rule, idempotency keys, retries, undo and guideline handling as a class label).
 */

import { $, ApiError, FLAG_KINDS, TRY_AGAIN, apiFetch, el, readConfig, serverProblem } from "./api.js";
import { renderMarkdown } from "./markdown.js";

const config = readConfig("label-config");

const IMAGE_WAIT_MS = 15_000;
const STATUS_CLEAR_MS = 6_000;
const MAX_TIME_SPENT_MS = 86_400_000; // the API's upper bound
const UNDO_DEPTH = 50;
// Submit refusals that no retry can fix: the item is no longer ours to label, so move on.
const ITEM_GONE = new Set(["no_open_slot", "already_labeled", "round_closed"]);
const GUIDELINE_UNACKNOWLEDGED = "guideline_unacknowledged";

const ui = {
  stage: $("stage"),
  image: $("item-image"),
  imageBox: $("stage-image"),
  imageError: $("image-error"),
  caption: $("item-caption"),
  textBox: $("stage-text"),
  text: $("item-text"),
  done: $("stage-done"),
  loading: $("stage-loading"),
  itemRef: $("item-ref"),
  classes: $("classes"),
  skip: $("skip"),
  undo: $("undo"),
  helpToggle: $("help-toggle"),
  help: $("help"),
  helpClose: $("help-close"),
  helpClasses: $("help-classes"),
  keysLabel: $("keys-label"),
  instructions: $("instructions"),
  progress: $("progress"),
  status: $("status"),
  error: $("error"),
  errorMessage: $("error-message"),
  retry: $("retry"),
  dismiss: $("dismiss"),
  workspace: document.querySelector(".workspace"),
  flag: $("flag"),
  flagLabel: $("flag-label"),
  flagDialog: $("flag-dialog"),
  flagForm: $("flag-form"),
  flagItemRef: $("flag-item-ref"),
  flagNote: $("flag-note"),
  flagClose: $("flag-close"),
  flagCancel: $("flag-cancel"),
  guidelineCard: $("guideline-card"),
  guidelineOpen: $("guideline-open"),
  guidelineOpenLabel: $("guideline-open-label"),
  guidelineNone: $("guideline-none"),
  guidelineDialog: $("guideline-dialog"),
  guidelineTitle: $("guideline-title"),
  guidelineContent: $("guideline-content"),
  guidelineClose: $("guideline-close"),
  ackDialog: $("ack-dialog"),
  ackTitle: $("ack-title"),
  ackContent: $("ack-content"),
  ackPending: $("ack-pending"),
  ackError: $("ack-error"),
  ackConfirm: $("ack-confirm"),
};

// The guideline and flag endpoints, from the template (ids swapped in like config.urls).
const urls = {
  guidelines: ui.guidelineCard.dataset.guidelinesUrl,
  acknowledge: ui.guidelineCard.dataset.acknowledgeUrl,
  flag: ui.guidelineCard.dataset.flagUrl,
  image: ui.guidelineCard.dataset.imageUrl,
};

const state = {
  busy: false,
  item: null, // the item on screen, or null while loading / when all done
  shownAt: 0, // performance.now() when the item became visible
  attemptKeys: new Map(), // class key -> idempotency key, for the item on screen
  undoStack: [], // [{annotationId, itemRef, labelName}], newest last
  retry: null, // what the Retry button does
  progressStale: false, // a label was stored or withdrawn since the counter was drawn
  progressSeq: 0,
  statusTimer: 0,
  guidelineVersion: Number(ui.guidelineCard.dataset.version) || 0,
  // Waiting for an acknowledgement: {version, resume, pending, loaded, sending}, else null.
  ack: null,
  flagged: new Map(), // item id -> Set of flag kinds this labeler sent for it (this session)
};

const classByHotkey = new Map(
  config.classes.filter((c) => c.hotkey).map((c) => [c.hotkey.toLowerCase(), c]),
);

/* ---------- API ---------- */

// Errors are ApiErrors (api.js); a refused submit may set ``moveOn``: retrying is pointless and
// the page should fetch the next item instead.
const WORDING = {
  ...TRY_AGAIN,
  timeout: "The server did not answer in time. Your label is safe to retry.",
  failed: serverProblem,
};

const request = (method, url, body) => apiFetch(url, { method, body, wording: WORDING });

/** URLs for ids known only here: the page sends them with a placeholder id. */
const withId = (template, id) => template.replace(config.urls.id_placeholder, String(id));

function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not (plain-HTTP intranet installs).
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/* ---------- one action at a time ---------- */

function setBusy(busy) {
  state.busy = busy;
  document.body.toggleAttribute("data-busy", busy);
  ui.workspace.setAttribute("aria-busy", String(busy));
  ui.retry.disabled = busy;
  renderAvailability();
}

/** Run ``steps`` in order as one busy action; a failed step can be retried from where it failed. */
async function act(steps) {
  if (state.busy) return;
  // Waiting for the new guideline to be read: any action leads back to it; the refused one
  // stays pending and is the one resumed.
  if (state.ack) {
    openAck();
    return;
  }
  setBusy(true);
  hideError();
  try {
    for (let i = 0; i < steps.length; i += 1) {
      try {
        await steps[i]();
      } catch (error) {
        const apiError = error instanceof ApiError ? error : unexpected(error);
        if (apiError.code === GUIDELINE_UNACKNOWLEDGED) {
          // Not a failure of the step: it is refused until the labeler has read the new
          // version. Resume from this very step afterwards (the same idempotency key).
          askToAcknowledge(apiError, steps.slice(i));
          return;
        }
        const rest = apiError.moveOn ? [loadNext] : steps.slice(i);
        showError(apiError, () => act(rest));
        return;
      }
    }
  } finally {
    setBusy(false);
    // After the next item is up, not beside it: the item matters more than the counter.
    if (state.progressStale) refreshProgress();
  }
}

function unexpected(error) {
  console.error(error);
  return new ApiError("Something went wrong on this page. Retry, or reload it.", {
    code: "client_error",
  });
}

/* ---------- the task's own input (transcription) ---------- */

// Loaded only on transcription pages; null on classification pages, which therefore run exactly
// the code they ran before transcription existed.
const task =
  config.task_type === "transcription"
    ? (await import("./transcribe.js")).createTranscription({
        config,
        answer,
        announce,
        canAct: () => !state.busy && Boolean(state.item) && !anyDialogOpen() && !state.ack,
        anyDialogOpen,
      })
    : null;

/* ---------- steps ---------- */

async function loadNext() {
  state.item = null;
  ui.stage.dataset.state = "loading";
  const data = await request("POST", config.urls.next);
  if (data === null) {
    showDone();
    return;
  }
  // The item counts as shown (and can be labeled) only once its picture is there: a reflex key
  // press must not label an image nobody has seen, or the previous one still on screen.
  const picture = hasImage(data.item) ? await loadPicture(data.item) : null;
  if (task) await task.prepare(data.item); // the clip, like the picture, before it counts as shown
  showItem(data.item, picture);
}

const hasImage = (item) => item.kind === "image" && Boolean(item.image);

/** A fresh <img> per item, resolved once it has loaded, failed, or kept us waiting too long. */
function loadPicture(item) {
  return new Promise((resolve) => {
    const img = new Image();
    img.id = "item-image";
    img.alt = `Item ${item.external_id}`;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(img);
    };
    // Too slow: show the item anyway; the picture appears when it arrives.
    const timer = setTimeout(settle, IMAGE_WAIT_MS);
    img.addEventListener("load", settle);
    img.addEventListener("error", () => {
      img.hidden = true;
      if (state.item === item) ui.imageError.hidden = false; // failed after it was shown
      settle();
    });
    img.src = item.image;
  });
}

/** ``value`` is what the API stores ({label} or {text}); ``name`` is how the page shows it. */
function submitStep(item, { value, name }, key, timeSpentMs) {
  const step = async () => {
    const annotation = await request("POST", config.urls.submit, {
      item: item.id,
      value,
      idempotency_key: key,
      time_spent_ms: timeSpentMs,
    }).catch((error) => {
      if (error instanceof ApiError && ITEM_GONE.has(error.code)) error.moveOn = true;
      throw error;
    });
    pushUndo({ annotationId: annotation.id, itemRef: item.external_id, labelName: name });
    announce(`Saved ${item.external_id} → ${name}`);
    state.progressStale = true;
  };
  step.pending =
    `Your label “${name}” for ${item.external_id} is kept: it is saved as soon as you ` +
    "confirm (Z undoes it if the new version changes your mind).";
  return step;
}

function withdrawStep(entry) {
  return async () => {
    await request("POST", withId(config.urls.withdraw, entry.annotationId));
    state.undoStack.pop();
    announce(`Undone: ${entry.itemRef} is back`);
    state.progressStale = true;
  };
}

function flagStep(item, kind, note) {
  const step = async () => {
    await request("POST", withId(urls.flag, item.id), { kind, note });
    if (!state.flagged.has(item.id)) state.flagged.set(item.id, new Set());
    state.flagged.get(item.id).add(kind);
    if (state.item === item) renderFlagged();
    announce(`Flagged ${item.external_id}: ${FLAG_KINDS[kind]}`);
  };
  step.pending = `Your flag on ${item.external_id} is kept: it is sent as soon as you confirm.`;
  return step;
}

function skipStep(item) {
  return async () => {
    await request("POST", withId(config.urls.skip, item.id));
    announce(`Skipped ${item.external_id}`);
  };
}

/* ---------- user actions ---------- */

function attemptKey(classKey) {
  if (!state.attemptKeys.has(classKey)) state.attemptKeys.set(classKey, newIdempotencyKey());
  return state.attemptKeys.get(classKey);
}

function elapsedMs() {
  return Math.min(MAX_TIME_SPENT_MS, Math.max(0, Math.round(performance.now() - state.shownAt)));
}

function label(cls) {
  const item = state.item;
  if (state.busy || !item) return;
  const button = ui.classes.querySelector(`[data-key="${CSS.escape(cls.key)}"]`);
  button?.classList.add("is-pending");
  // Time and key are fixed at the first press; a retry repeats exactly the same submission.
  const answer = { value: { label: cls.key }, name: cls.name };
  act([submitStep(item, answer, attemptKey(cls.key), elapsedMs()), loadNext]).finally(() =>
    button?.classList.remove("is-pending"),
  );
}

/** Submit a non-class answer (a transcript) for the item on screen; ``attempt`` identifies it
 * (the same attempt again, e.g. the same text, reuses its idempotency key). Resolves to true
 * once it is saved and the next item is up. */
async function answer({ value, name, attempt }) {
  const item = state.item;
  if (state.busy || !item) return false;
  await act([submitStep(item, { value, name }, attemptKey(attempt), elapsedMs()), loadNext]);
  return state.item !== item;
}

function skip() {
  const item = state.item;
  if (state.busy || !item) return;
  act([skipStep(item), loadNext]);
}

function undo() {
  const entry = state.undoStack.at(-1);
  if (state.busy || !entry) return;
  act([withdrawStep(entry), loadNext]);
}

function openFlag() {
  const item = state.item;
  if (state.busy || !item || anyDialogOpen()) return;
  if (state.ack) {
    openAck(); // flags wait for the new guideline too
    return;
  }
  // A draft belongs to its item: another item starts with an empty form.
  if (ui.flagDialog.dataset.itemId !== String(item.id)) {
    ui.flagForm.reset();
    ui.flagDialog.dataset.itemId = String(item.id);
  }
  ui.flagItemRef.textContent = item.external_id;
  ui.flagDialog.showModal();
  ui.flagForm.querySelector("input[name=kind]:checked")?.focus();
}

function onFlagSubmit(event) {
  event.preventDefault();
  const item = state.item;
  if (!item || String(item.id) !== ui.flagDialog.dataset.itemId) {
    ui.flagDialog.close();
    return;
  }
  const data = new FormData(ui.flagForm);
  const kind = String(data.get("kind") || "unsure");
  const note = String(data.get("note") || "").trim();
  ui.flagDialog.close();
  // Sent as one action (nothing else runs meanwhile); the item stays on screen.
  act([flagStep(item, kind, note)]).then(() => {
    if (state.flagged.get(item.id)?.has(kind)) {
      ui.flagForm.reset();
      delete ui.flagDialog.dataset.itemId;
    }
  });
}

function pushUndo(entry) {
  state.undoStack.push(entry);
  if (state.undoStack.length > UNDO_DEPTH) state.undoStack.shift();
}

/* ---------- rendering ---------- */

function showItem(item, picture) {
  ui.itemRef.textContent = item.external_id;
  ui.stage.dataset.itemId = String(item.id);
  ui.stage.dataset.kind = item.kind;
  ui.imageBox.hidden = !picture;
  ui.textBox.hidden = Boolean(picture) || Boolean(task?.isAudio(item));
  ui.done.hidden = true;
  if (picture) showPicture(item, picture);
  else {
    ui.text.textContent = item.text || "(This item has no text.)";
    ui.textBox.scrollTop = 0;
  }
  state.item = item;
  renderFlagged();
  // A new showing, a new attempt: after an undo the same item must not replay the old key.
  state.attemptKeys = new Map();
  state.shownAt = performance.now();
  ui.stage.dataset.state = "ready";
  task?.show(item);
}

function showPicture(item, picture) {
  ui.imageError.hidden = !picture.hidden;
  ui.image.replaceWith(picture);
  ui.image = picture;
  ui.caption.textContent = item.text || "";
  ui.caption.hidden = !item.text;
}

function showDone() {
  state.item = null;
  ui.itemRef.textContent = "—";
  delete ui.stage.dataset.itemId;
  ui.imageBox.hidden = true;
  ui.textBox.hidden = true;
  ui.done.hidden = false;
  task?.clear();
  ui.stage.dataset.state = "done";
  announce("All done");
}

/** aria-disabled rather than disabled: a disabled button would drop keyboard focus mid-flow;
 * the handlers check the same conditions, so a click on such a button does nothing. */
function setUnavailable(button, unavailable) {
  button.setAttribute("aria-disabled", String(unavailable));
}

function renderAvailability() {
  const noItem = state.busy || !state.item;
  for (const button of ui.classes.querySelectorAll("button")) setUnavailable(button, noItem);
  setUnavailable(ui.skip, noItem);
  setUnavailable(ui.flag, noItem);
  const last = state.undoStack.at(-1);
  setUnavailable(ui.undo, state.busy || !last);
  ui.undo.title = last ? `Undo my label on ${last.itemRef} (${last.labelName})` : "Nothing to undo";
  ui.stage.setAttribute("aria-busy", String(state.busy));
  task?.setAvailable(!noItem);
}

function renderClasses() {
  for (const cls of config.classes) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `class-btn${cls.kind === "borderline" ? " class-btn--borderline" : ""}`;
    button.dataset.key = cls.key;
    button.setAttribute("aria-label", cls.name);
    const inner = document.createElement("span");
    inner.className = "class-btn__inner";
    if (cls.hotkey) {
      button.setAttribute("aria-keyshortcuts", cls.hotkey.toUpperCase());
      const kbd = document.createElement("kbd");
      kbd.textContent = cls.hotkey.toUpperCase();
      inner.append(kbd);
    }
    const name = document.createElement("span");
    name.className = "class-btn__name";
    name.textContent = cls.name;
    inner.append(name);
    button.append(inner);
    button.addEventListener("click", () => label(cls));
    ui.classes.append(button);
  }
}

function renderHelp() {
  const hotkeys = config.classes.filter((c) => c.hotkey);
  for (const cls of hotkeys) {
    const row = ui.helpClasses.insertRow();
    const key = document.createElement("kbd");
    key.textContent = cls.hotkey.toUpperCase();
    row.insertCell().append(key);
    row.insertCell().textContent = `Label as ${cls.name}`;
  }
  for (const cls of hotkeys) {
    const key = document.createElement("kbd");
    key.textContent = cls.hotkey.toUpperCase();
    ui.keysLabel.append(key, " ");
  }
  if (!hotkeys.length) ui.keysLabel.textContent = "—";
}

function renderInstructions() {
  // Plain text; CSS keeps the manager's line breaks (white-space: pre-line).
  const text = (config.instructions || "").trim();
  ui.instructions.textContent = text || "No instructions for this project yet.";
  ui.instructions.classList.toggle("instructions--empty", !text);
}

function renderFlagged() {
  const kinds = state.item ? state.flagged.get(state.item.id) : null;
  const flagged = Boolean(kinds && kinds.size);
  ui.flag.classList.toggle("is-flagged", flagged);
  ui.flagLabel.textContent = flagged ? "Flagged" : "Flag";
  ui.flag.title = flagged
    ? `You flagged this item: ${[...kinds].map((k) => FLAG_KINDS[k]).join(", ")}`
    : "Flag this item for reviewers (unsure, or the input is unclear)";
}

/* ---------- guidelines ---------- */

function setGuidelineVersion(version) {
  state.guidelineVersion = version;
  ui.guidelineOpenLabel.textContent = `Guidelines v${version}`;
  ui.guidelineOpen.hidden = !version;
  ui.guidelineNone.hidden = Boolean(version);
}

async function fetchGuidelines() {
  const data = await request("GET", urls.guidelines);
  if (data.current_version) setGuidelineVersion(data.current_version);
  return data;
}

const classLabel = (key) => config.classes.find((c) => c.key === key)?.name ?? key;

function markdownBlock(text, className) {
  const block = el("div", `gl-md ${className}`);
  block.innerHTML = renderMarkdown(text); // escaped first; see markdown.js
  return block;
}

/** One version: its date and author, what changed, the text and the examples. */
function guidelineNodes(version) {
  const nodes = [];
  const when = new Date(version.created_at);
  const date = Number.isNaN(when.getTime())
    ? ""
    : when.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
  nodes.push(
    el(
      "p",
      "guideline__meta muted",
      `Version ${version.version} · published ${date} by ${version.created_by}`,
    ),
  );
  if (version.changelog) {
    const changes = el("section", "guideline__changes");
    changes.append(el("h3", "guideline__subtitle", "What changed"));
    changes.append(markdownBlock(version.changelog, "guideline__changelog"));
    nodes.push(changes);
  }
  nodes.push(markdownBlock(version.body, "guideline__body"));
  if (version.examples.length) {
    const section = el("section", "guideline__examples");
    section.append(el("h3", "guideline__subtitle", "Examples"));
    const list = el("ul", "example-list");
    list.setAttribute("role", "list");
    for (const example of version.examples) list.append(exampleNode(example));
    section.append(list);
    nodes.push(section);
  }
  return nodes;
}

function exampleNode(example) {
  const row = el("li", `example example--${example.is_example ? "is" : "isnot"}`);
  const thumb = new Image(56, 56);
  thumb.className = "example__thumb";
  thumb.alt = "";
  thumb.loading = "lazy";
  thumb.addEventListener("error", () => thumb.remove()); // a text item has no picture
  thumb.src = `${withId(urls.image, example.item)}?size=thumb`;
  const body = el("div", "example__body");
  const head = el("p", "example__head");
  head.append(
    el("code", "example__ref", example.external_id),
    el("span", "example__verdict", example.is_example ? "is" : "is not"),
    el("strong", "example__class", classLabel(example.label)),
  );
  body.append(head);
  if (example.note) body.append(el("p", "example__note muted", example.note));
  row.append(thumb, body);
  return row;
}

function showLoading(container, text) {
  const line = el("p", "dialog__loading muted");
  line.append(el("span", "spinner"), el("span", "", text));
  container.replaceChildren(line);
}

async function openGuideline() {
  if (anyDialogOpen()) return;
  ui.guidelineTitle.textContent = state.guidelineVersion
    ? `Guideline v${state.guidelineVersion}`
    : "Guideline";
  showLoading(ui.guidelineContent, "Loading the guideline…");
  ui.guidelineDialog.showModal();
  try {
    const data = await fetchGuidelines();
    const current = data.versions.find((v) => v.version === data.current_version);
    if (!current) {
      ui.guidelineContent.replaceChildren(el("p", "muted", "No guideline published yet."));
      return;
    }
    ui.guidelineTitle.textContent = `Guideline v${current.version}`;
    ui.guidelineContent.replaceChildren(...guidelineNodes(current));
    ui.guidelineContent.focus();
  } catch (error) {
    ui.guidelineContent.replaceChildren(
      el("p", "ack__error", `The guideline could not be loaded. ${error.message}`),
    );
  }
}

/** A labeling request was refused until the newest guideline is acknowledged. */
function askToAcknowledge(error, resumeSteps) {
  const detail = error.details.find((d) => d && d.guideline_version);
  state.ack = {
    version: detail ? Number(detail.guideline_version) : null,
    resume: () => act(resumeSteps),
    pending: resumeSteps[0]?.pending ?? "",
    loaded: false,
    sending: false,
  };
  openAck();
}

function openAck() {
  const ack = state.ack;
  if (!ack) return;
  hideError();
  ui.ackTitle.textContent = ack.version
    ? `Guideline v${ack.version}: read it before you label again`
    : "The guideline has changed: read it before you label again";
  ui.ackPending.textContent = ack.pending;
  ui.ackPending.hidden = !ack.pending;
  if (!ui.ackDialog.open) {
    if (ui.help.open) ui.help.close();
    ui.ackDialog.showModal();
  }
  loadAck();
}

async function loadAck() {
  const ack = state.ack;
  ack.loaded = false;
  ui.ackError.hidden = true;
  ui.ackConfirm.textContent = "I have read it";
  ui.ackConfirm.disabled = true;
  showLoading(ui.ackContent, "Loading the new version…");
  try {
    const data = await fetchGuidelines();
    ack.version = ack.version ?? data.current_version;
    const version = data.versions.find((v) => v.version === ack.version);
    if (!version) throw new ApiError(`Version ${ack.version} was not found.`);
    ui.ackTitle.textContent = `Guideline v${version.version}: read it before you label again`;
    ui.ackContent.replaceChildren(...guidelineNodes(version));
    ui.ackContent.scrollTop = 0;
    // Focus the text, not the button: Enter must not confirm unread; arrows scroll it.
    ui.ackContent.focus();
    ack.loaded = true;
  } catch (error) {
    ui.ackContent.replaceChildren();
    ui.ackError.textContent = `The new version could not be loaded. ${error.message}`;
    ui.ackError.hidden = false;
    ui.ackConfirm.textContent = "Try again";
  } finally {
    ui.ackConfirm.disabled = false;
  }
}

async function confirmAck() {
  const ack = state.ack;
  if (!ack || ack.sending) return;
  if (!ack.loaded) {
    loadAck();
    return;
  }
  ack.sending = true;
  ui.ackConfirm.disabled = true;
  ui.ackConfirm.textContent = "Saving…";
  ui.ackError.hidden = true;
  try {
    const result = await request("POST", withId(urls.acknowledge, ack.version));
    state.ack = null;
    setGuidelineVersion(result.current_version);
    ui.ackDialog.close();
    announce(`Guideline v${result.acknowledged} acknowledged`);
    ack.resume(); // a still newer version would answer 409 again and bring this back
  } catch (error) {
    ui.ackError.textContent = error.needsLogin
      ? "Your session has ended. Log in again to continue."
      : error.message;
    ui.ackError.hidden = false;
  } finally {
    ack.sending = false;
    ui.ackConfirm.disabled = false;
    ui.ackConfirm.textContent = "I have read it";
  }
}

/** Closed (Esc) without acknowledging: labeling stays blocked, the banner leads back. */
function onAckClosed() {
  if (!state.ack) return;
  const version = state.ack.version ? ` v${state.ack.version}` : "";
  const error = new ApiError(
    `Read guideline${version} and confirm it before you label again.`,
    { code: GUIDELINE_UNACKNOWLEDGED },
  );
  showError(error, openAck);
}

function anyDialogOpen() {
  return [ui.help, ui.guidelineDialog, ui.ackDialog, ui.flagDialog].some((d) => d.open);
}

function renderProgress({ my_labels: mine, items_open: open }) {
  const number = (n) => n.toLocaleString();
  ui.progress.textContent =
    `${number(mine)} labeled · ${number(open)} ${open === 1 ? "item needs" : "items need"} labels`;
}

async function refreshProgress() {
  // Fire and forget: progress is a nicety and must never block or fail the labeling flow.
  state.progressStale = false;
  const seq = ++state.progressSeq;
  try {
    const progress = await request("GET", config.urls.progress);
    if (seq === state.progressSeq) renderProgress(progress);
  } catch (error) {
    state.progressStale = true; // try again after the next action
    console.warn("progress refresh failed", error);
  }
}

function announce(message) {
  ui.status.textContent = message;
  ui.status.title = message; // the header may cut it short
  clearTimeout(state.statusTimer);
  state.statusTimer = setTimeout(() => {
    ui.status.textContent = "";
  }, STATUS_CLEAR_MS);
}

function showError(error, retry) {
  // Nothing on screen to go back to (the next item did not load): say so in the stage too.
  if (!state.item && ui.stage.dataset.state === "loading") ui.stage.dataset.state = "error";
  ui.errorMessage.textContent = error.message;
  if (error.needsLogin) {
    ui.errorMessage.textContent = "Your session has ended. Log in again to continue.";
    const next = encodeURIComponent(location.pathname);
    state.retry = () => location.assign(`${config.urls.login}?next=${next}`);
    ui.retry.textContent = "Log in";
  } else {
    state.retry = retry;
    ui.retry.textContent = error.moveOn ? "Next item" : "Retry";
    if (error.code === GUIDELINE_UNACKNOWLEDGED) ui.retry.textContent = "Read the guideline";
  }
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
  state.retry = null;
}

/* ---------- keyboard ---------- */

/** The character a key stands for, from the physical key when the layout is not Latin. */
function keyChar(event) {
  if (/^[0-9a-z]$/i.test(event.key)) return event.key.toLowerCase();
  const code = event.code || "";
  if (/^Key[A-Z]$/.test(code)) return code.slice(3).toLowerCase();
  if (/^(Digit|Numpad)[0-9]$/.test(code)) return code.slice(-1);
  return event.key;
}

function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable ||
    ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function onKeyDown(event) {
  if (event.defaultPrevented || event.isComposing || isTyping(event.target)) return;
  if (ui.help.open) {
    if (event.key === "?") {
      event.preventDefault();
      ui.help.close();
    }
    return;
  }
  // The other dialogs take the keyboard while open (Esc closes them natively).
  if (anyDialogOpen()) return;
  // Holding a key down must not label (or undo) a run of items.
  if (event.repeat) return;
  const char = keyChar(event);
  const command = event.ctrlKey || event.metaKey;
  if (command && !event.altKey && char === "z") {
    event.preventDefault();
    undo();
    return;
  }
  if (command || event.altKey) return;
  const handled = handleKey(event.key, char);
  if (handled) event.preventDefault();
}

function handleKey(key, char) {
  if (key === "?") {
    toggleHelp();
    return true;
  }
  // Class hotkeys win over the page keys if a project ever uses S or Z for a class.
  const cls = classByHotkey.get(char);
  if (cls) {
    label(cls);
    return true;
  }
  if (char === "s") {
    skip();
    return true;
  }
  if (char === "z" || key === "Backspace") {
    undo();
    return true;
  }
  if (char === "f") {
    openFlag();
    return true;
  }
  if (char === "g") {
    openGuideline();
    return true;
  }
  return false;
}

function toggleHelp() {
  if (ui.help.open) ui.help.close();
  else {
    ui.help.showModal();
    ui.helpToggle.setAttribute("aria-expanded", "true");
  }
}

/* ---------- start ---------- */

function wire() {
  document.addEventListener("keydown", onKeyDown);
  ui.skip.addEventListener("click", skip);
  ui.undo.addEventListener("click", undo);
  ui.helpToggle.addEventListener("click", toggleHelp);
  ui.helpClose.addEventListener("click", () => ui.help.close());
  ui.help.addEventListener("close", () => ui.helpToggle.setAttribute("aria-expanded", "false"));
  ui.retry.addEventListener("click", () => state.retry?.());
  ui.dismiss.addEventListener("click", hideError);
  ui.flag.addEventListener("click", openFlag);
  ui.flagForm.addEventListener("submit", onFlagSubmit);
  ui.flagCancel.addEventListener("click", () => ui.flagDialog.close());
  ui.flagClose.addEventListener("click", () => ui.flagDialog.close());
  ui.guidelineOpen.addEventListener("click", openGuideline);
  ui.guidelineClose.addEventListener("click", () => ui.guidelineDialog.close());
  ui.ackConfirm.addEventListener("click", confirmAck);
  ui.ackDialog.addEventListener("close", onAckClosed);
}

renderClasses();
renderHelp();
renderInstructions();
renderProgress(config.progress);
wire();
act([loadNext]);
