"""The consistency dashboard: who may open it, what it shows from a report, and the pure
formatting and chart geometry behind it (``frontend.charts``, no database)."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.urls import reverse

from annotations.models import Role
from annotations.services.annotations import annotation_submit
from consensus.services.recompute import recompute_mark_requested
from consensus.services.reports import report_recompute
from frontend import charts
from tests.factories import ItemFactory, MembershipFactory

HOME = reverse("frontend:home")
LOGIN = reverse("frontend:login")

# Three labelers × four items (class keys of ProjectFactory).
GRID = [
    ["dent", "dent", "clean", "scratch"],
    ["dent", "scratch", "clean", "scratch"],
    ["dent", "clean", "clean", "dent"],
]


def dashboard_url(project) -> str:
    return reverse("frontend:consistency", kwargs={"project_id": project.pk})


def submit_grid(project, member, grid, *, prefix: str = "") -> list:
    items = [
        ItemFactory(
            project=project, external_id=f"{prefix}item-{i}", slices={"camera": "AB"[i % 2]}
        )
        for i in range(len(grid[0]))
    ]
    users = [member(Role.LABELER, username=f"{prefix}lab{n}") for n in range(len(grid))]
    for user, row in zip(users, grid, strict=True):
        for item, key in zip(items, row, strict=True):
            if key:
                annotation_submit(
                    labeler=user,
                    item_id=item.pk,
                    value={"label": key},
                    idempotency_key=f"{user.pk}-{item.pk}",
                    time_spent_ms=2500,
                )
    return items


@pytest.fixture
def fresh_cache():
    """Recompute bookkeeping lives in the cache, which outlives a test's database."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reported(fresh_cache, project, member):
    """Labels from three labelers and a report (version 1) that covers all of them."""
    items = submit_grid(project, member, GRID)
    recompute_mark_requested(project_id=project.pk)
    report = report_recompute(project_id=project.pk, version=1)
    return SimpleNamespace(items=items, report=report)


def page_of(client, user, project):
    client.force_login(user)
    response = client.get(dashboard_url(project))
    return response, response.content.decode()


# ---------- access ----------


def test_dashboard_requires_login(client, project):
    response = client.get(dashboard_url(project))

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={dashboard_url(project)}"


def test_labelers_never_see_the_dashboard(client, project, labeler):
    response, page = page_of(client, labeler, project)

    assert response.status_code == 403
    assert "reviewers, engineers and managers" in page


def test_non_members_get_404(client, project, db):
    # given a reviewer of another project
    outsider = MembershipFactory(role=Role.REVIEWER).user
    client.force_login(outsider)

    # then this project does not exist for them, and neither does a made-up one
    assert client.get(dashboard_url(project)).status_code == 404
    missing = reverse("frontend:consistency", kwargs={"project_id": 999_999})
    assert client.get(missing).status_code == 404


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ENGINEER, Role.MANAGER])
def test_reviewers_engineers_and_managers_see_it(client, project, member, reported, role):
    response, page = page_of(client, member(role), project)

    assert response.status_code == 200
    assert project.name in page


def test_only_managers_and_engineers_get_the_recompute_button(client, project, member, reported):
    _, reviewer_page = page_of(client, member(Role.REVIEWER), project)
    _, engineer_page = page_of(client, member(Role.ENGINEER), project)

    assert 'id="recompute"' not in reviewer_page
    assert 'id="recompute"' in engineer_page


def test_home_links_the_dashboard_for_roles_that_see_labels(client, project, member):
    # given one user per role
    pages = {}
    for role in (Role.LABELER, Role.REVIEWER, Role.ENGINEER, Role.MANAGER):
        client.force_login(member(role))
        pages[role] = client.get(HOME).content.decode()

    # then everyone but the labeler gets a link to the project's dashboard
    link = f'href="{dashboard_url(project)}"'
    assert link not in pages[Role.LABELER]
    assert all(link in pages[role] for role in (Role.REVIEWER, Role.ENGINEER, Role.MANAGER))


