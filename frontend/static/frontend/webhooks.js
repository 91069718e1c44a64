/**
 * The webhooks page (managers): register a URL for events, reveal/copy/rotate its secret, switch
 * it on and off or delete it, and read one hook's delivery log with a Replay button per row.
 *
 * - The hooks come from the server in the page's config; every change goes through the webhooks
 *   API and the list is redrawn from its answer, so the page shows what the database holds.
 * - The log pages with the API's cursor ("Older deliveries" follows ``next``). While a row in
 *   view is still pending (a worker is sending or waiting to retry), the log refreshes itself a
 *   few times.
 * - Everything from the server goes into the page with textContent, never as HTML.
 */

import { $, DATE_TIME, TRY_AGAIN, apiFetch, el, readConfig, showStatus } from "./api.js";

const config = readConfig("webhooks-config");
const STATUS_LABELS = { pending: "Pending", succeeded: "Succeeded", failed: "Failed" };
/** Refreshes of a log that still shows pending deliveries, and the pause between them. */
const PENDING_POLLS = 10;
const POLL_MS = 2_000;

const ui = {
  hooks: $("hooks"),
  hooksEmpty: $("hooks-empty"),
  hooksCount: $("hooks-count"),
  hooksStatus: $("hooks-status"),
  form: $("register-form"),
  url: $("hook-url"),
  urlError: $("hook-url-error"),
  eventsError: $("hook-events-error"),
  formError: $("register-error"),
  submit: $("register-submit"),
  logHook: $("log-hook"),
  log: $("log"),
  logEmpty: $("log-empty"),
  logStatus: $("log-status"),
  logMore: $("log-more"),
  logRefresh: $("log-refresh"),
};

const state = { hooks: config.hooks, selected: config.hooks[0]?.id ?? null, next: null, polls: 0 };
let pollTimer = null;

const withId = (template, id) => template.replace(config.urls.id_placeholder, String(id));
const eventLabel = (value) => config.events.find((e) => e.value === value)?.label ?? value;

/* ---------- the hooks ---------- */

function secretBlock(hook) {
  const wrap = el("div", "wh-secret");
  const label = el("span", "wh-secret__label", "Secret");
  const value = el("code", "wh-secret__value", "•".repeat(24));
  value.dataset.hidden = "true";
  const reveal = el("button", "btn btn--ghost btn--sm", "Reveal");
  reveal.type = "button";
  reveal.addEventListener("click", () => {
    const hidden = value.dataset.hidden === "true";
    value.textContent = hidden ? hook.secret : "•".repeat(24);
    value.dataset.hidden = hidden ? "false" : "true";
    reveal.textContent = hidden ? "Hide" : "Reveal";
  });
  const copy = el("button", "btn btn--ghost btn--sm", "Copy");
  copy.type = "button";
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(hook.secret);
      showStatus(ui.hooksStatus, "Secret copied to the clipboard.");
    } catch {
      // No clipboard (an insecure origin): show it selected so the user can copy it.
      value.textContent = hook.secret;
      value.dataset.hidden = "false";
      reveal.textContent = "Hide";
      window.getSelection()?.selectAllChildren(value);
      showStatus(ui.hooksStatus, "Press Ctrl+C (⌘C) to copy the selected secret.");
    }
  });
  const rotate = el("button", "btn btn--ghost btn--sm", "Rotate");
  rotate.type = "button";
  rotate.title = "Replace the secret; the old one stops signing at once";
  rotate.addEventListener("click", () => rotateSecret(hook));
  wrap.append(label, value, reveal, copy, rotate);
  return wrap;
}

