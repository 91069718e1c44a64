"""Benchmark of the clean-dataset export (issue 6) on PostgreSQL: 1,000,000 items.

What it measures
    The issue's speed target, "JSONL export throughput ≥ 50,000 items/s with peak memory of the
    serving process ≤ 200 MB; time to freeze a version of 200,000 items", on the real paths.

    Two projects, seeded alike: ``bench-export`` with ``--items`` items (1,000,000) and
    ``bench-export-freeze`` with ``--freeze-items`` (200,000). Each: 6 classes in order ``ok``,
    ``borderline`` (the project's borderline class), ``scratch``, ``dent``, ``pit_mark``,
    ``discoloration``; half the items text (a ~70-character caption), half an ``image_url``;
    two slice dimensions (camera A/B 60/40, lighting bright/dim 2/3 vs 1/3); 3 labels per item
    from ``--labelers`` labelers (50; labeler k of item i is (7i + 11k) mod L); ``--disputed``
    of the items (0.20) with non-unanimous labels, a seventh of those three-way; an
    ``ItemConsensus`` row for every item written directly, as ``consensus_columns`` stores it
    (label, method, confidence, n_labels 3, majority share 1, 2/3 or 1/3, entropy 0, 0.918 or
    1.585 bits, tied for three-way, the confusion pair, round 1, ``updated_at`` over the last 30
    days). Dawid–Skene is defined for the big project, so every row there is ``dawid_skene``
    with a posterior as confidence; the freeze project is ``majority`` (confidence = share), so
    both stored methods are exercised. ``--decided`` of the items (0.02, on disputed items)
    carry a current review decision (a tenth of them ``input_insufficient``, the rest a label),
    ``--flagged`` (0.01) a labeler's flag (a quarter two flags), 2 % a gold label.

    Each measurement follows a warm-up:

    1. ``GET /api/v1/projects/{id}/export/?format=jsonl`` of the 1M project through a real
       ``gunicorn labelhub.wsgi`` (one sync worker that serves nothing else, DEBUG off,
       ``DATABASE_CONN_MAX_AGE=600``), read by ``http.client`` in 1 MiB reads that count lines.
       Printed: records, MB, seconds, items/s, MB/s, time to first byte, the worker's peak RSS
       during the request (its ``VmHWM``, reset through ``/proc/<pid>/clear_refs`` before the
       request, and the largest ``VmRSS`` sampled every 50 ms as a cross-check), its RSS before,
       CPU seconds of the worker (and per item: ``cap/s`` = items ÷ worker CPU, the rate one
       free core would give), of its Postgres backend, this client and other programs, the CPU
       pressure (``/proc/pressure/cpu``: share of the time some task waited for a core) and the
       worker's voluntary / involuntary context switches. On a shared 2-core machine the wall
       time mostly measures the others' load; the CPU figures do not. ``--nice -5`` gives the
       measured processes a larger share. The warm-up is one full JSONL pass (it also fills
       Postgres's and the OS's caches). gunicorn runs with ``--timeout`` 900: a sync worker
       does not report to its master while it streams, so with gunicorn's default of 30 s a
       longer export is killed mid-stream (the client sees a 200 and a truncated body).
    2. The same for ``format=csv`` and one filtered JSONL export,
       ``min_agreement=0.7&slice=camera:A`` (items scanned/s and records/s both printed).
    3. ``dataset_freeze`` of the 200,000-item project in-process (one warm-up freeze, then
       ``--runs`` timed ones, median): time, the gzip file size, items, content hash (equal
       across versions: the records are deterministic), then one more freeze under tracemalloc
       for its peak Python memory; beside it the in-process export of the same project to
       nothing (``export_records`` + ``encode_jsonl``), so freeze − export is gzip, hashing and
       reading the file back to count classes; and those parts timed apart on the frozen bytes
       (SHA-256, gzip level 6 and 1 with their sizes, the read-back with json and orjson).
    4. A cProfile of ``export_records`` + ``encode_jsonl`` over the freeze project: the top 15 by
       cumulative and by own time, and the share inside psycopg's ``fetchmany``. The export built
       up layer by layer over the same project, in this process's CPU µs per item (robust to
       other programs on the machine, unlike wall time): the four SELECTs fetched only, + the
       ORM's rows grouped by item, + the records built, + JSONL. The four stream queries as
       Django sends them (captured with ``connection.execute_wrapper``), for both projects the
       time to read all their rows through Django's server-side cursor in chunks of 5,000 (no
       ORM conversion: the SQL floor, with the Postgres backend's CPU), and for the 1M project
       the plan of each cursor (``EXPLAIN DECLARE``: cursors are planned for the first 10 % of
       rows, ``cursor_tuple_fraction``) and EXPLAIN (ANALYZE, BUFFERS) of the same SELECT.
    5. What-ifs, for the suggestions: the items stream fetched on a plain psycopg connection,
       with ``slices`` and ``updated_at`` sent as text, and one statement that returns all four
       streams as one row per item (labels, decision, flags aggregated into arrays); and the
       annotations and items streams with indexes in stream order, (project, item, id) with the
       streamed columns included, created in the bench database and dropped afterwards.

    The SHA-256 of the measured files (consensus/export.py and friends) is printed first and
    last: they change while others work, and figures belong to one version.

Method
    Database ``--db`` (``labelhub_bench_export``) on the server of ``DATABASE_URL`` (only host,
    port, user and password are taken from it): dropped if it exists, created, migrated, seeded
    with ``INSERT ... SELECT`` from a plan table built by ``generate_series`` (``setseed(0.42)``;
    items get explicit ids so the plan can address them; foreign-key triggers are off during
    the load, ``session_replication_role = replica``, because the rows are consistent by
    construction and the deferred checks would queue millions of trigger events for the
    commit), VACUUM (ANALYZE)d, and dropped at the end (``--keep`` keeps it; ``--reuse``
    measures a kept one, after ``migrate``: a migration edited by hand since makes a kept
    database unusable, then run without ``--reuse``).
    The client authenticates with a Django session cookie of an engineer member (created
    through ``Client.force_login``), which does not depend on how API tokens are stored.
    Uploaded files (the frozen versions) go to a temporary ``MEDIA_ROOT`` that is deleted.
    The helpers for the database, Django and quiet-machine waiting are ``bench/review_queue.py``'s.

Run: ``python bench/export.py [--nice -5]`` (about 12 minutes on 2 cores: 2½ of seeding, 3–4
of exports, 2–4 of freezes (one under tracemalloc, ~5× slower), 2 of SQL).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import ctypes
import hashlib
import http.client
import io
import json
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from review_queue import (
    _machine_busy,
    _process_cpu,
    database_url,
    drop_database,
    prepare_database,
    server_params,
    setup_django,
    wait_for_quiet,
)

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
HOST = "127.0.0.1"
PROJECT_NAME = "bench-export"
FREEZE_NAME = "bench-export-freeze"
CLASSES = ["ok", "borderline", "scratch", "dent", "pit_mark", "discoloration"]
BORDERLINE = "borderline"
FILTERED = "min_agreement=0.7&slice=camera:A"
ENTROPY_2_1 = 0.9182958340544896  # H(2/3, 1/3) in bits
ENTROPY_1_1_1 = 1.584962500721156  # log2(3)


MEASURED_CODE = (
    "consensus/export.py",
    "consensus/export_formats.py",
    "consensus/services/exports.py",
    "consensus/services/datasets.py",
    "consensus/api/export_views.py",
)


def code_fingerprint() -> str:
    """SHA-256 (10 hex digits) of each file the figures depend on: others edit them while
    benchmarks run, so the printed figures say which version they belong to."""
    parts = []
    for name in MEASURED_CODE:
        digest = hashlib.sha256((REPO / name).read_bytes()).hexdigest()[:10]
        parts.append(f"{name.rsplit('/', 1)[-1]}={digest}")
    return " ".join(parts)


# --------------------------------------------------------------------------------------- seeding


def seed(args: argparse.Namespace) -> None:
    """Users and the two projects (see the module docstring), all in bulk SQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotations.models import ClassKind, Membership, Role
    from annotations.services.projects import ClassSpec, project_create

    user_model = get_user_model()
    started = time.perf_counter()
    with transaction.atomic():
        manager = user_model.objects.create_user("bench-manager")
        reviewer = user_model.objects.create_user("bench-reviewer")
        engineer = user_model.objects.create_user("bench-engineer")
        labelers = user_model.objects.bulk_create(
            user_model(username=f"bench-labeler-{i:03d}") for i in range(args.labelers)
        )
    for name, n_items, method in (
        (PROJECT_NAME, args.items, "dawid_skene"),
        (FREEZE_NAME, args.freeze_items, "majority"),
    ):
        t0 = time.perf_counter()
        with transaction.atomic():
            project = project_create(
                creator=manager,
                name=name,
                overlap=3,
                classes=[
                    ClassSpec(key=k, kind=ClassKind.BORDERLINE if k == BORDERLINE else "normal")
                    for k in CLASSES
                ],
            )
            Membership.objects.bulk_create(
                [Membership(project=project, user=u, role=Role.LABELER) for u in labelers]
                + [
                    Membership(project=project, user=reviewer, role=Role.REVIEWER),
                    Membership(project=project, user=engineer, role=Role.ENGINEER),
                ]
            )
            class_ids = list(project.classes.order_by("order").values_list("id", flat=True))
            with connection.cursor() as cur:
                # Foreign-key checks are deferred triggers: millions of queued events checked
                # at commit. The rows reference only what was just created.
                cur.execute("SET LOCAL session_replication_role = replica")
                seed_project(
                    cur,
                    args,
                    project_id=project.pk,
                    n_items=n_items,
                    method=method,
                    class_ids=class_ids,
                    labeler_ids=[u.pk for u in labelers],
                    reviewer_id=reviewer.pk,
                )
        print(f"seeded {name}: {n_items:,} items in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")
    print(
        f"VACUUM (ANALYZE) {time.perf_counter() - t0:.1f} s; "
        f"seeding in all {time.perf_counter() - started:.1f} s"
    )


