"""The ML engineer's pages in a real browser: the list of model runs with its upload form, and a
run's error analysis (DOMAIN.md sections 2–5) built on the speech table of section 3.

The project is made directly in the database, as the error-analysis service tests do: 5,000
items over four background slices with the shares, model accuracies and HLPs DOMAIN.md prints,
a consensus label per item, a shadow model run with a prediction per item over six weeks, gold
labels on a tenth of the items and a consistency report carrying per-slice HLP."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotations.models import Item, LabelClass, Role
from consensus.models import ConsistencyReport, ItemConsensus, ModelRun, Prediction
from tests.browser.helpers import expect, log_in
from tests.factories import ItemFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path("/tmp/shots3")

# DOMAIN.md section 3: slice, items (share × 5,000), correct predictions, HLP (agreement), and a
# labeler accuracy on gold for the gold reference.
SPEECH = [
    ("clean speech", 3000, 2820, 0.95, 0.97),
    ("car noise", 200, 178, 0.93, 0.96),
    ("people noise", 1500, 1305, 0.89, 0.91),
    ("low bandwidth", 300, 210, 0.70, 0.75),
]
WEEK_ZERO = datetime(2026, 9, 7, 10, tzinfo=UTC)  # a Monday
WEEKS = 6


def _truth(i: int) -> str:
    """The humans' label of the slice's i-th item: 2% dent (rare, and the model never says
    dent), 20% scratch, the rest clean."""
    if i % 50 == 7:
        return "dent"
    if i % 5 == 2:
        return "scratch"
    return "clean"


def build_speech_run(project, *, created_by=None) -> ModelRun:
    """The speech table as items, consensus, gold, predictions and a consistency report."""
    classes = {c.key: c for c in LabelClass.objects.filter(project=project)}
    plan = []  # (slice, truth, gold?, correct?)
    for value, n, correct, _, _ in SPEECH:
        truths = [_truth(i) for i in range(n)]
        # Wrong: every dent item, then the slice's last items until n - correct are wrong.
        wrong = {i for i, t in enumerate(truths) if t == "dent"}
        for i in reversed(range(n)):
            if len(wrong) >= n - correct:
                break
            wrong.add(i)
        plan += [(value, t, i % 10 == 3, i not in wrong) for i, t in enumerate(truths)]
    items = Item.objects.bulk_create(
        Item(
            project=project,
            external_id=f"clip-{k}",
            slices={"background": value},
            gold_label=classes[truth] if gold else None,
        )
        for k, (value, truth, gold, _) in enumerate(plan)
    )
    ItemConsensus.objects.bulk_create(
        ItemConsensus(item=item, project=project, round=1, label=classes[truth], method="majority")
        for item, (_, truth, _, _) in zip(items, plan, strict=True)
    )
    run = ModelRun.objects.create(
        project=project, name="asr-conformer", version="3", shadow=True, created_by=created_by
    )
    miss = {"clean": "scratch", "scratch": "clean", "dent": "clean"}
    Prediction.objects.bulk_create(
        Prediction(
            run=run,
            item=item,
            label=classes[truth if right else miss[truth]],
            predicted_at=WEEK_ZERO + timedelta(weeks=k % WEEKS, hours=k % 50),
        )
        for k, (item, (_, truth, _, right)) in enumerate(zip(items, plan, strict=True))
    )
    ConsistencyReport.objects.create(
        project=project,
        round=1,
        version=1,
        computed_at=timezone.now(),
        duration_ms=1,
        n_items=len(items),
        n_labeled_items=len(items),
        n_annotations=3 * len(items),
        n_labelers=3,
        overall={"hlp_agreement": {"value": 0.925}, "hlp_gold": {"value": 0.95}},
        per_slice=[
            {
                "slice": "background",
                "value": value,
                "hlp_agreement": {"value": hlp},
                "hlp_gold": {"value": gold},
            }
            for value, _, _, hlp, gold in SPEECH
        ],
    )
    project.audit_slices = ["background"]
    project.audit_margin = 0.05
    project.save(update_fields=["audit_slices", "audit_margin"])
    return run


def shoot(page, name: str) -> None:
    """A 1280×800 screenshot and a full-page one, for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.screenshot(path=str(SHOTS / f"{name}-full.png"), full_page=True)


def run_url(base: str, project, run, query: str = "") -> str:
    return f"{base}/projects/{project.pk}/models/{run.pk}/{query}"


def cells(row, col: str) -> str:
    return row.locator(f'[data-col="{col}"]').inner_text().strip()


