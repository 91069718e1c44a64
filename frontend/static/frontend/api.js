/**
 * What the page scripts share: talking to the REST API (the CSRF token, a fetch wrapper that
 * sends JSON with the session cookie and turns the API's error shape into an ApiError) and a few
 * small DOM and formatting helpers.
 *
 * The API answers every error as ``{"error": {"code", "message", "field"?, "details"?}}`` with a
 * 4xx status; anything else (a 5xx page, a proxy's answer) has no such body. apiFetch throws an
 * ApiError for both, carrying ``status``, ``code``, ``field``, ``details`` and the parsed
 * ``body``, so a caller can treat a code specially (409 already_decided, guideline_unacknowledged)
 * and show the message otherwise. How a failure is worded is the caller's choice (``wording``):
 * the pages say it in their own way.
 */

export const REQUEST_TIMEOUT_MS = 20_000;

const LOGIN_CODES = new Set(["not_authenticated", "authentication_failed"]);

/* ---------- API ---------- */

export class ApiError extends Error {
  constructor(message, { status = 0, code = "network", field = null, details = [], body = null } = {}) {
    super(message);
    this.status = status; // 0: no answer (network error or timeout)
    this.code = code;
    this.field = field;
    this.details = details;
    this.body = body;
  }

  /** The session has ended (or never began): only logging in again helps. */
  get needsLogin() {
    return LOGIN_CODES.has(this.code);
  }
}

export function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  // The logout form carries a token too, for when the cookie is not readable.
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

/** "The server had a problem (HTTP 502)" for a 5xx or an answer without the error shape, else the
 * API's own message: a ``wording.failed`` for pages that never show a 5xx page's text. */
export function serverProblem(status, error) {
  if (status >= 500 || !error) return `The server had a problem (HTTP ${status}). Try again.`;
  return error.message || `Request failed (HTTP ${status}).`;
}

/**
 * How failures read, by default. ``timeout`` and ``network``: no answer came; ``failed(status,
 * error)``: the server refused (``error`` is the body's ``error`` object, if it has one).
 */
export const TRY_AGAIN = {
  timeout: "The server did not answer in time. Try again.",
  network: "Network error: the server could not be reached. Check your connection and retry.",
  failed: (status, error) =>
    LOGIN_CODES.has(error?.code)
      ? "Your session has ended. Reload the page to log in again."
      : (error?.message ?? `The server answered ${status}. Try again.`),
};

/**
 * ``fetch`` for the JSON API: the session cookie and the CSRF token go along, ``body`` (if given)
 * is sent as JSON (a FormData as it is, multipart), and the answer comes back parsed (null for an
 * empty answer such as 204).
 * Anything but a 2xx throws an ApiError; so does no answer within ``timeoutMs``. ``keepalive``
 * lets a request finish while the page unloads.
 */
export async function apiFetch(
  url,
  { method = "GET", body, timeoutMs = REQUEST_TIMEOUT_MS, keepalive = false, wording = TRY_AGAIN } = {},
) {
  const form = body instanceof FormData; // the browser writes its multipart Content-Type
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(form ? {} : { "Content-Type": "application/json" }),
        "X-CSRFToken": csrfToken(),
      },
      body: body === undefined || form ? body : JSON.stringify(body),
      signal: controller.signal,
      ...(keepalive ? { keepalive } : {}), // only when asked for: the request may outlive the page
    });
  } catch (error) {
    throw new ApiError(error.name === "AbortError" ? wording.timeout : wording.network);
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  const error = data?.error;
  throw new ApiError(wording.failed(response.status, error), {
    status: response.status,
    code: (response.status < 500 && error?.code) || "server_error",
    field: error?.field ?? null,
    details: Array.isArray(error?.details) ? error.details : [],
    body: data,
  });
}

/** The page's settings, handed over by the server in a ``json_script`` tag. */
export const readConfig = (id) => JSON.parse(document.getElementById(id).textContent);

/* ---------- DOM ---------- */

export const $ = (id) => document.getElementById(id);

/** A new element with a class and a text (set as textContent: never HTML). */
export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined && text !== null) element.textContent = text;
  return element;
}

/** A status line's text, marked as an error or not. */
export function showStatus(status, text, { error = false } = {}) {
  status.textContent = text;
  status.classList.toggle("dash-status--error", error);
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for innerHTML: & < > " ' escaped. */
export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

/* ---------- words ---------- */

/** "1 item", "1,204 items". */
export const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

const RELATIVE = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
export const DATE_TIME = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });

/** "just now", "3 minutes ago", "yesterday", "4 days ago"; from ``dateAfterDays`` days on, "on
 * <date>" instead. */
export function ago(iso, { dateAfterDays = Infinity } = {}) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  const size = Math.abs(seconds);
  if (size < 45) return "just now";
  if (size < 3600) return RELATIVE.format(Math.round(seconds / 60), "minute");
  if (size < 86_400) return RELATIVE.format(Math.round(seconds / 3600), "hour");
  if (size < dateAfterDays * 86_400) return RELATIVE.format(Math.round(seconds / 86_400), "day");
  return `on ${DATE_TIME.format(new Date(iso))}`;
}

/* ---------- review pages ---------- */

/** A labeler's flag kinds as people read them. */
export const FLAG_KINDS = { unsure: "Unsure", input_unclear: "Input unclear" };

/** The queue filters (the review API's parameter names), kept in the pages' query strings. */
export const QUEUE_FILTER_KEYS = ["pair", "class", "slice", "round", "labeler", "flagged"];

/** An item's picture as a small decorative <img> (its thumbnail if one is stored), loaded lazily;
 * null for a text item. */
export function itemThumbnail(item, size) {
  const src = item.thumbnail || item.image;
  if (item.kind !== "image" || !src) return null;
  const img = el("img");
  img.src = src;
  img.alt = "";
  img.loading = "lazy";
  img.width = size;
  img.height = size;
  return img;
}

/** Names and colours of a project's classes (``[{key, name, kind}]`` in the project's order). */
export function classLookup(list) {
  const byKey = new Map(list.map((c) => [c.key, c]));
  return {
    byKey,
    name: (key) => byKey.get(key)?.name ?? key,
    /** A colour per class by its order, so a class reads the same on every row and page. */
    tone(key) {
      const cls = byKey.get(key);
      if (!cls) return "tone-none";
      return cls.kind === "borderline" ? "tone-borderline" : `tone-${list.indexOf(cls) % 6}`;
    },
  };
}