def seed_project(
    cur,
    args: argparse.Namespace,
    *,
    project_id: int,
    n_items: int,
    method: str,
    class_ids: list[int],
    labeler_ids: list[int],
    reviewer_id: int,
) -> None:
    """Plan table → items, annotations, consensus, flags, decisions of one project."""
    cur.execute("SELECT setseed(0.42)")
    cur.execute("SELECT coalesce(max(id), 0) FROM annotations_item")
    base = cur.fetchone()[0]
    # One plan row per item: its true class code (skewed, ~3 % borderline), whether it is
    # disputed (three-way or not), the class offset of the dissenting label (skewed towards +1),
    # and the random draws for flags, decisions, gold and confidence.
    cur.execute("DROP TABLE IF EXISTS bench_plan")
    cur.execute(
        """
        CREATE TEMP TABLE bench_plan AS
        SELECT %(base)s + i AS item_id, i,
               CASE WHEN r < 0.45 THEN 0 WHEN r < 0.48 THEN 1 WHEN r < 0.63 THEN 2
                    WHEN r < 0.76 THEN 3 WHEN r < 0.88 THEN 4 ELSE 5 END AS truth,
               disputed, disputed AND random() < 1.0 / 7 AS three_way,
               (ARRAY[1,1,1,1,2,2,3])[1 + floor(random() * 7)::int] AS shift,
               random() AS r_flag, random() AS r_decide, random() < 0.25 AS two_flags,
               random() < 0.02 AS gold, random() AS r_conf
        FROM (SELECT i, random() AS r, random() < %(disputed)s AS disputed
              FROM generate_series(1, %(n)s) AS i) AS draws""",
        {"base": base, "n": n_items, "disputed": args.disputed},
    )
    common = {
        "project": project_id,
        "classes": class_ids,
        "labelers": labeler_ids,
        "n_labelers": len(labeler_ids),
        "n_classes": len(class_ids),
    }
    steps: list[tuple[str, str]] = [
        (
            "items",
            """
            INSERT INTO annotations_item (id, project_id, external_id, text, image, image_url,
                thumbnail, slices, metadata, status, round, labels_done, extra_labels,
                created_at, gold_label_id)
            SELECT p.item_id, %(project)s, 'item-' || lpad(p.i::text, 7, '0'),
                CASE WHEN p.i %% 2 = 0
                     THEN 'Close-up of part ' || p.i || ', brushed steel under the '
                          || CASE WHEN p.i %% 3 = 0 THEN 'dim' ELSE 'bright' END || ' lamp'
                     ELSE '' END,
                '',
                CASE WHEN p.i %% 2 = 1
                     THEN 'https://media.example.org/bench/parts/' || lpad(p.i::text, 8, '0')
                          || '.jpg'
                     ELSE '' END,
                '',
                jsonb_build_object(
                    'camera', CASE WHEN p.i %% 5 < 3 THEN 'A' ELSE 'B' END,
                    'lighting', CASE WHEN p.i %% 3 = 0 THEN 'dim' ELSE 'bright' END),
                '{}', 'complete', 1, 3, 0, now() - interval '60 days',
                CASE WHEN p.gold THEN (%(classes)s::bigint[])[1 + p.truth] END
            FROM bench_plan p ORDER BY p.item_id""",
        ),
        (
            "annotations",
            """
            INSERT INTO annotations_annotation (project_id, item_id, labeler_id, round, value,
                label_id, created_at, time_spent_ms, idempotency_key, guideline_version,
                withdrawn)
            SELECT %(project)s, item_id, (%(labelers)s::bigint[])[1 + labeler], 1,
                jsonb_build_object('label', (%(keys)s::text[])[1 + code]),
                (%(classes)s::bigint[])[1 + code], now() - interval '40 days',
                1000 + floor(random() * 8000)::int, 'x-' || item_id || '-' || k, 0, false
            FROM (
                SELECT p.item_id, k, ((7 * p.i + 11 * k) %% %(n_labelers)s) AS labeler,
                    CASE WHEN p.disputed AND k = p.i %% 3
                            THEN (p.truth + p.shift) %% %(n_classes)s
                         WHEN p.three_way AND k = (p.i + 1) %% 3
                            THEN (p.truth + p.shift + 1) %% %(n_classes)s
                         ELSE p.truth END AS code
                FROM bench_plan p, generate_series(0, 2) AS k
                ORDER BY p.item_id, k
            ) AS labels""",
        ),
        (
            "consensus",
            # What consensus_columns stores: the majority (here the true class: two of three
            # labels, or Dawid-Skene's pick among three tied ones), its share and entropy, the
            # confusion pair in class order, and as confidence the Dawid-Skene posterior (drawn
            # in a plausible band per kind of item) or, for majority, the share itself.
            """
            INSERT INTO consensus_itemconsensus (item_id, project_id, round, label_id, method,
                confidence, n_labels, majority_share, entropy, tied, pair_low_id, pair_high_id,
                updated_at)
            SELECT p.item_id, %(project)s, 1, (%(classes)s::bigint[])[1 + p.truth], %(method)s,
                CASE WHEN %(method)s = 'majority' THEN s.share
                     WHEN NOT p.disputed THEN 0.97 + 0.029 * p.r_conf
                     WHEN p.three_way THEN 0.34 + 0.30 * p.r_conf
                     ELSE 0.55 + 0.40 * p.r_conf END,
                3, s.share,
                CASE WHEN NOT p.disputed THEN 0.0 WHEN p.three_way THEN %(h3)s ELSE %(h2)s END,
                p.three_way,
                CASE WHEN p.disputed THEN (%(classes)s::bigint[])[1 + least(p.truth, s.other)] END,
                CASE WHEN p.disputed
                     THEN (%(classes)s::bigint[])[1 + greatest(p.truth, s.other)] END,
                now() - random() * interval '30 days'
            FROM bench_plan p,
                LATERAL (SELECT CASE WHEN NOT p.disputed THEN 1.0::float8
                                     WHEN p.three_way THEN 1.0 / 3 ELSE 2.0 / 3 END AS share,
                                (p.truth + p.shift) %% %(n_classes)s AS other) AS s
            ORDER BY p.item_id""",
        ),
        (
            "flags",
            """
            INSERT INTO annotations_itemflag (project_id, item_id, labeler_id, round, kind,
                note, created_at)
            SELECT %(project)s, p.item_id,
                (%(labelers)s::bigint[])[1 + (7 * p.i + 11 * f.k) %% %(n_labelers)s], 1,
                CASE WHEN (p.i + f.k) %% 2 = 0 THEN 'unsure' ELSE 'input_unclear' END, '',
                now() - interval '40 days'
            FROM bench_plan p
            JOIN (VALUES (0), (1)) AS f(k) ON f.k = 0 OR p.two_flags
            WHERE p.r_flag < %(flagged)s""",
        ),
        (
            "decisions",
            # A current decision on disputed items only; a tenth say the input lacks the
            # information (no label), the rest set the true class.
            """
            INSERT INTO consensus_reviewdecision (project_id, item_id, round, revision, current,
                outcome, label_id, reason, decided_by_id, decided_at)
            SELECT %(project)s, p.item_id, 1, 1, true,
                CASE WHEN p.r_decide < %(share)s / 10 THEN 'input_insufficient' ELSE 'label' END,
                CASE WHEN p.r_decide < %(share)s / 10 THEN NULL
                     ELSE (%(classes)s::bigint[])[1 + p.truth] END,
                'bench', %(reviewer)s, now() - random() * interval '10 days'
            FROM bench_plan p
            WHERE p.disputed AND p.r_decide < %(share)s""",
        ),
    ]
    params = {
        **common,
        "keys": CLASSES,
        "method": method,
        "h2": ENTROPY_2_1,
        "h3": ENTROPY_1_1_1,
        "flagged": args.flagged,
        "reviewer": reviewer_id,
        "share": args.decided / args.disputed if args.disputed else 0.0,
    }
    for name, statement in steps:
        t0 = time.perf_counter()
        cur.execute(statement, params)
        print(f"  {name:<12} {cur.rowcount:>10,} rows  {time.perf_counter() - t0:6.1f} s")
    cur.execute(
        "SELECT setval(pg_get_serial_sequence('annotations_item', 'id'), "
        "(SELECT max(id) FROM annotations_item))"
    )
    cur.execute("DROP TABLE bench_plan")


