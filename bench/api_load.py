"""Load benchmark of LabelHub's labeling hot path (next item, submit) under gunicorn on Postgres.

What it measures
    ``--clients`` concurrent labelers (default 32) each run the real labeling loop against a real
    gunicorn server: ``POST /api/v1/projects/{id}/next/`` leases an item, then
    ``POST /api/v1/annotations/`` labels it with a random class and a fresh idempotency key. After
    ``--warmup`` seconds it measures for ``--seconds`` and prints, per endpoint, the number of
    requests, errors, throughput and p50/p95/p99/max latency, the errors by status, and the CPU
    that gunicorn, Postgres, this load generator and the whole machine used in the window (from
    /proc). With several ``--server`` options it runs once per gunicorn configuration.

Method
    * Database ``--db`` (``labelhub_bench``) on Postgres at 127.0.0.1:5432, user postgres: created
      if missing, dropped and recreated with ``--fresh``, then ``manage.py migrate``.
    * Seed: the project through ``project_create`` (overlap 3, five classes), named after its item
      count so that each ``--items`` has its own project; items with one ``INSERT ... SELECT
      generate_series``; labelers with DRF tokens and labeler memberships; then VACUUM ANALYZE.
      A reused database keeps the labels of earlier runs: later runs see many items labeled.
    * Server: ``gunicorn labelhub.wsgi`` on a free 127.0.0.1 port, DEBUG=0, persistent database
      connections (DATABASE_CONN_MAX_AGE), log level WARNING. It is always stopped at the end.
    * Load: one asyncio process, one raw HTTP/1.1 connection per client. Gunicorn's sync workers
      close the connection after each response, so the client then reconnects; the reconnect is
      part of the measured latency. gthread workers keep connections alive.
    * Closed loop: a client sends its next request when the previous answer is in, so the
      throughput is what the server sustains at this concurrency and the latency includes the
      time a request waits in gunicorn's queue.
    * Counting: a request counts when its answer arrives inside the measured window. Latency runs
      from writing the request (or connecting) to reading the whole answer. Expected: next 200
      (204 "nothing left" is counted apart), submit 201; any other status, a transport error or a
      time-out (``--request-timeout``) is an error.
    * Shared machine: the load generator shares the two cores with the server, and so may other
      programs. Before each run it waits (``--wait-quiet``) for the cores to be idle, and runs a
      configuration again (``--retries``) when other programs took over 20% of a core during
      the window. It also prints CPU milliseconds per request, the steadier figure.

Run ``python bench/api_load.py --help`` for the options; bench/README.md has examples.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
HOST = "127.0.0.1"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET_KEY = "labelhub-bench-secret-key-not-for-production-0123456789"
CLASS_KEYS = ("scratch", "dent", "crack", "stain", "clean")
OVERLAP = 3
TARGET_P99_MS = 50.0
TARGET_SUBMISSIONS_PER_S = 500.0
#: Above this much CPU (% of one core) used by other programs in the window, a run is disturbed.
OTHER_MAX = 20.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- options


@dataclass(frozen=True)
class ServerSpec:
    """One gunicorn configuration: ``sync:4`` or ``gthread:2x16`` (workers x threads)."""

    worker_class: str
    workers: int
    threads: int

    @classmethod
    def parse(cls, text: str) -> ServerSpec:
        match = re.fullmatch(r"(sync|gthread):(\d+)(?:x(\d+))?", text)
        if not match:
            raise argparse.ArgumentTypeError(
                f"{text!r}: use sync:WORKERS or gthread:WORKERSxTHREADS"
            )
        worker_class, workers, threads = match.group(1), int(match.group(2)), match.group(3)
        return cls(worker_class, workers, int(threads) if threads else 1)

    def __str__(self) -> str:
        return f"{self.worker_class} workers={self.workers} threads={self.threads}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000, help="items in the project")
    parser.add_argument("--clients", type=int, default=32, help="concurrent labelers")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument(
        "--server",
        type=ServerSpec.parse,
        action="append",
        dest="servers",
        help="gunicorn config, repeatable: sync:3, gthread:2x16 (default sync:3)",
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=600,
        help="DATABASE_CONN_MAX_AGE for the server (0 = new connection each time)",
    )
    parser.add_argument("--db", default="labelhub_bench", help="database name")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause after each submit, uniform in 0.5-1.5x this (a human's "
        "labeling time); 0 = back to back",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="a request slower than this counts as an error",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the clients")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for the machine to be idle",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="run a configuration again (up to this often) when other programs "
        "took over 20%% of a core during its window",
    )
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        type=Path,
        help="record the gunicorn workers with py-spy (on PATH or in "
        "$PY_SPY) during the window; raw stacks go to DIR",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for migrate and gunicorn, repeatable (e.g. "
        "REDIS_URL=redis://127.0.0.1:6379/0 to send Celery tasks to a broker "
        "instead of running them eagerly inside the request)",
    )
    parser.add_argument(
        "--code",
        type=Path,
        default=REPO,
        metavar="DIR",
        help="the LabelHub tree to serve (default: this one), e.g. a snapshot "
        "made with 'git archive HEAD | tar -x -C DIR' while others edit",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.db):
        parser.error("--db must be a plain lower-case identifier")
    if args.items < 1 or args.clients < 1 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--items, --clients and --seconds must be positive")
    if args.seconds + args.warmup > 3600:
        parser.error("--warmup + --seconds must stay under an hour")
    args.code = args.code.resolve()
    args.json = args.json.resolve() if args.json else None
    args.py_spy = args.py_spy.resolve() if args.py_spy else None
    if not (args.code / "manage.py").is_file():
        parser.error(f"--code {args.code}: no manage.py there")
    args.servers = args.servers or [ServerSpec("sync", 3, 1)]
    for item in args.env:
        name, sep, _ = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
            parser.error(f"--env {item!r}: use NAME=VALUE")
    return args


def database_url(db: str) -> str:
    return f"postgresql://postgres@{HOST}:5432/{db}"


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment of manage.py and gunicorn: production settings, the bench database."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(args.db),
        "DATABASE_CONN_MAX_AGE": str(args.conn_max_age),
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": HOST,
        "SECURE_COOKIES": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "labelhub.settings",
        **dict(item.split("=", 1) for item in getattr(args, "env", [])),
    }


# ----------------------------------------------------------------------------- database


def ensure_database(db: str, *, fresh: bool) -> bool:
    """Create ``db`` (dropping it first with ``fresh``). Returns whether it was created."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        name = sql.Identifier(db)
        if fresh:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
        return True


