"""Benchmark of the consistency engine: a full project recompute on PostgreSQL.

What it measures
    One project with ``--items`` items (200,000) × ``--labels`` labels each (5 → 1,000,000
    annotations) from ``--labelers`` labelers (50), 6 classes including borderline, and 4 slice
    values (camera A/B × lighting bright/dim). It prints:

    * ``load``: reading the round's labels into NumPy (``consensus.data.project_labels_load``);
    * ``math``: every figure of the report (``consensus.services.reports.report_build``);
    * ``end to end``: ``report_recompute`` — load, math, and writing the report and the items'
      consensus in one transaction; "all rows written" after deleting every stored consensus
      (the first report of a project), "unchanged" when a report already stored the same
      consensus (only changed rows are written);
    * peak memory (max RSS of a fresh process doing only that step);
    * the ``krippendorff`` package's time and peak memory for the same nominal alpha beside ours,
      and ours at 100 categories on the same shape.

Method
    Database ``--db`` (``labelhub_bench_recompute``) on 127.0.0.1:5432 (user postgres): created and
    migrated when missing (``--fresh`` recreates it); items and annotations are inserted with
    ``INSERT ... SELECT generate_series`` (labeler k of item i is (7i + 11k) mod L; a labeler is
    right with its own accuracy 0.55–0.95, else picks a random class). Each measured step runs
    ``--repeat`` times in a fresh Python process; the best time is printed.

Run: ``python bench/recompute.py`` (about two minutes on 2 cores, most of it seeding once).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
CLASSES = [
    ("ok", "normal"),
    ("scratch", "normal"),
    ("dent", "normal"),
    ("pit_mark", "normal"),
    ("discoloration", "normal"),
    ("borderline", "borderline"),
]


def _env(db: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
        "SECRET_KEY": "bench",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "labelhub.settings",
        "PYTHONPATH": str(REPO),
    }


def ensure_database(db: str, fresh: bool) -> bool:
    """Create (or recreate) the database; True when it is new and needs seeding."""
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if exists and fresh:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=_env(db), check=True
    )
    return not exists


SEED = """
import django, random
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
from annotations.models import Membership, Project, Role
from annotations.services.projects import ClassSpec, project_create

n_items, n_labels, n_labelers = {items}, {labels}, {labelers}
User = get_user_model()
manager = User.objects.create_user("bench-manager")
project = project_create(creator=manager, name="bench", overlap=n_labels,
                         classes=[ClassSpec(key=k, kind=kind) for k, kind in {classes!r}])
users = User.objects.bulk_create(User(username=f"bench-labeler-{{i}}") for i in range(n_labelers))
Membership.objects.bulk_create(Membership(project=project, user=u, role=Role.LABELER)
                               for u in users)
class_ids = list(project.classes.order_by("order").values_list("id", flat=True))
labeler_ids = [u.pk for u in users]
with connection.cursor() as cur:
    cur.execute("SELECT setseed(0.42)")
    cur.execute('''
        INSERT INTO annotations_item (project_id, external_id, text, image, image_url, thumbnail,
            slices, metadata, status, round, labels_done, created_at)
        SELECT %s, 'item-' || i, 'text ' || i, '', '', '',
            jsonb_build_object('camera', CASE WHEN i %% 2 = 0 THEN 'A' ELSE 'B' END,
                               'lighting', CASE WHEN i %% 3 = 0 THEN 'dim' ELSE 'bright' END),
            '{{}}', 'complete', 1, %s, now()
        FROM generate_series(1, %s) AS i''', [project.pk, n_labels, n_items])
    cur.execute('''
        WITH items AS (
            SELECT id, row_number() OVER (ORDER BY id) AS i,
                   (ARRAY[0,0,0,1,1,2,3,4,5])[1 + floor(random() * 9)::int] AS truth
            FROM annotations_item WHERE project_id = %s),
        labels AS (
            SELECT items.id AS item_id, items.i, k, items.truth,
                   ((7 * items.i + 11 * k) %% %s) AS labeler
            FROM items, generate_series(0, %s - 1) AS k)
        INSERT INTO annotations_annotation (project_id, item_id, labeler_id, round, value,
            label_id, created_at, time_spent_ms, idempotency_key, withdrawn)
        SELECT %s, l.item_id, (%s::bigint[])[l.labeler + 1], 1,
            jsonb_build_object('label', 'x'),
            (%s::bigint[])[1 + CASE WHEN random() < 0.55 + 0.4 * l.labeler / %s
                                    THEN l.truth ELSE floor(random() * 6)::int END],
            now(), 1000 + floor(random() * 8000)::int, 'b-' || l.item_id || '-' || l.k, false
        FROM labels l''',
        [project.pk, n_labelers, n_labels, project.pk, labeler_ids, class_ids, n_labelers])
    cur.execute("ANALYZE")