def describe(project) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT
              (SELECT count(*) FROM annotations_item WHERE project_id = %(p)s),
              (SELECT count(*) FROM annotations_annotation WHERE project_id = %(p)s),
              (SELECT count(*) FROM consensus_itemconsensus WHERE project_id = %(p)s),
              (SELECT count(*) FROM consensus_itemconsensus
                WHERE project_id = %(p)s AND majority_share < 1 - 1e-9),
              (SELECT count(*) FROM consensus_itemconsensus c
                 JOIN annotations_labelclass l ON l.id = c.label_id
                WHERE c.project_id = %(p)s AND l.kind = 'borderline'),
              (SELECT count(DISTINCT item_id) FROM annotations_itemflag WHERE project_id = %(p)s),
              (SELECT count(*) FROM consensus_reviewdecision WHERE project_id = %(p)s
                 AND current AND outcome = 'label'),
              (SELECT count(*) FROM consensus_reviewdecision WHERE project_id = %(p)s
                 AND current AND outcome = 'input_insufficient'),
              (SELECT count(*) FROM annotations_item
                WHERE project_id = %(p)s AND gold_label_id IS NOT NULL)""",
            {"p": project.pk},
        )
        names = ["items", "annotations", "consensus", "disputed", "borderline", "flagged"]
        names += ["decided_label", "decided_insufficient", "gold"]
        return dict(zip(names, cur.fetchone(), strict=True))


def print_state(project) -> dict:
    s = describe(project)
    print(
        f"project {project.pk} {project.name}: {s['items']:,} items, {s['annotations']:,} "
        f"annotations, consensus rows {s['consensus']:,}, disputed {s['disputed']:,} "
        f"({s['disputed'] / max(s['items'], 1):.1%}), borderline consensus {s['borderline']:,}, "
        f"flagged {s['flagged']:,}, decisions {s['decided_label']:,} label + "
        f"{s['decided_insufficient']:,} input_insufficient, gold {s['gold']:,}"
    )
    return s


# ------------------------------------------------------------------------------------- gunicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the benchmark dies (Linux PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        pids = [int(p) for p in children.split()]
        if len(pids) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {pids}")
        return pids[0]


def start_gunicorn(env: dict[str, str], timeout: int, logdir: Path) -> Server:
    """One sync worker: the process that serves the export is the one whose memory we read."""
    port = free_port()
    log = logdir / "gunicorn.log"
    command = [
        str(VENV_BIN / "gunicorn"),
        "labelhub.wsgi",
        "--bind",
        f"{HOST}:{port}",
        "--worker-class",
        "sync",
        "--workers",
        "1",
        "--log-level",
        "warning",
        # A sync worker does not report to the master while it streams a response: with the
        # default 30 s, an export longer than that is killed mid-stream.
        "--timeout",
        str(timeout),
        "--graceful-timeout",
        "5",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **env, "ALLOWED_HOSTS": HOST, "SECURE_COOKIES": "false"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Server(process=process, port=port, log=log)


def stop_gunicorn(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):  # a worker that outlived the master
        os.killpg(server.process.pid, signal.SIGKILL)


def wait_until_ready(server: Server, path: str, cookie: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer 200 on {path}:\n{server.log_tail()}")


def status_mb(pid: int, name: str) -> float:
    """VmRSS / VmHWM of a process, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise LookupError(name)