def migrate(args: argparse.Namespace) -> None:
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=args.code,
        env=server_env(args),
        check=True,
        timeout=600,
    )


def setup_django(args: argparse.Namespace) -> None:
    """Configure Django in this process against the bench database (for seeding).

    Works from the served tree's directory: Celery puts the working directory on sys.path."""
    os.environ.update(server_env(args))
    code = str(getattr(args, "code", REPO))
    os.chdir(code)
    if code not in sys.path:
        sys.path.insert(0, code)
    import django

    django.setup()


@dataclass
class Seeded:
    project_id: int
    class_keys: list[str]
    tokens: list[str]


def ensure_labelers(count: int) -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    user_model = get_user_model()
    names = [f"bench_labeler_{i:03d}" for i in range(count)]
    existing = set(user_model.objects.filter(username__in=names).values_list("username", flat=True))
    user_model.objects.bulk_create(
        user_model(username=name, password=make_password(None))
        for name in names
        if name not in existing
    )
    return list(user_model.objects.filter(username__in=names).order_by("username"))


def ensure_project(items: int):
    """The project for this item count, created through the project service."""
    from django.contrib.auth import get_user_model

    from annotations.models import Project
    from annotations.services.projects import ClassSpec, project_create

    name = f"bench-{items}"
    project = Project.objects.filter(name=name).order_by("id").first()
    if project is not None:
        return project
    manager, _ = get_user_model().objects.get_or_create(username="bench_manager")
    return project_create(
        creator=manager,
        name=name,
        overlap=OVERLAP,
        classes=[ClassSpec(key=key) for key in CLASS_KEYS],
    )


