/**
 * The consistency dashboard: "Recompute now", and watching a stale report until a new one lands.
 *
 * The page itself is drawn on the server; this module only
 * - POSTs a recompute request (managers and engineers see the button; the API checks the role),
 *   then polls the report state until it is no longer stale and reloads the page;
 * - when the page was rendered stale, polls quietly (backing off) and offers to show the new
 *   report when it is ready, rather than reloading under someone who is reading.
 * Server text goes into the page with textContent only.
 */

import { apiFetch, readConfig, showStatus } from "./api.js";

const config = readConfig("consistency-config");

const POLL_FIRST_MS = 1_000;
const POLL_MAX_MS = 10_000;
const POLL_DEADLINE_MS = 180_000; // after a click: give up waiting after three minutes
const WATCH_FIRST_MS = 5_000;
const WATCH_MAX_MS = 60_000;
const WATCH_DEADLINE_MS = 900_000; // a stale page stops watching after fifteen minutes

const button = document.getElementById("recompute");
const status = document.getElementById("recompute-status");

const NO_ANSWER = "Network error — check the connection and try again.";
const WORDING = {
  timeout: NO_ANSWER,
  network: NO_ANSWER,
  failed: (httpStatus, error) => error?.message ?? `The server answered ${httpStatus}.`,
};

const request = (url, { method = "GET" } = {}) => apiFetch(url, { method, wording: WORDING });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const say = (text, options) => showStatus(status, text, options);

function setBusy(busy) {
  if (!button) return;
  button.disabled = busy;
  button.setAttribute("aria-busy", String(busy));
  button.querySelector(".btn__spinner").hidden = !busy;
  button.querySelector(".btn__label").textContent = busy ? "Recomputing…" : "Recompute now";
}

/** Poll the state until the report is fresh; resolves true when it is, false at the deadline. */
async function waitUntilFresh({ first, max, deadline }) {
  const until = Date.now() + deadline;
  let delay = first;
  while (Date.now() < until) {
    await sleep(delay);
    delay = Math.min(max, Math.round(delay * 1.5));
    try {
      const body = await request(config.urls.state);
      if (!body.stale) return true;
    } catch {
      // A failed poll is not an answer: keep trying until the deadline.
    }
  }
  return false;
}

function reload() {
  say("A new report is ready — loading it…");
  window.location.reload();
}

async function recompute() {
  if (button.disabled) return;
  setBusy(true);
  say("Asking for a new report…");
  try {
    const body = await request(config.urls.recompute, { method: "POST" });
    if (!body.stale) {
      reload();
      return;
    }
    say("Computing the report — this page reloads when it is ready.");
    const fresh = await waitUntilFresh({
      first: POLL_FIRST_MS,
      max: POLL_MAX_MS,
      deadline: POLL_DEADLINE_MS,
    });
    if (fresh) {
      reload();
      return;
    }
    say("Still computing. Reload the page later to see the new report.");
  } catch (error) {
    say(error.message, { error: true });
  }
  setBusy(false);
}

function offerReload() {
  status.replaceChildren();
  status.append("A newer report is ready. ");
  const link = document.createElement("button");
  link.type = "button";
  link.className = "btn btn--secondary btn--sm";
  link.textContent = "Show it";
  link.addEventListener("click", () => window.location.reload());
  status.append(link);
}

async function watch() {
  const fresh = await waitUntilFresh({
    first: WATCH_FIRST_MS,
    max: WATCH_MAX_MS,
    deadline: WATCH_DEADLINE_MS,
  });
  // A click on "Recompute now" meanwhile takes over (and reloads by itself).
  if (fresh && !button?.disabled) {
    if (config.version === null) reload();
    else offerReload();
  }
}

button?.addEventListener("click", recompute);
if (config.stale) watch();
