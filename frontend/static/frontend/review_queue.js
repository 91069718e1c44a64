/**
 * The disagreement queue: confusion pairs, filters, the ranked items, and (managers) a new round.
 *
 * - The filters live in the URL's query string (the API's own parameter names: pair, class,
 *   slice, round, labeler, flagged, offset), so a reload, a shared link or the back button shows
 *   the same queue; the item pages get the same string, so "next item" stays in the same queue.
 * - Everything from the server goes into the page with textContent, never as HTML.
 */

import {
  $,
  FLAG_KINDS,
  QUEUE_FILTER_KEYS,
  apiFetch,
  classLookup,
  el,
  itemThumbnail,
  plural,
  readConfig,
  showStatus,
} from "./api.js";

const config = readConfig("review-queue-config");

const PAGE_SIZE = 25;
const ui = {
  summary: $("queue-summary"),
  status: $("queue-status"),
  pairs: $("pairs"),
  pairsEmpty: $("pairs-empty"),
  pairsTotal: $("pairs-total"),
  form: $("filters"),
  pair: $("f-pair"),
  cls: $("f-class"),
  slice: $("f-slice"),
  round: $("f-round"),
  labeler: $("f-labeler"),
  flagged: $("f-flagged"),
  clear: $("clear-filters"),
  error: $("queue-error"),
  errorMessage: $("queue-error-message"),
  retry: $("queue-retry"),
  list: document.querySelector(".rq-list"),
  rows: $("queue"),
  empty: $("queue-empty"),
  emptyTitle: $("queue-empty-title"),
  emptyText: $("queue-empty-text"),
  pageInfo: $("page-info"),
  prev: $("prev-page"),
  next: $("next-page"),
  startRound: $("start-round"),
  roundDialog: $("round-dialog"),
  roundText: $("round-dialog-text"),
};

/** Class names, and a colour per class so the same class reads the same across rows. */
const { name: className, tone: toneOf } = classLookup(config.classes);

const state = {
  count: 0, // items matching the current filters
  seq: 0, // the newest load; older answers are dropped
};

/* ---------- API ---------- */

const request = (method, url, body) => apiFetch(url, { method, body });

/* ---------- filters <-> URL ---------- */

function currentParams() {
  const params = new URLSearchParams(location.search);
  const clean = new URLSearchParams();
  for (const key of [...QUEUE_FILTER_KEYS, "offset"]) {
    const value = params.get(key);
    if (value) clean.set(key, value);
  }
  return clean;
}

/** The filters without paging: what the API and the item pages get. */
function filterParams(params = currentParams()) {
  const filters = new URLSearchParams(params);
  filters.delete("offset");
  return filters;
}

