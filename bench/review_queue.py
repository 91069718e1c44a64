"""Benchmark of the disagreement-review read paths on PostgreSQL at scale.

What it measures
    One project with ``--items`` items (200,000), overlap ``--overlap`` (3), ``--labelers``
    labelers (50), 5 classes, 2 slice dimensions (camera A/B 60/40, lighting bright/dim 2/3 vs 1/3),
    ``--disputed`` of the items with non-unanimous labels (0.20; a seventh of them three-way),
    ``--flagged`` of the items flagged by a labeler (0.01; a quarter of those with both kinds) and
    ``--decided`` of the items carrying a current SME decision (0.02, all on disputed items). The
    confusion pairs are skewed, so one pair is the most common. The project's rule is ``any``.
    Then ``report_recompute`` (version 1) writes every item's consensus and the report whose
    ``per_slice`` shares the queue uses as slice weights; it is timed and printed.

    Each path runs once as a warm-up, then ``--runs`` times (5); the median wall time is printed
    with min, max, the median time inside SQL calls (Postgres and the transfer of the rows; turning
    rows into Python objects is not in it) and the number of SQL statements:

    1. ``disagreement_queue`` with no filter (the whole ranked queue);
    2. the same with ``pair=`` the most common confusion pair;
    3. the same with ``slices={"camera": "A"}``;
    4. ``GET /api/v1/projects/{id}/disagreements/?limit=50``;
    5. ``GET /api/v1/projects/{id}/disagreements/pairs/``;
    6. ``GET /api/v1/items/{id}/review/`` of the queue's first disputed item.

    The API calls go in-process through DRF's ``APIClient`` (every middleware, DEBUG off) as a
    reviewer (``force_authenticate``); no server. Also printed: peak Python memory of (1)
    (tracemalloc, a run of its own), the statements of (1) with their times, ``str(query)`` of the
    candidate queryset (``consensus.queue._candidates``) and EXPLAIN (ANALYZE, BUFFERS) of the
    candidate-rows statement (1) sends, as sent, with the JIT block when Postgres compiled one.
    When (1) takes more than ``--slow`` seconds (1.0), a cProfile of one call: the top 15
    entries by cumulative time and the top 10 by own time.

Method
    Database ``--db`` (``labelhub_bench_queue``) on the server of ``DATABASE_URL`` (only host, port,
    user and password are taken from it; default 127.0.0.1:5432, user postgres): dropped if it
    exists, created, migrated, seeded with ``INSERT ... SELECT generate_series`` (no services per
    row; labeler k of item i is (7i + 11k) mod L), VACUUM (ANALYZE)d after the recompute, and
    dropped at the end (``--keep`` keeps it; ``--reuse`` then measures a kept one without seeding).

Run: ``python bench/review_queue.py`` (under two minutes on 2 cores at 200,000 items).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
PROJECT_NAME = "bench-queue"
CLASSES = ["ok", "scratch", "dent", "pit_mark", "discoloration"]


def server_params() -> dict:
    """Host, port, user and password of ``DATABASE_URL`` (its database name is not used)."""
    url = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    params = {"host": url.hostname or "127.0.0.1", "port": url.port or 5432}
    params["user"] = url.username or "postgres"
    if url.password:
        params["password"] = url.password
    return params


def database_url(pg: dict, db: str) -> str:
    auth = pg["user"] + (f":{pg['password']}" if "password" in pg else "")
    return f"postgres://{auth}@{pg['host']}:{pg['port']}/{db}"


def drop_database(pg: dict, db: str) -> None:
    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


def prepare_database(pg: dict, db: str, reuse: bool) -> bool:
    """Create and migrate the database; True when it is new and needs seeding."""
    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if exists and not reuse:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    env = {**os.environ, **django_env(pg, db)}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    return not exists


def django_env(pg: dict, db: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url(pg, db),
        "DATABASE_CONN_MAX_AGE": "600",
        "SECRET_KEY": "bench",
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "labelhub.settings",
    }


def setup_django(pg: dict, db: str) -> None:
    os.environ.update(django_env(pg, db))
    # WhiteNoise warns once that collectstatic never ran; the API does not serve static files.
    warnings.filterwarnings("ignore", message="No directory at")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


# --------------------------------------------------------------------------------------- seeding


def seed(args: argparse.Namespace) -> None:
    """Users, the project, items, annotations, flags and decisions, all in bulk SQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotations.models import Membership, Role
    from annotations.services.projects import ClassSpec, project_create

    user_model = get_user_model()
    started = time.perf_counter()
    with transaction.atomic():
        manager = user_model.objects.create_user("bench-manager")
        reviewer = user_model.objects.create_user("bench-reviewer")
        project = project_create(
            creator=manager,
            name=PROJECT_NAME,
            overlap=args.overlap,
            classes=[ClassSpec(key=k) for k in CLASSES],
        )
        labelers = user_model.objects.bulk_create(
            user_model(username=f"bench-labeler-{i:03d}") for i in range(args.labelers)
        )
        Membership.objects.bulk_create(
            [Membership(project=project, user=u, role=Role.LABELER) for u in labelers]
            + [Membership(project=project, user=reviewer, role=Role.REVIEWER)]
        )
        class_ids = list(project.classes.order_by("order").values_list("id", flat=True))
        labeler_ids = [u.pk for u in labelers]
        n_classes = len(CLASSES)
        with connection.cursor() as cur:
            cur.execute("SELECT setseed(0.42)")
            cur.execute(
                """
                INSERT INTO annotations_item (project_id, external_id, text, image, image_url,
                    thumbnail, slices, metadata, status, round, labels_done, extra_labels,
                    created_at)
                SELECT %s, 'item-' || i, 'text ' || i, '', '', '',
                    jsonb_build_object(
                        'camera', CASE WHEN i %% 5 < 3 THEN 'A' ELSE 'B' END,
                        'lighting', CASE WHEN i %% 3 = 0 THEN 'dim' ELSE 'bright' END),
                    '{}', 'complete', 1, %s, 0, now()
                FROM generate_series(1, %s) AS i""",
                [project.pk, args.overlap, args.items],
            )
            # One plan row per item: its true class, whether it is disputed (three-way or not),
            # which class it is confused with (offset skewed towards +1), flagged, decided.
            cur.execute(
                """
                CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
                SELECT id AS item_id, row_number() OVER (ORDER BY id) AS i,
                       (ARRAY[0,0,0,0,1,1,2,3,4])[1 + floor(random() * 9)::int] AS truth,
                       random() < %s AS disputed,
                       random() < 1.0 / 7 AS three_way,
                       (ARRAY[1,1,1,1,2,2,3])[1 + floor(random() * 7)::int] AS shift,
                       random() AS r_flag, random() AS r_decide, random() < 0.25 AS two_flags
                FROM annotations_item WHERE project_id = %s""",
                [args.disputed, project.pk],
            )
            cur.execute(
                """
                INSERT INTO annotations_annotation (project_id, item_id, labeler_id, round, value,
                    label_id, created_at, time_spent_ms, idempotency_key, guideline_version,
                    withdrawn)
                SELECT %(project)s, item_id, (%(labelers)s::bigint[])[1 + labeler], 1,
                    jsonb_build_object('label', (%(keys)s::text[])[1 + code]),
                    (%(classes)s::bigint[])[1 + code], now(),
                    1000 + floor(random() * 8000)::int, 'q-' || item_id || '-' || k, 0, false
                FROM (
                    SELECT p.item_id, k, ((7 * p.i + 11 * k) %% %(n_labelers)s) AS labeler,
                        CASE WHEN p.disputed AND k = p.i %% %(overlap)s
                                THEN (p.truth + p.shift) %% %(n_classes)s
                             WHEN p.disputed AND p.three_way AND k = (p.i + 1) %% %(overlap)s
                                THEN (p.truth + p.shift + 1) %% %(n_classes)s
                             ELSE p.truth END AS code
                    FROM bench_plan p, generate_series(0, %(overlap)s - 1) AS k
                ) AS labels""",
                {
                    "project": project.pk,
                    "labelers": labeler_ids,
                    "keys": CLASSES,
                    "classes": class_ids,
                    "n_labelers": args.labelers,
                    "overlap": args.overlap,
                    "n_classes": n_classes,
                },
            )
            # Flags: by the item's first labeler ("unsure" or "input_unclear"); a quarter of the
            # flagged items also get the other kind from their second labeler.
            cur.execute(
                """
                INSERT INTO annotations_itemflag (project_id, item_id, labeler_id, round, kind,
                    note, created_at)
                SELECT %(project)s, p.item_id,
                    (%(labelers)s::bigint[])[1 + (7 * p.i + 11 * f.k) %% %(n_labelers)s], 1,
                    CASE WHEN (p.i + f.k) %% 2 = 0 THEN 'unsure' ELSE 'input_unclear' END, '', now()
                FROM bench_plan p
                JOIN (VALUES (0), (1)) AS f(k) ON f.k = 0 OR p.two_flags
                WHERE p.r_flag < %(flagged)s""",
                {
                    "project": project.pk,
                    "labelers": labeler_ids,
                    "n_labelers": args.labelers,
                    "flagged": args.flagged,
                },
            )
            # Decisions: a current "label" decision (the true class) on disputed items only.
            cur.execute(
                """
                INSERT INTO consensus_reviewdecision (project_id, item_id, round, revision, current,
                    outcome, label_id, reason, decided_by_id, decided_at)
                SELECT %(project)s, p.item_id, 1, 1, true, 'label',
                    (%(classes)s::bigint[])[1 + p.truth], 'bench', %(reviewer)s, now()
                FROM bench_plan p
                WHERE p.disputed AND p.r_decide < %(share)s""",
                {
                    "project": project.pk,
                    "classes": class_ids,
                    "reviewer": reviewer.pk,
                    "share": args.decided / args.disputed if args.disputed else 0.0,
                },
            )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def recompute(project) -> float:
    """``report_recompute`` once (every item's consensus and the report); returns seconds."""
    from django.db import connection

    from consensus.services.reports import report_recompute

    started = time.perf_counter()
    report_recompute(project_id=project.pk, version=1)
    seconds = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")
    return seconds