# ---------- what it shows ----------


def test_dashboard_shows_the_reports_figures(client, project, member, reported):
    # given a report of three labelers
    report = reported.report
    alpha = report.overall["krippendorff_alpha"]

    # when a reviewer opens the dashboard
    response, page = page_of(client, member(Role.REVIEWER), project)

    # then alpha is shown with three decimals and its interval, and the report's size and time
    assert response.status_code == 200
    assert f"{alpha['value']:.3f}" in page
    assert f'95% CI <span class="num">{alpha["low"]:.3f} – {alpha["high"]:.3f}</span>' in page
    assert f"{report.n_annotations} annotations" in page
    assert f"took {report.duration_ms} ms" in page
    assert "Up to date" in page
    assert 'id="stale-badge"' not in page
    # and the charts and tables are there, accessible
    assert re.search(r'<svg id="heatmap"[^>]*role="img"', page)
    assert "Pairwise Cohen’s κ between 3 labelers" in page
    assert "Agreement per class" in page
    assert page.count('<th scope="row"><span class="avatar') == 3
    # the class pairs, slices and most disputed items, by their names and external ids
    versus = '<span class="pair__sep" aria-hidden="true">↔</span>'
    assert f'Clean {versus}<span class="visually-hidden">versus</span> Scratch' in page
    assert 'scope="rowgroup" rowspan="2" class="slice-group__name">camera</th>' in page
    disputed = page[page.index('id="disputed-title"') :]
    assert 'class="disputed__ref">item-1</span>' in disputed
    assert 'class="disputed__text">Example text' in disputed


@pytest.mark.usefixtures("fresh_cache")
def test_undefined_figures_show_a_dash_and_the_reason(client, project, member):
    # given items that each have one label only: no agreement can be computed
    submit_grid(project, member, [["clean", "dent", "scratch", "clean"]])
    recompute_mark_requested(project_id=project.pk)
    report = report_recompute(project_id=project.pk, version=1)
    alpha = report.overall["krippendorff_alpha"]
    assert alpha["value"] is None

    # when a manager opens the dashboard
    _, page = page_of(client, member(Role.MANAGER), project)

    # then the alpha card says "—" and why
    card = re.search(r'data-metric="krippendorff_alpha">(.*?)</li>', page, re.DOTALL).group(1)
    assert ">—<" in card
    assert alpha["reason"] in card


@pytest.mark.usefixtures("fresh_cache")
def test_empty_state_without_a_report(client, project, member):
    response, page = page_of(client, member(Role.MANAGER), project)

    assert response.status_code == 200
    assert "No consistency report yet" in page
    assert 'id="recompute"' in page
    assert 'id="stale-badge"' not in page
    assert 'id="heatmap"' not in page


def test_stale_badge_when_labels_arrived_after_the_report(client, project, member, reported):
    # given a recompute requested after the report was written (new labels)
    recompute_mark_requested(project_id=project.pk)

    # when a reviewer opens the dashboard
    _, page = page_of(client, member(Role.REVIEWER), project)

    # then the page says the report is stale, and still shows it
    assert 'id="stale-badge"' in page
    assert "new labels since this report" in page
    assert f"{reported.report.overall['krippendorff_alpha']['value']:.3f}" in page
    assert '"stale": true' in page


@pytest.mark.usefixtures("fresh_cache")
def test_item_external_ids_are_escaped(client, project, member):
    # given a disputed item whose external id holds markup
    item = ItemFactory(project=project, external_id="<b>x</b>")
    for n, key in enumerate(["clean", "dent"]):
        annotation_submit(
            labeler=member(Role.LABELER, username=f"esc{n}"),
            item_id=item.pk,
            value={"label": key},
            idempotency_key=f"esc-{n}",
        )
    recompute_mark_requested(project_id=project.pk)
    report_recompute(project_id=project.pk, version=1)

    _, page = page_of(client, member(Role.REVIEWER), project)

    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<b>x</b>" not in page


