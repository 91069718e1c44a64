"""The consistency dashboard in a real browser: a reviewer finds it from home and reads the
charts; a manager asks for a fresh report after new labels and sees the stale badge go."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache

from annotations.models import Role
from annotations.services.annotations import annotation_submit
from consensus.models import ConsistencyReport
from consensus.tasks import report_recompute_task
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]


GRID = [
    ["clean", "dent", "scratch", "clean", "dent"],
    ["clean", "dent", "clean", "scratch", "dent"],
    ["clean", "scratch", "clean", "clean", "dent"],
]


def label(project, labelers, grid, *, prefix: str) -> None:
    items = ItemFactory.create_batch(len(grid[0]), project=project)
    for user, row in zip(labelers, grid, strict=True):
        for item, key in zip(items, row, strict=True):
            annotation_submit(
                labeler=user,
                item_id=item.pk,
                value={"label": key},
                idempotency_key=f"{prefix}-{user.pk}-{item.pk}",
                time_spent_ms=1800,
            )


@pytest.fixture
def labeled(project, member):
    """Three labelers' labels; each commit asks for a recompute, which runs eagerly (no broker),
    so the newest report covers them all."""
    cache.clear()
    labelers = [member(Role.LABELER, username=f"lab{n}") for n in range(3)]
    label(project, labelers, GRID, prefix="first")
    yield labelers
    cache.clear()


def open_dashboard(page, project) -> None:
    page.get_by_role("link", name=f"Consistency dashboard of {project.name}").click()
    expect()(page.get_by_role("heading", name=project.name, level=1)).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_reviewer_opens_the_dashboard_from_home(live_server, page, project, member, labeled):
    # given a reviewer and a report of three labelers
    member(Role.REVIEWER, username="sme")
    report = ConsistencyReport.objects.filter(project=project).order_by("-version").first()
    alpha = report.overall["krippendorff_alpha"]["value"]

    # when they log in and open the dashboard from their project card
    log_in(page, live_server.url, "sme")
    open_dashboard(page, project)

    # then they see the alpha card with its value, the heatmap, and no recompute button
    card = page.locator('[data-metric="krippendorff_alpha"]')
    expect()(card).to_be_visible()
    expect()(card.locator(".metric__value")).to_have_text(f"{alpha:.3f}")
    heatmap = page.get_by_role("img", name="Pairwise Cohen’s κ between 3 labelers")
    expect()(heatmap).to_be_visible()
    assert heatmap.locator("g.heatmap__cell").count() == 9
    expect()(page.locator("#fresh-badge")).to_have_text("Up to date")
    expect()(page.get_by_role("button", name="Recompute now")).to_have_count(0)
    # and the page fits 1280 px wide (it scrolls only vertically)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")


@pytest.mark.django_db(transaction=True)
def test_manager_recomputes_and_the_stale_badge_goes(
    live_server, page, project, member, labeled, monkeypatch
):
    # given new labels after the report, which did not start a recompute (as after a restart
    # of the cache, when nothing is queued)
    member(Role.MANAGER, username="boss")
    sent = []
    monkeypatch.setattr("consensus.tasks._send", sent.append)
    label(project, labeled, [["scratch"] * 2, ["dent"] * 2, ["clean"] * 2], prefix="new")
    monkeypatch.undo()
    assert sent, "the new labels asked for a recompute"
    cache.clear()
    before = ConsistencyReport.objects.filter(project=project).order_by("-version").first()

    # when the manager opens the dashboard
    log_in(page, live_server.url, "boss")
    open_dashboard(page, project)

    # then the report is marked stale
    badge = page.locator("#stale-badge")
    expect()(badge).to_be_visible()
    expect()(badge).to_contain_text("new labels since this report")

    # and when they click "Recompute now", the page reloads with a fresh report of all labels
    page.get_by_role("button", name="Recompute now").click()
    expect()(page.locator("#fresh-badge")).to_have_text("Up to date")
    expect()(badge).to_have_count(0)
    after = ConsistencyReport.objects.filter(project=project).order_by("-version").first()
    assert after.version > before.version
    assert after.n_annotations == before.n_annotations + 6
    expect()(page.locator(".dash-header__meta")).to_contain_text(
        f"{after.n_annotations} annotations"
    )


@pytest.mark.django_db(transaction=True)
def test_recompute_waits_for_a_queued_task_then_reloads(
    live_server, page, project, member, labeled, monkeypatch
):
    # given new labels whose recompute task waits in the broker (the worker has not run it)
    member(Role.ENGINEER, username="mle")
    monkeypatch.setattr("consensus.tasks._send", lambda project_id: None)
    label(project, labeled, [["scratch"], ["dent"], ["clean"]], prefix="queued")

    # when the engineer clicks "Recompute now" (coalesced with the queued task)
    log_in(page, live_server.url, "mle")
    open_dashboard(page, project)
    expect()(page.locator("#stale-badge")).to_be_visible()
    page.get_by_role("button", name="Recompute now").click()

    # then the page says it is computing and waits ...
    expect()(page.locator("#recompute-status")).to_contain_text("Computing the report")
    expect()(page.get_by_role("button", name="Recomputing…")).to_be_disabled()

    # ... until the worker runs the queued task; then it reloads with the fresh report
    monkeypatch.undo()
    report_recompute_task.apply(args=(project.pk,))
    expect()(page.locator("#fresh-badge")).to_have_text("Up to date", timeout=15_000)
    expect()(page.locator("#stale-badge")).to_have_count(0)