function hookItem(hook) {
  const item = el("li", "wh-hook");
  item.dataset.hookId = hook.id;
  if (!hook.active) item.classList.add("wh-hook--inactive");
  const head = el("div", "wh-hook__head");
  head.append(el("code", "wh-hook__url", hook.url));
  const toggle = el("label", "wh-toggle");
  const box = el("input");
  box.type = "checkbox";
  box.checked = hook.active;
  box.setAttribute("aria-label", `Active: ${hook.url}`);
  box.addEventListener("change", () => setActive(hook, box));
  toggle.append(box, el("span", null, "Active"));
  head.append(toggle);

  const events = el("ul", "chips wh-hook__events");
  events.setAttribute("role", "list");
  events.setAttribute("aria-label", "Events");
  for (const value of hook.events) {
    const chip = el("li", "chip", eventLabel(value));
    chip.title = value;
    events.append(chip);
  }

  const foot = el("div", "wh-hook__foot");
  const meta = el(
    "span",
    "muted",
    `Added ${DATE_TIME.format(new Date(hook.created_at))}${hook.created_by ? ` by ${hook.created_by}` : ""}`,
  );
  const show = el("button", "btn btn--secondary btn--sm", "Deliveries");
  show.type = "button";
  show.addEventListener("click", () => {
    selectHook(hook.id);
    $("log-title").scrollIntoView({ behavior: "smooth", block: "start" });
  });
  const remove = el("button", "btn btn--danger btn--sm", "Delete");
  remove.type = "button";
  remove.addEventListener("click", () => deleteHook(hook));
  foot.append(meta, show, remove);

  item.append(head, events, secretBlock(hook), foot);
  return item;
}

function renderHooks() {
  ui.hooks.replaceChildren(...state.hooks.map(hookItem));
  ui.hooksEmpty.hidden = state.hooks.length > 0;
  ui.hooksCount.textContent = String(state.hooks.length);
  const options = state.hooks.map((hook) => {
    const option = el("option", null, hook.url);
    option.value = String(hook.id);
    return option;
  });
  ui.logHook.replaceChildren(...options);
  ui.logHook.disabled = state.hooks.length === 0;
  ui.logRefresh.disabled = state.hooks.length === 0;
  if (state.selected !== null) ui.logHook.value = String(state.selected);
}

function replaceHook(updated) {
  state.hooks = state.hooks.map((hook) => (hook.id === updated.id ? updated : hook));
  renderHooks();
}

async function setActive(hook, box) {
  box.disabled = true;
  try {
    const updated = await apiFetch(withId(config.urls.hook, hook.id), {
      method: "PATCH",
      body: { active: box.checked },
    });
    replaceHook(updated);
    showStatus(ui.hooksStatus, updated.active ? "Webhook activated." : "Webhook paused: no deliveries until it is active again.");
  } catch (error) {
    box.checked = hook.active;
    box.disabled = false;
    showStatus(ui.hooksStatus, error.message, { error: true });
  }
}

async function rotateSecret(hook) {
  if (!window.confirm("Replace this webhook’s secret? Its receiver must switch to the new one.")) return;
  try {
    replaceHook(await apiFetch(withId(config.urls.rotate, hook.id), { method: "POST" }));
    showStatus(ui.hooksStatus, "A new secret was generated. Reveal or copy it for the receiver.");
  } catch (error) {
    showStatus(ui.hooksStatus, error.message, { error: true });
  }
}

async function deleteHook(hook) {
  if (!window.confirm(`Delete the webhook to ${hook.url} and its delivery log?`)) return;
  try {
    await apiFetch(withId(config.urls.hook, hook.id), { method: "DELETE" });
    state.hooks = state.hooks.filter((h) => h.id !== hook.id);
    if (state.selected === hook.id) state.selected = state.hooks[0]?.id ?? null;
    renderHooks();
    loadLog();
    showStatus(ui.hooksStatus, "Webhook deleted.");
  } catch (error) {
    showStatus(ui.hooksStatus, error.message, { error: true });
  }
}

/* ---------- registering ---------- */

function fieldError(node, message) {
  node.textContent = message ?? "";
  node.hidden = !message;
}

function clearErrors() {
  fieldError(ui.urlError, null);
  fieldError(ui.eventsError, null);
  fieldError(ui.formError, null);
  ui.url.removeAttribute("aria-invalid");
}

