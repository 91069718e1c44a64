"""Clean-dataset API for ML engineers and managers: the streaming export, frozen dataset versions,
their downloads and their diff. Labelers and reviewers get 403; non-members 404."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.mixins import ProjectScopedMixin
from consensus.export_formats import CONTENT_TYPES
from consensus.models import DatasetVersion
from consensus.services.datasets import (
    DIFF_REASONS,
    dataset_chunks,
    dataset_diff,
    dataset_freeze,
    dataset_get_for_user,
)
from consensus.services.exports import EXPORTERS, export_open_for_user
from labelhub.errors import ApplicationError

_FILTERS = [
    OpenApiParameter("format", str, enum=list(CONTENT_TYPES), description="Default jsonl."),
    OpenApiParameter("min_agreement", float, description="Majority share at least this (0–1)."),
    OpenApiParameter("min_confidence", float, description="Consensus confidence at least this."),
    OpenApiParameter("reviewed_only", bool),
    OpenApiParameter("borderline", str, description="keep, drop, soft, or a class key to map to."),
    OpenApiParameter("slice", str, many=True, description="name:value; repeatable."),
    OpenApiParameter("class", str, description="Comma-separated class keys."),
    OpenApiParameter("round", str, description="Comma-separated round numbers."),
    OpenApiParameter("updated_since", OpenApiTypes.DATETIME),
    OpenApiParameter("include_insufficient", bool, description="Keep input-lacks-info items."),
    OpenApiParameter("labelers", str, enum=["pseudonymous", "username"]),
    OpenApiParameter("taxonomy_version", int, description="Classes as at that version."),
]


class _AnyAccept(BaseContentNegotiation):
    """Streams have their own content type: an ``Accept: application/x-ndjson`` must not get 406.
    Errors still render as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _media_base(request: Request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _stream(chunks, content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ProjectExportApi(APIView):
    """The project's cleaned dataset, streamed: one record per labeled item (see
    ``consensus/export.py`` for every field). Engineers and managers."""

    throttle_scope = "export"
    content_negotiation_class = _AnyAccept

    @extend_schema(
        parameters=_FILTERS,
        responses={
            (200, CONTENT_TYPES["jsonl"]): OpenApiTypes.BINARY,
            (200, CONTENT_TYPES["json"]): {"type": "array", "items": {"type": "object"}},
            (200, CONTENT_TYPES["csv"]): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request, project_id: int) -> StreamingHttpResponse:
        opened = export_open_for_user(
            user=request.user,
            project_id=project_id,
            query=request.query_params,
            media_base=_media_base(request),
        )
        return _stream(opened.chunks, opened.content_type, opened.filename)


class DatasetVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "project",
            "number",
            "name",
            "note",
            "params",
            "content_hash",
            "n_items",
            "class_counts",
            "summary",
            "size_bytes",
            "created_by",
            "created_at",
            "download",
        ]

    def get_download(self, version: DatasetVersion) -> str:
        return f"/api/v1/projects/{version.project_id}/datasets/{version.id}/download/"


class DatasetListCreateApi(ProjectScopedMixin, generics.ListAPIView):
    """GET: the project's frozen versions, newest first. POST: freeze the export of ``params``
    (the export's filters as a JSON object; the format is always JSONL) as the next version."""

    serializer_class = DatasetVersionSerializer
    project_roles = {"GET": EXPORTERS, "POST": EXPORTERS}

    @property
    def throttle_scope(self) -> str | None:
        """Freezing reads the whole export: it counts against the export rate; listing does not."""
        return "export" if self.request.method == "POST" else None

    class FreezeInputSerializer(serializers.Serializer):
        name = serializers.RegexField(
            r"^[^\x00-\x1f\x7f]*$",
            max_length=100,
            required=False,
            default="",
            allow_blank=True,
            error_messages={"invalid": "A name cannot hold control characters."},
        )
        note = serializers.CharField(max_length=5000, required=False, default="", allow_blank=True)
        params = serializers.DictField(required=False, default=dict)

    def get_queryset(self):
        return DatasetVersion.objects.filter(project=self.get_project()).select_related(
            "created_by"
        )

    @extend_schema(request=FreezeInputSerializer, responses={201: DatasetVersionSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        self.get_project()
        data = self.FreezeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = dataset_freeze(
            user=request.user,
            project_id=project_id,
            media_base=_media_base(request),
            **data.validated_data,
        )
        return Response(DatasetVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class DatasetDetailApi(APIView):
    @extend_schema(responses=DatasetVersionSerializer)
    def get(self, request: Request, project_id: int, dataset_id: int) -> Response:
        version = dataset_get_for_user(
            user=request.user, project_id=project_id, dataset_id=dataset_id
        )
        return Response(DatasetVersionSerializer(version).data)


class DatasetDownloadApi(APIView):
    """The frozen JSONL, byte for byte what was hashed (``X-Content-SHA256``)."""

    throttle_scope = "export"
    content_negotiation_class = _AnyAccept

    @extend_schema(responses={(200, CONTENT_TYPES["jsonl"]): OpenApiTypes.BINARY})
    def get(self, request: Request, project_id: int, dataset_id: int) -> StreamingHttpResponse:
        version = dataset_get_for_user(
            user=request.user, project_id=project_id, dataset_id=dataset_id
        )
        response = _stream(
            dataset_chunks(version),
            CONTENT_TYPES["jsonl"],
            f"labelhub-project-{project_id}-v{version.number}.jsonl",
        )
        response["X-Content-SHA256"] = version.content_hash
        return response


class DiffQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    offset = serializers.IntegerField(min_value=0, default=0)
    reason = serializers.ChoiceField(choices=DIFF_REASONS, required=False)


class DatasetDiffApi(APIView):
    """The items whose label differs between versions ``a`` and ``b`` and why. ``?reason=``
    keeps one reason; ``limit``/``offset`` page the items; ``summary`` counts all of them."""

    @extend_schema(
        parameters=[DiffQuerySerializer],
        responses=inline_serializer(
            "DatasetDiff",
            {
                "a": DatasetVersionSerializer(),
                "b": DatasetVersionSerializer(),
                "summary": serializers.DictField(),
                "count": serializers.IntegerField(),
                "items": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request, project_id: int, a_id: int, b_id: int) -> Response:
        query = DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if a_id == b_id:
            raise ApplicationError("invalid", "Compare two different versions.", field="b")
        a, b, changes = dataset_diff(user=request.user, project_id=project_id, a_id=a_id, b_id=b_id)
        summary: dict[str, int] = {"changed": 0, "added": 0, "removed": 0}
        by_reason: dict[str, int] = {}
        for change in changes:
            summary[change["change"]] += 1
            for reason in change["reasons"]:
                by_reason[reason] = by_reason.get(reason, 0) + 1
        reason = query.validated_data.get("reason")
        if reason:
            changes = [c for c in changes if reason in c["reasons"]]
        offset, limit = query.validated_data["offset"], query.validated_data["limit"]
        return Response(
            {
                "a": DatasetVersionSerializer(a).data,
                "b": DatasetVersionSerializer(b).data,
                "summary": {**summary, "by_reason": by_reason},
                "count": len(changes),
                "items": changes[offset : offset + limit],
            }
        )
