"""The Celery app. Configuration comes from Django settings under the ``CELERY_`` namespace.

With no broker URL configured, ``CELERY_TASK_ALWAYS_EAGER`` is on and tasks run in-process (the
embedded default); that is decided by configuration, never by probing a broker at run time.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelhub.settings")

app = Celery("labelhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
