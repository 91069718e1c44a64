"""Where the time of one next-item and one submit request goes: SQL statements, their timings,
and the plan of the next-item query.

Runs in-process (Django's test client through the full middleware and DRF stack, DEBUG off)
against the database that ``bench/api_load.py`` seeded, so it needs no server:

* ``--requests`` rounds of next + submit for one labeler; every SQL statement is timed with a
  ``connection.execute_wrapper``. Prints per endpoint the median wall time, the median time in
  SQL (round trips included), the statement count, and the statements of the last round.
* ``--explain``: EXPLAIN (ANALYZE, BUFFERS) of the exact candidate query that ``next`` sends
  (captured from a real call, with its parameters), for a labeler of the seeded project.
* ``--backlog K``: the same EXPLAIN for a labeler who, with one other, labeled K items that
  still wait for a third label (labels_done = 2 of 3): the state of a project where fewer
  labelers than the overlap are at work. Written in a transaction that is rolled back.

Example: ``python bench/query_profile.py --items 1000000 --explain --backlog 50000``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_load import REPO, setup_django  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--items", type=int, default=1_000_000, help="which seeded project (bench-ITEMS) to use"
    )
    parser.add_argument("--db", default="labelhub_bench")
    parser.add_argument(
        "--code",
        type=Path,
        default=REPO,
        metavar="DIR",
        help="the LabelHub tree to import (default: this one)",
    )
    parser.add_argument("--requests", type=int, default=30, help="rounds of next + submit")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the next query")
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        metavar="K",
        help="also EXPLAIN for a labeler with K labeled items waiting for a third label",
    )
    args = parser.parse_args()
    args.conn_max_age = 600
    args.code = args.code.resolve()
    return args


class QueryLog:
    """An execute_wrapper that records (sql, params, milliseconds) of every statement."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, tuple, float]] = []

    def __call__(self, execute: Callable, sql: str, params, many: bool, context: dict):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((sql, params, 1000 * (time.perf_counter() - started)))

    @property
    def sql_ms(self) -> float:
        return sum(ms for _, _, ms in self.queries)


class Timed:
    """Wall and CPU milliseconds of one call, and its SQL statements."""

    def __init__(self, wall: float, cpu: float, log: QueryLog) -> None:
        self.wall, self.cpu, self.log = wall, cpu, log


def timed_call(call: Callable):
    """Run ``call`` with every SQL statement recorded; returns (result, Timed)."""
    from django.db import connection

    log = QueryLog()
    with connection.execute_wrapper(log):
        started, cpu = time.perf_counter(), time.process_time()
        result = call()
        timed = Timed(
            1000 * (time.perf_counter() - started), 1000 * (time.process_time() - cpu), log
        )
    return result, timed


def bench_objects(args: argparse.Namespace):
    """The seeded project, and a labeler of its own for profiling (labels made here alone pile up
    as that labeler's backlog, so the load test's labelers are left alone)."""
    from django.contrib.auth import get_user_model

    from annotations.models import LabelClass, Membership, Project, Role
    from annotations.services.tokens import api_token_rotate

    project = Project.objects.get(name=f"bench-{args.items}")
    labeler, _ = get_user_model().objects.get_or_create(username="bench_profiler")
    Membership.objects.get_or_create(user=labeler, project=project, defaults={"role": Role.LABELER})
    token = api_token_rotate(user=labeler, name="bench")[1]
    keys = list(LabelClass.objects.filter(project=project).values_list("key", flat=True))
    return project, labeler, token, keys


def profile_requests(args: argparse.Namespace) -> None:
    from django.test import Client

    project, _, token, keys = bench_objects(args)
    client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    rounds: dict[str, list[Timed]] = {"next": [], "submit": []}
    for i in range(args.requests):
        response, timed = timed_call(lambda: client.post(f"/api/v1/projects/{project.pk}/next/"))
        assert response.status_code == 200, response.content
        rounds["next"].append(timed)
        body = {
            "item": response.json()["item"]["id"],
            "value": {"label": keys[i % len(keys)]},
            "idempotency_key": uuid.uuid4().hex,
        }
        response, timed = timed_call(
            lambda body=body: client.post(
                "/api/v1/annotations/", body, content_type="application/json"
            )
        )
        assert response.status_code == 201, response.content
        rounds["submit"].append(timed)
    for name, results in rounds.items():
        print_endpoint(name, results)


