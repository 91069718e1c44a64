"""Transcript standardisation rules: validate, compile and apply an ordered rule set (pure Python).

DOMAIN.md section 1, "standardise labels": "Um, nearest gas station" and "Umm, nearest gas
station" are one transcript written two ways; one convention turns them into one label. A
project's convention is an ordered list of small JSON rules (the API's input shape):

- ``{"kind": "case_fold"}`` -- ``str.casefold``.
- ``{"kind": "whitespace"}`` -- runs of whitespace become one space; leading/trailing stripped.
- ``{"kind": "punctuation", "keep": "'-"}`` -- removes every character of Unicode category P*
  (the ``regex`` package's ``\\p{P}``) except those listed in ``keep`` and except inside the
  canonical tokens declared by the rule set's ``token`` rules (``[unintelligible]`` keeps its
  brackets). Symbols (category S: ``$ + < = > ^ ` | ~``) are not punctuation and stay.
- ``{"kind": "fillers", "canonical": "um", "variants": [...], "pattern": "u+h*m+"}`` -- whole
  words (not touching a word character on either side), case-insensitive, matching a variant,
  the pattern or the canonical spelling itself, become ``canonical``. At least one of
  ``variants``/``pattern`` is required. ``canonical`` may be ``""``: the convention "transcribe
  without filler words" (follow it with a whitespace rule).
- ``{"kind": "replace", "find": "gonna", "replace": "going to", "whole_word": true}`` -- literal,
  case-sensitive; ``whole_word`` defaults to false.
- ``{"kind": "regex", "pattern": "...", "replace": "...", "flags": "i"}`` -- ``regex``-package
  syntax (a superset of ``re``); ``replace`` is a template (``\\1``, ``\\g<name>``); flags from
  ``i`` (ignore case), ``m`` (multiline), ``s`` (dot matches newline); default none.
- ``{"kind": "token", "canonical": "[unintelligible]", "variants": [...]}`` -- standalone
  occurrences (not touching a word character) of a variant, or of the canonical token in another
  case, become the canonical token.

Every rule may carry a ``"note"`` (free text, ignored by the engine and by the fingerprint).
Unknown fields are errors, so a typo (``"whole_words"``) is reported instead of silently ignored.
Errors raise :class:`RuleError` naming the rule's index and field.

Safety against regular-expression denial of service (OWASP "ReDoS"). User patterns run in the
``regex`` package (a C extension on PyPI, re-compatible), whose matching takes ``timeout=``:
1. **The guarantee is the time limit.** Each text gets ``timeout`` (default 50 ms) for all user
   patterns together, split evenly between the rules that carry one (regex rules, fillers with a
   ``pattern``); a pattern that runs out raises :class:`RuleTimeout`. The ``regex`` package
   measures the limit with C ``clock()``, i.e. CPU time of the whole process: on a loaded machine
   wall time can exceed it (measured ~4x at load 9 on 2 cores), and in a multi-threaded worker
   other threads' CPU counts too, so a limit can fire early, never late. Rules built only from
   escaped literals (token, fillers variants, replace, punctuation) run without a limit: a literal
   alternation between fixed lookarounds cannot backtrack catastrophically, and the limit costs
   ~4 us per call (two ``clock()`` system calls) that 100,000 texts cannot afford.
2. Compile-time rejection, defence in depth: a pattern that does not compile (the engine's message
   is passed on); a pattern whose fixed repeats would expand past ``MAX_EXPANDED_SIZE`` atoms --
   ``regex`` expands ``(a{1000}){1000}`` while compiling (2.2 s, 274 MB measured;
   ``(a{65535}){65535}`` exhausted memory), something no match timeout can stop; and the classic
   catastrophic shapes, found by a small static scan: an unboundedly repeated group that itself
   contains an unbounded quantifier (``(a+)+``, ``(a*)*``, ``(\\w+\\s?)*``), or whose alternatives
   overlap (one matches empty, two are identical, or one literal alternative is a prefix of another:
   ``(a|aa)+``). The scan is deliberately simple: it does not catch everything (``(a|aa){1,1000}$``
   passes it and is stopped by the time limit) and may reject a harmless pattern (``(a|ab)+``).
   Possessive quantifiers (``a++``) and atomic groups (``(?>...)``) cannot backtrack and are not
   flagged. If the scan cannot follow the syntax even after dropping verbose-mode comments,
   only a conservative textual repeat-count check applies. A fillers ``pattern`` that matches the
   empty string is refused (it would insert the filler between any two non-word characters).

Fingerprint: ``RuleSet.fingerprint`` is the SHA-256 of the canonical JSON (sorted keys, no
spaces, UTF-8) of ``{"engine": ENGINE_VERSION, "rules": [...]}`` with each rule's defaults filled
in and its note dropped: two spellings of the same behaviour share a fingerprint, editing a note
does not orphan stored values, and a change to the engine's semantics (a new ENGINE_VERSION) does.

Idempotence: a set of case_fold, punctuation and whitespace rules with whitespace last gives the
same text when applied twice; with whitespace before punctuation it does not ("a , b" -> "a  b").
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from operator import ne
from typing import Any

import regex

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_EXPANDED_SIZE",
    "MAX_PATTERN_LENGTH",
    "MAX_REPLACEMENT_LENGTH",
    "MAX_RULES",
    "Preview",
    "RuleError",
    "RuleSet",
    "RuleTimeout",
    "TraceStep",
    "compile_rules",
    "preview",
    "word_diff",
]

MAX_RULES = 100
MAX_PATTERN_LENGTH = 500  # regex patterns, literal finds, variants, canonical spellings
MAX_REPLACEMENT_LENGTH = 500
MAX_VARIANTS = 200  # per fillers/token rule
MAX_NOTE_LENGTH = 1000
MAX_KEEP_LENGTH = 100
# A pattern's size with its fixed repeats expanded (a{3} counts 3, (ab){10} counts 20). The regex
# package compiles (a{100}){100} (10,000) in ~15 ms but (a{1000}){1000} in 2.2 s and 274 MB.
MAX_EXPANDED_SIZE = 10_000
DEFAULT_TIMEOUT = 0.05  # seconds of regex CPU time per text, all rules together
# Bumped whenever a rule kind's behaviour changes, so fingerprints of old normalised values differ.
ENGINE_VERSION = 1
SAMPLE_CHARS = 80  # how much of a text a RuleTimeout quotes

_REGEX_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}
# "Not touching a word character" on either side: a whole word for word-edged strings, and a
# standalone token for bracketed ones ("[inaudible]").
_BEFORE = r"(?<!\w)"
_AFTER = r"(?!\w)"


class RuleError(ValueError):
    """A rule set that cannot be compiled. ``index`` is the rule's position (None: the list
    itself), ``field`` the offending field (``"variants[2]"``), ``message`` says what is wrong."""

    def __init__(self, index: int | None, field: str | None, message: str):
        self.index = index
        self.field = field
        self.message = message
        super().__init__(str(self))

    @property
    def path(self) -> str:
        """Where the error is, as an API client addresses it: ``rules[3].pattern``."""
        if self.index is None:
            return "rules" if self.field is None else f"rules.{self.field}"
        base = f"rules[{self.index}]"
        return base if self.field is None else f"{base}.{self.field}"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def as_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "message": self.message}


class RuleTimeout(RuntimeError):  # noqa: N818 -- the name the rule-set services use
    """A text exhausted its regex time budget inside rule ``index``. ``text_sample`` is the start
    of the input text, so the user can find the annotation that triggers it."""

    def __init__(self, index: int, text_sample: str):
        self.index = index
        self.text_sample = text_sample
        super().__init__(f"rules[{index}] exceeded the regex time limit on {text_sample!r}")

    def as_dict(self) -> dict:
        return {"index": self.index, "text_sample": self.text_sample}


# ---------------------------------------------------------------------------------------------
# Validation


_FIELDS = {
    # kind: (required fields, optional fields with defaults)
    "case_fold": ({}, {}),
    "whitespace": ({}, {}),
    "punctuation": ({}, {"keep": ""}),
    "fillers": ({"canonical": str}, {"variants": [], "pattern": None}),
    "replace": ({"find": str, "replace": str}, {"whole_word": False}),
    "regex": ({"pattern": str, "replace": str}, {"flags": ""}),
    "token": ({"canonical": str}, {"variants": []}),
}


def _need_str(index: int, name: str, value: Any, *, limit: int, allow_empty: bool) -> str:
    if not isinstance(value, str):
        raise RuleError(index, name, f"must be a string, got {type(value).__name__}")
    if not allow_empty and value == "":
        raise RuleError(index, name, "must not be empty")
    if len(value) > limit:
        raise RuleError(index, name, f"is {len(value)} characters long; the limit is {limit}")
    return value


def _need_variants(index: int, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise RuleError(index, "variants", f"must be a list of strings, got {type(value).__name__}")
    if len(value) > MAX_VARIANTS:
        raise RuleError(index, "variants", f"has {len(value)} entries; the limit is {MAX_VARIANTS}")
    for k, variant in enumerate(value):
        _need_str(index, f"variants[{k}]", variant, limit=MAX_PATTERN_LENGTH, allow_empty=False)
    return list(value)


def _validate(index: int, rule: Any) -> dict:
    """The rule with defaults filled in, ``note`` dropped; or RuleError."""
    if not isinstance(rule, dict):
        raise RuleError(index, None, f"must be an object, got {type(rule).__name__}")
    if "kind" not in rule:
        raise RuleError(index, "kind", "is required")
    kind = rule["kind"]
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise RuleError(index, "kind", f"unknown kind {kind!r}; expected one of {sorted(_FIELDS)}")
    required, optional = _FIELDS[kind]
    for name in rule:
        if name not in required and name not in optional and name not in ("kind", "note"):
            raise RuleError(index, str(name), f"unknown field for a {kind} rule")
    for name in required:
        if name not in rule:
            raise RuleError(index, name, "is required")
    if "note" in rule:
        _need_str(index, "note", rule["note"], limit=MAX_NOTE_LENGTH, allow_empty=True)

    out: dict[str, Any] = {"kind": kind}
    if kind == "punctuation":
        out["keep"] = _need_str(
            index, "keep", rule.get("keep", ""), limit=MAX_KEEP_LENGTH, allow_empty=True
        )
    elif kind in ("fillers", "token"):
        out["canonical"] = _need_str(
            index,
            "canonical",
            rule["canonical"],
            limit=MAX_PATTERN_LENGTH,
            allow_empty=kind == "fillers",
        )
        out["variants"] = _need_variants(index, rule.get("variants", []))
        if kind == "fillers":
            pattern = rule.get("pattern")
            if pattern is not None:
                _need_str(index, "pattern", pattern, limit=MAX_PATTERN_LENGTH, allow_empty=False)
            elif not out["variants"]:
                raise RuleError(index, "variants", "give at least one variant or a pattern")
            out["pattern"] = pattern
    elif kind == "replace":
        out["find"] = _need_str(
            index, "find", rule["find"], limit=MAX_PATTERN_LENGTH, allow_empty=False
        )
        out["replace"] = _need_str(
            index, "replace", rule["replace"], limit=MAX_REPLACEMENT_LENGTH, allow_empty=True
        )
        whole = rule.get("whole_word", False)
        if not isinstance(whole, bool):
            raise RuleError(index, "whole_word", f"must be true or false, got {whole!r}")
        out["whole_word"] = whole
    elif kind == "regex":
        out["pattern"] = _need_str(
            index, "pattern", rule["pattern"], limit=MAX_PATTERN_LENGTH, allow_empty=False
        )
        out["replace"] = _need_str(
            index, "replace", rule["replace"], limit=MAX_REPLACEMENT_LENGTH, allow_empty=True
        )
        flags = rule.get("flags", "")
        if not isinstance(flags, str):
            raise RuleError(index, "flags", f"must be a string, got {type(flags).__name__}")
        bad = sorted({c for c in flags if c not in _REGEX_FLAGS})
        if bad:
            raise RuleError(
                index,
                "flags",
                f"unknown flag(s) {''.join(bad)!r}; allowed: {''.join(sorted(_REGEX_FLAGS))}",
            )
        out["flags"] = "".join(sorted(set(flags)))
    return out


# ---------------------------------------------------------------------------------------------
# Static safety scan of a user pattern


class _UnparsableError(Exception):
    """The scanner cannot follow this syntax; only the textual repeat check applies."""


@dataclass
class _Group:
    branches: list[list[_Item]] = field(default_factory=lambda: [[]])
    atomic: bool = False


@dataclass
class _Item:
    text: str  # the source text of an atom ("a", "\\w", "[ab]"); "" for a group
    literal: bool  # a single literal character
    group: _Group | None = None
    min: int = 1
    max: int | None = 1  # None: unbounded
    possessive: bool = False
    quantified: bool = False


_COUNT = regex.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_FLAG_GROUP = regex.compile(r"\(\?[a-zA-Z0-9^-]*\)")
_FLAG_SCOPE = regex.compile(r"\(\?[a-zA-Z^-]+:")


def _escape_end(p: str, i: int) -> int:
    """Index just past the escape starting at p[i] == '\\'."""
    if i + 1 >= len(p):
        raise _UnparsableError
    c = p[i + 1]
    if c in "pPNx" and i + 2 < len(p) and p[i + 2] == "{":
        end = p.find("}", i + 2)
        if end < 0:
            raise _UnparsableError
        return end + 1
    if c == "g" and i + 2 < len(p) and p[i + 2] == "<":
        end = p.find(">", i + 2)
        if end < 0:
            raise _UnparsableError
        return end + 1
    return i + 2


def _class_end(p: str, i: int) -> int:
    """Index just past the character class starting at p[i] == '['."""
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":
        j += 1
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
        elif c == "[" and j + 1 < len(p) and p[j + 1] in ":=.":
            end = p.find(p[j + 1] + "]", j + 2)
            if end < 0:
                raise _UnparsableError
            j = end + 2
        elif c == "]":
            return j + 1
        else:
            j += 1
    raise _UnparsableError


def _group_open(p: str, i: int) -> tuple[_Group | None, int]:
    """At p[i] == '(': (a new group, index past its opener), or (None, index past a zero-width
    construct such as an inline flag group or a backreference)."""
    rest = p[i:]
    if not rest.startswith("(?") and not rest.startswith("(*"):
        return _Group(), i + 1
    if rest.startswith("(*"):  # backtracking verbs (*SKIP), (*FAIL), (*PRUNE)
        end = p.find(")", i)
        if end < 0:
            raise _UnparsableError
        return None, end + 1
    for opener in ("(?:", "(?=", "(?!", "(?|", "(?<=", "(?<!"):
        if rest.startswith(opener):
            return _Group(), i + len(opener)
    if rest.startswith("(?>"):
        return _Group(atomic=True), i + 3
    for opener, close in (("(?P<", ">"), ("(?<", ">"), ("(?'", "'")):
        if rest.startswith(opener):
            end = p.find(close, i + len(opener))
            if end < 0:
                raise _UnparsableError
            return _Group(), end + 1
    if rest.startswith("(?("):  # conditional (?(cond)yes|no): skip the condition
        end = p.find(")", i + 3)
        if end < 0:
            raise _UnparsableError
        return _Group(), end + 1
    if rest[2:3] in ("P", "&", "R", "+", "-") or rest[2:3].isdigit():
        m = _FLAG_GROUP.match(p, i)  # (?-i) is a flag group, (?-1) a recursion: both zero-width
        end = p.find(")", i)
        if end < 0:
            raise _UnparsableError
        return None, (m.end() if m else end + 1)
    m = _FLAG_GROUP.match(p, i)
    if m:
        return None, m.end()
    m = _FLAG_SCOPE.match(p, i)
    if m:
        return _Group(), m.end()
    raise _UnparsableError


def _parse(p: str) -> _Group:
    stack = [_Group()]
    i = 0
    while i < len(p):
        c = p[i]
        items = stack[-1].branches[-1]
        if c == "\\":
            j = _escape_end(p, i)
            text = p[i:j]
            items.append(_Item(text, literal=len(text) == 2 and not text[1].isalnum()))
            i = j
        elif c == "[":
            j = _class_end(p, i)
            items.append(_Item(p[i:j], literal=False))
            i = j
        elif c == "(":
            if p.startswith("(?#", i):
                end = p.find(")", i)
                if end < 0:
                    raise _UnparsableError
                i = end + 1
                continue
            group, i = _group_open(p, i)
            if group is not None:
                stack.append(group)
        elif c == ")":
            if len(stack) == 1:
                raise _UnparsableError
            group = stack.pop()
            stack[-1].branches[-1].append(_Item("", literal=False, group=group))
            i += 1
        elif c == "|":
            stack[-1].branches.append([])
            i += 1
        elif c in "*+?" or (c == "{" and _count(p, i)):
            if c == "{":
                m = _count(p, i)
                low = int(m.group(1) or 0)
                high = low if not m.group(2) else (int(m.group(3)) if m.group(3) else None)
                i = m.end()
            else:
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
                i += 1
            if not items:
                raise _UnparsableError  # "nothing to repeat": the engine rejects it anyway
            target = items[-1]
            if target.quantified:  # a{2}{3} is (?:a{2}){3}
                target = _Item("", literal=False, group=_Group([[target]]))
                items[-1] = target
            target.min, target.max, target.quantified = low, high, True
            if i < len(p) and p[i] == "?":
                i += 1
            elif i < len(p) and p[i] == "+":
                target.possessive = True
                i += 1
        else:
            items.append(_Item(c, literal=True))
            i += 1
    if len(stack) != 1:
        raise _UnparsableError
    return stack[0]


def _count(p: str, i: int):
    m = _COUNT.match(p, i)
    return m if m and (m.group(1) or m.group(3)) else None


def _expanded_size(group: _Group) -> int:
    total = 0
    for branch in group.branches:
        for item in branch:
            base = _expanded_size(item.group) if item.group is not None else 1
            times = item.max if item.max is not None else max(item.min, 1)
            total += base * max(times, 1)
    return total


def _unbounded(item: _Item) -> bool:
    return item.max is None and not item.possessive


def _contains_unbounded(group: _Group) -> bool:
    if group.atomic:  # an atomic group gives back nothing: its inside cannot be re-split
        return False
    for branch in group.branches:
        for item in branch:
            if _unbounded(item):
                return True
            if item.group is not None and _contains_unbounded(item.group):
                return True
    return False


def _can_be_empty(branch: list[_Item]) -> bool:
    return all(
        item.min == 0
        or (item.group is not None and any(_can_be_empty(b) for b in item.group.branches))
        for item in branch
    )


def _literal(branch: list[_Item]) -> str | None:
    if not all(item.literal and not item.quantified for item in branch):
        return None
    return "".join(item.text[-1] for item in branch)


def _source(branch: list[_Item]) -> str:
    def show(item: _Item) -> str:
        inner = (
            item.text
            if item.group is None
            else "(" + "|".join(map(_source, item.group.branches)) + ")"
        )
        return f"{inner}{{{item.min},{item.max}}}{'+' if item.possessive else ''}"

    return "".join(map(show, branch))


def _risk(group: _Group) -> str | None:
    """Why this pattern can backtrack catastrophically, or None."""
    for branch in group.branches:
        for item in branch:
            if item.group is None:
                continue
            inner = item.group
            if _unbounded(item) and not inner.atomic:
                if _contains_unbounded(inner):
                    return (
                        "has nested unbounded quantifiers (like (a+)+ or (a*)*), which can take "
                        "exponential time"
                    )
                if len(inner.branches) > 1:
                    if any(_can_be_empty(b) for b in inner.branches):
                        return (
                            "repeats a group with an alternative that can match empty, which "
                            "can take exponential time"
                        )
                    literals = [_literal(b) for b in inner.branches]
                    sources = [_source(b) for b in inner.branches]
                    for a in range(len(inner.branches)):
                        for b in range(len(inner.branches)):
                            if a == b:
                                continue
                            la, lb = literals[a], literals[b]
                            same = sources[a] == sources[b]
                            prefix = la is not None and lb is not None and lb.startswith(la)
                            if same or prefix:
                                return (
                                    "repeats a group whose alternatives overlap (like (a|aa)+), "
                                    "which can take exponential time"
                                )
            found = _risk(inner)
            if found:
                return found
    return None


def _textual_size(p: str) -> int:
    """Conservative fallback: the product of every repeat count in the text, as if all nested."""
    size = 1
    for m in _COUNT.finditer(p):
        if m.group(1) or m.group(3):
            size *= max(int(m.group(3) or m.group(1) or 1), 1)
            if size > MAX_EXPANDED_SIZE:
                break
    return size


def _check_pattern(index: int, name: str, pattern: str) -> None:
    """RuleError for a pattern that is too big to compile safely or has a catastrophic shape."""
    try:
        tree = _parse(pattern)
    except _UnparsableError:
        tree = None
    if tree is None and "(?" in pattern and "x" in pattern:
        # Perhaps verbose mode, whose comments may hold unbalanced brackets: retry without
        # comments and whitespace (what the engine ignores in that mode).
        try:
            tree = _parse(regex.sub(r"#[^\n]*|\s+", "", pattern))
        except _UnparsableError:
            tree = None
    size = _expanded_size(tree) if tree is not None else _textual_size(pattern)
    if size > MAX_EXPANDED_SIZE:
        raise RuleError(
            index,
            name,
            f"repeats expand to about {size} elements; the limit is {MAX_EXPANDED_SIZE}",
        )
    if tree is not None:
        why = _risk(tree)
        if why:
            raise RuleError(index, name, why)


def _compile(index: int, name: str, pattern: str, flags: int, *, check: bool):
    if check:
        _check_pattern(index, name, pattern)
    try:
        return regex.compile(pattern, flags)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise RuleError(index, name, f"does not compile: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Compiled rules


@dataclass(frozen=True)
class TraceStep:
    """The text after rule ``index`` ran, and whether that rule changed it."""

    index: int
    kind: str
    note: str
    text: str
    changed: bool


def _punct_class(keep: str) -> str:
    # [^\P{P}x] is "punctuation and not x"; a backslash before a punctuation character is always
    # that character, and non-punctuation characters in keep are irrelevant.
    kept = "".join("\\" + c for c in dict.fromkeys(keep) if regex.match(r"\p{P}", c))
    return rf"[^\P{{P}}{kept}]"


def _words(strings: list[str]) -> str:
    # Longest first, so "ummm" wins over "um" at the same position.
    unique = sorted(set(strings), key=lambda s: (-len(s), s))
    return "|".join(regex.escape(s) for s in unique)


class RuleSet:
    """A validated, compiled rule set. Build it with :func:`compile_rules`."""

    def __init__(self, rules: list[dict], steps: list, notes: list[str], timeout: float):
        self.rules = rules  # validated, defaults filled in, notes removed
        self.notes = notes
        self.timeout = timeout
        # [(kind, callable(text) -> text)]; user patterns' callables carry their time share.
        self._steps = steps
        canonical = json.dumps(
            {"engine": ENGINE_VERSION, "rules": rules},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        # surrogatepass: JSON input can carry a lone surrogate ("\ud800"); it must hash, not crash.
        self.fingerprint = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"<RuleSet {len(self.rules)} rules {self.fingerprint[:12]}>"

    def _run(self, text: str, changed_by: list[int] | None = None, steps: list | None = None):
        original = text
        index = 0
        try:
            for index, (kind, fn) in enumerate(self._steps):
                new = fn(text)
                if changed_by is not None and new != text:
                    changed_by.append(index)
                if steps is not None:
                    steps.append(TraceStep(index, kind, self.notes[index], new, new != text))
                text = new
        except TimeoutError:
            raise RuleTimeout(index, original[:SAMPLE_CHARS]) from None
        return text

    def apply(self, text: str) -> str:
        """The standardised text. Raises RuleTimeout if a user pattern exceeds its time share."""
        return self._run(text)

    def apply_many(self, texts) -> list[str]:
        """``[apply(t) for t in texts]``, computing each distinct text once: transcripts repeat."""
        cache: dict[str, str] = {}
        out = []
        for text in texts:
            result = cache.get(text)
            if result is None:
                result = cache[text] = self._run(text)
            out.append(result)
        return out

    def _run_distinct(
        self, texts: list[str], weights: list[int] | None = None
    ) -> tuple[list[str], list[int]]:
        """The outputs of distinct ``texts`` (in order) and, with ``weights`` (each text's
        multiplicity), the weighted number of texts each rule changed.

        Column-wise instead of text by text: rule i runs once over the values the first i rules
        left, and when at least a tenth of them became equal they are merged, so later rules see
        fewer texts (on speech transcripts punctuation and filler rules merge many spellings;
        re-indexing for a handful of merges costs more than it saves). A rule changed a text iff
        its output differs from its input, so comparing consecutive columns gives the same counts
        as :meth:`changed_by` per text; the outputs are the same because every step is a function
        of its input alone. On a regex time-out the texts are re-run one by one in input order,
        so :class:`RuleTimeout` names the same first text (and rule) as :meth:`apply` would.
        """
        values = texts  # the values after the rules so far (merged when many became equal)
        where: list[int] | None = None  # where[k]: the value texts[k] became (None: identity)
        weight = weights
        changes = [0] * len(self._steps)
        try:
            for index, (_, fn) in enumerate(self._steps):
                new = list(map(fn, values))
                if weight is not None:  # C-level loops: this runs over ~10^5 values per rule
                    changes[index] = sum(compress(weight, map(ne, values, new)))
                ids = dict.fromkeys(new)
                if len(ids) > 0.9 * len(new):  # few merged: not worth re-indexing; duplicates
                    values = new  # are harmless (weights stay per position) and merge later
                    continue
                values = list(ids)
                position = dict(zip(values, range(len(values)), strict=True))
                remap = list(map(position.__getitem__, new))
                where = remap if where is None else list(map(remap.__getitem__, where))
                if weight is not None:
                    merged = [0] * len(values)
                    for k, w in zip(remap, weight, strict=True):
                        merged[k] += w
                    weight = merged
        except TimeoutError:
            return self._run_each(texts, weights)
        outputs = values if where is None else list(map(values.__getitem__, where))
        return outputs, changes

    def _run_each(
        self, texts: list[str], weights: list[int] | None = None
    ) -> tuple[list[str], list[int]]:
        """:meth:`_run_distinct` one text at a time, in input order: raises :class:`RuleTimeout`
        for the first text that runs out (if none does on this second run, the results stand)."""
        outputs = []
        changes = [0] * len(self._steps)
        for k, text in enumerate(texts):
            out, by = self.changed_by(text)
            outputs.append(out)
            for index in by:
                changes[index] += weights[k] if weights is not None else 1
        return outputs, changes

    def changed_by(self, text: str) -> tuple[str, list[int]]:
        """The standardised text and the indices of the rules that changed it along the way."""
        changed: list[int] = []
        return self._run(text, changed_by=changed), changed

    def trace(self, text: str) -> list[TraceStep]:
        """The text after each rule, in order: the preview's "why did this change"."""
        steps: list[TraceStep] = []
        self._run(text, steps=steps)
        return steps