print(project.pk)
"""

STEP = """
import django, json, resource, time
django.setup()
import numpy as np
from annotations.models import Project
from consensus.data import project_labels_load
from consensus.services.reports import report_build, report_recompute

project = Project.objects.get(pk={project_id})
step = {step!r}
t = time.perf_counter()
if step == "load":
    labels = project_labels_load(project=project)
elif step == "math":
    labels = project_labels_load(project=project)
    t = time.perf_counter()
    report_build(labels, {{}})
elif step in ("end_to_end_cold", "end_to_end"):
    if step == "end_to_end_cold":  # every item's consensus must be written
        from consensus.models import ItemConsensus
        ItemConsensus.objects.filter(project=project).delete()
        t = time.perf_counter()
    report = report_recompute(project_id=project.pk, version=int(time.time() * 1000))
elif step in ("package_alpha", "our_alpha", "our_alpha_100"):
    labels = project_labels_load(project=project)
    data = labels.matrix
    if step == "our_alpha_100":
        rng = np.random.default_rng(0)
        data = np.where(np.isnan(data), np.nan, rng.integers(0, 100, data.shape).astype(float))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    if step == "package_alpha":
        import krippendorff
        value = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    else:
        from consensus.metrics.agreement import krippendorff_alpha
        value = krippendorff_alpha(data).value
    elapsed = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"seconds": elapsed, "peak_mb": peak / 1024,
                      "extra_mb": (peak - base) / 1024, "alpha": float(value)}}))
    raise SystemExit
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "peak_mb": peak / 1024}}))
"""


def run_step(db: str, project_id: int, step: str, repeat: int) -> dict:
    best = None
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", STEP.format(project_id=project_id, step=step)],
            cwd=REPO,
            env=_env(db),
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="labelhub_bench_recompute")
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--labels", type=int, default=5)
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    if ensure_database(args.db, args.fresh):
        started = time.perf_counter()
        seed = SEED.format(
            items=args.items, labels=args.labels, labelers=args.labelers, classes=CLASSES
        )
        subprocess.run(
            [sys.executable, "-c", seed],
            cwd=REPO,
            env=_env(args.db),
            check=True,
            capture_output=True,
            text=True,
        )
        print(f"seeded in {time.perf_counter() - started:.1f} s")
    with psycopg.connect(dbname=args.db, **PG) as conn:
        project_id = conn.execute(
            "SELECT id FROM annotations_project WHERE name = 'bench'"
        ).fetchone()[0]
        n_ann = conn.execute(
            "SELECT count(*) FROM annotations_annotation WHERE project_id = %s", (project_id,)
        ).fetchone()[0]
    print(
        f"project {project_id}: {args.items:,} items, {n_ann:,} annotations, "
        f"{args.labelers} labelers, {len(CLASSES)} classes, 4 slice values"
    )
    figures = {}
    steps = (
        "load",
        "math",
        "end_to_end_cold",
        "end_to_end",
        "our_alpha",
        "package_alpha",
        "our_alpha_100",
    )
    for step in steps:
        figures[step] = run_step(args.db, project_id, step, args.repeat)
    rows = [
        ("load labels into NumPy", "load"),
        ("report math (all figures)", "math"),
        ("full recompute, all consensus rows written", "end_to_end_cold"),
        ("full recompute, consensus unchanged", "end_to_end"),
        ("nominal alpha, LabelHub", "our_alpha"),
        ("nominal alpha, krippendorff 0.9.0", "package_alpha"),
        ("nominal alpha, LabelHub, 100 categories", "our_alpha_100"),
    ]
    print(f"\n{'step':<42}{'best s':>9}{'peak RSS MB':>13}{'step MB':>9}")
    for name, key in rows:
        f = figures[key]
        extra = f"{f['extra_mb']:>9.0f}" if "extra_mb" in f else f"{'':>9}"
        print(f"{name:<42}{f['seconds']:>9.3f}{f['peak_mb']:>13.0f}{extra}")
    print(
        f"\nalpha: LabelHub {figures['our_alpha']['alpha']:.9f}, "
        f"package {figures['package_alpha']['alpha']:.9f}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
