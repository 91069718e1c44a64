"""Opening an export: who may, with which parameters, in which format.

The API view, a frozen dataset version and ``manage.py export`` all open exports here, so the
permission and parameter rules are the same whichever way the data leaves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from annotations.models import ClassKind, LabelClass, Project, Role
from annotations.selectors import SEES_LABELS, project_get_for_user
from consensus.export import export_records
from consensus.export_formats import CONTENT_TYPES, ENCODERS
from consensus.export_params import PARAMETERS, ExportParamError, ExportParams, export_params_parse
from labelhub.errors import ApplicationError, ForbiddenError

#: Who may take data out of a project.
EXPORTERS = (Role.ENGINEER, Role.MANAGER)


@dataclass(frozen=True)
class OpenExport:
    project: Project
    params: ExportParams
    content_type: str
    filename: str
    chunks: Iterator[bytes]


def export_params_for(
    *, project: Project, query: Mapping[str, Any], allow: tuple[str, ...] = PARAMETERS
) -> ExportParams:
    """``query`` validated against the project's classes; 400 naming the bad parameter."""
    classes = LabelClass.objects.filter(project=project).values_list("key", "kind")
    keys = dict(classes)
    borderline = next((k for k, kind in keys.items() if kind == ClassKind.BORDERLINE), None)
    try:
        return export_params_parse(
            query,
            class_keys=keys,
            borderline_key=borderline,
            allow=allow,
            taxonomy_version=project.taxonomy_version,
        )
    except ExportParamError as error:
        raise ApplicationError("invalid_parameter", error.message, field=error.field) from None


def export_open(
    *,
    project: Project,
    params: ExportParams,
    include_gold: bool,
    media_base: str = "",
) -> OpenExport:
    """The encoded export of ``project`` (nothing is read until ``chunks`` is iterated)."""
    records = export_records(
        project=project, params=params, include_gold=include_gold, media_base=media_base
    )
    extension = "jsonl" if params.format == "jsonl" else params.format
    return OpenExport(
        project=project,
        params=params,
        content_type=CONTENT_TYPES[params.format],
        filename=f"labelhub-project-{project.id}.{extension}",
        chunks=ENCODERS[params.format](records),
    )


def export_open_for_user(
    *, user, project_id: int, query: Mapping[str, Any], media_base: str = ""
) -> OpenExport:
    """An export for an engineer or manager of the project (others: 403; non-members: 404).

    Real usernames (``labelers=username``) are for managers only: engineers get pseudonyms."""
    project = project_get_for_user(user=user, project_id=project_id, roles=EXPORTERS)
    params = export_params_for(project=project, query=query)
    if params.labelers == "username" and project.my_role != Role.MANAGER:
        raise ForbiddenError(
            "Only managers may export labelers' usernames; engineers get pseudonyms.",
            code="usernames_forbidden",
        )
    return export_open(
        project=project,
        params=params,
        include_gold=project.my_role in SEES_LABELS,
        media_base=media_base,
    )
