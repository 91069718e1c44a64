"""Class aliases: other spellings of a class that labels arriving as text may use.

Any member reads them; managers add and remove them. Non-members get 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.mixins import ProjectScopedMixin
from annotations.models import LabelClassAlias, Role
from annotations.services.aliases import class_alias_create, class_alias_delete

MANAGERS = (Role.MANAGER,)


class _AliasInput(serializers.Serializer):
    alias = serializers.CharField(max_length=120, trim_whitespace=False)

    def get_fields(self):
        # "class" is a Python keyword, so the field cannot be declared as an attribute.
        fields = super().get_fields()
        fields["class"] = serializers.CharField(max_length=64)
        return fields


class ClassAliasSerializer(serializers.ModelSerializer):
    label_class = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = LabelClassAlias
        fields = ["id", "alias", "normalized", "label_class", "created_at"]


class ClassAliasListCreateApi(ProjectScopedMixin, generics.ListAPIView):
    """GET (any member): the project's aliases. POST (managers): ``{"alias": "Scratch ",
    "class": "scratch"}`` — labels arriving as that spelling count as the class."""

    serializer_class = ClassAliasSerializer
    pagination_class = None
    project_roles = {"POST": MANAGERS}

    def get_queryset(self):
        return (
            LabelClassAlias.objects.filter(project=self.get_project())
            .select_related("label_class")
            .order_by("normalized")
        )

    @extend_schema(
        request=inline_serializer(
            "AliasInput",
            {"alias": serializers.CharField(), "class": serializers.CharField()},
        ),
        responses={201: ClassAliasSerializer},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = _AliasInput(data=request.data)
        data.is_valid(raise_exception=True)
        alias = class_alias_create(
            project=project,
            alias=data.validated_data["alias"],
            class_key=data.validated_data["class"],
            created_by=request.user,
        )
        return Response(ClassAliasSerializer(alias).data, status=status.HTTP_201_CREATED)


class ClassAliasDeleteApi(ProjectScopedMixin, APIView):
    project_roles = {"DELETE": MANAGERS}

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, alias_id: int) -> Response:
        class_alias_delete(project=self.get_project(), alias_id=alias_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
