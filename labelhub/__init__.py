"""The LabelHub Django project: settings, URLs, the Celery app and the one API error shape."""

from labelhub.celery import app as celery_app

__all__ = ("celery_app",)