def compile_rules(
    rules: Any, *, timeout: float = DEFAULT_TIMEOUT, reject_risky: bool = True
) -> RuleSet:
    """Validate ``rules`` (the API's JSON) and compile them once. Raises RuleError.

    ``timeout``: CPU seconds per text for all user patterns together (the ``pattern`` of regex
    and fillers rules); each of the n such rules gets ``timeout / n`` per text, so a text never
    spends more than ``timeout`` in user patterns. Rules built only from escaped literals (token,
    fillers variants, replace, punctuation) run without a limit: a literal alternation between
    fixed lookarounds cannot backtrack catastrophically, and the limit costs ~4 us per call (two
    ``clock()`` system calls), which 100,000 texts cannot afford. ``reject_risky=False`` skips
    the static scan for catastrophic shapes (the compile check, size check and time limit
    remain); it exists so tests can show the time limit alone stops a runaway pattern.
    """
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError("timeout must be a positive number of seconds")
    if not isinstance(rules, list):
        raise RuleError(None, None, f"must be a list of rules, got {type(rules).__name__}")
    if len(rules) > MAX_RULES:
        raise RuleError(None, None, f"has {len(rules)} rules; the limit is {MAX_RULES}")
    validated = [_validate(i, rule) for i, rule in enumerate(rules)]
    notes = [rule.get("note", "") for rule in rules]
    tokens = [r["canonical"] for r in validated if r["kind"] == "token"]
    timed = sum(
        1
        for r in validated
        if r["kind"] == "regex" or (r["kind"] == "fillers" and r["pattern"] is not None)
    )
    share = timeout / timed if timed else None

    steps = []
    for index, rule in enumerate(validated):
        kind = rule["kind"]
        if kind == "case_fold":
            steps.append((kind, str.casefold))
        elif kind == "whitespace":
            steps.append((kind, _collapse_whitespace))
        elif kind == "punctuation":
            punct = _punct_class(rule["keep"])
            # A protected token is matched first and skipped whole: (*SKIP)(*FAIL) moves the
            # scan past it, so its brackets are never seen as punctuation.
            source = rf"(?i:{_words(tokens)})(*SKIP)(*FAIL)|{punct}" if tokens else punct
            steps.append((kind, _sub(regex.compile(source), "", None)))
        elif kind == "fillers":
            spellings = [s for s in (*rule["variants"], rule["canonical"]) if s]
            parts = [_words(spellings)] if spellings else []
            limit = None
            if rule["pattern"] is not None:
                alone = _compile(
                    index, "pattern", rule["pattern"], regex.IGNORECASE, check=reject_risky
                )
                if _matches_empty(alone):
                    # It would insert the canonical spelling between every two non-word
                    # characters ("a, b" -> "aum,um bum").
                    raise RuleError(index, "pattern", "must not match the empty string")
                parts.append(f"(?:{rule['pattern']})")
                limit = share
            source = f"{_BEFORE}(?:{'|'.join(parts)}){_AFTER}"
            compiled = _compile(index, "pattern", source, regex.IGNORECASE, check=False)
            steps.append((kind, _sub(compiled, _literal_template(rule["canonical"]), limit)))
        elif kind == "replace":
            find, repl = rule["find"], rule["replace"]
            if rule["whole_word"]:
                compiled = regex.compile(f"{_BEFORE}{regex.escape(find)}{_AFTER}")
                steps.append((kind, _sub(compiled, _literal_template(repl), None, find)))
            else:
                steps.append((kind, lambda t, f=find, r=repl: t.replace(f, r)))
        elif kind == "regex":
            flags = 0
            for c in rule["flags"]:
                flags |= _REGEX_FLAGS[c]
            compiled = _compile(index, "pattern", rule["pattern"], flags, check=reject_risky)
            _check_template(index, rule["pattern"], flags, rule["replace"])
            steps.append((kind, _sub(compiled, rule["replace"], share)))
        elif kind == "token":
            source = f"{_BEFORE}(?:{_words([*rule['variants'], rule['canonical']])}){_AFTER}"
            compiled = regex.compile(source, regex.IGNORECASE)
            steps.append((kind, _sub(compiled, _literal_template(rule["canonical"]), None)))
    return RuleSet(validated, steps, notes, float(timeout))


