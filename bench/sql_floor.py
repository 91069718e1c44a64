"""The database floor of the labeling loop: next and submit in as few SQL statements as they can.

A what-if, not the product: it answers "how fast could next/submit be if the web layer cost
nothing and the SQL were hand-written?", to tell the cost of Postgres from the cost of
Django/DRF in ``bench/api_load.py``'s figures.

``--clients`` asyncio psycopg connections (one per labeler of the seeded project) loop:

* NEXT, one transaction (BEGIN, 2 statements, COMMIT): lock the fullest open item this labeler
  has not labeled with SKIP LOCKED, then in a new statement re-count its slots under the lock and
  upsert the lease (the services' race-free scheme; a lost slot tries the next candidate).
* SUBMIT, one statement (autocommit): lock the item, check membership, open round, class and
  live lease, insert the annotation, mark the assignment submitted, bump ``labels_done`` and
  ``status``.

The statements keep the same rows and invariants as the services, so the database stays usable
by the real benchmark. They leave out what the services add around them: token and project
lookups, idempotent replays, resuming a held lease, error reporting.

Prints, per request: throughput and p50/p95/p99/max latency, and the CPU per request of
Postgres and of this (client) process.

Example: ``python bench/sql_floor.py --items 1000000 --clients 32 --seconds 20``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_load import (  # noqa: E402
    EndpointStats,
    Window,
    cpu_snapshot,
    cpu_usage,
    database_url,
    endpoint_figures,
)

#: NEXT, step 1: lock the first candidate nobody else holds (the index walk of the services).
NEXT_LOCK_SQL = """
SELECT i.id
FROM annotations_item AS i
WHERE i.project_id = %(project)s AND i.status = 'open' AND i.id <> ALL(%(rejected)s)
  AND NOT EXISTS (
      SELECT 1 FROM annotations_assignment AS a
      WHERE a.item_id = i.id AND a.labeler_id = %(labeler)s AND a.round = i.round
        AND a.status IN ('submitted', 'skipped'))
  AND (SELECT count(*) FROM annotations_assignment AS a
       WHERE a.item_id = i.id AND a.round = i.round AND a.status = 'leased'
         AND a.lease_expires_at > now() AND a.labeler_id <> %(labeler)s)
      < %(overlap)s - i.labels_done
  AND EXISTS (
      SELECT 1 FROM annotations_membership AS m
      WHERE m.project_id = %(project)s AND m.user_id = %(labeler)s AND m.role = 'labeler')
ORDER BY i.labels_done DESC, i.id
LIMIT 1
FOR UPDATE OF i SKIP LOCKED
"""

#: NEXT, step 2, a new statement (a fresh READ COMMITTED snapshot) under the row lock: re-count
#: the slots and write the lease, as the services do; no row when the slot went meanwhile.
NEXT_LEASE_SQL = """
WITH slot AS (
    SELECT i.id, i.round
    FROM annotations_item AS i
    WHERE i.id = %(item)s AND i.status = 'open'
      AND (SELECT count(*) FROM annotations_assignment AS a
           WHERE a.item_id = i.id AND a.round = i.round AND a.status = 'leased'
             AND a.lease_expires_at > now() AND a.labeler_id <> %(labeler)s)
          < %(overlap)s - i.labels_done
),
lease AS (
    INSERT INTO annotations_assignment
        (item_id, labeler_id, round, status, lease_expires_at, created_at, updated_at)
    SELECT id, %(labeler)s, round, 'leased', now() + interval '10 minutes', now(), now()
    FROM slot
    ON CONFLICT (item_id, labeler_id, round) DO UPDATE
        SET status = 'leased', lease_expires_at = EXCLUDED.lease_expires_at, updated_at = now()
    RETURNING id, item_id, round, lease_expires_at
)
SELECT lease.id, lease.round, lease.lease_expires_at, i.id, i.external_id, i.text, i.image,
       i.image_url