def insert_items(project, items: int) -> int:
    """Add items ``existing+1 .. items`` in one INSERT ... SELECT. Returns how many."""
    from django.db import connection

    from annotations.models import Item

    have = Item.objects.filter(project=project).count()
    if have >= items:
        return 0
    table = connection.ops.quote_name(Item._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (project_id, external_id, text, image, image_url, thumbnail,
                                 slices, metadata, status, round, labels_done, created_at)
            SELECT %s, 'bench-' || g, 'Benchmark item ' || g || ': is there a defect?',
                   '', '', '', '{{}}'::jsonb, '{{}}'::jsonb, 'open', 1, 0, now()
            FROM generate_series(%s, %s) AS g
            """,
            [project.pk, have + 1, items],
        )
    return items - have


def seed(args: argparse.Namespace) -> Seeded:
    from django.db import connection

    from annotations.models import LabelClass, Membership, Role
    from annotations.services.tokens import api_token_rotate

    started = time.perf_counter()
    project = ensure_project(args.items)
    added = insert_items(project, args.items)
    labelers = ensure_labelers(args.clients)
    Membership.objects.bulk_create(
        [Membership(user=user, project=project, role=Role.LABELER) for user in labelers],
        ignore_conflicts=True,
    )
    # A fresh key per run: only digests are stored, so the last run's keys cannot be read back.
    tokens = [api_token_rotate(user=user, name="bench")[1] for user in labelers]
    keys = list(LabelClass.objects.filter(project=project).values_list("key", flat=True))
    connection.close()
    with psycopg.connect(database_url(args.db), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    print(
        f"seed       project {project.pk} ({project.name}): {added:,} items added, "
        f"{len(labelers)} labelers, {time.perf_counter() - started:.1f} s incl. VACUUM ANALYZE"
    )
    return Seeded(project_id=project.pk, class_keys=keys, tokens=tokens)


def database_state(args: argparse.Namespace, project_id: int) -> dict[str, int]:
    """Item and label counts of the project, to tell a fresh database from a well-used one."""
    with psycopg.connect(database_url(args.db)) as conn:
        items, open_items, partly = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'open'), "
            "count(*) FILTER (WHERE status = 'open' AND labels_done > 0) "
            "FROM annotations_item WHERE project_id = %s",
            [project_id],
        ).fetchone()
        annotations = conn.execute(
            "SELECT count(*) FROM annotations_annotation WHERE project_id = %s", [project_id]
        ).fetchone()[0]
    return {
        "items": items,
        "open_items": open_items,
        "open_partly_labeled": partly,
        "annotations": annotations,
    }


# ----------------------------------------------------------------------------- gunicorn


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
    spec: ServerSpec

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_gunicorn(args: argparse.Namespace, spec: ServerSpec, logdir: Path) -> Server:
    port = free_port()
    log = logdir / f"gunicorn-{spec.worker_class}-{spec.workers}x{spec.threads}.log"
    command = [
        str(VENV_BIN / "gunicorn"),
        "labelhub.wsgi",
        "--bind",
        f"{HOST}:{port}",
        "--worker-class",
        spec.worker_class,
        "--workers",
        str(spec.workers),
        "--threads",
        str(spec.threads),
        "--log-level",
        "warning",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--keep-alive",
        "30",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=args.code,
            env=server_env(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Server(process=process, port=port, log=log, spec=spec)


def wait_until_ready(server: Server, seeded: Seeded, timeout: float = 60.0) -> None:
    """Poll the project endpoint until it answers 200 (workers up, database reachable)."""
    deadline = time.monotonic() + timeout
    path = f"/api/v1/projects/{seeded.project_id}/"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            status, _ = asyncio.run(_one_request(server.port, "GET", path, seeded.tokens[0]))
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"gunicorn did not answer 200 on {path} in {timeout:.0f} s:\n{server.log_tail()}"
    )


async def _one_request(port: int, method: str, path: str, token: str) -> tuple[int, bytes]:
    conn = HttpConnection(port)
    try:
        return await conn.request(method, path, b"", token)
    finally:
        conn.close()


def stop_gunicorn(server: Server) -> None:
    """SIGTERM to the master (graceful, 5 s), then SIGKILL to its process group."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):  # workers that outlived the master
        os.killpg(server.process.pid, signal.SIGKILL)


# ----------------------------------------------------------------------------- CPU from /proc


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from "state" on


def _process_table() -> dict[int, tuple[str, int, int]]:
    """pid -> (comm, ppid, utime+stime ticks) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        fields = _stat_fields(pid)
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if fields:
            table[pid] = (comm, int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def _serves_other_database(pid: int, db: str) -> bool:
    """A Postgres client backend ("postgres: [CLUSTER:] USER DB HOST(PORT) ...") connected to a
    database other than ``db``, e.g. another engineer's test run. Server-wide processes (WAL
    writer, checkpointer, autovacuum) are counted as ours."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
    except OSError:
        return False
    rest = [w.decode(errors="replace") for w in words[1:]] if words[:1] == [b"postgres:"] else []
    if rest and rest[0].endswith(":"):  # the cluster name, e.g. "15/main:"
        rest = rest[1:]
    is_client = len(rest) >= 3 and ("(" in rest[2] or rest[2] == "[local]")
    return is_client and rest[1] != db


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def wait_for_quiet(limit: float, threshold: float = 20.0) -> tuple[float, float]:
    """Wait up to ``limit`` s until the machine is under ``threshold`` % busy (of one core) over
    two seconds: other programs on these two cores skew every figure. Returns (busy, waited)."""
    started = time.monotonic()
    cores = os.cpu_count() or 1
    while True:
        busy0, total0 = _machine_ticks()
        time.sleep(2)
        busy1, total1 = _machine_ticks()
        busy = 100 * cores * (busy1 - busy0) / max(total1 - total0, 1)
        waited = time.monotonic() - started
        if busy < threshold or waited >= limit:
            return busy, waited