def _collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


def _sub(compiled, template: str, limit: float | None, needle: str | None = None):
    """``compiled.sub(template, text)`` with a time limit (None: none); with ``needle``, texts
    that do not contain it are returned untouched without running the regex."""
    if needle is not None:
        return lambda text: compiled.sub(template, text) if needle in text else text
    # partial, not a lambda: one Python frame less per text (the rules run ~10^5 times a preview)
    if limit is None:
        return partial(compiled.sub, template)
    return partial(compiled.sub, template, timeout=limit)


def _matches_empty(compiled) -> bool:
    try:
        return compiled.fullmatch("", timeout=DEFAULT_TIMEOUT) is not None
    except TimeoutError:
        return False  # it cannot settle even "": the time limit will deal with it


def _literal_template(text: str) -> str:
    # In a replacement template only the backslash is special.
    return text.replace("\\", "\\\\")


def _check_template(index: int, pattern: str, flags: int, template: str) -> None:
    """RuleError for a replacement that refers to a missing group or has a bad escape. A match is
    needed to expand a template: ``pattern + "\\n|"`` has the same groups and matches "" through its
    empty last alternative (the newline ends a verbose-mode comment; it is inert otherwise)."""
    try:
        match = regex.compile(pattern + "\n|", flags).match("", timeout=DEFAULT_TIMEOUT)
        match.expand(template)
    except (regex.error, IndexError, ValueError) as exc:
        raise RuleError(index, "replace", f"is not a valid replacement: {exc}") from None
    except TimeoutError:
        raise RuleError(index, "pattern", "took too long to match an empty text") from None


