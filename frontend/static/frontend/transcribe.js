/**
 * The transcription part of the labeling page: the audio player, the transcript box, the
 * project's standard tokens, and their keyboard shortcuts. label.js owns the flow (loading the
 * next item, one action at a time, idempotency keys, retries, skip, undo, guidelines) and calls
 * in here through the object ``createTranscription`` returns; a transcript is submitted by
 * calling label.js's ``answer``.
 *
 * Keys, and why these (all tested in Chromium):
 * - Space plays/pauses when the focus is not in the text box (nor on a button, where Space
 *   presses the button). Inside the box Space types a space, so Ctrl+Space or Alt+K play/pause
 *   there; Alt+K is the fallback where the system takes Ctrl+Space to switch input languages.
 * - Alt+R replays from the start; Alt+← / Alt+→ jump 2 s back / forward (Chromium lets a page
 *   take Alt+← from "Back" by preventing the key's default); Alt+S slows down to 0.75× and back.
 * - Alt+1…Alt+9 insert standard token n at the cursor (matched by the physical key, so they
 *   work on layouts where Alt+digit types a character, as on a Mac).
 * - Ctrl+Enter (⌘+Enter) submits. Esc leaves the text box, so the single-letter page keys of
 *   label.js (S skip, F flag, G guideline, Z undo, ?) work; Enter goes back into it.
 * These run in the capture phase, before label.js's handler, and mark the event handled
 * (preventDefault) so label.js ignores it.
 */

import { $ } from "./api.js";

const AUDIO_WAIT_MS = 15_000;
const JUMP_SECONDS = 2;
const SLOW_RATE = 0.75;
const PREVIEW_CHARS = 40;

