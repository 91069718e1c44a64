"""``manage.py export PROJECT_ID [--format jsonl|json|csv] [--output FILE] [--param name=value]``.

The same records, filters and validation as ``GET /api/v1/projects/{id}/export/``, written to a
file or stdout; ``--freeze`` stores the export as the project's next dataset version instead.
Run on the server, it acts with the project's first manager's rights (gold labels included)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from annotations.models import Membership, Project, Role
from consensus.services.datasets import FREEZE_PARAMETERS, dataset_freeze
from consensus.services.exports import export_open, export_params_for
from labelhub.errors import ApplicationError


class Command(BaseCommand):
    help = "Export a project's cleaned dataset (JSONL, JSON or CSV), or freeze it as a version."

    def add_arguments(self, parser):
        parser.add_argument("project_id", type=int)
        parser.add_argument("--format", default="jsonl", choices=["jsonl", "json", "csv"])
        parser.add_argument("--output", "-o", type=Path, help="File to write (default: stdout).")
        parser.add_argument(
            "--param",
            "-p",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="An export filter, as in the API: -p min_agreement=0.8 -p slice=camera:A.",
        )
        parser.add_argument("--freeze", action="store_true", help="Freeze as a dataset version.")
        parser.add_argument("--name", default="", help="The frozen version's name.")

    def handle(self, *args, project_id: int, output: Path | None, **options):
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            raise CommandError(f"No project with id {project_id}.")
        query = QueryDict(mutable=True)
        for raw in options["param"]:
            name, sep, value = raw.partition("=")
            if not sep:
                raise CommandError(f"--param takes NAME=VALUE, not {raw!r}.")
            query.appendlist(name.strip(), value)
        try:
            if options["freeze"]:
                self._freeze(project, query, options["name"])
                return
            query["format"] = options["format"]
            params = export_params_for(project=project, query=query)
            opened = export_open(project=project, params=params, include_gold=True)
            target = output.open("wb") if output else sys.stdout.buffer
            try:
                for chunk in opened.chunks:
                    target.write(chunk)
            finally:
                if output:
                    target.close()
        except ApplicationError as exc:
            raise CommandError(f"{exc.field or exc.code}: {exc.message}") from exc

    def _freeze(self, project: Project, query: QueryDict, name: str) -> None:
        manager = (
            Membership.objects.filter(project=project, role=Role.MANAGER)
            .select_related("user")
            .order_by("id")
            .first()
        )
        if manager is None:
            raise CommandError("The project has no manager to freeze the version as.")
        params = {key: query.getlist(key) for key in query}
        unknown = sorted(set(params) - set(FREEZE_PARAMETERS))
        if unknown:
            raise CommandError(f"{unknown[0]}: not a parameter of a frozen version.")
        version = dataset_freeze(user=manager.user, project_id=project.pk, params=params, name=name)
        self.stderr.write(
            f"Froze version {version.number} of {project.name}: {version.n_items} items, "
            f"sha256 {version.content_hash}."
        )
