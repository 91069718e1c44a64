"""Consistency API: the newest report and its parts, item consensus, and recompute requests.
Reviewers, engineers and managers only — labelers never see agreement figures."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.mixins import ProjectScopedMixin
from annotations.models import Role
from annotations.selectors import SEES_LABELS
from consensus.models import ConsistencyReport, ItemConsensus
from consensus.selectors import ITEM_ORDERS, item_consensus_list, report_state
from consensus.tasks import report_recompute_enqueue


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsistencyReport
        fields = [
            "version",
            "round",
            "taxonomy_version",
            "computed_at",
            "duration_ms",
            "high_water_mark",
            "n_items",
            "n_labeled_items",
            "n_annotations",
            "n_labelers",
            "overall",
            "per_class",
            "pairwise",
            "confusion_pairs",
            "top_disagreements",
            "per_round",
            "per_guideline",
            "round_change",
            "escalation",
        ]


def _state_body(state, part: str | None = None) -> dict:
    """The report's freshness, plus ``part`` of it: "report" (all of it) or one JSON field."""
    body = {
        "stale": state.stale,
        "recomputing": state.recomputing,
        "requested_version": state.requested_version,
        "computed_at": state.report.computed_at if state.report else None,
        "version": state.report.version if state.report else None,
    }
    if part == "report":
        body["report"] = ReportSerializer(state.report).data if state.report else None
    elif part is not None:
        body[part] = getattr(state.report, part) if state.report else []
    return body


class ConsistencyStateSerializer(serializers.Serializer):
    stale = serializers.BooleanField()
    recomputing = serializers.BooleanField()
    requested_version = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)


class ConsistencyReportApi(ProjectScopedMixin, APIView):
    """The newest report of the current round, with ``stale`` and ``recomputing``."""

    project_roles = {"GET": SEES_LABELS}

    @extend_schema(responses=ConsistencyStateSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(_state_body(report_state(project=self.get_project()), "report"))


class ConsistencyPartApi(ProjectScopedMixin, APIView):
    """One part of the newest report (``per_labeler`` or ``per_slice``)."""

    project_roles = {"GET": SEES_LABELS}
    part = ""

    @extend_schema(responses=ConsistencyStateSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(_state_body(report_state(project=self.get_project()), self.part))


class ItemConsensusSerializer(serializers.ModelSerializer):
    external_id = serializers.CharField(source="item.external_id")
    label = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = ItemConsensus
        fields = [
            "item",
            "external_id",
            "label",
            "method",
            "confidence",
            "n_labels",
            "majority_share",
            "entropy",
            "tied",
            "updated_at",
        ]


class _ConsensusCursor(CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"

    def get_ordering(self, request, queryset, view):
        return ITEM_ORDERS[view.order()]


class ItemConsensusListApi(ProjectScopedMixin, generics.ListAPIView):
    """Items' consensus labels. ``?order=disagreement`` (default): items with 2+ labels, lowest
    majority share first; ``confidence``: least confident consensus first; ``item``: all items."""

    serializer_class = ItemConsensusSerializer
    pagination_class = _ConsensusCursor
    project_roles = {"GET": SEES_LABELS}

    def order(self) -> str:
        order = self.request.query_params.get("order", "disagreement")
        if order not in ITEM_ORDERS:
            raise serializers.ValidationError({"order": f"Use one of: {', '.join(ITEM_ORDERS)}."})
        return order

    def get_queryset(self):
        return item_consensus_list(project=self.get_project(), order=self.order())


class ConsistencyRecomputeApi(ProjectScopedMixin, APIView):
    """Managers and engineers ask for a fresh report (202; coalesced with pending requests)."""

    project_roles = {"POST": (Role.MANAGER, Role.ENGINEER)}

    @extend_schema(request=None, responses={202: ConsistencyStateSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        report_recompute_enqueue(project.pk)
        body = _state_body(report_state(project=project))
        return Response(body, status=status.HTTP_202_ACCEPTED)