@dataclass
class CpuSnapshot:
    at: float
    gunicorn: dict[int, int]
    postgres: dict[int, int]
    own: float
    machine: tuple[int, int]


def cpu_snapshot(master_pid: int, db: str) -> CpuSnapshot:
    """CPU ticks so far of gunicorn (master and workers) and of Postgres working for ``db``."""
    table = _process_table()
    gunicorn = {
        pid: ticks
        for pid, (_, ppid, ticks) in table.items()
        if pid == master_pid or ppid == master_pid
    }
    postgres = {
        pid: ticks
        for pid, (comm, _, ticks) in table.items()
        if comm == "postgres" and not _serves_other_database(pid, db)
    }
    return CpuSnapshot(
        at=time.perf_counter(),
        gunicorn=gunicorn,
        postgres=postgres,
        own=time.process_time(),
        machine=_machine_ticks(),
    )


def cpu_usage(start: CpuSnapshot, end: CpuSnapshot) -> dict[str, float]:
    """CPU in the window as % of one core (this machine has os.cpu_count() cores)."""
    seconds = end.at - start.at

    def percent(before: dict[int, int], after: dict[int, int]) -> float:
        ticks = sum(t - before.get(pid, 0) for pid, t in after.items())
        return round(100 * ticks / CLK_TCK / seconds, 1)

    cores = os.cpu_count() or 1
    busy = end.machine[0] - start.machine[0]
    total = end.machine[1] - start.machine[1]
    usage = {
        "gunicorn": percent(start.gunicorn, end.gunicorn),
        "postgres": percent(start.postgres, end.postgres),
        "load_generator": round(100 * (end.own - start.own) / seconds, 1),
        "machine_busy": round(100 * cores * busy / max(total, 1), 1),
        "machine_capacity": 100.0 * cores,
    }
    # Everything else: the kernel's share not charged to a process, and other programs (a test
    # suite running beside the benchmark shows up here and skews the figures).
    usage["other"] = round(
        usage["machine_busy"] - usage["gunicorn"] - usage["postgres"] - usage["load_generator"], 1
    )
    return usage