@pytest.fixture
def speech(project, member):
    engineer = member(Role.ENGINEER, username="mle")
    return build_speech_run(project, created_by=engineer)


@pytest.mark.django_db(transaction=True)
def test_engineer_reads_where_work_pays_most(live_server, page, project, speech):
    # given the speech project and its shadow run
    # when the engineer opens the run's analysis
    log_in(page, live_server.url, "mle")
    page.goto(run_url(live_server.url, project, speech))
    rows = page.locator("table.ma-priorities tbody tr")
    expect()(rows).to_have_count(4)

    # then the prioritisation table reads as DOMAIN.md prints it, in the API's order
    got = [
        (
            row.get_attribute("data-value"),
            cells(row, "accuracy").splitlines()[0],
            cells(row, "hlp"),
            cells(row, "gap"),
            cells(row, "share"),
            cells(row, "gap_x_share"),
        )
        for row in rows.all()
    ]
    assert got == [
        ("clean speech", "94%", "95%", "1%", "60%", "0.6%"),
        ("people noise", "87%", "89%", "2%", "30%", "0.6%"),
        ("car noise", "89%", "93%", "4%", "4%", "0.16%"),
        ("low bandwidth", "70%", "70%", "0%", "6%", "0%"),
    ]
    # the top row is where work pays most (people noise ties it at 0.6%), with its interval
    first = rows.first
    expect()(first).to_have_class("ma-priority ma-row--top")
    expect()(first.locator(".ma-flag--top")).to_have_text("Where work pays most")
    expect()(first.locator(".ma-ci")).to_have_text("93.1–94.8%")
    expect()(rows.nth(3)).not_to_have_class("ma-priority ma-row--top")

    # and headline figures: accuracy with its interval against HLP 92.5%
    accuracy = page.locator('[data-metric="accuracy"]')
    expect()(accuracy.locator(".metric__value")).to_have_text("90.3%")
    expect()(page.locator('[data-metric="hlp"] .metric__value')).to_have_text("92.5%")
    expect()(page.locator('[data-metric="gap"] .metric__value')).to_have_text("2.2%")
    expect()(page.locator('[data-metric="compared"] .metric__value')).to_have_text("5,000")

    # and dent, which the model never predicts, has an undefined precision, not 0, and is rare
    dent = page.locator('table.ma-classes tr[data-class="dent"]')
    precision = dent.locator('[data-col="precision"]')
    expect()(precision.locator(".ma-undef")).to_contain_text("undefined")
    assert not re.search(r"\d%", precision.inner_text())
    assert "0/0" in precision.locator(".ma-undef").get_attribute("title")
    expect()(dent.locator('[data-col="recall"]')).to_have_text("0%")
    expect()(dent.locator(".ma-flag--rare")).to_have_text("rare")
    expect()(dent.locator(".ma-pill--fn")).to_have_text("More false negatives")
    expect()(page.locator(".ma-notes").first).to_contain_text("no predicted positives")
    expect()(page.locator("table.ma-classes")).not_to_contain_text("NaN")

    # and the confusion matrix: dent items the model called clean, on the diagonal or not
    heatmap = page.get_by_role("table", name="Confusion matrix")
    expect()(heatmap).to_be_visible()
    diagonal = heatmap.locator('td[data-reference="clean"][data-model="clean"]')
    expect()(diagonal).to_have_class("ma-cm__cell ma-cm__cell--diag")
    dent_as_clean = heatmap.locator('td[data-reference="dent"][data-model="clean"] .ma-cm__count')
    expect()(dent_as_clean).to_have_text("100")
    assert "100 items" in heatmap.locator(
        'td[data-reference="dent"][data-model="clean"]'
    ).get_attribute("title")

    # and the audit flags low bandwidth, and the weeks of the shadow run have a chart
    low = page.locator('table.ma-audit tr[data-value="low bandwidth"]')
    expect()(low).to_have_class("ma-audit-row ma-row--warning")
    expect()(low.locator(".ma-flag--warning")).to_contain_text("accuracy")
    expect()(page.locator("table.ma-weeks tbody tr")).to_have_count(WEEKS)
    expect()(page.get_by_role("img", name="Model–human agreement by week")).to_be_visible()

    # and the page scrolls only vertically at 1280 px
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    shoot(page, "analysis-consensus")
    page.locator("#confusion-panel").screenshot(path=str(SHOTS / "confusion-panel.png"))