def cpu_pressure_us() -> int:
    """Microseconds so far in which some runnable task waited for a CPU (PSI, Linux ≥ 4.20):
    its growth over a window divided by the window says how contended the cores were."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return 0
    return int(line.rsplit("total=", 1)[1])


def context_switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of a process: blocked on I/O vs preempted."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if "ctxt_switches:" in line:
            name, value = line.split(":")
            found[name] = int(value)
    return found["voluntary_ctxt_switches"], found["nonvoluntary_ctxt_switches"]


def renice(pids: list[int], value: int) -> None:
    """Set the nice value of ``pids`` (root may lower it): on a machine others load, it gives
    the processes being measured a larger share of the cores (CFS weight ~1.25× per step)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, pid, value)


def backend_pids(pg: dict, db: str) -> list[int]:
    """Postgres backends connected to ``db`` (the worker's persistent one, after warm-up)."""
    with psycopg.connect(dbname="postgres", autocommit=True, **pg) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db,),
        ).fetchall()
    return [r[0] for r in rows]


@dataclass
class Streamed:
    label: str
    status: int = 0
    lines: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    first_byte: float = 0.0
    rss_before: float = 0.0
    peak_hwm: float = 0.0
    peak_sampled: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    pressure: float = 0.0
    switches: tuple[int, int] = (0, 0)
    first: bytes = b""
    last: bytes = b""


