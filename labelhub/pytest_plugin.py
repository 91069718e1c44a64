"""Test environment, loaded by pytest before pytest-django reads the settings (``-p`` in
pyproject). Tests run the production settings (DEBUG off) with test values for what production
requires, a temporary MEDIA_ROOT, and a fast password hasher."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# live_server tests speak plain HTTP; secure cookies would never be sent back.
os.environ.setdefault("SECURE_COOKIES", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="labelhub-test-media-")
os.environ["STATIC_ROOT"] = tempfile.mkdtemp(prefix="labelhub-test-static-")
# The suite decides per test whether Celery talks to a real broker.
os.environ.pop("CELERY_BROKER_URL", None)
os.environ.pop("REDIS_URL", None)
# One process sends thousands of API requests a minute from one address and reuses user ids;
# throttling is lifted so no test is throttled by the tests before it. Throttling tests set the
# rate they test (annotations/tests/test_tokens.py).
# Webhook tests deliver to a receiver on 127.0.0.1 (one test turns the guard back on).
os.environ["LABELHUB_WEBHOOK_ALLOW_PRIVATE"] = "true"
for _scope in ("USER", "ANON", "EXPORT", "AUTH"):
    os.environ[f"API_THROTTLE_{_scope}"] = "1000000/minute"


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # No collectstatic in tests: serve static files from the apps, without a manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
