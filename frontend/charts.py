"""Presentation of a consistency report: number formats, colour scales and chart geometry.

Pure functions over the report's JSON fields (no ORM, no requests), so the dashboard template
only places what is computed here and the tests need no database. Charts are inline SVG drawn by
the template from the geometry below: no chart library, no script.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NA = "—"

#: Krippendorff's rule of thumb (Content Analysis, 2004, §11.4.4): rely on data with α ≥ .800,
#: draw tentative conclusions only from .667 ≤ α < .800, and discard data below .667.
ALPHA_GOOD = 0.8
ALPHA_TENTATIVE = 0.667


# ---------- numbers ----------


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt(value: Any, digits: int = 3) -> str:
    """``0.469223`` → ``"0.469"``; None, NaN and infinities → ``"—"``."""
    number = _finite(value)
    if number is None:
        return NA
    text = f"{number:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text


def fmt_percent(value: Any, digits: int = 0) -> str:
    """A share in [0, 1] as a percentage: ``0.58`` → ``"58%"``."""
    number = _finite(value)
    return NA if number is None else f"{100 * number:.{digits}f}%"


def fmt_ms(value: Any) -> str:
    """A duration: ``850`` → ``"850 ms"``, ``3428`` → ``"3.4 s"``, ``95000`` → ``"1 min 35 s"``."""
    number = _finite(value)
    if number is None:
        return NA
    if number < 1000:
        return f"{number:.0f} ms"
    seconds = number / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


# ---------- figures (a value, its reason when undefined, and a 95% interval) ----------


@dataclass(frozen=True)
class Figure:
    value: float | None
    reason: str | None = None
    low: float | None = None
    high: float | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Figure:
        data = data or {}
        value = _finite(data.get("value"))
        reason = data.get("reason") or (None if value is not None else "not computed")
        return cls(
            value=value, reason=reason, low=_finite(data.get("low")), high=_finite(data.get("high"))
        )

    @property
    def defined(self) -> bool:
        return self.value is not None

    @property
    def text(self) -> str:
        return fmt(self.value)

    @property
    def has_interval(self) -> bool:
        return self.defined and self.low is not None and self.high is not None

    @property
    def interval(self) -> str:
        return f"{fmt(self.low)} – {fmt(self.high)}" if self.has_interval else ""

    @property
    def title(self) -> str:
        """Tooltip text: the reason for an undefined value, else the value and interval."""
        if not self.defined:
            return f"Undefined: {self.reason}"
        return f"{self.text} (95% CI {self.interval})" if self.has_interval else self.text


@dataclass(frozen=True)
class Level:
    key: str  # good | tentative | low | undefined (a CSS modifier)
    label: str


def alpha_level(value: Any) -> Level:
    """Where α falls in Krippendorff's rule of thumb."""
    number = _finite(value)
    if number is None:
        return Level("undefined", "Undefined")
    if number >= ALPHA_GOOD:
        return Level("good", "Reliable")
    if number >= ALPHA_TENTATIVE:
        return Level("tentative", "Tentative")
    return Level("low", "Low")


@dataclass(frozen=True)
class RangeMark:
    """A 0–1 track under a figure: the interval as a band, the value as a dot (percent units)."""

    value: float
    low: float | None
    high: float | None
    ticks: tuple[float, ...] = ()


def range_mark(figure: Figure, ticks: Sequence[float] = ()) -> RangeMark | None:
    if not figure.defined:
        return None
    band = figure.has_interval
    return RangeMark(
        value=round(100 * _clamp(figure.value), 2),
        low=round(100 * _clamp(figure.low), 2) if band else None,
        high=round(100 * _clamp(figure.high), 2) if band else None,
        ticks=tuple(round(100 * t, 2) for t in ticks),
    )


@dataclass(frozen=True)
class MetricCard:
    key: str
    name: str
    hint: str
    figure: Figure
    note: str = ""
    level: Level | None = None
    mark: RangeMark | None = None


