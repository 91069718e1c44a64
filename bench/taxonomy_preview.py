"""Benchmark of the class-merge what-if preview on PostgreSQL (issue: "answers within a second
for 100,000 annotations").

What it measures
    One project with ``--items`` items (33,334) × 3 labels = 100,002 annotations from 20
    labelers, 6 classes (ok, deep_scratch, shallow_scratch, dent, pit, borderline), two slice
    dimensions; deep and shallow scratch are confused on ``--confused`` of the scratch items
    (0.4), other classes on ``--noise`` of all items (0.1). Then:

    1. ``class_merge_preview`` of deep_scratch + shallow_scratch → scratch (a new class), the
       whole service as the API calls it: read the labels, the report's coefficients before and
       after, the consensus change count. Median, min and max of ``--runs`` (5) after a warm-up,
       with the time in SQL and the peak Python memory of one run (tracemalloc);
    2. ``class_merge_apply`` of the same merge followed by the recompute it asks for (the API
       enqueues it; here it runs in-process), and whether the stored report equals the preview;
    3. the alpha before → after and the number of items whose consensus changes.

Method
    Database ``--db`` (``labelhub_bench_taxonomy``) on the server of ``DATABASE_URL``, dropped,
    created, migrated and seeded with ``INSERT ... SELECT generate_series``; dropped at the end
    unless ``--keep``.

Run: ``python bench/taxonomy_preview.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.review_queue import (  # noqa: E402 (the repository must be importable first)
    SqlClock,
    drop_database,
    prepare_database,
    server_params,
    setup_django,
)

CLASSES = ["ok", "deep_scratch", "shallow_scratch", "dent", "pit", "borderline"]


def seed(args: argparse.Namespace):
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotations.models import Membership, Role
    from annotations.services.projects import ClassSpec, project_create

    users = get_user_model()
    with transaction.atomic():
        manager = users.objects.create_user("bench-manager")
        project = project_create(
            creator=manager,
            name="bench-taxonomy",
            overlap=3,
            classes=[
                ClassSpec(key=k, kind="borderline" if k == "borderline" else "normal")
                for k in CLASSES
            ],
        )
        labelers = users.objects.bulk_create(
            users(username=f"bench-labeler-{i:02d}") for i in range(20)
        )
        Membership.objects.bulk_create(
            Membership(project=project, user=u, role=Role.LABELER) for u in labelers
        )
        class_ids = list(project.classes.order_by("order").values_list("id", flat=True))
        with connection.cursor() as cur:
            cur.execute("SELECT setseed(0.17)")
            cur.execute(
                """
                INSERT INTO annotations_item (project_id, external_id, text, image, image_url,
                    thumbnail, slices, metadata, status, round, labels_done, extra_labels,
                    created_at)
                SELECT %s, 'item-' || i, 'text ' || i, '', '', '',
                    jsonb_build_object('camera', CASE WHEN i %% 5 < 3 THEN 'A' ELSE 'B' END,
                                       'site', 'S' || (i %% 4)),
                    '{}', 'complete', 1, 3, 0, now()
                FROM generate_series(1, %s) AS i""",
                [project.pk, args.items],
            )
            # truth: ok 40%, deep 20%, shallow 20%, dent 10%, pit 10%; each label keeps the truth,
            # or swaps deep/shallow on scratch items, or (noise) picks any class.
            cur.execute(
                """
                INSERT INTO annotations_annotation (project_id, item_id, labeler_id, round, value,
                    label_id, created_at, time_spent_ms, idempotency_key, guideline_version,
                    withdrawn)
                SELECT %(project)s, item_id, (%(labelers)s::bigint[])[1 + (7 * i + 11 * k) %% 20],
                    1, jsonb_build_object('label', (%(keys)s::text[])[1 + code]),
                    (%(classes)s::bigint[])[1 + code], now(), 2000, 'b-' || item_id || '-' || k,
                    0, false
                FROM (
                    SELECT item_id, i, k,
                        CASE WHEN random() < %(noise)s THEN floor(random() * 6)::int
                             WHEN truth IN (1, 2) AND random() < %(confused)s THEN 3 - truth
                             ELSE truth END AS code
                    FROM (
                        SELECT id AS item_id, row_number() OVER (ORDER BY id) AS i,
                            (ARRAY[0,0,0,0,1,1,2,2,3,4])[1 + floor(random() * 10)::int] AS truth
                        FROM annotations_item WHERE project_id = %(project)s
                    ) AS items, generate_series(0, 2) AS k
                ) AS labels""",
                {
                    "project": project.pk,
                    "labelers": [u.pk for u in labelers],
                    "keys": CLASSES,
                    "classes": class_ids,
                    "noise": args.noise,
                    "confused": args.confused,
                },
            )
        Membership.objects.filter(project=project, user=manager).update(role=Role.MANAGER)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return project, manager


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=33_334)
    parser.add_argument("--confused", type=float, default=0.4)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default="labelhub_bench_taxonomy")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile one preview")
    args = parser.parse_args()

    pg = server_params()
    prepare_database(pg, args.db, reuse=False)
    setup_django(pg, args.db)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(pg, args.db)


def run(args: argparse.Namespace) -> None:
    from django.db import connection

    from annotations.models import Annotation
    from consensus.models import ConsistencyReport
    from consensus.services.reports import report_recompute
    from consensus.services.taxonomy import class_merge_apply, class_merge_preview

    started = time.perf_counter()
    project, manager = seed(args)
    annotations = Annotation.objects.filter(project=project).count()
    print(
        f"seeded {args.items:,} items, {annotations:,} annotations in "
        f"{time.perf_counter() - started:.1f} s"
    )
    report_recompute(project_id=project.pk, version=1)
    merge = {"sources": ["deep_scratch", "shallow_scratch"], "target": "scratch"}

    def preview() -> dict:
        return class_merge_preview(user=manager, project_id=project.pk, **merge)

    preview()  # warm-up
    times, sql_times = [], []
    for _ in range(args.runs):
        timer = SqlClock()
        with connection.execute_wrapper(timer):
            begun = time.perf_counter()
            result = preview()
            times.append(time.perf_counter() - begun)
        sql_times.append(timer.seconds)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(preview)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    tracemalloc.start()
    preview()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    alpha = [result[side]["overall"]["krippendorff_alpha"]["value"] for side in ("before", "after")]
    print(
        f"preview: median {statistics.median(times):.3f} s (min {min(times):.3f}, max "
        f"{max(times):.3f}; SQL median {statistics.median(sql_times):.3f} s); "
        f"peak Python memory {peak / 2**20:.0f} MB"
    )
    print(
        f"  alpha {alpha[0]:.3f} → {alpha[1]:.3f}; {result['changed_items']:,} items change "
        f"consensus; {result['labels_remapped']:,} labels remapped"
    )
    begun = time.perf_counter()
    class_merge_apply(user=manager, project_id=project.pk, **merge)
    applied = time.perf_counter() - begun
    begun = time.perf_counter()
    report = report_recompute(project_id=project.pk, version=2)
    recomputed = time.perf_counter() - begun
    stored = ConsistencyReport.objects.get(pk=report.pk)
    same = (
        stored.overall == result["after"]["overall"]
        and stored.per_class == result["after"]["per_class"]
    )
    print(
        f"apply: {applied:.3f} s (with the recompute it asks for, which runs in-process without a "
        f"broker), recompute again {recomputed:.3f} s; the stored report "
        f"{'equals' if same else 'DIFFERS FROM'} the preview's 'after'"
    )


if __name__ == "__main__":
    main()
