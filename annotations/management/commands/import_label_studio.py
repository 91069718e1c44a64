"""``manage.py import_label_studio FILE --name NAME --user USERNAME`` (or ``--project ID``):
a Label Studio JSON export as a new project, or into an existing one. All or nothing, like the
API: a bad task prints its index and the reason and exits non-zero."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotations.models import Project
from annotations.services.label_studio import label_studio_import
from labelhub.errors import ApplicationError


class Command(BaseCommand):
    help = "Import a Label Studio JSON export as a new project (--name) or into one (--project)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True, help="Username of the importing manager.")
        parser.add_argument("--name", help="Name of the new project.")
        parser.add_argument("--project", type=int, help="Import into this existing project.")
        parser.add_argument("--from-name", help="The choices control to import.")
        parser.add_argument("--id-key", help="Data key holding each task's external id.")
        parser.add_argument("--overlap", type=int, help="Labels wanted per item (new project).")

    def handle(self, *args, file: Path, user: str, **options):
        account = get_user_model().objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"No user {user!r}.")
        project = None
        if options["project"] is not None:
            project = Project.objects.filter(pk=options["project"]).first()
            if project is None:
                raise CommandError(f"No project with id {options['project']}.")
        if not file.is_file():
            raise CommandError(f"{file} does not exist.")
        try:
            result = label_studio_import(
                user=account,
                file_bytes=file.read_bytes(),
                project=project,
                name=options["name"],
                from_name=options["from_name"],
                id_key=options["id_key"],
                overlap=options["overlap"],
            )
        except ApplicationError as exc:
            lines = [exc.message]
            lines += [
                f"  task index {d['task_index']}: {d['message']}" for d in (exc.details or [])[1:]
            ]
            raise CommandError("\n".join(lines)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Project {result.project.pk} ({result.project.name}): {result.tasks} tasks, "
                f"{result.items_created} new items, {result.annotations} annotations by "
                f"{result.labelers} labelers; {result.skipped_cancelled} cancelled skipped."
            )
        )