def start_py_spy(server: Server, outdir: Path, seconds: float) -> subprocess.Popen:
    """Sample all gunicorn workers (``--subprocesses``) for the window, as raw folded stacks.
    ``--gil`` keeps only samples of a thread holding the GIL: Python CPU time, not waiting."""
    outdir.mkdir(parents=True, exist_ok=True)
    spec = server.spec
    out = outdir / f"py-spy-{spec.worker_class}-{spec.workers}x{spec.threads}.txt"
    binary = os.environ.get("PY_SPY", "py-spy")
    return subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(server.process.pid),
            "--subprocesses",
            "--nonblocking",
            "--gil",
            "--rate",
            "100",
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )


# ----------------------------------------------------------------------------- HTTP client


class HttpError(Exception):
    """A malformed answer."""


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to the server; reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        reused = self.writer is not None
        try:
            return await self._exchange(method, path, body, token)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
                raise
        # A kept-alive connection was closed by the server before it read the request: retry
        # once on a new connection (the request never reached the application).
        return await self._exchange(method, path, body, token)

    async def _exchange(self, method: str, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status, headers = await self._read_head()
        payload = await self._read_body(headers)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    async def _read_head(self) -> tuple[int, dict[str, str]]:
        line = await self.reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"bad status line {line!r}")
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            return b"".join(chunks)
        body = await self.reader.read()  # delimited by the server closing the connection
        self.close()
        return body


# ----------------------------------------------------------------------------- load


@dataclass
class Window:
    start: float
    end: float

    def contains(self, moment: float) -> bool:
        return self.start <= moment <= self.end


@dataclass
class EndpointStats:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    ok: int = 0
    empty: int = 0

    def record(self, status: int | str, seconds: float, *, ok: bool, empty: bool = False) -> None:
        self.latencies.append(seconds)
        self.statuses[str(status)] += 1
        self.ok += ok
        self.empty += empty

    @property
    def errors(self) -> int:
        return len(self.latencies) - self.ok - self.empty


@dataclass
class LoadStats:
    next: EndpointStats = field(default_factory=EndpointStats)
    submit: EndpointStats = field(default_factory=EndpointStats)


class Labeler:
    """One simulated labeler: next, then submit, on its own connection, until the window ends."""

    def __init__(
        self,
        *,
        port: int,
        token: str,
        seeded: Seeded,
        window: Window,
        stats: LoadStats,
        rng: random.Random,
        timeout: float,
        think: float,
    ) -> None:
        self.conn = HttpConnection(port)
        self.token = token
        self.seeded = seeded
        self.window = window
        self.stats = stats
        self.rng = rng
        self.timeout = timeout
        self.think = think
        self.next_path = f"/api/v1/projects/{seeded.project_id}/next/"

    async def run(self) -> None:
        try:
            while time.perf_counter() < self.window.end:
                status, body = await self._timed("next", "POST", self.next_path, b"")
                if status == 200:
                    await self._submit(json.loads(body)["item"]["id"])
                    if self.think:
                        await asyncio.sleep(self.think * self.rng.uniform(0.5, 1.5))
                elif status == 204:
                    await asyncio.sleep(0.05)  # nothing left to label
                elif not isinstance(status, int):
                    await asyncio.sleep(0.01)  # transport error: do not spin
        finally:
            self.conn.close()

    async def _submit(self, item_id: int) -> None:
        body = json.dumps(
            {
                "item": item_id,
                "value": {"label": self.rng.choice(self.seeded.class_keys)},
                "idempotency_key": uuid.uuid4().hex,
            }
        ).encode()
        await self._timed("submit", "POST", "/api/v1/annotations/", body)

    async def _timed(
        self, endpoint: str, method: str, path: str, body: bytes
    ) -> tuple[int | str, bytes]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                status, payload = await self.conn.request(method, path, body, self.token)
        except (OSError, asyncio.IncompleteReadError, HttpError, TimeoutError) as exc:
            self.conn.close()
            status, payload = type(exc).__name__, b""
        done = time.perf_counter()
        if self.window.contains(done):
            expected = 200 if endpoint == "next" else 201
            getattr(self.stats, endpoint).record(
                status,
                done - started,
                ok=status == expected,
                empty=endpoint == "next" and status == 204,
            )
        return status, payload