def test_dashboard_query_count_is_bounded(
    client, project, member, reported, django_assert_max_num_queries
):
    # given a bigger report: more labelers and items
    submit_grid(project, member, [["clean", "dent"] * 5, ["dent", "dent"] * 5], prefix="more-")
    recompute_mark_requested(project_id=project.pk)
    report_recompute(project_id=project.pk, version=2)
    client.force_login(member(Role.MANAGER))

    # then the page costs a fixed handful of queries: session, user, project, report, classes,
    # the disputed items (one query for all of them), and the newest version after a cache flush
    with django_assert_max_num_queries(7):
        response = client.get(dashboard_url(project))
    assert response.status_code == 200


# ---------- frontend.charts (pure) ----------


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.469223, "0.469"), (1, "1.000"), (-0.0001, "0.000"), (None, "—"), (math.nan, "—")],
)
def test_fmt(value, text):
    assert charts.fmt(value) == text


@pytest.mark.parametrize(
    ("ms", "text"), [(850, "850 ms"), (3428.0, "3.4 s"), (95_000, "1 min 35 s"), (None, "—")]
)
def test_fmt_ms(ms, text):
    assert charts.fmt_ms(ms) == text


def test_figure_keeps_the_reason_of_an_undefined_value():
    figure = charts.Figure.from_json({"value": None, "reason": "every item has one label"})

    assert not figure.defined
    assert figure.text == "—"
    assert figure.interval == ""
    assert figure.title == "Undefined: every item has one label"


def test_figure_with_an_interval():
    figure = charts.Figure.from_json({"value": 0.5, "reason": None, "low": 0.41, "high": 0.6})

    assert figure.interval == "0.410 – 0.600"
    assert figure.title == "0.500 (95% CI 0.410 – 0.600)"


@pytest.mark.parametrize(
    ("alpha", "level"),
    [(0.95, "good"), (0.8, "good"), (0.7999, "tentative"), (0.667, "tentative"), (0.5, "low")],
)
def test_alpha_level_follows_krippendorffs_thresholds(alpha, level):
    assert charts.alpha_level(alpha).key == level
    assert charts.alpha_level(None).key == "undefined"


def test_agreement_colours_darken_with_agreement():
    # given the fill for agreement from 0 to 1
    fills = [charts.agreement_fill(v / 10) for v in range(11)]

    # then each step is darker than the one before, from the first stop to the last
    luminance = [charts._luminance(fill) for fill in fills]
    assert all(a > b for a, b in zip(luminance, luminance[1:], strict=False))
    assert fills[0] == charts.AGREEMENT_STOPS[0]
    assert fills[-1] == charts.AGREEMENT_STOPS[-1]
    # and below chance and missing values get their own colours
    assert charts.agreement_fill(-0.2) == charts.BELOW_CHANCE
    assert charts.agreement_fill(None) == charts.MISSING_FILL


def test_text_contrasts_with_its_fill():
    assert charts.text_on(charts.AGREEMENT_STOPS[-1]) == charts.LIGHT_TEXT
    assert charts.text_on(charts.AGREEMENT_STOPS[0]) == charts.DARK_TEXT


def test_class_bars_are_proportional_to_the_values():
    rows = [
        {"class": "clean", "labels": 10, "specific_agreement": 0.5, "gold_recall": 1.0},
        {"class": "dent", "labels": 4, "specific_agreement": None, "gold_recall": 0.25},
    ]

    chart = charts.class_bars(rows, {"clean": "Clean"}, width=500, label_width=100, value_width=50)

    assert chart.has_gold
    assert chart.plot_width == 350
    clean, dent = chart.rows
    assert clean.name == "Clean"
    assert dent.name == "dent"  # no name known: the key
    assert [(bar.series, bar.width, bar.text) for bar in clean.bars] == [
        ("agreement", 175, "0.500"),
        ("gold", 350, "1.000"),
    ]
    assert (dent.bars[0].width, dent.bars[0].text) == (0, "—")
    assert dent.y > clean.y
    assert chart.height > dent.y
    assert [tick.text for tick in chart.ticks] == ["0.00", "0.25", "0.50", "0.75", "1.00"]