ui.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const url = ui.url.value.trim();
  const events = [...ui.form.querySelectorAll("input[name=events]:checked")].map((b) => b.value);
  if (!url) {
    fieldError(ui.urlError, "Give the URL that receives the events.");
    ui.url.setAttribute("aria-invalid", "true");
    ui.url.focus();
    return;
  }
  if (events.length === 0) {
    fieldError(ui.eventsError, "Choose at least one event.");
    return;
  }
  ui.submit.disabled = true;
  try {
    const hook = await apiFetch(config.urls.hooks, { method: "POST", body: { url, events } });
    state.hooks = [...state.hooks, hook];
    state.selected = hook.id;
    renderHooks();
    loadLog();
    ui.form.reset();
    showStatus(ui.hooksStatus, "Webhook registered. Give its secret to the receiver.");
  } catch (error) {
    if (error.field === "url") {
      fieldError(ui.urlError, error.message);
      ui.url.setAttribute("aria-invalid", "true");
      ui.url.focus();
    } else if (error.field?.startsWith("events")) {
      fieldError(ui.eventsError, error.message);
    } else {
      fieldError(ui.formError, error.message);
    }
  } finally {
    ui.submit.disabled = false;
  }
});

/* ---------- the delivery log ---------- */

function statusBadge(delivery) {
  const badge = el("span", `wh-badge wh-badge--${delivery.status}`, STATUS_LABELS[delivery.status] ?? delivery.status);
  if (delivery.error) badge.title = delivery.error;
  return badge;
}

function logRow(delivery) {
  const row = el("tr");
  row.dataset.deliveryId = delivery.id;
  const ident = el("td", "wh-mono", `#${delivery.id}`);
  if (delivery.replay_of) ident.append(el("span", "wh-replay-of muted", ` replay of #${delivery.replay_of}`));
  const status = el("td");
  status.append(statusBadge(delivery));
  if (delivery.error) status.append(el("span", "wh-error-text muted", delivery.error));
  const created = el("td", "wh-when", DATE_TIME.format(new Date(delivery.created_at)));
  const action = el("td", "wh-actions");
  const replay = el("button", "btn btn--secondary btn--sm", "Replay");
  replay.type = "button";
  replay.setAttribute("aria-label", `Replay delivery ${delivery.id}`);
  replay.addEventListener("click", () => replayDelivery(delivery, replay));
  action.append(replay);
  row.append(
    ident,
    el("td", "wh-mono", delivery.event),
    status,
    el("td", "num", delivery.response_status ?? "—"),
    el("td", "num", delivery.response_ms ?? "—"),
    el("td", "num", String(delivery.attempts)),
    created,
    action,
  );
  return row;
}

function schedulePoll(deliveries) {
  clearTimeout(pollTimer);
  if (deliveries.some((d) => d.status === "pending") && state.polls < PENDING_POLLS) {
    state.polls += 1;
    pollTimer = setTimeout(() => loadLog({ keepPolls: true }), POLL_MS);
  }
}

async function loadLog({ more = false, keepPolls = false } = {}) {
  clearTimeout(pollTimer);
  if (!keepPolls) state.polls = 0;
  if (state.selected === null) {
    ui.log.replaceChildren();
    ui.logEmpty.hidden = false;
    ui.logMore.hidden = true;
    return;
  }
  const url = more && state.next ? state.next : withId(config.urls.deliveries, state.selected);
  showStatus(ui.logStatus, "Loading deliveries…");
  try {
    const page = await apiFetch(url, { wording: TRY_AGAIN });
    const rows = page.results.map(logRow);
    if (more) ui.log.append(...rows);
    else ui.log.replaceChildren(...rows);
    state.next = page.next;
    ui.logMore.hidden = !page.next;
    ui.logEmpty.hidden = ui.log.children.length > 0;
    showStatus(ui.logStatus, "");
    if (!more) schedulePoll(page.results);
  } catch (error) {
    showStatus(ui.logStatus, error.message, { error: true });
  }
}

function selectHook(id) {
  state.selected = id;
  ui.logHook.value = String(id);
  loadLog();
}

async function replayDelivery(delivery, button) {
  button.disabled = true;
  try {
    const replay = await apiFetch(withId(config.urls.replay, delivery.id), { method: "POST" });
    await loadLog();
    showStatus(ui.logStatus, `Delivery #${delivery.id} replayed as #${replay.id}.`);
  } catch (error) {
    button.disabled = false;
    showStatus(ui.logStatus, error.message, { error: true });
  }
}

ui.logHook.addEventListener("change", () => selectHook(Number(ui.logHook.value)));
ui.logRefresh.addEventListener("click", () => loadLog());
ui.logMore.addEventListener("click", () => loadLog({ more: true }));

renderHooks();
loadLog();