# ---------------------------------------------------------------------------------------------
# Preview


def word_diff(before: str, after: str) -> list[dict]:
    """Word-level edit script (difflib.SequenceMatcher over whitespace-separated words), each op
    ``{"op": "equal"|"delete"|"insert"|"replace", "before": "...", "after": "..."}``."""
    a, b = before.split(), after.split()
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return [
        {"op": tag, "before": " ".join(a[i1:i2]), "after": " ".join(b[j1:j2])}
        for tag, i1, i2, j1, j2 in ops
    ]


@dataclass
class Preview:
    """What a rule set would do to a list of texts; nothing is written.

    ``changed_share`` = changed / total, None when there are no texts (0/0 is undefined).
    ``samples`` are the first ``sample`` distinct changed inputs in input order, each with how
    many texts share it (``count``), the rules that changed it and a word diff. ``rule_changes[i]``
    counts the texts rule i changed (on the text as the earlier rules left it). ``outputs`` maps
    each distinct input to its standardised text.
    """

    fingerprint: str
    total: int
    changed: int
    changed_share: float | None
    distinct_before: int
    distinct_after: int
    empty_after: int
    rule_changes: list[int]
    samples: list[dict]
    warnings: list[dict]
    # Each distinct input's output, for callers that go on with the standardised texts (not part
    # of as_dict: it is as large as the input).
    outputs: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {
            "fingerprint": self.fingerprint,
            "total": self.total,
            "changed": self.changed,
            "changed_share": self.changed_share,
            "distinct_before": self.distinct_before,
            "distinct_after": self.distinct_after,
            "empty_after": self.empty_after,
            "rule_changes": list(self.rule_changes),
            "samples": list(self.samples),
            "warnings": list(self.warnings),
        }