def test_class_bars_without_gold_draw_one_bar_per_class():
    chart = charts.class_bars([{"class": "a", "specific_agreement": 0.9, "gold_recall": None}])

    assert not chart.has_gold
    assert len(chart.rows[0].bars) == 1


def test_heatmap_cells():
    pairwise = {
        "labelers": ["ana", "ben", "cy"],
        "kappa": [[1.0, 0.5, None], [0.5, 1.0, -0.1], [None, -0.1, 1.0]],
        "percent": [[1.0, 0.75, None], [0.75, 1.0, 0.4], [None, 0.4, 1.0]],
        "shared": [[4, 4, 0], [4, 5, 3], [0, 3, 3]],
    }

    heat = charts.heatmap(pairwise)

    assert heat.size == 3
    assert len(heat.cells) == 9
    by_pos = {(c.row, c.col): c for c in heat.cells}
    assert {by_pos[(i, i)].kind for i in range(3)} == {"self"}
    assert by_pos[(0, 1)].kind == "value"
    assert by_pos[(0, 1)].text == "0.50"
    assert by_pos[(0, 1)].title == "ana × ben: κ = 0.500, 75.0% agreement on 4 shared items"
    assert by_pos[(0, 2)].kind == "missing"
    assert by_pos[(1, 2)].fill == charts.BELOW_CHANCE
    # cells sit on a grid right of and under the labels, and the SVG holds them all
    assert by_pos[(1, 2)].x == by_pos[(0, 2)].x
    assert by_pos[(1, 2)].y == by_pos[(1, 0)].y
    assert by_pos[(2, 2)].x + heat.cell <= heat.width
    assert by_pos[(2, 2)].y + heat.cell <= heat.height


def test_heatmap_cells_shrink_for_many_labelers_and_drop_their_numbers():
    n = 40
    pairwise = {"labelers": [f"user{i}" for i in range(n)], "kappa": [[0.5] * n] * n}

    heat = charts.heatmap(pairwise)

    assert heat.cell == 12
    assert not heat.show_values
    assert heat.rotate_labels
    assert all(cell.text == "" for cell in heat.cells)


def test_heatmap_needs_labelers():
    assert charts.heatmap({}) is None
    assert charts.heatmap({"labelers": ["a"], "kappa": []}) is None


def test_confusion_rows_keep_the_reports_order_and_scale_to_the_largest():
    pairs = [
        {"a": "scratch", "b": "discoloration", "label_pairs": 20, "items": 14},
        {"a": "clean", "b": "dent", "label_pairs": 9, "items": 7},
        {"a": "clean", "b": "scratch", "label_pairs": 2, "items": 1},
    ]

    rows = charts.confusion_rows(pairs, {"scratch": "Scratch"}, limit=2)

    assert [(r.a, r.b, r.items, r.meter) for r in rows] == [
        ("Scratch", "discoloration", 14, 100.0),
        ("clean", "dent", 7, 50.0),
    ]


def test_slices_are_grouped_by_dimension():
    def row(name, value, alpha):
        return {
            "slice": name,
            "value": value,
            "items": 5,
            "share": 0.25,
            "krippendorff_alpha": {"value": alpha, "reason": None if alpha else "too few"},
            "hlp_agreement": {"value": 0.7, "reason": None},
            "hlp_gold": {"value": None, "reason": "no gold items"},
        }

    groups = charts.slice_groups(
        [row("camera", "A", 0.81), row("camera", "B", None), row("light", "dim", 0.5)]
    )

    assert [(g.name, [r.value for r in g.rows]) for g in groups] == [
        ("camera", ["A", "B"]),
        ("light", ["dim"]),
    ]
    first, second = groups[0].rows
    assert (first.alpha.text, first.alpha_level.key, first.share) == ("0.810", "good", "25%")
    assert (second.alpha.text, second.alpha.title) == ("—", "Undefined: too few")
    assert first.hlp_gold.title == "Undefined: no gold items"