def print_endpoint(name: str, results: list[Timed]) -> None:
    counts = [len(r.log.queries) for r in results]
    print(f"\n== {name}: {len(results)} requests in-process, medians ==")
    print(
        f"wall {statistics.median(r.wall for r in results):.2f} ms, of which in SQL calls "
        f"{statistics.median(r.log.sql_ms for r in results):.2f} ms (round trips and Postgres "
        f"included); Python CPU {statistics.median(r.cpu for r in results):.2f} ms; "
        f"statements {min(counts)}-{max(counts)}"
    )
    print("statements of the last request (ms, SQL; BEGIN/COMMIT and the health check not shown):")
    for sql, _, ms in results[-1].log.queries:
        print(f"  {ms:6.2f}  {' '.join(sql.split())[:150]}")


def explain_next(project, labeler, *, title: str) -> None:
    """Capture the candidate query of a real ``assignment_next`` call (rolled back to a savepoint,
    so the lease it takes does not change the state), time it plainly, then EXPLAIN ANALYZE it.
    Call inside ``transaction.atomic``."""
    from django.db import connection, transaction

    from annotations.services.assignments import assignment_next

    savepoint = transaction.savepoint()
    _, timed = timed_call(lambda: assignment_next(project=project, labeler=labeler))
    transaction.savepoint_rollback(savepoint)
    sql, params, _ = next(q for q in timed.log.queries if "SKIP LOCKED" in q[0])
    with connection.cursor() as cursor:
        plain = []
        for _ in range(3):
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            plain.append(1000 * (time.perf_counter() - started))
        print(f"\n== EXPLAIN ANALYZE of the next-item candidate query: {title} ==")
        print(
            f"assignment_next {timed.wall:.1f} ms wall, {len(timed.log.queries)} statements; "
            f"the candidate query alone {min(plain):.1f} ms (best of 3, without EXPLAIN)"
        )
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        for (line,) in cursor.fetchall():
            print(f"  {line}")


def make_backlog(project, count: int):
    """Two new labelers who both labeled the same ``count`` items, which now wait for a third
    label (labels_done = 2 of overlap 3). Returns one of them.

    This is where a project goes when fewer labelers than the overlap are at work: fullest-first
    hands B the items A just labeled, every item ends at two labels, and on each ``next`` both
    must walk past all of them. The K items are the front of the queue; only the columns the
    candidate query reads are written.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotations.models import Membership, Role

    tag = uuid.uuid4().hex[:8]
    pair = [get_user_model().objects.create(username=f"bench_pair_{tag}_{i}") for i in (1, 2)]
    for user in pair:
        Membership.objects.create(user=user, project=project, role=Role.LABELER)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH picked AS (  -- the front of the queue, in the order next walks it
                SELECT id FROM annotations_item
                WHERE project_id = %s AND status = 'open'
                ORDER BY labels_done DESC, id LIMIT %s),
            bumped AS (
                UPDATE annotations_item AS i SET labels_done = 2
                FROM picked WHERE i.id = picked.id RETURNING i.id)
            INSERT INTO annotations_assignment
                (item_id, labeler_id, round, status, lease_expires_at, created_at, updated_at)
            SELECT bumped.id, labeler, 1, 'submitted', NULL, now(), now()
            FROM bumped CROSS JOIN unnest(%s::bigint[]) AS labeler
            ON CONFLICT DO NOTHING
            """,
            [project.pk, count, [user.pk for user in pair]],
        )
        cursor.execute("ANALYZE annotations_item, annotations_assignment")
    return pair[0]


def explain(args: argparse.Namespace) -> None:
    from django.db import transaction

    project, labeler, _, _ = bench_objects(args)
    with transaction.atomic():
        explain_next(project, labeler, title="the profiling labeler, database as it stands")
        transaction.set_rollback(True)
    if args.backlog:
        with transaction.atomic():
            labeler = make_backlog(project, args.backlog)
            explain_next(
                project,
                labeler,
                title=f"{args.backlog:,} items labeled by this "
                "labeler and one other, waiting for a third label",
            )
            transaction.set_rollback(True)


def main() -> int:
    args = parse_args()
    setup_django(args)
    if args.requests:
        profile_requests(args)
    if args.explain or args.backlog:
        explain(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