def preview(rules: Any, texts, sample: int = 20) -> Preview:
    """Apply ``rules`` (JSON list or RuleSet) to ``texts`` and summarise: counts, distinct values,
    samples with word diffs, and warnings -- ``same_output`` (more than one distinct text, all
    become one string: allowed, but usually a mistake), ``empty_output`` (non-blank texts that
    become blank) and ``rule_no_effect`` (a rule that changes no text). Raises RuleError or
    RuleTimeout.

    The rules run once over the distinct texts, rule by rule (``RuleSet._run_distinct``: the
    per-rule counts come from comparing consecutive rules' outputs); only the ``sample`` texts
    shown are traced again for the rules that changed them and word-diffed."""
    ruleset = rules if isinstance(rules, RuleSet) else compile_rules(rules)
    counts = Counter(texts)  # insertion-ordered: first occurrence order
    total = sum(counts.values())
    distinct = list(counts)
    results, rule_changes = ruleset._run_distinct(distinct, list(counts.values()))
    outputs: dict[str, str] = dict(zip(distinct, results, strict=True))
    weights = counts.values()
    # Whole-column passes in C; Python only visits the sampled texts and the blank outputs.
    differs = list(map(ne, distinct, results))
    changed = sum(compress(weights, differs))
    samples: list[dict] = []
    for text in compress(distinct, differs):
        if len(samples) >= sample:
            break
        out = outputs[text]
        by = ruleset.changed_by(text)[1]
        samples.append(
            {
                "before": text,
                "after": out,
                "count": counts[text],
                "rules": [
                    {"index": i, "kind": ruleset.rules[i]["kind"], "note": ruleset.notes[i]}
                    for i in by
                ],
                "diff": word_diff(text, out),
            }
        )
    distinct_outputs = set(results)
    blank = {out for out in distinct_outputs if not out.strip()}
    empty_after = (
        sum(n for text, n in counts.items() if outputs[text] in blank and text.strip())
        if blank
        else 0
    )
    distinct_after = len(distinct_outputs)
    warnings = []
    if len(counts) > 1 and distinct_after == 1:
        only = next(iter(outputs.values()))
        warnings.append(
            {
                "code": "same_output",
                "message": f"every text becomes the same string: {only!r}",
                "rule_index": None,
            }
        )
    if empty_after:
        warnings.append(
            {
                "code": "empty_output",
                "message": f"{empty_after} text(s) become empty",
                "rule_index": None,
            }
        )
    if total:
        for index, n in enumerate(rule_changes):
            if n == 0:
                kind = ruleset.rules[index]["kind"]
                warnings.append(
                    {
                        "code": "rule_no_effect",
                        "message": f"rule {index} ({kind}) changes none of the {total} texts",
                        "rule_index": index,
                    }
                )
    return Preview(
        fingerprint=ruleset.fingerprint,
        total=total,
        changed=changed,
        changed_share=changed / total if total else None,
        distinct_before=len(counts),
        distinct_after=distinct_after,
        empty_after=empty_after,
        rule_changes=rule_changes,
        samples=samples,
        warnings=warnings,
        outputs=outputs,
    )
