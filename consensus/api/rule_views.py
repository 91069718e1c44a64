"""Standardisation rules API (transcription projects): versions, what-if preview, activation.

Listing and previewing are open to reviewers, engineers and managers (they only read); saving
and activating are for managers. Labelers get 403, non-members 404. The rules' JSON shape is
documented in ``consensus.standardise``; errors name the rule's field (``rules[2].pattern``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.mixins import ProjectScopedMixin
from annotations.selectors import project_get_for_user
from consensus.models import RuleSet
from consensus.services.rule_sets import (
    EDITORS,
    NOTE_MAX,
    PREVIEWERS,
    rule_set_activate,
    rule_set_create,
    rule_set_list,
    rule_set_preview,
)

_RULES_HELP = (
    "Ordered rules, each an object with a kind: case_fold, whitespace, punctuation, fillers, "
    "replace, regex or token (fields in consensus/standardise.py)."
)


class RulesInputSerializer(serializers.Serializer):
    # Each rule passes through as JSON: the engine validates it and names the exact field.
    rules = serializers.ListField(child=serializers.JSONField(), help_text=_RULES_HELP)


class RuleSetInputSerializer(RulesInputSerializer):
    note = serializers.CharField(
        max_length=NOTE_MAX, required=False, default="", allow_blank=True, trim_whitespace=True
    )


class RuleSetSerializer(serializers.ModelSerializer):
    rules = serializers.ListField(child=serializers.JSONField(), read_only=True)
    active = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    created_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = RuleSet
        fields = [
            "version",
            "rules",
            "fingerprint",
            "note",
            "active",
            "created_by",
            "created_at",
            "activated_at",
        ]

    def get_active(self, rule_set: RuleSet) -> bool:
        active = self.context.get("active_version")
        if active is None:
            active = rule_set.project.rule_set_version
        return rule_set.version == active


_FIGURES = inline_serializer(
    "RulePreviewFigures",
    {
        "exact_agreement": serializers.FloatField(allow_null=True),
        "word_error_rate": serializers.FloatField(allow_null=True),
        "character_error_rate": serializers.FloatField(allow_null=True),
        "alpha": serializers.FloatField(allow_null=True),
        "alpha_distance": serializers.CharField(),
        "pairs": serializers.IntegerField(),
        "items_compared": serializers.IntegerField(),
        "reason": serializers.CharField(allow_null=True),
        "alpha_reason": serializers.CharField(allow_null=True),
    },
)


class RuleSetPreviewApi(APIView):
    """What the candidate ``rules`` would do to the project's current transcripts: counts,
    sample before/after word diffs with the rules that changed each, warnings (``same_output``:
    every transcript becomes one string), and agreement ``before`` (the active version) →
    ``after`` (the candidate) with ``changed_items`` (items whose consensus transcript changes).
    Nothing is written."""

    @extend_schema(
        request=RulesInputSerializer,
        responses=inline_serializer(
            "RulePreview",
            {
                "fingerprint": serializers.CharField(),
                "total": serializers.IntegerField(),
                "changed": serializers.IntegerField(),
                "changed_share": serializers.FloatField(allow_null=True),
                "distinct_before": serializers.IntegerField(),
                "distinct_after": serializers.IntegerField(),
                "empty_after": serializers.IntegerField(),
                "rule_changes": serializers.ListField(child=serializers.IntegerField()),
                "samples": serializers.ListField(child=serializers.DictField()),
                "warnings": serializers.ListField(child=serializers.DictField()),
                "active_version": serializers.IntegerField(),
                "items": serializers.IntegerField(),
                "before": _FIGURES,
                "after": _FIGURES,
                "changed_items": serializers.IntegerField(),
            },
        ),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project_get_for_user(user=request.user, project_id=project_id, roles=PREVIEWERS)
        data = RulesInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preview = rule_set_preview(
            user=request.user, project_id=project_id, rules=data.validated_data["rules"]
        )
        return Response(preview)


class RuleSetListCreateApi(ProjectScopedMixin, generics.ListAPIView):
    """GET: the rule-set versions, newest first, with which one is active. POST (managers): save
    ``rules`` as the next version (409 ``unchanged`` when they behave like the newest one)."""

    serializer_class = RuleSetSerializer
    pagination_class = None
    project_roles = {"GET": PREVIEWERS, "POST": EDITORS}

    def get_queryset(self):
        return rule_set_list(project=self.get_project())

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):  # the schema generator has no project
            context["active_version"] = self.get_project().rule_set_version
        return context

    @extend_schema(request=RuleSetInputSerializer, responses={201: RuleSetSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        self.get_project()
        data = RuleSetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule_set = rule_set_create(user=request.user, project_id=project_id, **data.validated_data)
        return Response(RuleSetSerializer(rule_set).data, status=status.HTTP_201_CREATED)


class RuleSetActivateApi(APIView):
    """POST (managers): make ``version`` the active rule set — every transcript's normalised
    text is stored for it and the report is recomputed; raw transcripts are never changed.
    Version 0 returns to the raw transcripts (whitespace collapsed and trimmed)."""

    @extend_schema(request=None, responses=RuleSetSerializer)
    def post(self, request: Request, project_id: int, version: int) -> Response:
        rule_set = rule_set_activate(user=request.user, project_id=project_id, version=version)
        return Response(RuleSetSerializer(rule_set, context={"active_version": version}).data)
