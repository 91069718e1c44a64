"""Taxonomy API: class merges — what-if preview, apply, undo, history.

Previews are open to reviewers, engineers and managers (they only read); merging and undoing
are for managers. Labelers get 403, non-members 404. Aliases live in ``annotations.api``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.mixins import ProjectScopedMixin
from annotations.models import Role
from annotations.selectors import SEES_LABELS, project_get_for_user
from consensus.models import ClassMerge
from consensus.services.taxonomy import (
    class_merge_apply,
    class_merge_list,
    class_merge_preview,
    class_merge_undo,
)

MANAGERS = (Role.MANAGER,)


class MergeInputSerializer(serializers.Serializer):
    sources = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50)
    target = serializers.CharField(max_length=64)
    target_name = serializers.CharField(
        max_length=120, required=False, default="", allow_blank=True
    )


class ClassMergeSerializer(serializers.ModelSerializer):
    sources = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)
    target = serializers.CharField(source="target_key", read_only=True)
    taxonomy_version = serializers.IntegerField(source="taxonomy.number", read_only=True)
    undo_taxonomy_version = serializers.IntegerField(
        source="undo_taxonomy.number", default=None, read_only=True
    )
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    undone_by = serializers.CharField(source="undone_by.username", default=None, read_only=True)

    class Meta:
        model = ClassMerge
        fields = [
            "id",
            "sources",
            "target",
            "created_target",
            "taxonomy_version",
            "created_by",
            "created_at",
            "undone_at",
            "undone_by",
            "undo_taxonomy_version",
        ]


_FIGURES = serializers.DictField()


class ClassMergePreviewApi(APIView):
    """What merging ``sources`` into ``target`` would do, computed on the current labels:
    ``before`` and ``after`` hold the report's overall, per-class and per-slice coefficients;
    ``changed_items`` counts items whose consensus would change. Nothing is written."""

    @extend_schema(
        request=MergeInputSerializer,
        responses=inline_serializer(
            "MergePreview",
            {
                "sources": serializers.ListField(child=serializers.CharField()),
                "target": serializers.CharField(),
                "creates_target": serializers.BooleanField(),
                "taxonomy_version": serializers.IntegerField(),
                "labels_remapped": serializers.IntegerField(),
                "items": serializers.IntegerField(),
                "changed_items": serializers.IntegerField(),
                "before": _FIGURES,
                "after": _FIGURES,
            },
        ),
    )
    def post(self, request: Request, project_id: int) -> Response:
        project_get_for_user(user=request.user, project_id=project_id, roles=SEES_LABELS)
        data = MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preview = class_merge_preview(
            user=request.user,
            project_id=project_id,
            sources=data.validated_data["sources"],
            target=data.validated_data["target"],
        )
        return Response(preview)


class ClassMergeListCreateApi(ProjectScopedMixin, generics.ListAPIView):
    """GET: merges, newest first (undone ones included). POST (managers): apply a merge — a new
    taxonomy version; the report is recomputed."""

    serializer_class = ClassMergeSerializer
    pagination_class = None
    project_roles = {"GET": SEES_LABELS, "POST": MANAGERS}

    def get_queryset(self):
        return class_merge_list(project=self.get_project())

    @extend_schema(request=MergeInputSerializer, responses={201: ClassMergeSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        self.get_project()
        data = MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merge = class_merge_apply(user=request.user, project_id=project_id, **data.validated_data)
        merge = class_merge_list(project=merge.project).get(pk=merge.pk)
        return Response(ClassMergeSerializer(merge).data, status=status.HTTP_201_CREATED)


class ClassMergeUndoApi(APIView):
    """DELETE (managers): undo the merge — a new taxonomy version; the report is recomputed."""

    @extend_schema(responses=ClassMergeSerializer)
    def delete(self, request: Request, project_id: int, merge_id: int) -> Response:
        merge = class_merge_undo(user=request.user, project_id=project_id, merge_id=merge_id)
        merge = class_merge_list(project=merge.project).get(pk=merge.pk)
        return Response(ClassMergeSerializer(merge).data)
