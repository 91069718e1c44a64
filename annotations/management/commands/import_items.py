"""``manage.py import_items PROJECT_ID PATH``: JSON, JSONL, CSV, a zip of images or a folder.

All or nothing, like the API: a bad row prints the row and the reason and exits non-zero."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.models import Project
from annotations.services.imports import items_import_path
from labelhub.errors import ApplicationError


class Command(BaseCommand):
    help = "Import items into a project from a JSON/JSONL/CSV file, a zip of images or a folder."

    def add_arguments(self, parser):
        parser.add_argument("project_id", type=int)
        parser.add_argument("path", type=Path)

    def handle(self, *args, project_id: int, path: Path, **options):
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            raise CommandError(f"No project with id {project_id}.")
        try:
            created = items_import_path(project=project, path=path)
        except ApplicationError as exc:
            lines = [exc.message]
            lines += [f"  row {d['row']}: {d['message']}" for d in (exc.details or [])[1:]]
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(self.style.SUCCESS(f"Imported {created} items into {project.name}."))
