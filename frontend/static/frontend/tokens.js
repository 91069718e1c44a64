/**
 * The API tokens page: the caller's tokens (GET /api/v1/tokens/, every cursor page), a form that
 * creates one (POST {name}; the answer holds the key, the only time it is ever sent), and revoke
 * (DELETE /api/v1/tokens/{id}/) after a confirmation dialog.
 *
 * - The new key is shown once, in a read-only field with a Copy button, and dropped from the page
 *   (the field emptied, the state forgotten) when the person says they have copied it. It is
 *   never put in the list, which shows only the key's first characters.
 * - Everything from the server goes into the page with textContent (names are user text).
 */

import { $, DATE_TIME, ago, apiFetch, el, plural, readConfig } from "./api.js";

const config = readConfig("tokens-config");

const ui = {
  form: $("create-form"),
  name: $("token-name"),
  nameError: $("token-name-error"),
  submit: $("create-submit"),
  key: $("new-key"),
  keyName: $("new-key-name"),
  keyValue: $("new-key-value"),
  keyCopy: $("new-key-copy"),
  keyCopied: $("new-key-copied"),
  keyExample: $("new-key-example"),
  keyDone: $("new-key-done"),
  status: $("list-status"),
  table: $("tokens-table"),
  rows: $("tokens"),
  empty: $("tokens-empty"),
  count: $("tokens-count"),
  dialog: $("revoke-dialog"),
  revokeName: $("revoke-name"),
  revokeError: $("revoke-error"),
  revokeConfirm: $("revoke-confirm"),
  revokeCancel: $("revoke-cancel"),
};

const state = { tokens: [], loaded: false, revoking: null };

const tokenUrl = (id) => config.urls.token_api.replace(config.urls.id_placeholder, String(id));

/* ---------- the list ---------- */

function timeCell(iso, { never = "Never" } = {}) {
  const cell = el("td", "tk-when");
  if (!iso) {
    cell.append(el("span", "muted", never));
    return cell;
  }
  const time = el("time", null, ago(iso, { dateAfterDays: 7 }));
  time.dateTime = iso;
  time.title = DATE_TIME.format(new Date(iso));
  cell.append(time);
  return cell;
}

function tokenRow(token) {
  const row = el("tr");
  row.dataset.tokenId = token.id;
  const revoked = Boolean(token.revoked_at);
  row.classList.toggle("tk-row--revoked", revoked);
  const name = el("th", "tk-name", token.name);
  name.scope = "row";
  const prefix = el("td");
  prefix.append(el("code", "tk-prefix", `${token.prefix}…`));
  const status = el("td", "tk-status-cell");
  if (revoked) {
    const when = el("time", "tk-revoked-when muted", ago(token.revoked_at, { dateAfterDays: 7 }));
    when.dateTime = token.revoked_at;
    when.title = DATE_TIME.format(new Date(token.revoked_at));
    status.append(el("span", "badge tk-badge tk-badge--revoked", "Revoked"), when);
  } else {
    status.append(el("span", "badge tk-badge tk-badge--live", "Active"));
  }
  const actions = el("td", "tk-actions");
  if (!revoked) {
    const button = el("button", "btn btn--ghost btn--sm tk-revoke", "Revoke");
    button.type = "button";
    button.setAttribute("aria-label", `Revoke ${token.name}`);
    button.addEventListener("click", () => askRevoke(token));
    actions.append(button);
  }
  row.append(name, prefix, timeCell(token.created_at), timeCell(token.last_used_at), status, actions);
  return row;
}

function render() {
  const live = state.tokens.filter((t) => !t.revoked_at).length;
  const revoked = state.tokens.length - live;
  ui.rows.replaceChildren(...state.tokens.map(tokenRow));
  ui.table.hidden = state.tokens.length === 0;
  ui.empty.hidden = !state.loaded || state.tokens.length !== 0;
  ui.count.textContent = revoked ? `${live} active · ${revoked} revoked` : plural(live, "active token");
}