FROM lease JOIN annotations_item AS i ON i.id = lease.item_id
"""

SUBMIT_SQL = """
WITH item AS (
    SELECT i.id, i.project_id, i.round, p.overlap
    FROM annotations_item AS i JOIN annotations_project AS p ON p.id = i.project_id
    WHERE i.id = %(item)s AND i.status = 'open'
      AND EXISTS (
          SELECT 1 FROM annotations_membership AS m
          WHERE m.project_id = i.project_id AND m.user_id = %(labeler)s AND m.role = 'labeler')
      AND EXISTS (
          SELECT 1 FROM annotations_round AS r
          WHERE r.project_id = i.project_id AND r.number = i.round AND r.is_open)
      AND EXISTS (
          SELECT 1 FROM annotations_assignment AS a
          WHERE a.item_id = i.id AND a.labeler_id = %(labeler)s AND a.round = i.round
            AND a.status = 'leased' AND a.lease_expires_at > now())
    FOR UPDATE OF i
),
label AS (
    SELECT c.id, c.key FROM annotations_labelclass AS c JOIN item ON c.project_id = item.project_id
    WHERE c.key = %(label)s
),
annotation AS (
    INSERT INTO annotations_annotation
        (project_id, item_id, labeler_id, round, value, label_id, created_at, time_spent_ms,
         idempotency_key, withdrawn, withdrawn_at)
    SELECT item.project_id, item.id, %(labeler)s, item.round,
           jsonb_build_object('label', label.key), label.id, now(), NULL, %(key)s, false, NULL
    FROM item, label
    RETURNING id, item_id, round
),
assignment AS (
    INSERT INTO annotations_assignment
        (item_id, labeler_id, round, status, lease_expires_at, created_at, updated_at)
    SELECT item_id, %(labeler)s, round, 'submitted', NULL, now(), now() FROM annotation
    ON CONFLICT (item_id, labeler_id, round) DO UPDATE
        SET status = 'submitted', lease_expires_at = NULL, updated_at = now()
),
counted AS (
    UPDATE annotations_item AS i
    SET labels_done = i.labels_done + 1,
        status = CASE WHEN i.labels_done + 1 >= item.overlap THEN 'complete' ELSE 'open' END
    FROM item, annotation WHERE i.id = item.id
)
SELECT id FROM annotation
"""


CLASS_KEYS_SQL = "SELECT key FROM annotations_labelclass WHERE project_id = %s"

#: The labelers api_load.py seeded (bench_labeler_000, ...), in order.
LABELERS_SQL = """
SELECT u.id FROM auth_user AS u JOIN annotations_membership AS m ON m.user_id = u.id
WHERE m.project_id = %s AND m.role = 'labeler' AND u.username LIKE 'bench_labeler_%%'
ORDER BY u.username LIMIT %s
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--items", type=int, default=1_000_000, help="which seeded project (bench-ITEMS) to use"
    )
    parser.add_argument("--db", default="labelhub_bench")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    if not 0 < args.seconds + args.warmup <= 600:
        parser.error("--warmup + --seconds must be within 10 minutes")
    return args


def load_setup(args: argparse.Namespace) -> tuple[int, int, list[str], list[int]]:
    """(project id, overlap, class keys, labeler ids) of the seeded project."""
    with psycopg.connect(database_url(args.db)) as conn:
        row = conn.execute(
            "SELECT id, overlap FROM annotations_project WHERE name = %s", [f"bench-{args.items}"]
        ).fetchone()
        if row is None:
            raise SystemExit(f"no project bench-{args.items}: run bench/api_load.py first")
        project, overlap = row
        keys = [k for (k,) in conn.execute(CLASS_KEYS_SQL, [project])]
        labelers = [u for (u,) in conn.execute(LABELERS_SQL, [project, args.clients])]
    if len(labelers) < args.clients:
        raise SystemExit(
            f"only {len(labelers)} seeded labelers: run bench/api_load.py with "
            f"--clients {args.clients} first"
        )
    return project, overlap, keys, labelers


