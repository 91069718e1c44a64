"""A real Celery worker process for the tests that need one: PostgreSQL (the test database) and
Redis as broker and cache. Tests using it skip unless ``LABELHUB_TEST_REDIS_URL`` is set (CI
sets it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.test import override_settings

from labelhub.celery import app

REDIS_URL = os.environ.get("LABELHUB_TEST_REDIS_URL")
WORKER_COMMAND = [
    "celery",
    "-A",
    "labelhub",
    "worker",
    "--pool",
    "solo",
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
    "-l",
    "INFO",
]


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def _drop_broker_connections() -> None:
    """Forget the app's pooled broker connections (made earlier in the session for the default
    broker URL), as Celery does after a fork, so the new broker URL is used."""
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@contextmanager
def running_worker(
    log_path: Path, *, database_options: str = "", env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Start a worker on the test database, point this process's Celery app and cache at Redis,
    wait until the worker answers a ping, and stop it afterwards (printing its log's tail)."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    if database_options:
        url += f"?options={quote(database_options)}"
    worker_env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": REDIS_URL,
        "REDIS_URL": REDIS_URL,
        "DATABASE_CONN_MAX_AGE": "0",
        **(env or {}),
    }
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", *WORKER_COMMAND],
        cwd=settings.BASE_DIR,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    previous = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    _drop_broker_connections()
    try:
        with override_settings(CACHES=caches):
            wait_for(lambda: bool(app.control.ping(timeout=0.5)), 60, "the worker to start")
            yield process
    finally:
        app.conf.update(previous)
        _drop_broker_connections()
        process.terminate()
        process.wait(timeout=30)
        log.close()
        print(log_path.read_text()[-3000:])