def describe(project) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT
              (SELECT count(*) FROM annotations_item WHERE project_id = %(p)s),
              (SELECT count(*) FROM annotations_annotation WHERE project_id = %(p)s),
              (SELECT count(DISTINCT labeler_id) FROM annotations_annotation
                WHERE project_id = %(p)s),
              (SELECT count(*) FROM consensus_itemconsensus WHERE project_id = %(p)s),
              (SELECT count(*) FROM consensus_itemconsensus
                WHERE project_id = %(p)s AND n_labels >= 2 AND majority_share < 1 - 1e-9),
              (SELECT count(DISTINCT item_id) FROM annotations_itemflag WHERE project_id = %(p)s),
              (SELECT count(*) FROM annotations_itemflag WHERE project_id = %(p)s),
              (SELECT count(*) FROM consensus_reviewdecision
                WHERE project_id = %(p)s AND current)""",
            {"p": project.pk},
        )
        names = ("items", "annotations", "labelers", "consensus", "disputed", "flagged", "flags")
        return dict(zip((*names, "decided"), cur.fetchone(), strict=True))


# ------------------------------------------------------------------------------------ measuring


class SqlClock:
    """An execute_wrapper adding up the time of every statement (and counting them)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements: list[tuple[str, float]] = []

    def __call__(self, execute, sql_text, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.seconds += elapsed
            self.statements.append((sql_text, elapsed))


TICK = os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / TICK  # minus idle and iowait


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone or not on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_for_quiet(limit: float, threshold: float = 0.2) -> tuple[float, float]:
    """Wait up to ``limit`` s until the machine is under ``threshold`` cores busy over two
    seconds: other programs on a small machine skew every figure. Returns (busy, waited)."""
    started = time.monotonic()
    while True:
        busy0, t0 = _machine_busy(), time.monotonic()
        time.sleep(2)
        busy = (_machine_busy() - busy0) / (time.monotonic() - t0)
        waited = time.monotonic() - started
        if busy < threshold or waited >= limit:
            return busy, waited


class Measured:
    """One measured path: per timed run wall, SQL, Python CPU, Postgres backend CPU and other
    programs' CPU seconds; the statements of the warm-up; what it returned."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.wall: list[float] = []
        self.sql: list[float] = []
        self.cpu: list[float] = []
        self.postgres: list[float] = []
        self.other = 0.0
        self.statements = 0
        self.result = ""
        self.last: SqlClock | None = None
        self.captured: list[str] = []

    @property
    def other_share(self) -> float:
        """Other programs' CPU during the timed runs, in % of one core."""
        return 100 * self.other / sum(self.wall)


def measure(name: str, call: Callable[[], str], runs: int) -> Measured:
    """One warm-up (which also counts the statements), then ``runs`` timed calls; ``call``
    returns a short description of its result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    path = Measured(name)
    with CaptureQueriesContext(connection) as captured:
        path.result = call()
    path.statements = len(captured.captured_queries)
    path.captured = [q["sql"] for q in captured.captured_queries]
    for _ in range(runs):
        with connection.cursor() as cur:  # the backend serving this process (it may reconnect)
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
        clock = SqlClock()
        machine, pg, cpu = _machine_busy(), _process_cpu(backend), time.process_time()
        with connection.execute_wrapper(clock):
            started = time.perf_counter()
            call()
            path.wall.append(time.perf_counter() - started)
        path.cpu.append(time.process_time() - cpu)
        path.postgres.append(_process_cpu(backend) - pg)
        path.other += max(_machine_busy() - machine - path.cpu[-1] - path.postgres[-1], 0.0)
        path.sql.append(clock.seconds)
        path.last = clock
    return path


def explain(title: str, sql_text: str, params, lines: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql_text}", params)
        plan = [row[0] for row in cur.fetchall()]
    print(f"\n== EXPLAIN (ANALYZE, BUFFERS): {title} ({len(plan)} lines, first {lines}) ==")
    for line in plan[:lines]:
        print(f"  {line}")
    # The totals, and the JIT block: when the planner's cost estimate passes jit_above_cost,
    # compiling the query can take longer than running it.
    in_jit = False
    for line in plan[lines:]:
        in_jit = in_jit or line.startswith("JIT:")
        if in_jit or line.startswith(("Planning Time", "Execution Time")):
            print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="labelhub_bench_queue")
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--disputed", type=float, default=0.20, help="share of items disputed")
    parser.add_argument("--flagged", type=float, default=0.01, help="share of items flagged")
    parser.add_argument("--decided", type=float, default=0.02, help="share of items decided")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per path (median)")
    parser.add_argument("--slow", type=float, default=1.0, help="cProfile (1) above this (s)")
    parser.add_argument("--explain-lines", type=int, default=40)
    parser.add_argument(
        "--wait-quiet", type=float, default=120, help="wait up to this long (s) for an idle machine"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database as it is")
    args = parser.parse_args()
    if args.decided > args.disputed:
        parser.error("--decided must not exceed --disputed (decisions are on disputed items)")

    pg = server_params()
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
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from annotations.models import Project
    from consensus.queue import QueueFilters, _candidates, disagreement_queue

    if fresh:
        seed(args)
    project = Project.objects.get(name=PROJECT_NAME)
    if fresh:
        seconds = recompute(project)
        print(f"report_recompute (every item's consensus written, report v1): {seconds:.2f} s")
    state = describe(project)
    print(
        f"project {project.pk}: {state['items']:,} items, {state['annotations']:,} annotations "
        f"from {state['labelers']} labelers, {len(CLASSES)} classes, 2 slice dimensions; "
        f"consensus rows {state['consensus']:,}; disputed {state['disputed']:,} "
        f"({state['disputed'] / state['items']:.1%}); flagged items {state['flagged']:,} "
        f"({state['flags']:,} flags); decided {state['decided']:,}"
    )

    reviewer = get_user_model().objects.get(username="bench-reviewer")
    client = APIClient()
    client.force_authenticate(user=reviewer)

    def api(url: str) -> Callable[[], str]:
        def call() -> str:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content)
            body = response.json()
            size = f"{len(response.content) / 1024:.0f} KiB"
            if "results" in body:
                return f"count {body['count']:,}, {len(body['results'])} results, {size}"
            if "pairs" in body:
                return f"{body['queued_items']:,} queued, {len(body['pairs'])} pairs, {size}"
            return f"{len(body['labels'])} labels, {len(body['same_pair'])} same-pair, {size}"

        return call

    def queue(filters: QueueFilters) -> Callable[[], str]:
        def call() -> str:
            result = disagreement_queue(project=project, filters=filters)
            return f"{len(result.entries):,} entries, {len(result.pairs)} pairs"

        return call

    whole = disagreement_queue(project=project, filters=QueueFilters())
    top_pair = tuple(whole.pairs[0]["pair"])
    disputed_item = next(e.item_id for e in whole.entries if e.pair and not e.flag_kinds)
    base = f"/api/v1/projects/{project.pk}/disagreements/"
    paths = [
        ("(1) disagreement_queue, no filter", queue(QueueFilters())),
        (f"(2) disagreement_queue, pair={','.join(top_pair)}", queue(QueueFilters(pair=top_pair))),
        ("(3) disagreement_queue, slice camera=A", queue(QueueFilters(slices={"camera": "A"}))),
        ("(4) GET disagreements/?limit=50", api(f"{base}?limit=50")),
        ("(5) GET disagreements/pairs/", api(f"{base}pairs/")),
        (f"(6) GET items/{disputed_item}/review/", api(f"/api/v1/items/{disputed_item}/review/")),
    ]
    busy, waited = wait_for_quiet(args.wait_quiet)
    print(f"machine busy {busy:.2f} cores before measuring (waited {waited:.0f} s for quiet)")
    results = [measure(name, call, args.runs) for name, call in paths]

    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    disagreement_queue(project=project, filters=QueueFilters())
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()

    med = statistics.median
    print(
        f"\n{'path':<42}{'median s':>9}{'min s':>7}{'max s':>7}{'SQL s':>7}{'py CPU':>7}"
        f"{'pg CPU':>7}{'other%':>7}{'stmts':>6}  result"
    )
    for p in results:
        print(
            f"{p.name:<42}{med(p.wall):>9.3f}{min(p.wall):>7.3f}{max(p.wall):>7.3f}"
            f"{med(p.sql):>7.3f}{med(p.cpu):>7.3f}{med(p.postgres):>7.3f}{p.other_share:>7.0f}"
            f"{p.statements:>6}  {p.result}"
        )
    print(
        f"median of {args.runs} runs after one warm-up. SQL s: time inside SQL calls (Postgres and "
        "the rows' transfer, not their conversion to Python objects); py CPU: this process's CPU "
        "seconds; pg CPU: its Postgres backend's; other%: CPU of everything else on the machine "
        "during the timed runs, in % of one core (clock ticks of 10 ms)"
    )
    noisy = [p.name[:3] for p in results if p.other_share > 20]
    if noisy:
        print(f"WARNING: other programs took > 20 % of a core during {', '.join(noisy)}")
    print(f"peak Python memory of (1) (tracemalloc): {peak / 2**20:.1f} MiB")

    print("\n== statements of (1), last timed run ==")
    for text, seconds in results[0].last.statements:
        print(f"  {1000 * seconds:9.1f} ms  {' '.join(text.split())[:140]}")

    class_ids = dict(project.classes.values_list("key", "id"))
    candidates = _candidates(project, QueueFilters(), class_ids)
    print("\n== str(_candidates(project, QueueFilters(), class_ids).query) ==")
    print(str(candidates.query))
    # The exact candidate-rows statement (1) sent, with its parameters bound.
    sent = results[0].captured
    rows_sql = next(q for q in sent if q.startswith('SELECT "annotations_item"."id" AS "pk"'))
    explain("the candidate rows query of (1), as sent", rows_sql, None, args.explain_lines)

    if statistics.median(results[0].wall) > args.slow:
        profiler = cProfile.Profile()
        profiler.enable()
        disagreement_queue(project=project, filters=QueueFilters())
        profiler.disable()
        for order, count in (("cumulative", 15), ("tottime", 10)):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(count)
            text = out.getvalue()
            start = text.find("   ncalls")
            print(f"\n== cProfile of (1), top {count} by {order} ==")
            print(text[start:].rstrip())


if __name__ == "__main__":
    main()