@pytest.mark.django_db(transaction=True)
def test_switching_to_gold_changes_the_figures_and_the_url(live_server, page, project, speech):
    # given the analysis against consensus
    log_in(page, live_server.url, "mle")
    page.goto(run_url(live_server.url, project, speech, "?min_slice_items=30"))
    compared = page.locator('[data-metric="compared"]')
    expect()(compared.locator(".metric__value")).to_have_text("5,000")
    hlp = page.locator('[data-metric="hlp"] .metric__value')
    expect()(hlp).to_have_text("92.5%")

    # when they switch the reference to gold
    page.get_by_text("Gold labels", exact=True).click()

    # then the figures are against the 500 gold items, with the labelers' gold accuracy as HLP
    expect()(compared.locator(".metric__value")).to_have_text("500")
    expect()(compared).to_contain_text("4,500 predictions without a gold label")
    expect()(hlp).to_have_text("95%")
    clean = page.locator('table.ma-priorities tr[data-value="clean speech"]')
    expect()(clean.locator('[data-col="hlp"]')).to_have_text("97%")
    # 20 gold items on car noise: fewer than 30, so greyed and ranked last
    car = page.locator("table.ma-priorities tbody tr").last
    expect()(car).to_have_attribute("data-value", "car noise")
    expect()(car).to_have_class("ma-priority ma-row--small")
    expect()(car).to_contain_text("Too small: 20 items, fewer than 30")
    # and the URL and the CSV links carry the reference
    assert "reference=gold" in page.url
    href = page.locator('a.ma-csv[data-table="priorities"]').get_attribute("href")
    assert "reference=gold" in href
    shoot(page, "analysis-gold")

    # when they lower the smallest slice to 10 items, car noise is ranked again
    page.get_by_label("Rank slices with at least").fill("10")
    page.get_by_role("button", name="Apply").click()
    expect()(car).not_to_have_class("ma-priority ma-row--small")
    assert "min_slice_items=10" in page.url

    # and back goes to the previous figures
    page.go_back()
    expect()(page.locator("table.ma-priorities tbody tr").last).to_have_class(
        "ma-priority ma-row--small"
    )
    page.go_back()
    expect()(compared.locator(".metric__value")).to_have_text("5,000")
    expect()(page.get_by_label("Consensus labels")).to_be_checked()


@pytest.mark.django_db(transaction=True)
def test_the_csv_link_downloads_the_table(live_server, page, project, speech):
    # given the analysis against gold
    log_in(page, live_server.url, "mle")
    page.goto(run_url(live_server.url, project, speech, "?reference=gold"))
    expect()(page.locator("table.ma-priorities tbody tr")).to_have_count(4)

    # when they download the prioritisation table
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV of the prioritisation table").click()
    download = info.value

    # then it is the same table, against gold
    assert download.suggested_filename == "asr-conformer-3-priorities.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert rows[0][:5] == ["slice", "value", "items", "share", "accuracy"]
    by_value = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert float(by_value["clean speech"]["hlp"]) == 0.97  # the gold HLP
    assert by_value["car noise"]["too_small"] == "True"
    # and the confusion matrix's CSV answers too, with its header line
    href = page.locator('a.ma-csv[data-table="confusion"]').get_attribute("href")
    head = page.evaluate(
        "async (url) => (await (await fetch(url)).text()).split('\\r\\n')[0]", href
    )
    assert head == "reference \\ model,clean,scratch,dent,borderline"