function navigate(params, { replace = false } = {}) {
  const query = params.toString();
  const url = `${location.pathname}${query ? `?${query}` : ""}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  load();
}

function setFilter(key, value) {
  const params = currentParams();
  if (value) params.set(key, value);
  else params.delete(key);
  params.delete("offset"); // a new filter starts at the top of the queue
  navigate(params);
}

function option(value, text) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}

function fillStaticFilters() {
  for (const cls of config.classes) ui.cls.append(option(cls.key, cls.name));
  for (const slice of config.slices) {
    const group = document.createElement("optgroup");
    group.label = slice.name;
    for (const value of slice.values) group.append(option(`${slice.name}:${value}`, `${slice.name}: ${value}`));
    ui.slice.append(group);
  }
  for (const number of config.rounds) {
    const current = number === config.project.current_round ? " (current)" : "";
    ui.round.append(option(String(number), `Round ${number}${current}`));
  }
  for (const username of config.labelers) ui.labeler.append(option(username, username));
}

/** A value from the URL that no option offers (an old link): add it, so the form shows it. */
function selectValue(select, value, text = value) {
  if (value && ![...select.options].some((o) => o.value === value)) {
    select.append(option(value, text));
  }
  select.value = value || "";
}

function pairText(pair) {
  return `${className(pair[0])} vs ${className(pair[1])}`;
}

function showFilters(params) {
  const pair = params.get("pair") || "";
  selectValue(ui.pair, pair, pair ? pairText(pair.split(",")) : "");
  selectValue(ui.cls, params.get("class"));
  selectValue(ui.slice, params.get("slice"));
  selectValue(ui.round, params.get("round"), `Round ${params.get("round")}`);
  selectValue(ui.labeler, params.get("labeler"));
  ui.flagged.checked = params.get("flagged") === "true";
  ui.clear.hidden = ![...filterParams(params).keys()].length;
}

/* ---------- loading ---------- */

async function load() {
  const seq = ++state.seq;
  const params = currentParams();
  const offset = Math.max(0, Number.parseInt(params.get("offset") || "0", 10) || 0);
  showFilters(params);
  hideError();
  ui.list.setAttribute("aria-busy", "true");
  const filters = filterParams(params);
  const listQuery = new URLSearchParams(filters);
  listQuery.set("limit", String(PAGE_SIZE));
  listQuery.set("offset", String(offset));
  try {
    const [queue, pairs] = await Promise.all([
      request("GET", `${config.urls.queue_api}?${listQuery}`),
      request("GET", `${config.urls.pairs_api}?${filters}`),
    ]);
    if (seq !== state.seq) return;
    if (!queue.results.length && offset > 0 && queue.count > 0) {
      // A page past the end (items were decided meanwhile): show the last page instead.
      params.set("offset", String(Math.max(0, Math.floor((queue.count - 1) / PAGE_SIZE) * PAGE_SIZE)));
      navigate(params, { replace: true });
      return;
    }
    state.count = queue.count;
    renderPairs(pairs, params.get("pair"));
    renderQueue(queue, filters);
    renderSummary(queue.count, pairs.queued_items, filters);
  } catch (error) {
    if (seq !== state.seq) return;
    showError(error.message);
  } finally {
    if (seq === state.seq) ui.list.setAttribute("aria-busy", "false");
  }
}

/* ---------- rendering ---------- */

function renderSummary(count, queued, filters) {
  const pair = filters.get("pair");
  const others = [...filters.keys()].filter((key) => key !== "pair").length > 0;
  if (pair) {
    const scope = others ? "items matching the other filters" : "queued items";
    const verb = count === 1 ? "is" : "are";
    ui.summary.textContent = `${count.toLocaleString()} of the ${queued.toLocaleString()} ${scope} ${verb} ${pairText(pair.split(","))}`;
  } else if (others) {
    ui.summary.textContent = `${plural(count, "item")} match these filters, highest priority first`;
  } else {
    ui.summary.textContent = `${plural(count, "item")} wait for a decision, highest priority first`;
  }
  if (ui.startRound) {
    ui.startRound.disabled = count === 0;
    ui.startRound.textContent =
      count === 0 ? "Start a new round on these items" : `Start a new round on these ${plural(count, "item")}`;
  }
}

function renderPairs({ pairs, queued_items: queued }, activePair) {
  ui.pairs.replaceChildren();
  // Pair filter options follow the summary (the pairs among the other filters' items).
  const chosen = ui.pair.value;
  ui.pair.replaceChildren(option("", "Any pair"));
  ui.pairsEmpty.hidden = pairs.length > 0;
  ui.pairsTotal.hidden = !pairs.length;
  ui.pairsTotal.textContent = `${plural(pairs.length, "pair")} · ${plural(queued, "item")}`;
  const top = Math.max(1, ...pairs.map((p) => p.items));
  for (const entry of pairs) {
    const value = entry.pair.join(",");
    ui.pair.append(option(value, `${pairText(entry.pair)} (${entry.items})`));
    const active = value === activePair;
    const li = el("li");
    const button = el("button", `rq-pair${active ? " is-active" : ""}`);
    button.type = "button";
    button.dataset.pair = value;
    button.setAttribute("aria-pressed", String(active));
    const name = el("span", "rq-pair__name");
    name.append(
      el("span", "rq-pair__class", className(entry.pair[0])),
      el("span", "rq-pair__vs", " vs "),
      el("span", "rq-pair__class", className(entry.pair[1])),
    );
    const count = el("span", "rq-pair__count num", ` — ${plural(entry.items, "item")}`);
    const track = el("span", "rq-pair__track");
    track.setAttribute("aria-hidden", "true");
    const bar = el("span", "rq-pair__bar");
    bar.style.width = `${Math.max(4, Math.round((100 * entry.items) / top))}%`;
    track.append(bar);
    const share = entry.share === null ? "" : ` (${Math.round(entry.share * 100)}% of the queue)`;
    button.title = active ? "Show every pair again" : `Show only ${pairText(entry.pair)}${share}`;
    button.append(name, count, track);
    button.addEventListener("click", () => setFilter("pair", active ? "" : value));
    li.append(button);
    ui.pairs.append(li);
  }
  selectValue(ui.pair, chosen || activePair || "", activePair ? pairText(activePair.split(",")) : "");
}

function itemHref(itemId, filters) {
  const base = config.urls.item_page.replace(config.urls.id_placeholder, String(itemId));
  const query = filters.toString();
  return query ? `${base}?${query}` : base;
}

function thumbnail(item) {
  const img = itemThumbnail(item, 48);
  if (!img) return null;
  const box = el("span", "rq-row__thumb");
  box.append(img);
  return box;
}

function labelBadges(labels) {
  const list = el("ul", "rq-labels");
  list.setAttribute("role", "list");
  list.setAttribute("aria-label", "Labels");
  for (const { labeler, label } of labels) {
    const li = el("li", `rq-label ${toneOf(label)}`);
    li.dataset.label = label;
    li.append(el("span", "rq-label__class", className(label)), el("span", "rq-label__who", labeler));
    list.append(li);
  }
  return list;
}

function flagIcons(flags) {
  const box = el("span", "rq-flags");
  if (!flags.length) {
    box.append(el("span", "muted", "—"));
    return box;
  }
  for (const flag of flags) {
    const kind = FLAG_KINDS[flag.kind] ?? flag.kind;
    const note = flag.note ? `: “${flag.note}”` : "";
    const icon = el("span", `rq-flag rq-flag--${flag.kind}`);
    icon.title = `${kind} — flagged by ${flag.labeler}${note}`;
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "⚑";
    box.append(icon, el("span", "visually-hidden", `${kind}, flagged by ${flag.labeler}${note}. `));
  }
  return box;
}

function renderQueue(queue, filters) {
  ui.rows.replaceChildren();
  const offset = queue.offset;
  queue.results.forEach((entry, index) => {
    const item = entry.item;
    const li = el("li", "rq-row");
    li.dataset.itemId = String(item.id);
    const link = el("a", "rq-row__link");
    link.href = itemHref(item.id, filters);
    link.setAttribute("aria-label", `Review ${item.external_id}`);

    const main = el("span", "rq-row__item");
    main.append(el("span", "rq-row__rank num", String(offset + index + 1)));
    const thumb = thumbnail(item);
    if (thumb) main.append(thumb);
    const ident = el("span", "rq-row__ident");
    ident.append(el("span", "rq-row__ref", item.external_id));
    const text = (item.text || "").trim();
    if (!thumb && text) {
      const snippet = el("span", "rq-row__snippet", text.slice(0, 200));
      snippet.title = text.slice(0, 500);
      ident.append(snippet);
    }
    const slices = Object.entries(item.slices || {}).map(([k, v]) => `${k}: ${v}`).join(" · ");
    const facts = [entry.round !== config.project.current_round ? `round ${entry.round}` : "", slices]
      .filter(Boolean)
      .join(" · ");
    if (facts) ident.append(el("span", "rq-row__facts muted", facts));
    main.append(ident);

    const pair = el("span", "rq-row__pair");
    if (entry.pair) pair.textContent = pairText(entry.pair);
    else pair.append(el("span", "muted", "—"));

    const priority = el("span", "rq-row__priority");
    const meter = el("span", "rq-priority");
    meter.setAttribute("aria-hidden", "true");
    const fill = el("span", "rq-priority__bar");
    fill.style.width = `${Math.min(100, Math.round(entry.priority * 200))}%`;
    meter.append(fill);
    priority.append(meter, el("span", "num", entry.priority.toFixed(2)));
    priority.title = `Priority ${entry.priority.toFixed(3)} · disagreement strength ${entry.strength.toFixed(2)}`;

    link.append(main, labelBadges(entry.labels), pair, flagIcons(entry.flags), priority);
    li.append(link);
    ui.rows.append(li);
  });

  const filtered = [...filters.keys()].length > 0;
  ui.empty.hidden = queue.results.length > 0;
  ui.emptyTitle.textContent = filtered ? "No items match these filters" : "Nothing to review";
  ui.emptyText.textContent = filtered
    ? "Clear a filter, or choose another confusion pair."
    : "No item's labels are disputed, and no labeler flagged an item. New disagreements show up here.";
  const first = queue.results.length ? offset + 1 : 0;
  const last = offset + queue.results.length;
  ui.pageInfo.textContent = queue.count ? `${first}–${last} of ${queue.count.toLocaleString()}` : "";
  ui.prev.disabled = offset <= 0;
  ui.next.disabled = last >= queue.count;
}

/* ---------- status, errors ---------- */

const say = (text, options) => showStatus(ui.status, text, options);

function showError(message) {
  ui.errorMessage.textContent = message;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
}

/* ---------- paging ---------- */

function page(step) {
  const params = currentParams();
  const offset = Math.max(0, (Number.parseInt(params.get("offset") || "0", 10) || 0) + step * PAGE_SIZE);
  if (offset) params.set("offset", String(offset));
  else params.delete("offset");
  navigate(params);
  ui.list.scrollIntoView({ block: "start" });
}

/* ---------- a new round (managers) ---------- */

function askForRound() {
  if (!ui.roundDialog || !state.count) return;
  const filters = filterParams();
  const described = [...filters.keys()].length ? " matching the current filters" : " in the queue";
  ui.roundText.textContent =
    `Move ${plural(state.count, "item")}${described} to round ${config.project.current_round + 1}, to be labeled again?`;
  ui.roundDialog.returnValue = "";
  ui.roundDialog.showModal();
}

function roundFilter() {
  const filters = filterParams();
  const body = {};
  for (const [key, value] of filters) {
    if (key === "flagged") body.flagged = value === "true";
    else if (key === "round") body.round = Number(value);
    else body[key] = value;
  }
  return body;
}

async function startRound() {
  ui.startRound.disabled = true;
  say("Starting a new round…");
  try {
    const result = await request("POST", config.urls.rounds_api, { filter: roundFilter() });
    config.project.current_round = result.number;
    say(
      `Round ${result.number} started on ${plural(result.items, "item")}. They go back to the labelers and leave this queue until they are labeled again.`,
    );
    if (!config.rounds.includes(result.number)) {
      config.rounds.unshift(result.number);
      ui.round.insertBefore(option(String(result.number), `Round ${result.number} (current)`), ui.round.options[1]);
    }
    await load();
  } catch (error) {
    say(`The round was not started: ${error.message}`, { error: true });
    ui.startRound.disabled = state.count === 0;
  }
}

/* ---------- start ---------- */

function wire() {
  ui.form.addEventListener("submit", (event) => event.preventDefault());
  ui.pair.addEventListener("change", () => setFilter("pair", ui.pair.value));
  ui.cls.addEventListener("change", () => setFilter("class", ui.cls.value));
  ui.slice.addEventListener("change", () => setFilter("slice", ui.slice.value));
  ui.round.addEventListener("change", () => setFilter("round", ui.round.value));
  ui.labeler.addEventListener("change", () => setFilter("labeler", ui.labeler.value));
  ui.flagged.addEventListener("change", () => setFilter("flagged", ui.flagged.checked ? "true" : ""));
  ui.clear.addEventListener("click", () => navigate(new URLSearchParams()));
  ui.retry.addEventListener("click", load);
  ui.prev.addEventListener("click", () => page(-1));
  ui.next.addEventListener("click", () => page(1));
  window.addEventListener("popstate", load);
  if (ui.startRound) {
    ui.startRound.addEventListener("click", askForRound);
    ui.roundDialog.addEventListener("close", () => {
      if (ui.roundDialog.returnValue === "start") startRound();
    });
  }
}

fillStaticFilters();
wire();
load();
