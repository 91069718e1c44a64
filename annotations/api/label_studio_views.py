"""Label Studio interoperability API: import a Label Studio JSON export (as a new project or into
an existing one) and export a project in that format. See annotations/README.md, "Label Studio".
"""

from __future__ import annotations

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.mixins import ProjectScopedMixin
from annotations.models import Role
from annotations.services.label_studio import (
    LsImportResult,
    label_studio_export,
    label_studio_import,
)
from labelhub.errors import ApplicationError

MANAGERS = (Role.MANAGER,)
EXPORTERS = (Role.MANAGER, Role.ENGINEER)


class LabelStudioImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Label Studio's JSON export (a list of tasks).")
    from_name = serializers.CharField(
        required=False,
        max_length=200,
        help_text="The control (choices or textarea) to import when tasks have several.",
    )
    id_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text="A data key holding each task's external id (default: ls-<task id>).",
    )


class LabelStudioProjectImportInputSerializer(LabelStudioImportInputSerializer):
    name = serializers.CharField(max_length=200)
    overlap = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=50,
        help_text="Labels wanted per item (default: the most labels any task has).",
    )


class LabelStudioImportOutputSerializer(serializers.Serializer):
    project = serializers.IntegerField(source="project.pk")
    tasks = serializers.IntegerField()
    items_created = serializers.IntegerField()
    annotations = serializers.IntegerField(help_text="Annotations written by this import.")
    annotations_existing = serializers.IntegerField(help_text="Imported before: not rewritten.")
    labelers = serializers.IntegerField()
    labelers_created = serializers.IntegerField()
    skipped_cancelled = serializers.IntegerField()
    skipped_empty = serializers.IntegerField()


def _upload(serializer: serializers.Serializer) -> bytes:
    upload = serializer.validated_data["file"]
    if upload.size > settings.LABELHUB_MAX_IMPORT_BYTES:
        raise ApplicationError(
            "import_too_large",
            f"The file is larger than {settings.LABELHUB_MAX_IMPORT_BYTES} bytes.",
            field="file",
        )
    return upload.read()


def _created(result: LsImportResult) -> Response:
    return Response(LabelStudioImportOutputSerializer(result).data, status=status.HTTP_201_CREATED)


class LabelStudioProjectImportApi(APIView):
    """Create a project from a Label Studio JSON export: ``choices`` answers make a
    classification project (its choices become the classes), ``textarea`` answers a
    transcription project (the texts become transcripts; empty ones allowed only if the file has
    some); its annotators become labelers, the caller the manager. All or nothing: a bad task
    answers 400 naming its index, and nothing is written."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="label_studio_import_new_project",
        request={"multipart/form-data": LabelStudioProjectImportInputSerializer},
        responses={201: LabelStudioImportOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = LabelStudioProjectImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = label_studio_import(
            user=request.user,
            file_bytes=_upload(serializer),
            name=data["name"],
            from_name=data.get("from_name"),
            id_key=data.get("id_key"),
            overlap=data.get("overlap"),
        )
        return _created(result)


class LabelStudioImportApi(ProjectScopedMixin, APIView):
    """Import a Label Studio JSON export into this project (managers): its answers must match the
    project's task type (``choices`` for classification, ``textarea`` for transcription; else
    400 ``task_type``), every choice be one of its classes (by key or name, case aside), every
    transcript follow its empty-transcript rule. Re-importing the same file writes nothing."""

    parser_classes = [MultiPartParser, FormParser]
    project_roles = {"POST": MANAGERS}

    @extend_schema(
        operation_id="label_studio_import_into_project",
        request={"multipart/form-data": LabelStudioImportInputSerializer},
        responses={201: LabelStudioImportOutputSerializer},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        serializer = LabelStudioImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = label_studio_import(
            user=request.user,
            file_bytes=_upload(serializer),
            project=project,
            from_name=data.get("from_name"),
            id_key=data.get("id_key"),
        )
        return _created(result)


class _AnyAccept(BaseContentNegotiation):
    """The export is a file download: any ``Accept`` gets it (errors still render as JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class LabelStudioExportApi(ProjectScopedMixin, APIView):
    """The project as Label Studio's JSON export, streamed (engineers and managers): one task per
    item, one ``choices`` (classification) or ``textarea`` (transcription) annotation per labeler
    (pseudonymous ids), the consensus label or transcript as a prediction. Labelers and
    reviewers get 403, non-members 404."""

    project_roles = {"GET": EXPORTERS}
    throttle_scope = "export"
    content_negotiation_class = _AnyAccept

    @extend_schema(
        operation_id="label_studio_export",
        responses={
            (200, "application/json"): {
                "type": "array",
                "items": {"type": "object", "additionalProperties": True},
                "description": "Label Studio tasks (id, data, annotations, predictions).",
            }
        },
    )
    def get(self, request: Request, project_id: int) -> StreamingHttpResponse:
        project = self.get_project()
        chunks = label_studio_export(
            project=project, base_url=request.build_absolute_uri("/").rstrip("/")
        )
        response = StreamingHttpResponse(chunks, content_type="application/json")
        filename = f"{slugify(project.name) or 'project'}-{project.pk}-label-studio.json"
        response["Content-Disposition"] = content_disposition_header(True, filename)
        response["X-Content-Type-Options"] = "nosniff"
        return response