def transcript_cards(overall: Mapping[str, Any]) -> list[MetricCard]:
    """A transcription project's headline figures: alpha over the word edit distance, exact
    agreement after normalisation, and the word and character error rates between labelers."""
    alpha = Figure.from_json(overall.get("krippendorff_alpha"))
    rules = overall.get("rule_set_version") or 0
    normalised = f"after rule set v{rules}" if rules else "after whitespace clean-up"
    return [
        MetricCard(
            "krippendorff_alpha",
            "Krippendorff’s α (words)",
            "Chance-corrected; distance = word edits ÷ the longer transcript",
            alpha,
            level=alpha_level(alpha.value),
            mark=range_mark(alpha, ticks=(ALPHA_TENTATIVE, ALPHA_GOOD)),
        ),
        _card(
            overall,
            "exact_agreement",
            "Exact agreement",
            "Share of transcript pairs that are identical",
            note=normalised,
        ),
        _card(
            overall,
            "word_error_rate",
            "Word error rate",
            "Word edits between labelers ÷ words (lower is better)",
        ),
        _card(
            overall,
            "character_error_rate",
            "Character error rate",
            "Character edits between labelers ÷ characters (lower is better)",
        ),
    ]


def overall_cards(overall: Mapping[str, Any]) -> list[MetricCard]:
    """The six headline figures, in reading order (a transcription project's four)."""
    if overall.get("task") == "transcription":
        return transcript_cards(overall)
    alpha = Figure.from_json(overall.get("krippendorff_alpha"))
    fleiss = overall.get("fleiss_kappa") or {}
    fleiss_note = ""
    if fleiss.get("items"):
        fleiss_note = f"{fleiss['items']} items × {fleiss.get('raters_per_item', '?')} labels"
    hlp_gold = overall.get("hlp_gold") or {}
    pooled = _finite(hlp_gold.get("pooled"))
    cards = [
        MetricCard(
            "krippendorff_alpha",
            "Krippendorff’s α",
            "Chance-corrected; any number of labelers, missing labels allowed",
            alpha,
            level=alpha_level(alpha.value),
            mark=range_mark(alpha, ticks=(ALPHA_TENTATIVE, ALPHA_GOOD)),
        ),
        _card(overall, "gwet_ac1", "Gwet’s AC1", "Chance-corrected; stable when classes are rare"),
        _card(overall, "percent_agreement", "Percent agreement", "Share of agreeing label pairs"),
        _card(
            overall,
            "fleiss_kappa",
            "Fleiss’ κ",
            "Chance-corrected; items with equally many labels",
            note=fleiss_note,
        ),
        _card(
            overall,
            "hlp_agreement",
            "HLP · agreement",
            "How often one labeler’s label matches another’s",
        ),
        _card(
            overall,
            "hlp_gold",
            "HLP · vs gold",
            "A labeler’s mean accuracy on gold items",
            note=f"pooled over labels: {fmt(pooled)}" if pooled is not None else "",
        ),
    ]
    return cards


def _card(overall: Mapping[str, Any], key: str, name: str, hint: str, note: str = "") -> MetricCard:
    figure = Figure.from_json(overall.get(key))
    return MetricCard(key, name, hint, figure, note=note, mark=range_mark(figure))


# ---------- colour ----------

#: Sequential blues for agreement in [0, 1] (light = low, dark = high); below 0 is worse than
#: chance and gets its own red tint instead of sharing the lightest blue.
AGREEMENT_STOPS = ("#eef3fe", "#c9d8fb", "#93b2f3", "#5a83e4", "#2f55c4", "#1c3286")
BELOW_CHANCE = "#f8d7d3"
MISSING_FILL = "#eceef2"
DARK_TEXT = "#1a1d23"
LIGHT_TEXT = "#ffffff"