async function load() {
  const tokens = [];
  let url = config.urls.tokens_api;
  while (url) {
    const page = await apiFetch(url);
    tokens.push(...page.results);
    url = page.next;
  }
  state.tokens = tokens;
  state.loaded = true;
  render();
}

/* ---------- create ---------- */

function nameError(message) {
  ui.name.setAttribute("aria-invalid", message ? "true" : "false");
  ui.nameError.textContent = message ?? "";
  ui.nameError.hidden = !message;
}

function setBusy(busy) {
  ui.submit.disabled = busy;
  ui.submit.querySelector(".btn__spinner").hidden = !busy;
  ui.form.setAttribute("aria-busy", String(busy));
}

function showKey(token) {
  ui.keyName.textContent = token.name;
  ui.keyValue.value = token.key;
  ui.keyExample.textContent =
    `curl -H "Authorization: Bearer ${token.key}" \\\n     ${config.urls.example_api}`;
  ui.keyCopied.textContent = "";
  ui.key.hidden = false;
  ui.key.focus();
  ui.keyValue.select();
}

function hideKey() {
  ui.keyValue.value = "";
  ui.keyExample.textContent = "";
  ui.keyCopied.textContent = "";
  ui.key.hidden = true;
  ui.name.focus();
}

async function copyKey() {
  try {
    await navigator.clipboard.writeText(ui.keyValue.value);
    ui.keyCopied.textContent = "Copied to the clipboard.";
  } catch {
    // No clipboard access (an insecure origin, or denied): leave it selected for Ctrl+C.
    ui.keyValue.focus();
    ui.keyValue.select();
    ui.keyCopied.textContent = "Press Ctrl+C (⌘C) to copy the selected token.";
  }
}

async function create(event) {
  event.preventDefault();
  nameError(null);
  const name = ui.name.value.trim();
  if (!name) {
    nameError("Give the token a name.");
    ui.name.focus();
    return;
  }
  setBusy(true);
  try {
    const token = await apiFetch(config.urls.tokens_api, { method: "POST", body: { name } });
    const { key, ...listed } = token; // the list never holds the key
    state.tokens = [listed, ...state.tokens];
    state.loaded = true;
    render();
    ui.form.reset();
    showKey({ ...listed, key });
  } catch (error) {
    nameError(error.message);
    ui.name.focus();
  } finally {
    setBusy(false);
  }
}

/* ---------- revoke ---------- */

function askRevoke(token) {
  state.revoking = token;
  ui.revokeName.textContent = token.name;
  ui.revokeError.hidden = true;
  ui.revokeConfirm.disabled = false;
  ui.dialog.showModal();
  ui.revokeCancel.focus();
}

async function revoke(event) {
  event.preventDefault();
  const token = state.revoking;
  if (!token) return;
  ui.revokeConfirm.disabled = true;
  try {
    await apiFetch(tokenUrl(token.id), { method: "DELETE" });
    const now = new Date().toISOString();
    state.tokens = state.tokens.map((t) =>
      t.id === token.id ? { ...t, revoked_at: t.revoked_at ?? now } : t,
    );
    render();
    ui.dialog.close();
    showStatus(`Revoked “${token.name}”.`);
  } catch (error) {
    ui.revokeError.textContent = error.message;
    ui.revokeError.hidden = false;
    ui.revokeConfirm.disabled = false;
  }
}

function showStatus(text, { error = false } = {}) {
  ui.status.textContent = text;
  ui.status.classList.toggle("dash-status--error", error);
}

ui.form.addEventListener("submit", create);
ui.keyCopy.addEventListener("click", copyKey);
ui.keyDone.addEventListener("click", hideKey);
ui.revokeConfirm.addEventListener("click", revoke);
ui.revokeCancel.addEventListener("click", (event) => {
  event.preventDefault();
  ui.dialog.close();
});
ui.dialog.addEventListener("close", () => {
  state.revoking = null;
});

load()
  .then(() => showStatus(""))
  .catch((error) => showStatus(`Could not load your tokens. ${error.message}`, { error: true }));