async def run_load(
    args: argparse.Namespace, server: Server, seeded: Seeded
) -> tuple[LoadStats, Window, dict[str, float]]:
    """All labelers at once; CPU is sampled at the start and the end of the measured window."""
    now = time.perf_counter()
    window = Window(start=now + args.warmup, end=now + args.warmup + args.seconds)
    stats = LoadStats()
    labelers = [
        Labeler(
            port=server.port,
            token=seeded.tokens[i % len(seeded.tokens)],
            seeded=seeded,
            window=window,
            stats=stats,
            rng=random.Random(args.seed * 1000 + i),
            timeout=args.request_timeout,
            think=args.think_ms / 1000,
        )
        for i in range(args.clients)
    ]

    async def sample_cpu() -> dict[str, float]:
        await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
        if args.py_spy:
            start_py_spy(server, args.py_spy, args.seconds)
        first = cpu_snapshot(server.process.pid, args.db)
        await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
        return cpu_usage(first, cpu_snapshot(server.process.pid, args.db))

    async with asyncio.timeout(args.warmup + args.seconds + args.request_timeout + 30):
        cpu, *_ = await asyncio.gather(sample_cpu(), *(labeler.run() for labeler in labelers))
    return stats, window, cpu


# ----------------------------------------------------------------------------- figures


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def endpoint_figures(stats: EndpointStats, seconds: float) -> dict:
    values = sorted(stats.latencies)
    ms = {f"p{int(q * 100)}_ms": round(1000 * percentile(values, q), 1) for q in (0.5, 0.95, 0.99)}
    return {
        "requests": len(values),
        "ok": stats.ok,
        "empty_204": stats.empty,
        "errors": stats.errors,
        "per_second": round(len(values) / seconds, 1),
        "ok_per_second": round(stats.ok / seconds, 1),
        **ms,
        "mean_ms": round(1000 * statistics.fmean(values), 1) if values else float("nan"),
        "max_ms": round(1000 * values[-1], 1) if values else float("nan"),
        "statuses": dict(sorted(stats.statuses.items())),
    }


def cpu_per_request(cpu: dict[str, float], figures: dict, seconds: float) -> dict[str, float]:
    """CPU milliseconds per completed request (next and submit alike) for each party, and the
    request rate that the machine's cores would carry at that cost if nothing else ran on them.
    These move less than the rates when other programs share the machine, but still move: on
    this VM a busy sibling core made the same code cost up to 1.5x the CPU per request."""
    requests = figures["next"]["requests"] + figures["submit"]["requests"]
    if not requests:
        return {}
    per = {
        name: round(10 * cpu[name] * seconds / requests, 2)  # % of a core -> ms per request
        for name in ("gunicorn", "postgres", "load_generator")
    }
    server = per["gunicorn"] + per["postgres"]
    per["server_total"] = round(server, 2)
    per["capacity_req_per_s"] = round(1000 * (os.cpu_count() or 1) / server, 1) if server else 0
    return per