def _rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def _hex(rgb: Iterable[float]) -> str:
    return "#" + "".join(f"{round(_clamp(c, 0, 255)):02x}" for c in rgb)


def mix(a: str, b: str, t: float) -> str:
    """The colour ``t`` of the way from ``a`` to ``b`` (linear in sRGB; fine for a legend)."""
    t = _clamp(t)
    return _hex(x + (y - x) * t for x, y in zip(_rgb(a), _rgb(b), strict=True))


def agreement_fill(value: Any) -> str:
    """Fill colour for an agreement value (κ, α, or a share): None → grey, < 0 → red tint."""
    number = _finite(value)
    if number is None:
        return MISSING_FILL
    if number < 0:
        return BELOW_CHANCE
    position = _clamp(number) * (len(AGREEMENT_STOPS) - 1)
    index = min(int(position), len(AGREEMENT_STOPS) - 2)
    return mix(AGREEMENT_STOPS[index], AGREEMENT_STOPS[index + 1], position - index)


def _luminance(color: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_on(fill: str) -> str:
    """Dark or white text, whichever contrasts more with ``fill`` (WCAG relative luminance)."""
    luminance = _luminance(fill)
    on_white = 1.05 / (luminance + 0.05)
    on_dark = (luminance + 0.05) / (_luminance(DARK_TEXT) + 0.05)
    return LIGHT_TEXT if on_white > on_dark else DARK_TEXT


def legend_stops() -> list[tuple[int, str]]:
    """``(offset %, colour)`` pairs for an SVG linearGradient of the agreement scale."""
    last = len(AGREEMENT_STOPS) - 1
    return [(round(100 * i / last), color) for i, color in enumerate(AGREEMENT_STOPS)]


# ---------- per-class bars ----------


@dataclass(frozen=True)
class Bar:
    series: str  # CSS modifier: agreement | gold
    label: str  # "specific agreement"
    value: float | None
    text: str
    x: float
    y: float
    width: float
    height: float

    @property
    def mid_y(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True)
class BarRow:
    key: str
    name: str
    short_name: str
    labels: int
    y: float  # the row's top
    label_y: float  # middle of the class name's line
    count_y: float  # middle of the "n labels" line under it
    bars: list[Bar]

    @property
    def summary(self) -> str:
        parts = [f"{bar.label} {bar.text}" for bar in self.bars]
        return f"{self.name} ({self.labels} labels): " + ", ".join(parts)


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_x: int
    plot_x: int
    plot_width: int
    plot_top: int
    plot_bottom: int
    value_x: int
    rows: list[BarRow]
    ticks: list[Tick]
    has_gold: bool

    @property
    def tick_y(self) -> int:
        return self.plot_bottom + 15

    @property
    def summary(self) -> str:
        return "; ".join(row.summary for row in self.rows)


def class_bars(
    per_class: Sequence[Mapping[str, Any]],
    names: Mapping[str, str] | None = None,
    *,
    width: int = 560,
    label_width: int = 132,
    value_width: int = 52,
) -> BarChart:
    """Horizontal bars on a 0–1 axis: each class's specific agreement, and its recall against
    gold under it where any class has gold."""
    names = names or {}
    has_gold = any(_finite(row.get("gold_recall")) is not None for row in per_class)
    bar_height, gold_height, gap = 14, 8, 3
    row_height = max(40, bar_height + (gap + gold_height if has_gold else 0) + 24)
    top, axis_height = 8, 22
    plot_x = label_width
    plot_width = width - label_width - value_width
    rows = []
    for i, row in enumerate(per_class):
        key = str(row.get("class", ""))
        name = names.get(key, key)
        y = top + i * row_height
        series = [("agreement", "specific agreement", row.get("specific_agreement"), bar_height)]
        if has_gold:
            series.append(("gold", "gold recall", row.get("gold_recall"), gold_height))
        bars, bar_y = [], y + 4
        for css, label, raw, height in series:
            value = _finite(raw)
            bars.append(
                Bar(
                    series=css,
                    label=label,
                    value=value,
                    text=fmt(value),
                    x=plot_x,
                    y=bar_y,
                    width=round(plot_width * _clamp(value or 0.0), 2),
                    height=height,
                )
            )
            bar_y += height + gap
        rows.append(
            BarRow(
                key=key,
                name=name,
                short_name=_shorten(name, 17),
                labels=int(row.get("labels") or 0),
                y=y,
                label_y=y + 4 + bar_height / 2,
                count_y=y + 4 + bar_height / 2 + 15,
                bars=bars,
            )
        )
    plot_bottom = top + len(rows) * row_height
    ticks = [Tick(x=round(plot_x + plot_width * t, 2), text=fmt(t, 2)) for t in _quarters()]
    return BarChart(
        width=width,
        height=plot_bottom + axis_height,
        label_x=plot_x - 12,
        plot_x=plot_x,
        plot_width=plot_width,
        plot_top=top,
        plot_bottom=plot_bottom,
        value_x=width - value_width + 8,
        rows=rows,
        ticks=ticks,
        has_gold=has_gold,
    )


def _quarters() -> tuple[float, ...]:
    return (0.0, 0.25, 0.5, 0.75, 1.0)


# ---------- labeler × labeler heatmap ----------


@dataclass(frozen=True)
class HeatCell:
    row: int
    col: int
    x: float
    y: float
    size: float
    kind: str  # value | self | missing
    fill: str
    text_color: str
    text: str
    title: str

    @property
    def cx(self) -> float:
        return round(self.x + self.size / 2, 2)

    @property
    def cy(self) -> float:
        return round(self.y + self.size / 2, 2)


@dataclass(frozen=True)
class AxisLabel:
    text: str
    full: str
    x: float
    y: float


@dataclass(frozen=True)
class Heatmap:
    width: float
    height: float
    cell: float
    origin_x: float
    origin_y: float
    show_values: bool
    rotate_labels: bool
    cells: list[HeatCell]
    row_labels: list[AxisLabel]
    col_labels: list[AxisLabel]
    font_size: float = 12

    @property
    def size(self) -> int:
        return len(self.row_labels)


def heatmap(
    pairwise: Mapping[str, Any],
    *,
    max_size: float = 400,
    max_cell: float = 58,
    min_cell: float = 12,
) -> Heatmap | None:
    """Cells of the pairwise Cohen's κ matrix, coloured on the agreement scale.

    The diagonal (a labeler with themself) is drawn neutral; pairs without shared items (κ
    undefined) get the ``missing`` kind, which the template hatches.
    """
    labelers = [str(name) for name in pairwise.get("labelers") or []]
    kappa = pairwise.get("kappa") or []
    if not labelers or len(kappa) != len(labelers):
        return None
    percent = pairwise.get("percent") or []
    shared = pairwise.get("shared") or []
    n = len(labelers)
    cell = round(max(min_cell, min(max_cell, max_size / n)), 2)
    show_values = cell >= 30
    rotate = cell < 56
    longest = max(len(name) for name in labelers)
    label_chars = min(longest, 12)
    origin_x = 12 + 7 * label_chars
    origin_y = (10 + 5.2 * label_chars) if rotate else 26
    cells = []
    for i in range(n):
        for j in range(n):
            value = _finite(_at(kappa, i, j))
            pair = f"{labelers[i]} × {labelers[j]}"
            if i == j:
                kind, fill, text = "self", "#f6f7f9", ""
                title = f"{labelers[i]} (self)"
            elif value is None:
                kind, fill, text = "missing", MISSING_FILL, ""
                title = f"{pair}: κ undefined (no shared items with two labels)"
            else:
                kind, fill, text = "value", agreement_fill(value), fmt(value, 2)
                agree = _finite(_at(percent, i, j))
                n_shared = _at(shared, i, j)
                title = f"{pair}: κ = {fmt(value)}"
                if agree is not None:
                    title += f", {fmt_percent(agree, 1)} agreement"
                if n_shared is not None:
                    title += f" on {n_shared} shared items"
            cells.append(
                HeatCell(
                    row=i,
                    col=j,
                    x=round(origin_x + j * cell, 2),
                    y=round(origin_y + i * cell, 2),
                    size=cell,
                    kind=kind,
                    fill=fill,
                    text_color=text_on(fill),
                    text=text if show_values else "",
                    title=title,
                )
            )
    row_labels = [
        AxisLabel(
            text=_shorten(name, 12),
            full=name,
            x=origin_x - 8,
            y=round(origin_y + (i + 0.5) * cell, 2),
        )
        for i, name in enumerate(labelers)
    ]
    col_labels = [
        AxisLabel(
            text=_shorten(name, 12 if rotate else max(3, int(cell / 7.5))),
            full=name,
            x=round(origin_x + (j + 0.5) * cell, 2),
            y=origin_y - 8,
        )
        for j, name in enumerate(labelers)
    ]
    # Rotated column labels lean right, past the last column.
    overhang = 4.2 * label_chars if rotate else 4
    return Heatmap(
        width=round(origin_x + n * cell + overhang, 2),
        height=round(origin_y + n * cell + 4, 2),
        cell=cell,
        origin_x=origin_x,
        origin_y=origin_y,
        show_values=show_values,
        rotate_labels=rotate,
        cells=cells,
        row_labels=row_labels,
        col_labels=col_labels,
        font_size=12 if cell >= 40 else 11,
    )


def _at(matrix: Sequence[Sequence[Any]], i: int, j: int) -> Any:
    try:
        return matrix[i][j]
    except (IndexError, TypeError):
        return None


# ---------- tables ----------


@dataclass(frozen=True)
class Cell:
    """A table cell's number: its text, a tooltip (reason when undefined), a 0–100 meter."""

    text: str
    title: str = ""
    meter: float | None = None
    defined: bool = True


def cell(value: Any, *, meter: bool = True, reason: str = "") -> Cell:
    number = _finite(value)
    if number is None:
        return Cell(NA, title=reason or "not available", defined=False)
    return Cell(fmt(number), meter=round(100 * _clamp(number), 1) if meter else None)


def figure_cell(data: Mapping[str, Any] | None) -> Cell:
    figure = Figure.from_json(data)
    if not figure.defined:
        return Cell(NA, title=figure.title, defined=False)
    return Cell(figure.text, title=figure.title, meter=round(100 * _clamp(figure.value), 1))


@dataclass(frozen=True)
class LabelerRow:
    username: str
    labels: int
    agreement: Cell
    compared: int
    gold: Cell
    gold_labels: int
    dawid_skene: Cell
    median_time: str


def labeler_rows(per_labeler: Sequence[Mapping[str, Any]]) -> list[LabelerRow]:
    return [
        LabelerRow(
            username=str(row.get("username", "")),
            labels=int(row.get("labels") or 0),
            agreement=cell(
                row.get("agreement_with_others"), reason="no item shared with another labeler"
            ),
            compared=int(row.get("compared") or 0),
            gold=cell(row.get("gold_accuracy"), reason="no labels on gold items"),
            gold_labels=int(row.get("gold_labels") or 0),
            dawid_skene=cell(row.get("dawid_skene_accuracy"), reason="Dawid–Skene undefined"),
            median_time=fmt_ms(row.get("median_time_ms")),
        )
        for row in per_labeler
    ]


@dataclass(frozen=True)
class ConfusionRow:
    a: str
    b: str
    items: int
    label_pairs: int
    meter: float


def confusion_rows(
    pairs: Sequence[Mapping[str, Any]], names: Mapping[str, str] | None = None, limit: int = 12
) -> list[ConfusionRow]:
    """The first ``limit`` pairs in the report's order, with a meter relative to the largest."""
    names = names or {}
    shown = list(pairs[:limit])
    largest = max((int(p.get("items") or 0) for p in shown), default=0) or 1
    return [
        ConfusionRow(
            a=names.get(str(p.get("a")), str(p.get("a"))),
            b=names.get(str(p.get("b")), str(p.get("b"))),
            items=int(p.get("items") or 0),
            label_pairs=int(p.get("label_pairs") or 0),
            meter=round(100 * int(p.get("items") or 0) / largest, 1),
        )
        for p in shown
    ]


@dataclass(frozen=True)
class SliceRow:
    value: str
    items: int
    share: str
    share_meter: float
    alpha: Cell
    alpha_level: Level
    hlp_agreement: Cell
    hlp_gold: Cell


@dataclass(frozen=True)
class SliceGroup:
    name: str
    rows: list[SliceRow] = field(default_factory=list)


def slice_groups(per_slice: Sequence[Mapping[str, Any]]) -> list[SliceGroup]:
    """Rows grouped by slice dimension (``camera``: A, B), in the report's order."""
    groups: dict[str, SliceGroup] = {}
    for row in per_slice:
        name = str(row.get("slice", ""))
        alpha = row.get("krippendorff_alpha") or {}
        share = _finite(row.get("share"))
        groups.setdefault(name, SliceGroup(name)).rows.append(
            SliceRow(
                value=str(row.get("value", "")),
                items=int(row.get("items") or 0),
                share=fmt_percent(share),
                share_meter=round(100 * _clamp(share or 0.0), 1),
                alpha=figure_cell(alpha),
                alpha_level=alpha_level(alpha.get("value")),
                hlp_agreement=figure_cell(row.get("hlp_agreement")),
                hlp_gold=figure_cell(row.get("hlp_gold")),
            )
        )
    return list(groups.values())


# ---------- top disagreements ----------


@dataclass(frozen=True)
class LabelCount:
    name: str
    count: int


@dataclass(frozen=True)
class DisagreementCard:
    item_id: int
    external_id: str
    has_thumbnail: bool
    excerpt: str
    majority_share: str
    entropy: str
    labels: list[LabelCount]

    @property
    def summary(self) -> str:
        return ", ".join(f"{c.name} {c.count}" for c in self.labels)


def disagreement_cards(
    top: Sequence[Mapping[str, Any]],
    items: Mapping[int, Mapping[str, Any]],
    names: Mapping[str, str] | None = None,
) -> list[DisagreementCard]:
    """One card per disputed item, most disputed first; ``items`` maps an item id to its
    ``external_id``, ``thumbnail`` (truthy when stored) and a text ``excerpt``."""
    names = names or {}
    cards = []
    for row in top:
        item_id = int(row["item_id"])
        item = items.get(item_id, {})
        counts = sorted((row.get("labels") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        cards.append(
            DisagreementCard(
                item_id=item_id,
                external_id=str(item.get("external_id") or f"#{item_id}"),
                has_thumbnail=bool(item.get("thumbnail")),
                excerpt=str(item.get("excerpt") or ""),
                majority_share=fmt_percent(row.get("majority_share")),
                entropy=fmt(row.get("entropy"), 2),
                labels=[LabelCount(names.get(key, key), int(n)) for key, n in counts],
            )
        )
    return cards


# ---------- rounds, guideline versions and escalation ----------

MINUS = "\u2212"


def fmt_signed(value: Any, digits: int = 2) -> str:
    """A change with its sign: ``0.29`` → ``"+0.29"``, ``-0.05`` → ``"−0.05"`` (a true minus)."""
    number = _finite(value)
    if number is None:
        return NA
    text = fmt(abs(number), digits)
    if text == "0." + "0" * digits:
        return f"±{text}"
    return f"+{text}" if number > 0 else f"{MINUS}{text}"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _and_list(values: Sequence[Any]) -> str:
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class GroupRow:
    """One row of agreement per round or per guideline version."""

    key: int
    name: str
    alpha: Cell
    alpha_level: Level
    interval: str
    percent: Cell
    items: int
    items_compared: int
    labels: int


def group_rows(rows: Sequence[Mapping[str, Any]], key: str) -> list[GroupRow]:
    """Rows of ``report.per_round`` (``key="round"``) or ``per_guideline`` (``"guideline"``)."""
    result = []
    for row in sorted(rows, key=lambda r: int(r.get(key) or 0)):
        number = int(row.get(key) or 0)
        name = _group_name(key, number)
        alpha = Figure.from_json(row.get("krippendorff_alpha"))
        result.append(
            GroupRow(
                key=number,
                name=name,
                alpha=figure_cell(row.get("krippendorff_alpha")),
                alpha_level=alpha_level(alpha.value),
                interval=alpha.interval,
                percent=cell(row.get("percent_agreement"), reason="no item with two labels"),
                items=int(row.get("items") or 0),
                items_compared=int(row.get("items_compared") or 0),
                labels=int(row.get("labels") or 0),
            )
        )
    return result


def _group_name(key: str, number: int) -> str:
    if key == "round":
        return f"Round {number}"
    return f"Guideline v{number}" if number else "No guideline"


@dataclass(frozen=True)
class Verdict:
    """Did the newest round raise agreement? ``kind``: raised | lowered | flat | undefined |
    none (no later round yet) — a CSS modifier; ``text`` says it in one sentence."""

    kind: str
    headline: str
    text: str


def round_verdict(change: Mapping[str, Any] | None) -> Verdict | None:
    """The report's ``round_change`` in plain words; None for a report made before rounds were
    compared (an empty ``round_change``)."""
    if not change:
        return None
    number = change.get("round")
    reason = str(change.get("reason") or "")
    if number is None:
        return Verdict(
            "none", "No later round yet", f"Nothing to compare: {reason or 'one round'}."
        )
    before, after = fmt(change.get("before"), 2), fmt(change.get("after"), 2)
    items = _plural(int(change.get("items") or 0), "relabeled item")
    earlier = [int(r) for r in change.get("compared_with_rounds") or []]
    compared = ""
    if earlier and earlier != [int(number) - 1]:
        compared = f", compared with their labels in round{'s' if len(earlier) > 1 else ''} "
        compared += _and_list(earlier)
    direction = change.get("direction")
    if direction == "undefined" or _finite(change.get("difference")) is None:
        figures = ""
        if _finite(change.get("before")) is not None or _finite(change.get("after")) is not None:
            figures = f" (alpha {before} before, {after} after)"
        return Verdict(
            "undefined",
            "Change undefined",
            f"Round {number}: the change in alpha is undefined{figures} — "
            f"{reason or 'not enough relabeled items'}.",
        )
    interval = (
        f"95% CI of the change {fmt_signed(change.get('low'))} to {fmt_signed(change.get('high'))}"
    )
    if change.get("significant") and direction == "raised":
        return Verdict(
            "raised",
            "Agreement rose",
            f"Round {number} raised alpha from {before} to {after} on {items}{compared} "
            f"({interval}): significant.",
        )
    if change.get("significant") and direction == "lowered":
        return Verdict(
            "lowered",
            "Agreement fell",
            f"Round {number} lowered alpha from {before} to {after} on {items}{compared} "
            f"({interval}): significant — check what changed in the guideline.",
        )
    return Verdict(
        "flat",
        "No significant change",
        f"Round {number} took alpha from {before} to {after} on {items}{compared} ({interval}): "
        "no significant change — agreement is hard to raise further; consider stopping.",
    )


@dataclass(frozen=True)
class EscalationSummary:
    enabled: bool
    text: str
    facts: list[str]


def escalation_summary(data: Mapping[str, Any] | None) -> EscalationSummary | None:
    """What escalation (extra labels before SME review) cost and saved, in words."""
    if not data:
        return None
    enabled = bool(data.get("enabled"))
    escalated = int(data.get("items_escalated") or 0)
    if not enabled and not escalated:
        return EscalationSummary(
            False,
            "Escalation is off: disputed items go to SME review without extra labels.",
            [],
        )
    asked = int(data.get("extra_labels_asked") or 0)
    given = int(data.get("extra_labels_given") or 0)
    saved = int(data.get("reviews_saved") or 0)
    text = (
        f"Escalation asked {_plural(asked, 'extra label')} on {_plural(escalated, 'item')} "
        f"and saved {_plural(saved, 'SME review')}."
    )
    facts = [
        f"{given} of {asked} extra labels given so far",
        f"{_plural(int(data.get('still_disputed') or 0), 'escalated item')} still disputed",
        f"{_plural(int(data.get('disputed_items') or 0), 'item')} disputed in all",
    ]
    if enabled:
        facts.append(
            f"at most {_plural(int(data.get('max_extra_labels') or 0), 'extra label')} per item"
        )
    else:
        facts.append("escalation is now off")
    return EscalationSummary(enabled, text, facts)


@dataclass(frozen=True)
class RoundsSection:
    rounds: list[GroupRow]
    guidelines: list[GroupRow]
    verdict: Verdict | None
    escalation: EscalationSummary | None

    @property
    def empty(self) -> bool:
        return not (self.rounds or self.guidelines or self.verdict or self.escalation)


def rounds_section(report: Any) -> RoundsSection:
    return RoundsSection(
        rounds=group_rows(getattr(report, "per_round", None) or [], "round"),
        guidelines=group_rows(getattr(report, "per_guideline", None) or [], "guideline"),
        verdict=round_verdict(getattr(report, "round_change", None)),
        escalation=escalation_summary(getattr(report, "escalation", None)),
    )


# ---------- the whole page ----------

TOP_ITEMS = 20


@dataclass(frozen=True)
class Dashboard:
    cards: list[MetricCard]
    class_chart: BarChart | None
    heatmap: Heatmap | None
    labelers: list[LabelerRow]
    confusion: list[ConfusionRow]
    confusion_more: int
    slices: list[SliceGroup]
    disagreements: list[DisagreementCard]
    disagreements_total: int
    lights_kappa: Figure
    dawid_skene: Mapping[str, Any]
    tied_items: int
    legend: list[tuple[int, str]]
    rounds: RoundsSection


def top_item_ids(report: Any, limit: int = TOP_ITEMS) -> list[int]:
    return [int(row["item_id"]) for row in (report.top_disagreements or [])[:limit]]


def dashboard(
    report: Any,
    *,
    class_names: Mapping[str, str] | None = None,
    items: Mapping[int, Mapping[str, Any]] | None = None,
    confusion_limit: int = 12,
) -> Dashboard:
    """Everything the dashboard template draws, from one ``ConsistencyReport``."""
    overall = report.overall or {}
    pairs = report.confusion_pairs or []
    top = report.top_disagreements or []
    return Dashboard(
        cards=overall_cards(overall),
        class_chart=class_bars(report.per_class, class_names) if report.per_class else None,
        heatmap=heatmap(report.pairwise or {}),
        labelers=labeler_rows(report.per_labeler or []),
        confusion=confusion_rows(pairs, class_names, confusion_limit),
        confusion_more=max(0, len(pairs) - confusion_limit),
        slices=slice_groups(report.per_slice or []),
        disagreements=disagreement_cards(top[:TOP_ITEMS], items or {}, class_names),
        disagreements_total=len(top),
        lights_kappa=Figure.from_json((report.pairwise or {}).get("lights_kappa")),
        dawid_skene=overall.get("dawid_skene") or {},
        tied_items=int(overall.get("tied_items") or 0),
        legend=legend_stops(),
        rounds=rounds_section(report),
    )
