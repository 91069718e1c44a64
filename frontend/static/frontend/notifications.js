/**
 * The notification bell in the top bar: the unread count, a dropdown of notifications (a digest
 * of new disagreements links to the project's review queue; a mention links to the item's review
 * page) and "Mark all read".
 *
 * The count is fetched on load, then again every minute while the tab is visible; a failed fetch
 * leaves the bell as it was (a nicety must never get in the way). Server text goes into the page
 * with textContent only.
 */

import { apiFetch, ago, el } from "./api.js";

const root = document.getElementById("bell");

const REQUEST_TIMEOUT_MS = 15_000;
const REFRESH_MS = 60_000;

/** Failures are only logged here, so the default wording serves. A POST may outlive the page
 * (keepalive): a notification is marked read on the way to its link. */
const request = (method, url, body) =>
  apiFetch(url, { method, body, timeoutMs: REQUEST_TIMEOUT_MS, keepalive: method !== "GET" });

function start() {
  const urls = {
    list: root.dataset.listUrl,
    read: root.dataset.readUrl,
    queue: root.dataset.queueUrl,
    item: root.dataset.itemUrl,
    placeholder: root.dataset.idPlaceholder,
  };
  const button = document.getElementById("bell-button");
  const count = document.getElementById("bell-count");
  const panel = document.getElementById("bell-panel");
  const list = document.getElementById("bell-list");
  const empty = document.getElementById("bell-empty");
  const markAll = document.getElementById("bell-mark-all");
  let notifications = [];
  let timer = 0;

  const fill = (template, ...ids) => ids.reduce((url, id) => url.replace(urls.placeholder, String(id)), template);

  function linkOf(n) {
    if (n.kind === "mention" && n.item) return fill(urls.item, n.project, n.item);
    return fill(urls.queue, n.project);
  }

  function textOf(n) {
    if (n.kind === "mention") {
      return `${n.by ?? "Someone"} mentioned you in a comment on item ${n.item} in ${n.project_name}`;
    }
    if (n.kind === "disagreements") {
      return `${n.count} new disagreement${n.count === 1 ? "" : "s"} in ${n.project_name}`;
    }
    return `${n.kind} in ${n.project_name}`;
  }

  function renderCount(unread) {
    count.hidden = unread === 0;
    count.textContent = unread > 99 ? "99+" : String(unread);
    button.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
    markAll.disabled = unread === 0;
  }

  function renderList() {
    // A refresh while the dropdown is open must not drop the keyboard focus.
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
    list.replaceChildren();
    empty.hidden = notifications.length > 0;
    for (const n of notifications) {
      const li = el("li", `bell__item${n.read ? "" : " bell__item--unread"}`);
      const link = el("a", "bell__link");
      link.href = linkOf(n);
      link.dataset.id = String(n.id);
      const icon = el("span", `bell__icon bell__icon--${n.kind}`, n.kind === "mention" ? "@" : "!");
      icon.setAttribute("aria-hidden", "true");
      const text = el("span", "bell__text");
      text.append(el("span", "bell__message", textOf(n)));
      const when = el("time", "bell__when", ago(n.updated_at || n.created_at));
      when.dateTime = n.updated_at || n.created_at;
      text.append(when);
      if (!n.read) text.append(el("span", "visually-hidden", " (unread)"));
      link.append(icon, text);
      link.addEventListener("click", (event) => openNotification(event, n, link));
      li.append(link);
      list.append(li);
    }
    if (focused) (list.querySelector(`a[data-id="${focused}"]`) ?? markAll).focus();
  }

  // Bumped by every write (mark read): a list fetched before it is stale and is dropped.
  let writes = 0;

  async function refresh() {
    const seen = writes;
    try {
      const data = await request("GET", urls.list);
      if (seen !== writes) return;
      notifications = data.results;
      renderCount(data.unread);
      renderList();
      root.dataset.loaded = "true";
    } catch (error) {
      console.warn("notifications refresh failed", error);
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, REFRESH_MS);
  }

  async function openNotification(event, n, link) {
    if (n.read || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    // Mark it read before leaving; keepalive lets the request finish while the page unloads.
    event.preventDefault();
    try {
      await request("POST", urls.read, { ids: [n.id] });
    } catch (error) {
      console.warn("marking a notification read failed", error);
    }
    location.assign(link.href);
  }

  function setOpen(open) {
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) {
      refresh();
      (list.querySelector("a") ?? markAll).focus();
    }
  }

  button.addEventListener("click", () => setOpen(panel.hidden));
  markAll.addEventListener("click", async () => {
    markAll.disabled = true;
    writes += 1;
    try {
      const data = await request("POST", urls.read, {});
      for (const n of notifications) n.read = true;
      renderCount(data.unread);
      renderList();
      button.focus();
    } catch (error) {
      console.warn("mark all read failed", error);
      markAll.disabled = false;
    }
  });
  document.addEventListener("click", (event) => {
    if (!panel.hidden && !root.contains(event.target)) setOpen(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      setOpen(false);
      button.focus();
    }
    const inside = root.contains(document.activeElement);
    if ((event.key === "ArrowDown" || event.key === "ArrowUp") && !panel.hidden && inside) {
      const links = [...list.querySelectorAll("a")];
      if (!links.length) return;
      event.preventDefault();
      const at = links.indexOf(document.activeElement);
      const step = event.key === "ArrowDown" ? 1 : -1;
      links[(at + step + links.length) % links.length].focus();
    }
  });
  // Tabbing out of the dropdown closes it, as clicking elsewhere does.
  root.addEventListener("focusout", (event) => {
    if (!panel.hidden && event.relatedTarget && !root.contains(event.relatedTarget)) setOpen(false);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });

  refresh();
  schedule();
}

if (root) start();