def stream_export(
    server: Server, path: str, cookie: str, label: str, pg: dict, db: str, own_backend: int
) -> Streamed:
    """GET ``path`` and read it to the end in 1 MiB reads, counting lines, while sampling the
    worker's RSS; the worker's VmHWM is reset first so it is this request's peak."""
    worker = server.worker_pid()
    result = Streamed(label=label)
    backends = [p for p in backend_pids(pg, db) if p != own_backend]
    result.rss_before = status_mb(worker, "VmRSS")
    Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM := VmRSS
    stop = threading.Event()
    peak = [result.rss_before]

    def sample() -> None:
        while not stop.wait(0.05):
            with contextlib.suppress(OSError, LookupError):
                peak[0] = max(peak[0], status_mb(worker, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    cpu0 = {
        "worker": _process_cpu(worker),
        "postgres": sum(_process_cpu(p) for p in backends),
        "client": time.process_time(),
        "machine": _machine_busy(),
    }
    pressure0, switches0 = cpu_pressure_us(), context_switches(worker)
    sampler.start()
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, server.port, timeout=900)
    conn.request("GET", path, headers={"Cookie": cookie, "Accept": "*/*"})
    response = conn.getresponse()
    result.status = response.status
    tail = b""
    while True:
        chunk = response.read(1 << 20)
        if not chunk:
            break
        if not result.nbytes:
            result.first_byte = time.perf_counter() - started
            result.first = chunk.split(b"\n", 2)[0 if label != "csv" else 1]
        result.nbytes += len(chunk)
        result.lines += chunk.count(b"\n")
        tail = (tail + chunk)[-4096:]
    result.seconds = time.perf_counter() - started
    conn.close()
    stop.set()
    sampler.join()
    time.sleep(0.05)
    result.peak_hwm = status_mb(worker, "VmHWM")
    result.peak_sampled = peak[0]
    result.pressure = (cpu_pressure_us() - pressure0) / 1e6 / result.seconds
    switches1 = context_switches(worker)
    result.switches = (switches1[0] - switches0[0], switches1[1] - switches0[1])
    worker_cpu = _process_cpu(worker) - cpu0["worker"]
    pg_cpu = sum(_process_cpu(p) for p in backends) - cpu0["postgres"]
    client_cpu = time.process_time() - cpu0["client"]
    machine = _machine_busy() - cpu0["machine"]
    result.cpu = {
        "worker": worker_cpu,
        "postgres": pg_cpu,
        "client": client_cpu,
        "other": max(machine - worker_cpu - pg_cpu - client_cpu, 0.0),
    }
    result.last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if result.status != 200:
        raise RuntimeError(f"{path}: HTTP {result.status}: {tail[:500]!r}\n{server.log_tail()}")
    return result


def print_streamed(rows: list[tuple[Streamed, int]]) -> None:
    print(
        f"\n{'export':<30}{'records':>10}{'MB':>7}{'s':>6}{'items/s':>8}{'rec/s':>8}{'MB/s':>6}"
        f"{'TTFB':>6}{'RSS0':>5}{'peak':>5}{'smpl':>5}{'wkCPU':>6}{'µs/it':>6}{'cap/s':>8}"
        f"{'pgCPU':>6}{'clnt':>5}{'other':>6}{'PSI%':>5}{'vol/invol cs':>14}"
    )
    for r, scanned in rows:
        records = r.lines - (1 if r.label == "csv" else 0)
        print(
            f"{r.label:<30}{records:>10,}{r.nbytes / 1e6:>7.1f}{r.seconds:>6.1f}"
            f"{scanned / r.seconds:>8,.0f}{records / r.seconds:>8,.0f}"
            f"{r.nbytes / 1e6 / r.seconds:>6.1f}{r.first_byte:>6.2f}{r.rss_before:>5.0f}"
            f"{r.peak_hwm:>5.0f}{r.peak_sampled:>5.0f}{r.cpu['worker']:>6.1f}"
            f"{1e6 * r.cpu['worker'] / scanned:>6.1f}{scanned / r.cpu['worker']:>8,.0f}"
            f"{r.cpu['postgres']:>6.1f}{r.cpu['client']:>5.1f}{r.cpu['other']:>6.1f}"
            f"{100 * r.pressure:>5.0f}{f'{r.switches[0]}/{r.switches[1]}':>14}"
        )
    print(
        "items/s: the project's items scanned per second; rec/s: records written per second; "
        "TTFB: s to the first byte; RSS0: the worker's RSS before the request; peak: its VmHWM "
        "during the request; smpl: largest VmRSS sampled every 50 ms (MB = 10^6 bytes); "
        "wkCPU: CPU s of the gunicorn worker, µs/it per item scanned, cap/s = items / wkCPU, "
        "the rate one free core would give; pgCPU: Postgres backends on the database; clnt: "
        "this client; other: everything else on the machine (2 cores = 2 CPU s per s); "
        "PSI%: share of the time some runnable task waited for a core (/proc/pressure/cpu); "
        "vol/invol cs: the worker's context switches, blocked (socket, Postgres) / preempted"
    )


# ----------------------------------------------------------------------------------- in-process


class Captured:
    """An execute_wrapper keeping each statement's SQL and parameters as sent."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, object]] = []

    def __call__(self, execute, sql_text, params, many, context):
        self.statements.append((sql_text, params))
        return execute(sql_text, params, many, context)


def export_to_nothing(project, params=None) -> tuple[int, int]:
    """``export_records`` + ``encode_jsonl`` as the view runs them; (records, bytes)."""
    from consensus.export import export_records
    from consensus.export_formats import encode_jsonl
    from consensus.export_params import ExportParams

    records = 0
    nbytes = 0
    for chunk in encode_jsonl(
        export_records(
            project=project, params=params or ExportParams(), include_gold=True, media_base=""
        )
    ):
        nbytes += len(chunk)
        records += chunk.count(b"\n")
    return records, nbytes


def freeze_parts(version) -> list[tuple[str, float]]:
    """What a freeze does besides exporting, timed apart on a frozen version's own bytes:
    SHA-256, gzip at the level ``dataset_freeze`` uses (6) and at 1, and the pass that reads
    the gzip back and parses every line to count classes (json, as now, and orjson)."""
    import gzip
    from collections import Counter

    import orjson

    with version.file.open("rb") as handle:
        packed = handle.read()
    data = gzip.decompress(packed)
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    parts: list[tuple[str, float]] = []

    def timed(name: str, call: Callable[[], object]) -> None:
        started = time.perf_counter()
        call()
        parts.append((name, time.perf_counter() - started))

    def sha() -> None:
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)

    sizes: dict[int, int] = {}

    def compress(level: int) -> Callable[[], object]:
        def call() -> None:
            out = io.BytesIO()
            with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as g:
                for chunk in chunks:
                    g.write(chunk)
            sizes[level] = out.tell()

        return call

    def count(loads: Callable[[bytes], dict]) -> Callable[[], object]:
        def call() -> None:
            counts: Counter[str] = Counter()
            with gzip.GzipFile(fileobj=io.BytesIO(packed), mode="rb") as g:
                for line in g:
                    if line.strip():
                        counts[loads(line)["label"]] += 1

        return call

    timed("SHA-256 of the JSONL", sha)
    timed("gzip level 6 (as frozen)", compress(6))
    timed("gzip level 1", compress(1))
    parts[1] = (f"{parts[1][0]}: {sizes[6] / 1e6:.1f} MB", parts[1][1])
    parts[2] = (f"{parts[2][0]}: {sizes[1] / 1e6:.1f} MB", parts[2][1])
    timed("read back + json.loads per line + count (as now)", count(json.loads))
    timed("read back + orjson.loads per line + count", count(orjson.loads))
    return parts


def stream_queries(project) -> list[tuple[str, object]]:
    """The four stream SELECTs ``export_records`` sends (captured while reading one record)."""
    from django.db import connection

    from consensus.export import export_records
    from consensus.export_params import ExportParams

    clock = Captured()
    with connection.execute_wrapper(clock):
        records = export_records(project=project, params=ExportParams(), include_gold=True)
        next(records)
        records.close()
    # In stream order: items (joined to their consensus), annotations, decisions, flags.
    tables = (
        "annotations_item",
        "annotations_annotation",
        "consensus_reviewdecision",
        "annotations_itemflag",
    )
    found = []
    for table in tables:
        found.append(
            next((s, p) for s, p in clock.statements if f'FROM "{table}"' in s and "ORDER BY" in s)
        )
    return found


def sql_floor(sql_text: str, params) -> tuple[int, float, float, float]:
    """Rows, seconds, this process's CPU s and the backend's CPU s to read every row of one
    stream through the server-side cursor Django uses, 5,000 per FETCH (its chunk), with no
    ORM conversion (Django's own psycopg loaders still apply: timestamptz and jsonb)."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
        cpu0, own0 = _process_cpu(backend), time.process_time()
        started = time.perf_counter()
        rows = 0
        # The cursor Django's .iterator() uses (a named, client-side-bound psycopg cursor).
        cur = connection.chunked_cursor()
        try:
            cur.execute(sql_text, params)
            while batch := cur.fetchmany(5000):
                rows += len(batch)
        finally:
            cur.close()
        seconds = time.perf_counter() - started
        return rows, seconds, time.process_time() - own0, _process_cpu(backend) - cpu0


def raw_floor(pg: dict, db: str, sql_text: str, params) -> tuple[int, float, float]:
    """The same read on a plain psycopg connection (psycopg's C loaders for every type):
    rows, seconds, this process's CPU s."""
    with psycopg.connect(dbname=db, **pg) as conn, conn.transaction():
        cpu0, started, rows = time.process_time(), time.perf_counter(), 0
        with conn.cursor(name="bench_raw") as cur:
            cur.execute(sql_text, params)
            while batch := cur.fetchmany(5000):
                rows += len(batch)
        return rows, time.perf_counter() - started, time.process_time() - cpu0


def staircase(project) -> list[tuple[str, int, float, float]]:
    """The export built up layer by layer over one project, each as (name, records, wall s,
    this process's CPU s): the difference between two steps is the cost of a layer."""
    from django.db import transaction

    from consensus import export as export_module
    from consensus.export_params import ExportParams

    steps: list[tuple[str, int, float, float]] = []

    def timed(name: str, call: Callable[[], int]) -> None:
        cpu0, started = time.process_time(), time.perf_counter()
        n = call()
        steps.append((name, n, time.perf_counter() - started, time.process_time() - cpu0))

    queries = stream_queries(project)

    def fetch_only() -> int:
        return sum(sql_floor(sql_text, params)[0] for sql_text, params in queries)

    def orm_rows() -> int:
        # consensus.export's own streams (a private helper: skipped if its shape changed).
        with transaction.atomic():
            items, *grouped = export_module._streams(project, ExportParams())
            n = sum(1 for _ in items)
            for stream in grouped:
                stream.take(2**62)  # drains it: skips every group below that id
        return n

    def records() -> int:
        return sum(
            1
            for _ in export_module.export_records(
                project=project, params=ExportParams(), include_gold=True
            )
        )

    timed("1 the 4 SELECTs, rows fetched only", fetch_only)
    try:
        timed("2 + ORM values_list rows, grouped by item", orm_rows)
    except (AttributeError, TypeError, ValueError) as error:
        print(f"  (step 2 skipped: consensus.export._streams changed: {error})")
    timed("3 + records built (export_records)", records)
    timed("4 + encode_jsonl (the whole export)", lambda: export_to_nothing(project)[0])
    return steps


def what_if_fetch(pg: dict, db: str, project) -> None:
    """The items stream (17 columns, the widest) read three ways: as Django's cursor reads it,
    on a plain psycopg connection, and through Django's cursor with ``slices`` and
    ``updated_at`` sent as text (no per-row JSON parse or datetime)."""
    sql_text, params = stream_queries(project)[0]
    updated = '"consensus_itemconsensus"."updated_at"'
    slices = '"annotations_item"."slices"'
    assert updated in sql_text, sql_text
    assert slices in sql_text, sql_text
    as_text = sql_text.replace(updated, f"{updated}::text", 1).replace(slices, f"{slices}::text", 1)
    n, seconds, cpu, _ = sql_floor(sql_text, params)
    rows = [("Django's cursor, as the export reads it", n, seconds, cpu)]
    rows.append(("plain psycopg connection (C loaders)", *raw_floor(pg, db, sql_text, params)))
    n, seconds, cpu, _ = sql_floor(as_text, params)
    rows.append(("Django's cursor, slices::text, updated_at::text", n, seconds, cpu))
    # One statement instead of four: each item's labels, decision and flags aggregated by
    # Postgres (arrays, probing the (item, round) index per item), so Python gets one row per
    # item and merges nothing.
    one = """
        SELECT i.id, i.external_id, i.text, i.image, i.image_url, i.slices::text,
            i.gold_label_id, i.round, c.round, c.label_id, c.method, c.confidence, c.n_labels,
            c.majority_share, c.entropy, c.tied, c.updated_at::text, l.labelers, l.labels,
            d.id, d.revision, d.outcome, d.label_id, d.decided_at::text, f.kinds
        FROM annotations_item i
        LEFT JOIN consensus_itemconsensus c ON c.item_id = i.id
        LEFT JOIN LATERAL (
            SELECT array_agg(a.labeler_id ORDER BY a.id) AS labelers,
                   array_agg(a.label_id ORDER BY a.id) AS labels
            FROM annotations_annotation a
            WHERE a.item_id = i.id AND a.round = i.round AND NOT a.withdrawn) l ON true
        LEFT JOIN consensus_reviewdecision d
            ON d.item_id = i.id AND d.current AND d.round = i.round
        LEFT JOIN LATERAL (
            SELECT array_agg(DISTINCT g.kind ORDER BY g.kind) AS kinds
            FROM annotations_itemflag g WHERE g.item_id = i.id AND g.round = i.round) f ON true
        WHERE i.project_id = %s
        ORDER BY i.id"""
    n, seconds, cpu, pg_cpu = sql_floor(one, [project.pk])
    rows.append(("ONE statement for all 4 streams (arrays per item)", n, seconds, cpu))
    print(f"\n== what if: the items + consensus stream of {project.name}, fetched only ==")
    for name, n, seconds, cpu in rows:
        print(
            f"  {name:<50}{n:>9,} rows {seconds:6.2f} s  CPU {cpu:5.2f} s "
            f"({1e6 * cpu / n:5.1f} µs/row)"
        )
    print(f"  (the one statement's Postgres backend CPU: {pg_cpu:.2f} s)")


def what_if_index(projects: list, lines: int) -> None:
    """The plans of the annotations and items streams with an index in stream order (created
    in the bench database only, then dropped): (project, item, id) with the streamed columns
    included, for an index-only scan with no sort and no rows of other projects."""
    from django.db import connection

    create = [
        "CREATE INDEX bench_annotation_export ON annotations_annotation "
        "(project_id, item_id, id) INCLUDE (round, labeler_id, label_id) WHERE NOT withdrawn",
        "CREATE INDEX bench_item_export ON annotations_item (project_id, id)",
    ]
    print("\n== what if: indexes in stream order ==")
    try:
        with connection.cursor() as cur:
            for statement in create:
                started = time.perf_counter()
                cur.execute(statement)
                print(f"  {statement}  ({time.perf_counter() - started:.1f} s)")
            cur.execute("VACUUM (ANALYZE) annotations_annotation, annotations_item")
        for project in projects:
            items, annotations, _, _ = stream_queries(project)
            for name, (sql_text, params) in (("annotations", annotations), ("items", items)):
                n, seconds, cpu, pg_cpu = sql_floor(sql_text, params)
                print(
                    f"\n  {name} stream of {project.name} with the index: {n:,} rows fetched "
                    f"in {seconds:.2f} s (this process CPU {cpu:.2f} s, backend {pg_cpu:.2f} s)"
                )
                explain_stream(
                    f"{name} stream of {project.name}, with the index", sql_text, params, lines
                )
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP INDEX IF EXISTS bench_annotation_export")
            cur.execute("DROP INDEX IF EXISTS bench_item_export")


def explain_stream(title: str, sql_text: str, params, lines: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"EXPLAIN DECLARE bench_plan_cursor NO SCROLL CURSOR FOR {sql_text}", params)
        cursor_plan = [row[0] for row in cur.fetchall()]
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql_text}", params)
        plan = [row[0] for row in cur.fetchall()]
    print(f"\n== {title} ==")
    print("  " + " ".join(sql_text.split())[:600])
    print(f"  params: {params}")
    print("  -- plan of the cursor (EXPLAIN DECLARE, no ANALYZE):")
    for line in cursor_plan:
        print(f"    {line}")
    print("  -- EXPLAIN (ANALYZE, BUFFERS) of the same SELECT:")
    in_jit = False
    for i, line in enumerate(plan):
        in_jit = in_jit or line.startswith("JIT:")
        if i < lines or in_jit or line.startswith(("Planning Time", "Execution Time")):
            print(f"    {line}")


def profile(title: str, call: Callable[[], object], top: int) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
        text = out.getvalue()
        print(f"\n== cProfile of {title}, top {top} by {order} ==")
        print(text[text.find("   ncalls") :].rstrip())
    return stats


def fetch_share(stats: pstats.Stats) -> tuple[float, float]:
    """(cumulative s in psycopg's fetchmany: the FETCHes, waiting on Postgres and decoding
    rows; total s of the profile)."""
    fetch = 0.0
    for (filename, _, name), (_, _, _, cumulative, _) in stats.stats.items():
        if name == "fetchmany" and "psycopg" in filename:
            fetch += cumulative
    return fetch, stats.total_tt


# ------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="labelhub_bench_export")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--freeze-items", type=int, default=200_000)
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--disputed", type=float, default=0.20, help="share of items disputed")
    parser.add_argument("--flagged", type=float, default=0.01, help="share of items flagged")
    parser.add_argument("--decided", type=float, default=0.02, help="share of items decided")
    parser.add_argument("--runs", type=int, default=3, help="timed freezes (median)")
    parser.add_argument(
        "--timeout", type=int, default=900, help="gunicorn --timeout (s; its default is 30)"
    )
    parser.add_argument("--explain-lines", type=int, default=25)
    parser.add_argument(
        "--wait-quiet", type=float, default=30, help="wait up to this long (s) for an idle machine"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="while measuring, run the gunicorn worker, its Postgres backend and this process "
        "at this nice value (e.g. -5: a larger share of a busy shared machine; 0: unchanged)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database as it is")
    args = parser.parse_args()
    if args.decided > args.disputed:
        parser.error("--decided must not exceed --disputed (decisions are on disputed items)")

    pg = server_params()
    media = tempfile.mkdtemp(prefix="bench-export-media-")
    os.environ["MEDIA_ROOT"] = media
    try:
        fresh = prepare_database(pg, args.db, args.reuse)
        setup_django(pg, args.db)
        run(args, pg, fresh)
    finally:
        shutil.rmtree(media, ignore_errors=True)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(pg, args.db)
            print(f"\ndropped database {args.db}")


def run(args: argparse.Namespace, pg: dict, fresh: bool) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from annotations.models import Project

    fingerprint = code_fingerprint()
    print(f"measured code: {fingerprint}")
    if fresh:
        seed(args)
    project = Project.objects.get(name=PROJECT_NAME)
    frozen_project = Project.objects.get(name=FREEZE_NAME)
    state = print_state(project)
    print_state(frozen_project)
    engineer = get_user_model().objects.get(username="bench-engineer")

    # A session of the engineer, as a browser would hold after logging in.
    client = Client()
    client.force_login(engineer)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        own_backend = cur.fetchone()[0]

    # ---- (1) and (2): the API under gunicorn
    logdir = Path(tempfile.mkdtemp(prefix="bench-export-log-"))
    env = {
        "DATABASE_URL": database_url(pg, args.db),
        "DATABASE_CONN_MAX_AGE": "600",
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "labelhub.settings",
        "MEDIA_ROOT": os.environ["MEDIA_ROOT"],
    }
    server = start_gunicorn(env, args.timeout, logdir)
    base = f"/api/v1/projects/{project.pk}/export/"
    rows: list[tuple[Streamed, int]] = []
    try:
        wait_until_ready(server, f"/api/v1/projects/{project.pk}/", cookie)
        print(
            f"\ngunicorn pid {server.process.pid}, worker {server.worker_pid()}, port "
            f"{server.port}, RSS after start {status_mb(server.worker_pid(), 'VmRSS'):.0f} MB"
        )
        t0 = time.perf_counter()
        warm = stream_export(
            server, f"{base}?format=jsonl", cookie, "warm-up", pg, args.db, own_backend
        )
        print(
            f"warm-up JSONL pass: {warm.lines:,} lines in {time.perf_counter() - t0:.1f} s, "
            f"worker peak {warm.peak_hwm:.0f} MB"
        )
        busy, waited = wait_for_quiet(args.wait_quiet)
        print(f"machine busy {busy:.2f} cores before measuring (waited {waited:.0f} s)")
        if args.nice:
            # The worker, the master, their Postgres backends, this process and its backend.
            pids = [server.worker_pid(), server.process.pid, os.getpid()]
            pids += backend_pids(pg, args.db)
            renice(pids, args.nice)
            print(f"nice {args.nice} for pids {pids}")
        for label, query in (
            ("jsonl", "format=jsonl"),
            ("csv", "format=csv"),
            (f"jsonl {FILTERED}", f"format=jsonl&{FILTERED}"),
        ):
            r = stream_export(server, f"{base}?{query}", cookie, label, pg, args.db, own_backend)
            rows.append((r, state["items"]))
            print(f"  {label}: {r.lines:,} lines, {r.seconds:.1f} s")
    finally:
        stop_gunicorn(server)
        shutil.rmtree(logdir, ignore_errors=True)
    print_streamed(rows)
    jsonl = rows[0][0]
    first = json.loads(jsonl.first)
    print(f"\nfirst JSONL record ({len(jsonl.first)} bytes): {jsonl.first.decode()[:700]}")
    print(
        f"mean record size: JSONL {jsonl.nbytes / max(jsonl.lines, 1):.0f} B, "
        f"CSV {rows[1][0].nbytes / max(rows[1][0].lines, 1):.0f} B"
    )
    assert first["item_id"], first
    assert json.loads(jsonl.last)["item_id"], jsonl.last
    rate = jsonl.lines / jsonl.seconds
    print(
        f"target JSONL ≥ 50,000 items/s: {rate:,.0f} items/s -> "
        f"{'MET' if rate >= 50_000 else 'MISSED'}; serving process peak ≤ 200 MB: "
        f"{jsonl.peak_hwm:.0f} MB -> {'MET' if jsonl.peak_hwm <= 200 else 'MISSED'}"
    )

    # ---- (3): freeze
    from consensus.services.datasets import dataset_freeze

    def freeze(tag: str):
        return dataset_freeze(
            user=engineer, project_id=frozen_project.pk, params={}, name=f"bench {tag}"
        )

    print(f"\n== dataset_freeze of {FREEZE_NAME} ({frozen_project.pk}) ==")
    t0 = time.perf_counter()
    warm_version = freeze("warm-up")
    print(f"warm-up freeze: {time.perf_counter() - t0:.2f} s, version {warm_version.number}")
    times = []
    versions = []
    for i in range(args.runs):
        t0 = time.perf_counter()
        versions.append(freeze(f"run {i}"))
        times.append(time.perf_counter() - t0)
    v = versions[-1]
    hashes = {x.content_hash for x in [warm_version, *versions]}
    export_times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        n_records, n_bytes = export_to_nothing(frozen_project)
        export_times.append(time.perf_counter() - t0)
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    freeze("tracemalloc")
    traced_seconds = time.perf_counter() - t0
    traced_peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    med = statistics.median
    print(
        f"freeze: median {med(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}) over "
        f"{args.runs} runs; {v.n_items:,} items, {n_bytes / 1e6:.1f} MB JSONL -> "
        f"{v.size_bytes / 1e6:.1f} MB gzip ({v.size_bytes / n_bytes:.1%}); "
        f"{v.n_items / med(times):,.0f} items/s; class counts {v.class_counts}; "
        f"content hashes equal across {len(versions) + 1} versions: {len(hashes) == 1}"
    )
    print(
        f"the same export in-process to nothing: median {med(export_times):.2f} s "
        f"({n_records:,} records, {n_records / med(export_times):,.0f} items/s); "
        f"freeze − export = {med(times) - med(export_times):.2f} s (gzip level 6, SHA-256, "
        f"reading the gzip back to count classes, saving the file)"
    )
    for name, seconds in freeze_parts(v):
        print(f"  freeze part: {name:<52}{seconds:6.2f} s")
    print(
        f"freeze under tracemalloc: {traced_seconds:.2f} s, peak Python memory "
        f"{traced_peak / 2**20:.1f} MiB"
    )

    # ---- (4): profile and SQL
    busy, waited = wait_for_quiet(args.wait_quiet)
    stats = profile(
        f"export_records + encode_jsonl over {FREEZE_NAME} ({n_records:,} records)",
        lambda: export_to_nothing(frozen_project),
        15,
    )
    fetch, total = fetch_share(stats)
    print(
        f"\nprofiled total {total:.2f} s (cProfile inflates Python time); psycopg fetchmany "
        f"(FETCH round trips + decoding rows) {fetch:.2f} s = {fetch / total:.0%}"
    )

    print(f"\n== the export layer by layer, {FREEZE_NAME} ({frozen_project.pk}) ==")
    print(f"{'step':<46}{'rows/rec':>10}{'wall s':>8}{'CPU s':>7}{'µs/item CPU':>12}{'Δ µs':>7}")
    previous = 0.0
    n_items = describe(frozen_project)["items"]
    for name, n, wall, cpu in staircase(frozen_project):
        per = 1e6 * cpu / n_items
        print(f"{name:<46}{n:>10,}{wall:>8.2f}{cpu:>7.2f}{per:>12.1f}{per - previous:>7.1f}")
        previous = per
    print("CPU s: this process's; per item of the project; Δ: the layer's own cost")
    what_if_fetch(pg, args.db, frozen_project)

    for target in (frozen_project, project):
        queries = stream_queries(target)
        names = ("items + consensus", "annotations", "decisions", "flags")
        print(f"\n== SQL floor of the 4 streams, project {target.name} ==")
        floor_total = 0.0
        for name, (sql_text, params) in zip(names, queries, strict=True):
            n, seconds, own_cpu, pg_cpu = sql_floor(sql_text, params)
            floor_total += seconds
            print(
                f"  {name:<18} {n:>10,} rows {seconds:7.2f} s  (this process CPU "
                f"{own_cpu:.2f} s, backend CPU {pg_cpu:.2f} s)"
            )
        if target is project:
            print(
                f"  sum {floor_total:.2f} s = {floor_total / jsonl.seconds:.0%} of the API JSONL "
                f"export's {jsonl.seconds:.1f} s (the streams are read one after another "
                "within a chunk, so they add up)"
            )
        else:
            print(
                f"  sum {floor_total:.2f} s = {floor_total / med(export_times):.0%} of the "
                f"in-process export's {med(export_times):.2f} s"
            )
        if target is frozen_project:
            # The small project shares the tables with the big one: what its plans read.
            explain_stream(f"annotations stream of {target.name}", *queries[1], args.explain_lines)
        if target is project:
            for name, (sql_text, params) in zip(names, queries, strict=True):
                explain_stream(
                    f"{name} stream of {target.name}", sql_text, params, args.explain_lines
                )
    what_if_index([frozen_project, project], args.explain_lines)
    print(f"\nmeasured code: {fingerprint}")
    if code_fingerprint() != fingerprint:
        print(f"WARNING: the measured code changed during the run; now: {code_fingerprint()}")


if __name__ == "__main__":
    main()
