"""Error-analysis API: model runs, prediction imports, and the analysis (JSON or CSV tables).
Reviewers, engineers and managers read; engineers and managers create runs and import.
Labelers see none of it (403); non-members get 404."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.mixins import ProjectScopedMixin
from annotations.models import Role
from annotations.selectors import SEES_LABELS
from consensus.models import ModelRun
from consensus.selectors import model_run_get_for_user, model_run_list
from consensus.services.error_analysis import MIN_SLICE_ITEMS, REFERENCES, run_analysis
from consensus.services.predictions import (
    model_run_create,
    predictions_import_file,
    predictions_import_records,
)
from labelhub.errors import ApplicationError
from labelhub.validation import StrictJSONParser

#: Who brings models in.
MODELERS = (Role.ENGINEER, Role.MANAGER)


class ModelRunSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    predictions = serializers.IntegerField(source="n_predictions", read_only=True)

    class Meta:
        model = ModelRun
        fields = [
            "id",
            "project",
            "name",
            "version",
            "description",
            "shadow",
            "created_by",
            "created_at",
            "predictions",
        ]


class ModelRunListCreateApi(ProjectScopedMixin, generics.ListAPIView):
    """GET: the project's model runs, newest first. POST (engineers, managers): a new run."""

    serializer_class = ModelRunSerializer
    pagination_class = None
    project_roles = {"GET": SEES_LABELS, "POST": MODELERS}

    class RunInputSerializer(serializers.Serializer):
        name = serializers.RegexField(
            r"^[^\x00-\x1f\x7f]+$",
            max_length=100,
            error_messages={
                "invalid": "A name cannot hold control characters (line breaks, tabs)."
            },
        )
        version = serializers.RegexField(
            r"^[^\x00-\x1f\x7f]+$",
            max_length=50,
            error_messages={"invalid": "A version cannot hold control characters."},
        )
        description = serializers.CharField(required=False, default="", allow_blank=True)
        shadow = serializers.BooleanField(required=False, default=False)

    def get_queryset(self):
        return model_run_list(project=self.get_project())

    @extend_schema(request=RunInputSerializer, responses={201: ModelRunSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = self.RunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = model_run_create(project=project, created_by=request.user, **data.validated_data)
        run = model_run_list(project=project).get(pk=run.pk)
        return Response(ModelRunSerializer(run).data, status=status.HTTP_201_CREATED)


class ModelRunDetailApi(APIView):
    @extend_schema(responses=ModelRunSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run = model_run_get_for_user(
            user=request.user, run_id=run_id, roles=SEES_LABELS, with_count=True
        )
        return Response(ModelRunSerializer(run).data)


class PredictionRecordSerializer(serializers.Serializer):
    """One prediction record (consensus/prediction_importers.py), for the schema: the importer
    validates records itself, row by row."""

    item = serializers.CharField(required=False, help_text="The item's external id.")
    item_id = serializers.IntegerField(required=False, help_text="Or the item's numeric id.")
    label = serializers.CharField(help_text="A class key.")
    scores = serializers.DictField(child=serializers.FloatField(), required=False)
    predicted_at = serializers.DateTimeField(required=False)


class PredictionImportApi(APIView):
    """Engineers and managers import predictions: a JSON list (or ``{"predictions": [...]}``) of
    ``{"item": external id, "label", "scores"?, "predicted_at"?}``, or a multipart ``file``
    (.json, .jsonl, .csv). All or nothing: a bad row answers 400 naming the row."""

    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={
            "application/json": PredictionRecordSerializer(many=True),
            "multipart/form-data": inline_serializer(
                "PredictionFileUpload", {"file": serializers.FileField()}
            ),
        },
        responses={
            201: inline_serializer(
                "PredictionImportResult", {"imported": serializers.IntegerField()}
            )
        },
    )
    def post(self, request: Request, run_id: int) -> Response:
        run = model_run_get_for_user(user=request.user, run_id=run_id, roles=MODELERS)
        upload = request.FILES.get("file")
        if upload is not None:
            imported = predictions_import_file(run=run, filename=upload.name, handle=upload)
        elif request.content_type.startswith("application/json"):
            imported = predictions_import_records(run=run, records=request.data)
        else:
            raise ApplicationError(
                "invalid", "Send a JSON list of predictions or a file.", field="file"
            )
        return Response({"imported": imported}, status=status.HTTP_201_CREATED)


class AnalysisQuerySerializer(serializers.Serializer):
    reference = serializers.ChoiceField(choices=REFERENCES, default="consensus")
    min_slice_items = serializers.IntegerField(
        min_value=1, max_value=100_000, default=MIN_SLICE_ITEMS
    )


def _analysis(request: Request, run_id: int) -> dict:
    run = model_run_get_for_user(user=request.user, run_id=run_id, roles=SEES_LABELS)
    query = AnalysisQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return run_analysis(run=run, **query.validated_data)


class RunAnalysisApi(APIView):
    """The run against the humans: overall and per-class metrics, confusion matrix, the slice
    prioritisation table, the audit of key slices, and agreement by week.
    ``?reference=consensus|gold``, ``?min_slice_items=30``."""

    @extend_schema(parameters=[AnalysisQuerySerializer], responses={200: dict})
    def get(self, request: Request, run_id: int) -> Response:
        return Response(_analysis(request, run_id))


def _table(analysis: dict, table: str) -> tuple[list[str], list[list]]:
    if table == "confusion":
        labels = analysis["confusion"]["labels"]
        matrix = analysis["confusion"]["matrix"]
        rows = [[label, *row] for label, row in zip(labels, matrix, strict=True)]
        return ["reference \\ model", *labels], rows
    source = {
        "priorities": analysis["priorities"],
        "classes": analysis["classes"],
        "audit": analysis["audit"]["rows"],
        "weeks": analysis["weeks"],
    }[table]
    columns = {
        "priorities": [
            "slice",
            "value",
            "items",
            "share",
            "accuracy",
            "accuracy_low",
            "accuracy_high",
            "hlp",
            "gap",
            "gap_x_share",
            "too_small",
        ],
        "classes": [
            "class",
            "support",
            "predicted",
            "tp",
            "fp",
            "fn",
            "precision",
            "recall",
            "f1",
            "errors",
            "rare",
        ],
        "audit": ["slice", "value", "items", "accuracy", "precision", "recall", "f1", "warning"],
        "weeks": ["week", "predictions", "compared", "agreement", "low", "high"],
    }[table]
    return columns, [[row.get(c) for c in columns] for row in source]


TABLES = ("priorities", "classes", "confusion", "audit", "weeks")


class RunAnalysisCsvApi(APIView):
    """One table of the analysis as CSV (``priorities``, ``classes``, ``confusion``, ``audit``,
    ``weeks``); undefined figures are empty cells."""

    @extend_schema(
        parameters=[
            AnalysisQuerySerializer,
            OpenApiParameter("table", str, OpenApiParameter.PATH, enum=list(TABLES)),
        ],
        responses={(200, "text/csv"): str},
    )
    def get(self, request: Request, run_id: int, table: str) -> HttpResponse:
        if table not in TABLES:
            raise ApplicationError(
                "invalid", f"table must be one of {', '.join(TABLES)}.", field="table"
            )
        analysis = _analysis(request, run_id)
        columns, rows = _table(analysis, table)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        run = analysis["run"]
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        name = f"{run['name']}-{run['version']}-{table}.csv"
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response
