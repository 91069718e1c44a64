"""Settings from the environment: safe by default when DEBUG is off."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from labelhub.env import EnvError, env_bool, env_int, env_list

SHOW = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
    "s.SECURE_CONTENT_TYPE_NOSNIFF, s.SECURE_HSTS_SECONDS, s.CELERY_TASK_ALWAYS_EAGER, "
    "s.DATABASES['default']['ENGINE']]))"
)


def _settings_in_subprocess(**env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "SECURE_COOKIES",
            "SECURE_HSTS_SECONDS",
            "CELERY_BROKER_URL",
            "REDIS_URL",
        }
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="labelhub.settings")
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        capture_output=True,
        text=True,
        env=clean,
        cwd=settings.BASE_DIR,
        check=False,
    )


def test_production_refuses_to_start_without_secret_key():
    result = _settings_in_subprocess(ALLOWED_HOSTS="example.org")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _settings_in_subprocess(SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_defaults_are_secure():
    result = _settings_in_subprocess(
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="example.org",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        DATABASE_URL="postgres://u@db:5432/x",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        '[false, true, true, true, 31536000, false, "django.db.backends.postgresql"]'
    )


def test_embedded_default_is_sqlite_debug_and_eager_celery():
    result = _settings_in_subprocess(DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        '[true, false, false, true, 0, true, "django.db.backends.sqlite3"]'
    )


def test_env_getters_name_the_variable_on_bad_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "maybe")
    monkeypatch.setenv("X_INT", "ten")
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    with pytest.raises(EnvError, match="X_BOOL"):
        env_bool("X_BOOL")
    with pytest.raises(EnvError, match="X_INT"):
        env_int("X_INT", 1)
    assert env_list("X_LIST") == ["a", "b", "c"]


def test_healthz(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