def run_figures(
    args: argparse.Namespace,
    spec: ServerSpec,
    stats: LoadStats,
    window: Window,
    cpu: dict[str, float],
) -> dict:
    seconds = window.end - window.start
    figures = {
        "server": asdict(spec) | {"conn_max_age": args.conn_max_age},
        "clients": args.clients,
        "think_ms": args.think_ms,
        "measured_seconds": round(seconds, 1),
        "next": endpoint_figures(stats.next, seconds),
        "submit": endpoint_figures(stats.submit, seconds),
        "cpu_percent_of_one_core": cpu,
    }
    figures["submissions_per_second"] = figures["submit"]["ok_per_second"]
    figures["cpu_ms_per_request"] = cpu_per_request(cpu, figures, seconds)
    figures["targets_met"] = {
        "next_p99": figures["next"]["p99_ms"] <= TARGET_P99_MS,
        "submit_p99": figures["submit"]["p99_ms"] <= TARGET_P99_MS,
        "submissions_per_second": figures["submissions_per_second"] >= TARGET_SUBMISSIONS_PER_S,
    }
    return figures


def print_run(figures: dict) -> None:
    spec = figures["server"]
    print(
        f"\n== gunicorn {spec['worker_class']} workers={spec['workers']} "
        f"threads={spec['threads']} (DATABASE_CONN_MAX_AGE={spec['conn_max_age']}), "
        f"{figures['clients']} clients, think {figures['think_ms']:g} ms, "
        f"{figures['measured_seconds']} s measured =="
    )
    print(
        f"{'endpoint':<9}{'requests':>10}{'errors':>8}{'req/s':>9}"
        f"{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}   (latency ms)"
    )
    for name in ("next", "submit"):
        row = figures[name]
        print(
            f"{name:<9}{row['requests']:>10,}{row['errors']:>8,}{row['per_second']:>9.1f}"
            f"{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}"
            f"{row['max_ms']:>9.1f}"
        )
    print(
        f"submissions/s (201): {figures['submissions_per_second']:.1f}   "
        f"next 204 (nothing left): {figures['next']['empty_204']}"
    )
    for name in ("next", "submit"):
        print(f"statuses {name:<7}: {figures[name]['statuses']}")
    cpu = figures["cpu_percent_of_one_core"]
    print(
        f"CPU in window (% of one core): gunicorn {cpu['gunicorn']}, postgres "
        f"{cpu['postgres']}, load generator {cpu['load_generator']}, other {cpu['other']}; "
        f"machine busy "
        f"{cpu['machine_busy']} of {cpu['machine_capacity']:.0f}"
    )
    per = figures["cpu_ms_per_request"]
    if per:
        print(
            f"CPU per request (ms): gunicorn {per['gunicorn']}, postgres {per['postgres']}, "
            f"load generator {per['load_generator']} -> the {os.cpu_count()} cores would carry "
            f"at most ~{per['capacity_req_per_s']:.0f} req/s "
            f"(~{per['capacity_req_per_s'] / 2:.0f} submissions/s) with nothing else running"
        )
    if cpu["other"] > OTHER_MAX:
        print(
            f"WARNING: other programs used {cpu['other']}% of a core during the window; "
            "rates and latencies are skewed, CPU per request inflated"
        )
    met = figures["targets_met"]
    verdict = ", ".join(f"{name} {'ok' if ok else 'MISSED'}" for name, ok in met.items())
    print(
        f"targets (p99 <= {TARGET_P99_MS:.0f} ms, >= {TARGET_SUBMISSIONS_PER_S:.0f} "
        f"submissions/s): {verdict}"
    )