export function createTranscription({ config, answer, announce, canAct, anyDialogOpen }) {
  const ui = {
    audioBox: $("stage-audio"),
    audio: $("item-audio"),
    audioError: $("audio-error"),
    time: $("audio-time"),
    playButton: $("audio-play"),
    playLabel: $("audio-play-label"),
    replay: $("audio-replay"),
    back: $("audio-back"),
    slow: $("audio-slow"),
    slowLabel: $("audio-slow-label"),
    box: $("transcript"),
    hint: $("transcript-hint"),
    submit: $("transcript-submit"),
    tokens: $("transcript-tokens"),
  };
  const tokens = config.transcript_tokens || [];
  const allowEmpty = Boolean(config.allow_empty_transcripts);
  // What the labeler typed, per item: an undo brings the item back with its transcript.
  const drafts = new Map();
  let item = null;

  const isAudio = (it) => Boolean(it && (it.audio || it.audio_url));
  const audioUrl = (it) => it.audio || it.audio_url;

  /** Point the player at the item's clip; resolve once it can play, failed, or took too long. */
  function prepare(it) {
    item = null; // no player keys while the next item loads
    ui.audio.pause();
    if (!isAudio(it)) {
      ui.audio.removeAttribute("src");
      ui.audio.load();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        ui.audio.removeEventListener("loadedmetadata", done);
        ui.audio.removeEventListener("error", done);
        resolve();
      };
      const timer = setTimeout(done, AUDIO_WAIT_MS);
      ui.audio.addEventListener("loadedmetadata", done);
      ui.audio.addEventListener("error", done);
      ui.audioError.hidden = true;
      ui.audio.playbackRate = 1;
      ui.audio.src = audioUrl(it);
      ui.audio.load();
    });
  }

  function show(it) {
    item = it;
    ui.audioBox.hidden = !isAudio(it);
    ui.audioError.hidden = !(isAudio(it) && ui.audio.error);
    ui.box.value = drafts.get(it.id) ?? "";
    ui.box.setSelectionRange(ui.box.value.length, ui.box.value.length);
    setHint("");
    renderPlayer();
    // Typing is the main work: start in the box (Ctrl+Space / Alt+K play from here).
    ui.box.focus();
  }

  function clear() {
    item = null;
    ui.audio.pause();
    ui.audioBox.hidden = true;
    ui.box.value = "";
  }

  function setAvailable(available) {
    ui.submit.setAttribute("aria-disabled", String(!available));
    for (const button of ui.tokens.querySelectorAll("button")) {
      button.setAttribute("aria-disabled", String(!item));
    }
  }

  /* ---------- player ---------- */

  const hasClip = () => Boolean(item && isAudio(item) && ui.audio.currentSrc);

  function togglePlay() {
    if (!hasClip()) return;
    if (ui.audio.paused || ui.audio.ended) play();
    else ui.audio.pause();
  }

  function play() {
    ui.audio.play().catch((error) => {
      // NotAllowedError never happens after a key press; a broken clip shows audio-error.
      if (error.name !== "AbortError") console.warn("audio play failed", error);
    });
  }

  function replay() {
    if (!hasClip()) return;
    ui.audio.currentTime = 0;
    play();
  }

  function jump(seconds) {
    if (!hasClip()) return;
    const end = Number.isFinite(ui.audio.duration) ? ui.audio.duration : Infinity;
    ui.audio.currentTime = Math.min(end, Math.max(0, ui.audio.currentTime + seconds));
  }

  function toggleSlow() {
    ui.audio.playbackRate = ui.audio.playbackRate === 1 ? SLOW_RATE : 1;
    // Keep the pitch (Chromium's default), so slowed speech stays natural.
    ui.audio.preservesPitch = true;
    renderPlayer();
    announce(ui.audio.playbackRate === 1 ? "Normal speed" : `Slowed to ${SLOW_RATE}×`);
  }

  const clock = (seconds) => {
    if (!Number.isFinite(seconds)) return "0:00.0";
    const minutes = Math.floor(seconds / 60);
    return `${minutes}:${(seconds - minutes * 60).toFixed(1).padStart(4, "0")}`;
  };

  function renderPlayer() {
    const playing = !ui.audio.paused && !ui.audio.ended;
    ui.playLabel.textContent = playing ? "Pause" : "Play";
    ui.playButton.setAttribute("aria-pressed", String(playing));
    ui.slowLabel.textContent = ui.audio.playbackRate === 1 ? "Slow 0.75×" : "Normal 1×";
    ui.slow.setAttribute("aria-pressed", String(ui.audio.playbackRate !== 1));
    ui.time.textContent = `${clock(ui.audio.currentTime)} / ${clock(ui.audio.duration)}`;
  }

  /* ---------- transcript ---------- */

  /** Insert ``text`` at the cursor (replacing a selection), spaced from the words around it. */
  function insert(text) {
    if (!item) return;
    const box = ui.box;
    const start = box.selectionStart;
    const end = box.selectionEnd;
    const before = box.value.slice(0, start);
    const after = box.value.slice(end);
    const lead = before && !/\s$/.test(before) ? " " : "";
    // At the end of the text too: the labeler types on after the token.
    const trail = /^[\s.,;:!?]/.test(after) ? "" : " ";
    box.focus();
    box.setRangeText(`${lead}${text}${trail}`, start, end, "end");
    drafts.set(item.id, box.value);
  }

  function setHint(text) {
    ui.hint.textContent = text;
    ui.hint.hidden = !text;
  }

  async function submit() {
    if (!item || !canAct()) return;
    const text = ui.box.value;
    if (!text.trim() && !allowEmpty) {
      setHint("The transcript is empty. Type what you hear, or use a token such as [unintelligible].");
      ui.box.focus();
      return;
    }
    setHint("");
    ui.audio.pause();
    const preview = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
    // The exact text is the attempt: resending it after a failure reuses its idempotency key;
    // an edited text is a new submission.
    await answer({ value: { text }, name: `“${preview}”`, attempt: `text:${text}` });
  }

  function renderTokens() {
    tokens.forEach((token, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn--secondary btn--sm token-btn";
      button.dataset.token = token;
      if (index < 9) {
        button.setAttribute("aria-keyshortcuts", `Alt+${index + 1}`);
        const kbd = document.createElement("kbd");
        kbd.textContent = `Alt+${index + 1}`;
        button.append(kbd, " ");
      }
      button.append(token);
      // Keep the cursor in the box: a mousedown would move the focus to the button first.
      button.addEventListener("mousedown", (event) => event.preventDefault());
      button.addEventListener("click", () => insert(token));
      ui.tokens.append(button);
    });
    ui.tokens.hidden = !tokens.length;
  }

  /* ---------- keyboard ---------- */

  const digit = (event) => /^(Digit|Numpad)([1-9])$/.exec(event.code || "")?.[2];
  const letter = (event) =>
    /^Key([A-Z])$/.exec(event.code || "")?.[1]?.toLowerCase() ?? event.key.toLowerCase();

  function isControl(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "SELECT", "BUTTON", "A", "SUMMARY", "AUDIO"].includes(target.tagName) ||
        (target.tagName === "TEXTAREA" && target !== ui.box));
  }

  /** One keydown, capture phase: true if it was a transcription key (and was handled). */
  function handleKey(event) {
    if (!item || anyDialogOpen()) return false;
    const inBox = event.target === ui.box;
    const ctrl = event.ctrlKey || event.metaKey;
    const alt = event.altKey && !ctrl;
    if (ctrl && !event.altKey && event.key === "Enter") {
      if (!event.repeat) submit();
      return true;
    }
    if ((ctrl && !event.altKey && event.code === "Space") || (alt && letter(event) === "k")) {
      togglePlay();
      return true;
    }
    if (alt) {
      const n = digit(event);
      if (n && tokens[Number(n) - 1]) {
        insert(tokens[Number(n) - 1]);
        return true;
      }
      switch (event.key === "ArrowLeft" || event.key === "ArrowRight" ? event.key : letter(event)) {
        case "r":
          replay();
          return true;
        case "s":
          if (!event.repeat) toggleSlow();
          return true;
        case "ArrowLeft":
          jump(-JUMP_SECONDS);
          return true;
        case "ArrowRight":
          jump(JUMP_SECONDS);
          return true;
        default:
          return false;
      }
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isControl(event.target)) return false;
    if (inBox) {
      if (event.key === "Escape") {
        ui.box.blur();
        return true;
      }
      return false;
    }
    if (event.key === " " || event.code === "Space") {
      if (!event.repeat) togglePlay();
      return true;
    }
    if (event.key === "Enter") {
      ui.box.focus();
      return true;
    }
    return false;
  }

  function onKeyDown(event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (handleKey(event)) event.preventDefault();
  }

  function wire() {
    document.addEventListener("keydown", onKeyDown, true);
    ui.box.addEventListener("input", () => {
      if (item) drafts.set(item.id, ui.box.value);
      setHint("");
    });
    ui.submit.addEventListener("click", submit);
    ui.playButton.addEventListener("click", togglePlay);
    ui.replay.addEventListener("click", replay);
    ui.back.addEventListener("click", () => jump(-JUMP_SECONDS));
    ui.slow.addEventListener("click", toggleSlow);
    for (const name of ["play", "pause", "ended", "timeupdate", "durationchange", "ratechange"]) {
      ui.audio.addEventListener(name, renderPlayer);
    }
    ui.audio.addEventListener("error", () => {
      if (item && isAudio(item)) ui.audioError.hidden = false;
    });
  }

  renderTokens();
  wire();
  return { isAudio, prepare, show, clear, setAvailable };
}