def test_disagreement_cards_use_external_ids_and_sort_counts():
    top = [
        {"item_id": 7, "entropy": 1.0986, "majority_share": 0.3333, "labels": {"b": 1, "a": 2}},
        {"item_id": 9, "entropy": 0.69, "majority_share": 0.5, "labels": {"a": 1}},
    ]
    items = {7: {"external_id": "photo-7", "thumbnail": "thumbs/7.png", "excerpt": ""}}

    first, second = charts.disagreement_cards(top, items, {"a": "Alpha"})

    assert (first.external_id, first.has_thumbnail, first.majority_share) == (
        "photo-7",
        True,
        "33%",
    )
    assert [(c.name, c.count) for c in first.labels] == [("Alpha", 2), ("b", 1)]
    assert (second.external_id, second.has_thumbnail) == ("#9", False)


def test_overall_cards_in_reading_order():
    overall = {
        "krippendorff_alpha": {"value": 0.7, "reason": None, "low": 0.6, "high": 0.8},
        "fleiss_kappa": {"value": None, "reason": "no item has two or more labels", "items": 0},
        "hlp_gold": {"value": 0.9, "reason": None, "pooled": 0.88},
    }

    cards = charts.overall_cards(overall)

    assert [c.key for c in cards] == [
        "krippendorff_alpha",
        "gwet_ac1",
        "percent_agreement",
        "fleiss_kappa",
        "hlp_agreement",
        "hlp_gold",
    ]
    alpha, _, _, fleiss, _, gold = cards
    assert alpha.level.key == "tentative"
    assert alpha.mark.ticks == (66.7, 80.0)
    assert (alpha.mark.low, alpha.mark.value, alpha.mark.high) == (60.0, 70.0, 80.0)
    assert fleiss.figure.reason == "no item has two or more labels"
    assert fleiss.mark is None
    assert gold.note == "pooled over labels: 0.880"


def test_a_transcription_report_gets_error_rate_cards():
    overall = {
        "task": "transcription",
        "rule_set_version": 2,
        "krippendorff_alpha": {"value": 0.57, "reason": None, "distance": "word"},
        "exact_agreement": {"value": 0.028, "reason": None},
        "word_error_rate": {"value": 0.408, "reason": None},
        "character_error_rate": {"value": 0.222, "reason": None},
    }
    cards = charts.overall_cards(overall)
    assert [c.key for c in cards] == [
        "krippendorff_alpha",
        "exact_agreement",
        "word_error_rate",
        "character_error_rate",
    ]
    assert cards[1].note == "after rule set v2"
    assert cards[2].figure.value == 0.408


@pytest.mark.django_db
def test_a_transcription_projects_dashboard_shows_its_error_rates(client):
    from annotations.models import Membership, Project, Round, TaskType
    from tests.factories import UserFactory

    project = Project.objects.create(name="calls", task_type=TaskType.TRANSCRIPTION)
    Round.objects.create(project=project, number=1)
    labelers = [UserFactory() for _ in range(2)]
    for user in labelers:
        Membership.objects.create(project=project, user=user, role=Role.LABELER)
    manager = UserFactory()
    Membership.objects.create(project=project, user=manager, role=Role.MANAGER)
    item = ItemFactory(project=project)
    for user, text in zip(labelers, ["turn left", "turn right"], strict=True):
        annotation_submit(labeler=user, item_id=item.pk, value={"text": text}, idempotency_key="k")
    report_recompute(project_id=project.pk, version=1)
    client.force_login(manager)
    page = client.get(dashboard_url(project)).content.decode()
    assert "Word error rate" in page
    assert "Character error rate" in page
    assert "Gwet" not in page