def print_summary(runs: list[dict]) -> None:
    """One line per configuration (the least disturbed of its attempts)."""
    print("\n== summary ==")
    print(
        f"{'gunicorn':<22}{'subm/s':>8}{'next p99':>10}{'subm p99':>10}{'errors':>8}"
        f"{'CPU ms/req':>12}{'other %':>9}"
    )
    for run in runs:
        spec = run["server"]
        name = f"{spec['worker_class']} {spec['workers']}x{spec['threads']}"
        errors = run["next"]["errors"] + run["submit"]["errors"]
        cpu_ms = run["cpu_ms_per_request"].get("server_total", float("nan"))
        print(
            f"{name:<22}{run['submissions_per_second']:>8.1f}{run['next']['p99_ms']:>10.1f}"
            f"{run['submit']['p99_ms']:>10.1f}{errors:>8}{cpu_ms:>12.2f}"
            f"{run['cpu_percent_of_one_core']['other']:>9.1f}"
        )
    best = max(runs, key=lambda r: r["submissions_per_second"])
    print(
        f"highest throughput: {best['server']['worker_class']} "
        f"{best['server']['workers']}x{best['server']['threads']}"
    )


# ----------------------------------------------------------------------------- main


def code_version(code: Path) -> str:
    """The commit under test and whether the work tree differs from it (read-only git calls)."""
    if code.resolve() != REPO:
        return f"{code} (a copy; see how it was made)"

    def git(*command: str) -> str:
        result = subprocess.run(
            ["git", *command], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        )
        return result.stdout.strip()

    changed = [
        line
        for line in git("status", "--porcelain").splitlines()
        if not line[3:].startswith("bench/")
    ]
    return f"{git('rev-parse', '--short', 'HEAD') or 'unknown'}" + (
        f" + uncommitted changes in {len(changed)} paths" if changed else ""
    )


def _raise_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)


def benchmark_server(
    args: argparse.Namespace, spec: ServerSpec, seeded: Seeded, logdir: Path
) -> dict:
    if args.wait_quiet > 0:
        busy, waited = wait_for_quiet(args.wait_quiet)
        print(f"\nmachine    {busy:.0f}% of one core busy before the run (waited {waited:.0f} s)")
    server = start_gunicorn(args, spec, logdir)
    try:
        wait_until_ready(server, seeded)
        stats, window, cpu = asyncio.run(run_load(args, server, seeded))
    finally:
        stop_gunicorn(server)
    figures = run_figures(args, spec, stats, window, cpu)
    print_run(figures)
    return figures


def benchmark_server_quietly(
    args: argparse.Namespace, spec: ServerSpec, seeded: Seeded, logdir: Path
) -> dict:
    """Run one configuration; while other programs skewed the window, run it again (up to
    ``--retries`` times) and keep the run they disturbed least."""
    runs = [benchmark_server(args, spec, seeded, logdir)]
    while len(runs) <= args.retries and runs[-1]["cpu_percent_of_one_core"]["other"] > OTHER_MAX:
        print(f"(other programs were busy: running {spec} again, {len(runs)} of {args.retries})")
        runs.append(benchmark_server(args, spec, seeded, logdir))
    best = min(runs, key=lambda run: run["cpu_percent_of_one_core"]["other"])
    best["attempts"] = len(runs)
    return best


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    version = code_version(args.code)
    print(f"code       {version}")
    created = ensure_database(args.db, fresh=args.fresh)
    print(f"database   {args.db} ({'created' if created else 'reused'}); migrating")
    migrate(args)
    setup_django(args)
    seeded = seed(args)
    state = database_state(args, seeded.project_id)
    print(
        f"state      {state['items']:,} items, {state['open_items']:,} open "
        f"({state['open_partly_labeled']:,} partly labeled), "
        f"{state['annotations']:,} annotations before the run"
    )
    print(
        f"load       {args.clients} clients, warm-up {args.warmup:g} s, "
        f"measured {args.seconds:g} s; {os.cpu_count()} CPU cores shared with the server"
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="labelhub-bench-") as logdir:
        for spec in args.servers:
            runs.append(benchmark_server_quietly(args, spec, seeded, Path(logdir)))
    print_summary(runs)
    if args.json:
        report = {
            "code": version,
            "database": args.db,
            "items": args.items,
            "state_before": state,
            "warmup_seconds": args.warmup,
            "runs": runs,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # gunicorn was stopped on the way out (see benchmark_server)
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
