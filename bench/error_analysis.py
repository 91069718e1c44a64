"""Benchmark of the error analysis (issue 7) on PostgreSQL: 1,000,000 predictions, 20 slices.

What it measures
    The issue's speed target, "metrics for 1,000,000 predictions over 20 slices in ≤ 1 s of
    math", on the real path: ``consensus.services.error_analysis.run_analysis`` over one model run.
    One project with ``--items`` items (1,000,000), ``--classes`` classes (10, skewed: the last one
    is rare, ~4 %), three slice dimensions — ``region`` with ``--slices`` values (20, uneven
    sizes, ~14 % down to ~3 %), ``camera`` (A/B, 60/40) and ``gender`` (f/m, the project's key
    slice for the audit, ``audit_slices=["gender"]``) — an ``ItemConsensus`` row per item
    (majority, round 1, 3 labels; the consensus is the true class 95 % of the time), gold labels
    on ``--gold`` of the items (0.05; the true class), and one shadow model run with a prediction
    per item: right with a region-dependent accuracy from 0.60 to 0.97, else a random class,
    ``predicted_at`` spread over 8 weeks. A ``ConsistencyReport`` holds ``hlp_agreement`` and
    ``hlp_gold`` for each of the 24 slice values, so every prioritisation row has an HLP.

    Each path runs once as a warm-up (which counts its SQL statements), then ``--runs`` times (5);
    printed: median, min and max wall time, time inside SQL calls, this process's CPU, the
    Postgres backend's CPU, other programs' CPU, the statement count:

    1. ``run_predictions_load``: the database read into NumPy (the run's rows packed as bytea,
       the slices as id arrays);
    2. the math alone: ``run_analysis`` with the loaded ``RunPredictions`` and the HLP lookup
       injected (``unittest.mock.patch`` of ``run_predictions_load`` and ``_hlp_by_slice`` in the
       service module: no SQL at all, checked), for reference=consensus and reference=gold —
       everything the service computes after loading; with a per-step breakdown (the whole
       report, the prioritisation table over the 3 dimensions, audit, weeks, JSON shaping) and
       the HLP read (the newest report, one statement) timed apart;
    3. ``run_analysis`` end to end, reference=consensus and reference=gold;
    4. ``GET /api/v1/runs/{id}/analysis/`` (both references) in-process through DRF's
       ``APIClient`` (every middleware, DEBUG off) as an engineer (``force_authenticate``);
    5. ``GET /api/v1/runs/{id}/analysis/priorities.csv``.

    Also: peak RSS of (3) in a fresh process doing only that (``ru_maxrss``, with the process's
    size before the call), the tracemalloc peak of (3) (a separate untimed run), the statements
    of (1) and (3) with their times, and EXPLAIN (ANALYZE, BUFFERS) of the run-rows query.
    When (2) takes more than ``--slow-math`` s (1.0) or (1) more than ``--slow-load`` s (1.0),
    a cProfile of one call: the top entries by cumulative and by own time.

Method
    Database ``--db`` (``labelhub_bench_errors``) on the server of ``DATABASE_URL`` (only host,
    port, user and password are taken from it): dropped if it exists, created, migrated, seeded
    with ``INSERT ... SELECT generate_series`` from a plan table (``setseed(0.42)``), VACUUM
    (ANALYZE)d, and dropped at the end (``--keep`` keeps it; ``--reuse`` measures a kept one).
    The helpers for the database, Django and the timed runs are ``bench/review_queue.py``'s.

Run: ``python bench/error_analysis.py`` (about 3 minutes on 2 cores, a minute of it seeding).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from review_queue import (
    drop_database,
    explain,
    measure,
    prepare_database,
    server_params,
    setup_django,
    wait_for_quiet,
)

REPO = Path(__file__).resolve().parent.parent
PROJECT_NAME = "bench-errors"
RUN_NAME, RUN_VERSION = "bench-model", "1"


def region_accuracy(r: int, n_slices: int) -> float:
    """The model's accuracy on region ``r``: 0.60–0.97, not in step with the region's size."""
    return 0.60 + 0.37 * ((7 * r) % n_slices) / (n_slices - 1)


def region_name(r: int) -> str:
    return f"region-{r:02d}"


# --------------------------------------------------------------------------------------- seeding


def seed(args: argparse.Namespace) -> None:
    """Users, the project, items, consensus, gold, the run and its predictions, in bulk SQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from annotations.models import Membership, Role
    from annotations.services.projects import ClassSpec, project_create
    from consensus.models import ConsistencyReport, ModelRun

    user_model = get_user_model()
    started = time.perf_counter()
    classes = [f"class-{k}" for k in range(args.classes)]
    with transaction.atomic():
        manager = user_model.objects.create_user("bench-manager")
        engineer = user_model.objects.create_user("bench-engineer")
        project = project_create(
            creator=manager, name=PROJECT_NAME, classes=[ClassSpec(key=k) for k in classes]
        )
        project.audit_slices = ["gender"]
        project.save(update_fields=["audit_slices"])
        Membership.objects.create(project=project, user=engineer, role=Role.ENGINEER)
        run = ModelRun.objects.create(
            project=project, name=RUN_NAME, version=RUN_VERSION, shadow=True, created_by=engineer
        )
        class_ids = list(project.classes.order_by("order").values_list("id", flat=True))
        accuracy = [region_accuracy(r, args.slices) for r in range(args.slices)]
        with connection.cursor() as cur:
            cur.execute("SELECT setseed(0.42)")
            # One plan row per item: region (skewed sizes), true class (skewed: class 0 the most
            # common, the last one rare), consensus, gold or not, the model's class, when.
            cur.execute(
                """
                CREATE TEMP TABLE bench_base ON COMMIT DROP AS
                SELECT i,
                       least(%(S)s - 1, floor(%(S)s * power(random(), 1.5)))::int AS region,
                       least(%(K)s - 1, floor(%(K)s * power(random(), 2.5)))::int AS truth
                FROM generate_series(1, %(n)s) AS i""",
                {"S": args.slices, "K": args.classes, "n": args.items},
            )
            cur.execute(
                """
                CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
                SELECT i, region, truth,
                       CASE WHEN random() < 0.95 THEN truth
                            ELSE floor(random() * %(K)s)::int END AS consensus,
                       random() < %(gold)s AS has_gold,
                       CASE WHEN random() < (%(acc)s::float8[])[1 + region] THEN truth
                            ELSE floor(random() * %(K)s)::int END AS predicted,
                       random() AS at
                FROM bench_base""",
                {"K": args.classes, "gold": args.gold, "acc": accuracy},
            )
            cur.execute(
                """
                INSERT INTO annotations_item (project_id, external_id, text, image, image_url,
                    thumbnail, slices, metadata, gold_label_id, status, round, labels_done,
                    created_at)
                SELECT %(project)s, 'item-' || i, 'text ' || i, '', '', '',
                    jsonb_build_object(
                        'region', 'region-' || lpad(region::text, 2, '0'),
                        'camera', CASE WHEN i %% 5 < 3 THEN 'A' ELSE 'B' END,
                        'gender', CASE WHEN (i::bigint * 7919) %% 11 < 6 THEN 'f' ELSE 'm' END),
                    '{}', CASE WHEN has_gold THEN (%(classes)s::bigint[])[1 + truth] END,
                    'complete', 1, 3, now()
                FROM bench_plan ORDER BY i""",
                {"project": project.pk, "classes": class_ids},
            )
            cur.execute(
                """
                CREATE TEMP TABLE bench_ids ON COMMIT DROP AS
                SELECT p.*, it.id AS item_id
                FROM bench_plan p
                JOIN annotations_item it
                  ON it.project_id = %s AND it.external_id = 'item-' || p.i""",
                [project.pk],
            )
            cur.execute(
                """
                INSERT INTO consensus_itemconsensus (item_id, project_id, round, label_id, method,
                    confidence, n_labels, majority_share, entropy, tied, updated_at)
                SELECT item_id, %(project)s, 1, (%(classes)s::bigint[])[1 + consensus],
                    'majority', s.share, 3, s.share,
                    CASE WHEN s.share = 1 THEN 0 ELSE 0.918296 END, false, now()
                FROM bench_ids,
                    LATERAL (SELECT CASE WHEN i %% 4 = 0 THEN 2.0 / 3 ELSE 1.0 END AS share) s""",
                {"project": project.pk, "classes": class_ids},
            )
            cur.execute(
                """
                INSERT INTO consensus_prediction (run_id, item_id, label_id, scores, predicted_at)
                SELECT %(run)s, item_id, (%(classes)s::bigint[])[1 + predicted], NULL,
                    timestamptz '2025-01-06 00:00:00+00' + at * interval '56 days'
                FROM bench_ids ORDER BY item_id""",
                {"run": run.pk, "classes": class_ids},
            )
        # HLP per slice value, as report_recompute writes it: agreement a little above the
        # model on most regions (gap 0.01–0.09), one region where the model beats the humans.
        per_slice = []
        for r in range(args.slices):
            hlp = min(0.99, accuracy[r] + 0.01 + 0.02 * ((3 * r) % 5))
            if r == args.slices - 1:
                hlp = accuracy[r] - 0.02
            per_slice.append(("region", region_name(r), hlp))
        # camera and gender: a little above the model's expected accuracy on the whole.
        edges = [(r / args.slices) ** (2 / 3) for r in range(args.slices + 1)]  # region shares
        expected = sum((edges[r + 1] - edges[r]) * accuracy[r] for r in range(args.slices))
        per_slice += [("camera", "A", expected + 0.05), ("camera", "B", expected + 0.03)]
        per_slice += [("gender", "f", expected + 0.04), ("gender", "m", expected + 0.04)]
        ConsistencyReport.objects.create(
            project=project,
            round=1,
            version=1,
            computed_at=timezone.now(),
            duration_ms=0,
            n_items=args.items,
            n_labeled_items=args.items,
            n_annotations=3 * args.items,
            n_labelers=50,
            overall={
                "hlp_agreement": {"value": round(expected + 0.04, 4), "reason": None},
                "hlp_gold": {"value": round(expected + 0.06, 4), "reason": None, "pooled": None},
            },
            per_slice=[
                {
                    "slice": name,
                    "value": value,
                    "hlp_agreement": {"value": round(hlp, 4), "reason": None},
                    "hlp_gold": {"value": round(min(0.995, hlp + 0.02), 4), "reason": None},
                }
                for name, value, hlp in per_slice
            ],
        )
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def describe(project, run) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT
              (SELECT count(*) FROM annotations_item WHERE project_id = %(p)s),
              (SELECT count(*) FROM annotations_item
                WHERE project_id = %(p)s AND gold_label_id IS NOT NULL),
              (SELECT count(*) FROM consensus_itemconsensus WHERE project_id = %(p)s),
              (SELECT count(*) FROM consensus_prediction WHERE run_id = %(r)s),
              (SELECT count(*) FROM consensus_prediction p JOIN consensus_itemconsensus c
                 ON c.item_id = p.item_id WHERE p.run_id = %(r)s AND p.label_id = c.label_id),
              (SELECT count(DISTINCT slices->>'region') FROM annotations_item
                WHERE project_id = %(p)s)""",
            {"p": project.pk, "r": run.pk},
        )
        names = ("items", "gold", "consensus", "predictions", "agree", "regions")
        return dict(zip(names, cur.fetchone(), strict=True))


# ------------------------------------------------------------------------------------ measuring


def profile(title: str, call: Callable[[], object], top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    for order, count in (("cumulative", top), ("tottime", top)):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(count)
        text = out.getvalue()
        print(f"\n== cProfile of {title}, top {count} by {order} ==")
        print(text[text.find("   ncalls") :].rstrip())


def timed(call: Callable[[], object], runs: int) -> list[float]:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def child_rss(reference: str) -> None:
    """In a fresh process: ``run_analysis`` once; prints the RSS before and the peak (JSON)."""
    from consensus.models import ModelRun
    from consensus.services.error_analysis import run_analysis

    def status_mb(field: str) -> float:  # VmRSS / VmHWM of this process, in MB
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise LookupError(field)

    run = ModelRun.objects.select_related("project").get(name=RUN_NAME, version=RUN_VERSION)
    before = status_mb("VmRSS")
    # "5" resets the peak (VmHWM) to the current RSS. (ru_maxrss is no use here: Linux carries
    # the parent's peak over fork and exec.)
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    result = run_analysis(run=run, reference=reference)
    seconds = time.perf_counter() - started
    peak = status_mb("VmHWM")
    figures = {"before_mb": before, "peak_mb": peak, "seconds": seconds}
    print(json.dumps({**figures, "compared": result["compared"]}))


def rss_of(args: argparse.Namespace, reference: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--db", args.db, "--child-rss", reference],
        cwd=REPO,
        env=os.environ.copy(),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="labelhub_bench_errors")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--slices", type=int, default=20, help="values of the region dimension")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--gold", type=float, default=0.05, help="share of items with gold")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per path (median)")
    parser.add_argument("--slow-math", type=float, default=1.0, help="cProfile (2) above (s)")
    parser.add_argument("--slow-load", type=float, default=1.0, help="cProfile (1) above (s)")
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument("--explain-lines", type=int, default=40)
    parser.add_argument(
        "--wait-quiet", type=float, default=120, help="wait up to this long (s) for an idle machine"
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="re-measure a path when others took > 20 %% of a core",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database as it is")
    parser.add_argument("--child-rss", choices=("consensus", "gold"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    pg = server_params()
    if args.child_rss:
        setup_django(pg, args.db)
        child_rss(args.child_rss)
        return
    try:
        fresh = prepare_database(pg, args.db, args.reuse)
        setup_django(pg, args.db)
        run(args, fresh)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(pg, args.db)
            print(f"\ndropped database {args.db}")


def run(args: argparse.Namespace, fresh: bool) -> None:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIClient

    import consensus.services.error_analysis as service
    from consensus.data import run_predictions_load
    from consensus.metrics.classification import per_slice_reports
    from consensus.models import ModelRun

    if fresh:
        seed(args)
    run = ModelRun.objects.select_related("project").get(name=RUN_NAME, version=RUN_VERSION)
    project = run.project
    state = describe(project, run)
    print(
        f"project {project.pk}, run {run.pk}: {state['items']:,} items, {args.classes} classes, "
        f"slices region ({state['regions']} values) + camera (2) + gender (2, audited); "
        f"consensus rows {state['consensus']:,}; gold {state['gold']:,}; "
        f"predictions {state['predictions']:,} (agree with consensus "
        f"{state['agree'] / max(state['predictions'], 1):.1%}), over 8 weeks"
    )

    engineer = get_user_model().objects.get(username="bench-engineer")
    client = APIClient()
    client.force_authenticate(user=engineer)

    # The loaded data and HLP lookups the math runs on (read once, outside the timings).
    data = run_predictions_load(run_id=run.pk, project=project)
    hlp = {ref: service._hlp_by_slice(project, ref) for ref in service.REFERENCES}

    def load() -> str:
        loaded = run_predictions_load(run_id=run.pk, project=project)
        return f"{loaded.item_ids.size:,} rows, {len(loaded.slices)} slice dimensions"

    def injected(reference: str) -> Callable[[], dict]:
        def call() -> dict:
            with (
                mock.patch.object(service, "run_predictions_load", return_value=data),
                mock.patch.object(service, "_hlp_by_slice", side_effect=lambda _p, r: hlp[r]),
            ):
                return service.run_analysis(run=run, reference=reference)

        return call

    def summary(result: dict) -> str:
        top = result["priorities"][0]
        return (
            f"compared {result['compared']:,}, accuracy {result['overall']['accuracy']:.4f}, "
            f"{len(result['priorities'])} priority rows (top {top['slice']}={top['value']}, "
            f"gap×share {top['gap_x_share']}), {len(result['weeks'])} weeks"
        )

    def math(reference: str) -> Callable[[], str]:
        call = injected(reference)
        return lambda: summary(call())

    def end_to_end(reference: str) -> Callable[[], str]:
        return lambda: summary(service.run_analysis(run=run, reference=reference))

    def api(url: str) -> Callable[[], str]:
        def call() -> str:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content[:500])
            size = f"{len(response.content) / 1024:.1f} KiB"
            if response["Content-Type"].startswith("text/csv"):
                lines = response.content.decode().count("\n")
                return f"{lines - 1} CSV rows, {size}"
            return f"{summary(response.json())}, {size}"

        return call

    base = f"/api/v1/runs/{run.pk}/analysis/"
    paths = [
        ("(1) run_predictions_load", load),
        ("(2) math, reference=consensus", math("consensus")),
        ("(2) math, reference=gold", math("gold")),
        ("(3) run_analysis, reference=consensus", end_to_end("consensus")),
        ("(3) run_analysis, reference=gold", end_to_end("gold")),
        ("(4) GET analysis/", api(base)),
        ("(4) GET analysis/?reference=gold", api(f"{base}?reference=gold")),
        ("(5) GET analysis/priorities.csv", api(f"{base}priorities.csv")),
    ]
    busy, waited = wait_for_quiet(args.wait_quiet)
    print(f"machine busy {busy:.2f} cores before measuring (waited {waited:.0f} s for quiet)")
    results = []
    for name, call in paths:
        # Other programs on a 2-core machine skew a path: measure it again (up to --retries
        # times, after waiting for quiet) and keep the least disturbed attempt.
        attempts = [measure(name, call, args.runs)]
        while attempts[-1].other_share > 20 and len(attempts) <= args.retries:
            wait_for_quiet(args.wait_quiet)
            attempts.append(measure(name, call, args.runs))
        best = min(attempts, key=lambda p: p.other_share)
        best.attempts = len(attempts)
        results.append(best)

    med = statistics.median
    print(
        f"\n{'path':<40}{'median s':>9}{'min s':>7}{'max s':>7}{'SQL s':>7}{'py CPU':>7}"
        f"{'pg CPU':>7}{'other%':>7}{'stmts':>6}  result"
    )
    for p in results:
        print(
            f"{p.name:<40}{med(p.wall):>9.3f}{min(p.wall):>7.3f}{max(p.wall):>7.3f}"
            f"{med(p.sql):>7.3f}{med(p.cpu):>7.3f}{med(p.postgres):>7.3f}{p.other_share:>7.0f}"
            f"{p.statements:>6}  {p.result}"
            + (f" [attempt {p.attempts}]" if p.attempts > 1 else "")
        )
    print(
        f"median of {args.runs} runs after one warm-up. SQL s: time inside SQL calls (Postgres and "
        "the rows' transfer, not their conversion to Python objects); py CPU: this process's CPU "
        "seconds; pg CPU: its Postgres backend's; other%: CPU of everything else on the machine "
        "during the timed runs, in % of one core (clock ticks of 10 ms)"
    )
    noisy = [p.name for p in results if p.other_share > 20]
    if noisy:
        print(f"WARNING: other programs took > 20 % of a core during {', '.join(noisy)}")
    by_name = {p.name: p for p in results}
    math_median = max(med(by_name[f"(2) math, reference={r}"].wall) for r in service.REFERENCES)
    verdict = "MET" if math_median <= 1.0 else "MISSED"
    print(f"target (math ≤ 1 s for 1,000,000 predictions over 20 slices): {verdict}")

    # The steps of the math, on the loaded data (reference=consensus).
    truth = data.consensus
    labels = list(range(len(data.class_keys)))
    zeros = [None]

    def whole_report():
        zeros[0] = per_slice_reports(
            truth, data.predicted, np.zeros(data.item_ids.size), labels=labels
        ).overall
        return zeros[0]

    whole = whole_report()
    reports = [None]

    def priorities():
        rows, reports[0] = service._priorities(data, truth, hlp["consensus"][0], 30)
        return rows

    priorities()
    steps = [
        ("whole report (per_slice_reports, 1 slice)", whole_report),
        ("prioritisation table (3 dimensions, 24 values)", priorities),
        ("audit (gender)", lambda: service._audit(project, reports[0], whole)),
        ("weeks (shadow mode)", lambda: service._weeks(data, truth)),
        (
            "overall + classes + confusion (JSON shaping)",
            lambda: (service._overall(whole), service._classes(whole, data.class_keys)),
        ),
        ("HLP read (newest ConsistencyReport, SQL)", lambda: service._hlp_by_slice(project, "x")),
    ]
    print(f"\n== steps of (2), reference=consensus, median of {args.runs} (min–max) ==")
    for name, call in steps:
        times = timed(call, args.runs)
        print(f"  {name:<50}{med(times):>8.4f} s  ({min(times):.4f}–{max(times):.4f})")
    arrays = (data.item_ids, data.predicted, data.consensus, data.gold, data.predicted_at)
    print(
        f"  loaded arrays: {data.item_ids.size:,} predictions; "
        f"{sum(a.nbytes for a in arrays) / 2**20:.0f} MiB + "
        f"{sum(s.codes.nbytes for s in data.slices) / 2**20:.0f} MiB of slice codes"
    )

    print("\n== memory of (3) ==")
    for reference in service.REFERENCES:
        rss = rss_of(args, reference)
        print(
            f"  reference={reference:<9} fresh process: RSS {rss['before_mb']:.0f} MB before, "
            f"peak {rss['peak_mb']:.0f} MB (+{rss['peak_mb'] - rss['before_mb']:.0f} MB), "
            f"cold call {rss['seconds']:.2f} s"
        )
        tracemalloc.start()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        service.run_analysis(run=run, reference=reference)
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        mib = peak / 2**20
        print(f"  reference={reference:<9} tracemalloc peak (Python + NumPy): {mib:.0f} MiB")

    for name in ("(1) run_predictions_load", "(3) run_analysis, reference=consensus"):
        print(f"\n== statements of {name}, last timed run ==")
        for text, seconds in by_name[name].last.statements:
            print(f"  {1000 * seconds:9.1f} ms  {' '.join(text.split())[:150]}")
    print("\n== statements of (4) GET analysis/, last timed run ==")
    for text, seconds in by_name["(4) GET analysis/"].last.statements:
        print(f"  {1000 * seconds:9.1f} ms  {' '.join(text.split())[:150]}")

    sent = by_name["(1) run_predictions_load"].captured
    rows_sql = next(q for q in sent if "string_agg" in q)
    slices_sql = next(q for q in sent if "jsonb_each_text" in q)
    explain("the run-rows query of (1), as sent", rows_sql, None, args.explain_lines)
    explain("the slices query of (1), as sent", slices_sql, None, args.explain_lines)
    with connection.cursor() as cur:  # how much the slices query hands to Python
        cur.execute(
            f"SELECT count(*), sum(cardinality(ids)) FROM ({slices_sql}) AS groups(key, value, ids)"
        )
        groups, ids = cur.fetchone()
    print(f"\nslices query: {groups} groups holding {ids:,} item ids (one Python int each)")

    if med(by_name["(1) run_predictions_load"].wall) > args.slow_load:
        profile("(1) run_predictions_load", load, args.profile_top)
    if math_median > args.slow_math:
        profile("(2) math, reference=consensus", injected("consensus"), args.profile_top)


if __name__ == "__main__":
    main()