async def lease_next(
    conn: psycopg.AsyncConnection, project: int, overlap: int, labeler: int
) -> tuple | None:
    """One transaction: lock a candidate, re-check its slots, lease it (up to 20 candidates)."""
    params = {"project": project, "labeler": labeler, "overlap": overlap, "rejected": []}
    async with conn.transaction():
        for _ in range(20):
            locked = await (await conn.execute(NEXT_LOCK_SQL, params)).fetchone()
            if locked is None:
                return None
            leased = await (
                await conn.execute(NEXT_LEASE_SQL, {**params, "item": locked[0]})
            ).fetchone()
            if leased is not None:
                return leased
            params["rejected"].append(locked[0])
    return None


async def labeler_loop(
    args: argparse.Namespace,
    labeler: int,
    setup: tuple,
    window: Window,
    stats: dict[str, EndpointStats],
    rng: random.Random,
) -> None:
    project, overlap, keys, _ = setup
    async with await psycopg.AsyncConnection.connect(
        database_url(args.db), autocommit=True
    ) as conn:
        while time.perf_counter() < window.end:
            started = time.perf_counter()
            row = await lease_next(conn, project, overlap, labeler)
            record(stats["next"], window, started, ok=row is not None)
            if row is None:
                await asyncio.sleep(0.05)
                continue
            started = time.perf_counter()
            done = await (
                await conn.execute(
                    SUBMIT_SQL,
                    {
                        "item": row[3],
                        "labeler": labeler,
                        "label": rng.choice(keys),
                        "key": uuid.uuid4().hex,
                    },
                )
            ).fetchone()
            record(stats["submit"], window, started, ok=done is not None)


def record(stats: EndpointStats, window: Window, started: float, *, ok: bool) -> None:
    done = time.perf_counter()
    if window.contains(done):
        stats.record("ok" if ok else "no row", done - started, ok=ok)


async def run(args: argparse.Namespace, setup: tuple) -> tuple[dict, Window, dict]:
    now = time.perf_counter()
    window = Window(start=now + args.warmup, end=now + args.warmup + args.seconds)
    stats = {"next": EndpointStats(), "submit": EndpointStats()}

    async def sample_cpu() -> dict[str, float]:
        await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
        first = cpu_snapshot(-1, args.db)
        await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
        return cpu_usage(first, cpu_snapshot(-1, args.db))

    async with asyncio.timeout(args.warmup + args.seconds + 60):
        cpu, *_ = await asyncio.gather(
            sample_cpu(),
            *(
                labeler_loop(args, labeler, setup, window, stats, random.Random(labeler))
                for labeler in setup[3]
            ),
        )
    return stats, window, cpu


def main() -> int:
    args = parse_args()
    setup = load_setup(args)
    stats, window, cpu = asyncio.run(run(args, setup))
    seconds = window.end - window.start
    print(
        f"== SQL floor: {args.clients} connections, hand-written SQL, "
        f"{seconds:.0f} s measured, project bench-{args.items} =="
    )
    print(
        f"{'request':<10}{'count':>9}{'errors':>8}{'per s':>9}{'p50':>8}{'p95':>8}"
        f"{'p99':>8}{'max':>8}   (latency ms)"
    )
    total = 0
    for name, endpoint in stats.items():
        row = endpoint_figures(endpoint, seconds)
        total += row["requests"]
        print(
            f"{name:<10}{row['requests']:>9,}{row['errors']:>8,}{row['per_second']:>9.1f}"
            f"{row['p50_ms']:>8.1f}{row['p95_ms']:>8.1f}{row['p99_ms']:>8.1f}"
            f"{row['max_ms']:>8.1f}"
        )
    if total:
        per = {name: 10 * cpu[name] * seconds / total for name in ("postgres", "load_generator")}
        print(
            f"CPU in window (% of one core): postgres {cpu['postgres']}, this client "
            f"{cpu['load_generator']}, other {cpu['other']}; machine busy "
            f"{cpu['machine_busy']} of {cpu['machine_capacity']:.0f}"
        )
        print(
            f"CPU per request (ms): postgres {per['postgres']:.2f}, client (psycopg) "
            f"{per['load_generator']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