@pytest.mark.django_db(transaction=True)
def test_engineer_creates_a_run_and_uploads_a_csv(live_server, page, project, member):
    # given an engineer and three items
    member(Role.ENGINEER, username="mle")
    for n in range(3):
        ItemFactory(project=project, external_id=f"img-{n}")
    log_in(page, live_server.url, "mle")
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")
    expect()(page.locator("#runs-empty")).to_be_visible()

    # when they create a run and upload a file with an unknown class on row 2
    bad = "item,label,score_clean\nimg-0,clean,0.9\nimg-1,rust,0.2\nimg-2,cleen,0.4\n"
    page.get_by_label("Name").fill("resnet50")
    page.get_by_label("Version").fill("2")
    page.get_by_label("Predictions file").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    page.get_by_role("button", name="Create the run and upload").click()

    # then the row error is shown, nothing is imported, and the form now targets the new run
    error = page.get_by_role("alert")
    expect()(error.locator(".ma-error__title")).to_have_text(
        "Row 2, label: 'rust' is not a class of this project."
    )
    expect()(error.locator(".ma-error__details li")).to_have_text(
        ["Row 3, label: 'cleen' is not a class of this project."]
    )
    expect()(error).to_contain_text("Nothing from the file was saved")
    run = ModelRun.objects.get(project=project, name="resnet50", version="2")
    assert not Prediction.objects.filter(run=run).exists()
    expect()(page.get_by_label("An existing run")).to_be_checked()
    expect()(page.locator(f'#runs tr[data-run-id="{run.pk}"]')).to_contain_text("resnet50")
    shoot(page, "models-bad-file")

    # when they upload a corrected file into it
    good = "item,label,score_clean,predicted_at\nimg-0,clean,0.9,\nimg-1,dent,0.2,\n"
    page.get_by_label("Predictions file").set_input_files(
        files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    page.get_by_role("button", name="Upload to this run").click()

    # then the predictions are stored and the list counts them
    expect()(page.locator("#import-status")).to_contain_text(
        "Imported 2 predictions into resnet50 v2."
    )
    assert sorted(
        Prediction.objects.filter(run=run).values_list("item__external_id", "label__key")
    ) == [("img-0", "clean"), ("img-1", "dent")]
    row = page.locator(f'#runs tr[data-run-id="{run.pk}"]')
    expect()(row.locator("td.num")).to_have_text("2")
    expect()(page.get_by_role("alert")).to_be_hidden()
    shoot(page, "models-uploaded")

    # and the run's link opens its analysis
    page.get_by_role("link", name="Open its analysis →").click()
    expect()(page.get_by_role("heading", name="resnet50 v2", level=1)).to_be_visible()
    expect()(page.locator('[data-metric="compared"] .metric__value')).to_have_text("0")
    expect()(page.locator('[data-metric="accuracy"] .metric__value')).to_have_text("undefined")
    shoot(page, "analysis-nothing-compared")


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_run_names_the_version_field(live_server, page, project, member):
    # given a run resnet50 v2
    member(Role.MANAGER, username="boss")
    ModelRun.objects.create(project=project, name="resnet50", version="2")
    log_in(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")

    # when the manager tries to create it again
    page.get_by_label("Name").fill("resnet50")
    page.get_by_label("Version").fill("2")
    page.get_by_label("Predictions file").set_input_files(
        files=[{"name": "p.json", "mimeType": "application/json", "buffer": b"[]"}]
    )
    page.get_by_role("button", name="Create the run and upload").click()

    # then the version field says so and no second run exists
    expect()(page.locator("#run-version-error")).to_have_text("resnet50 2 exists in this project.")
    assert ModelRun.objects.filter(project=project).count() == 1


@pytest.mark.django_db(transaction=True)
def test_reviewer_lists_runs_without_the_form(live_server, page, project, member, speech):
    # given a reviewer
    member(Role.REVIEWER, username="sme")
    log_in(page, live_server.url, "sme")

    # when they open the model runs
    page.goto(f"{live_server.url}/projects/{project.pk}/models/")

    # then they see the shadow run, and no upload form
    row = page.locator(f'#runs tr[data-run-id="{speech.pk}"]')
    expect()(row).to_contain_text("asr-conformer")
    expect()(row.locator(".badge--shadow")).to_have_text("Shadow")
    expect()(row.locator("td.num")).to_have_text("5,000")
    expect()(row).to_contain_text("mle")
    expect()(page.locator("#import-form")).to_have_count(0)
    shoot(page, "models-reviewer")


@pytest.mark.django_db(transaction=True)
def test_model_analysis_is_linked_from_home_and_the_dashboard(live_server, page, project, member):
    # given a reviewer
    member(Role.REVIEWER, username="sme")
    log_in(page, live_server.url, "sme")

    # when they follow the link on their project card, and the one on the dashboard
    shoot(page, "home")
    page.get_by_role("link", name=f"Model analysis of {project.name}").click()
    expect()(page.get_by_role("heading", name="Model runs")).to_be_visible()
    page.goto(f"{live_server.url}/projects/{project.pk}/consistency/")
    shoot(page, "consistency-header")
    page.get_by_role("link", name="Model analysis").click()

    # then they reach the model runs
    expect()(page.get_by_role("heading", name="Model runs")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_a_labeler_is_refused(live_server, page, project, member, speech):
    # given a labeler of the project
    member(Role.LABELER, username="lab")
    log_in(page, live_server.url, "lab")

    # when they open the analysis and the runs
    answers = [
        page.goto(run_url(live_server.url, project, speech)),
        page.goto(f"{live_server.url}/projects/{project.pk}/models/"),
    ]

    # then both answer 403, and their project card has no model link
    assert [a.status for a in answers] == [403, 403]
    page.goto(f"{live_server.url}/")
    expect()(page.get_by_role("link", name=f"Model analysis of {project.name}")).to_have_count(0)
