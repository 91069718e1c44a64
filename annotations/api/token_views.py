"""Personal API tokens: list, create (the key is in the 201 answer and nowhere else, ever), revoke,
and ``POST /api/v1/auth/token/`` for scripts that start from a username and password.

A user manages only their own tokens, signed in by session or by one of their tokens; another
user's token id answers 404. Keys never appear in a list or a detail: only ``prefix``.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.models import ApiToken
from annotations.services.tokens import (
    NAME_MAX_LENGTH,
    api_token_create,
    api_token_create_for_login,
    api_token_revoke,
)
from labelhub.errors import ApplicationError


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; only its hash is stored.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class TokenNameSerializer(serializers.Serializer):
    # Trimmed before the length check; the service checks the name again (control characters).
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)


class ApiTokenListCreateApi(generics.ListAPIView):
    """GET: the caller's tokens, newest first (revoked ones included). POST ``{name}``: a new
    token; the answer carries ``key`` — the only time it is ever shown."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user).order_by("-id")

    @extend_schema(request=TokenNameSerializer, responses={201: ApiTokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = TokenNameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = api_token_create(user=request.user, name=data.validated_data["name"])
        token.key = key
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class ApiTokenRevokeApi(APIView):
    """DELETE: revoke one of the caller's tokens (204; again: 204). It stays in the list."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        api_token_revoke(user=request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthTokenCreateApi(APIView):
    """``{username, password, name?}`` → ``{"token": key}``: a new personal token for a script
    (named ``name``, or ``login <date> UTC``). The answer's shape is the one DRF's
    ``obtain_auth_token`` had, so older clients keep working. Wrong credentials or an inactive
    account: 400 ``invalid``. Throttled per client address (scope ``auth``)."""

    # No authentication: a stale or revoked token in the script's header must not block a login,
    # and with no session there is no CSRF to check.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    class AuthTokenInputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)
        name = serializers.CharField(max_length=NAME_MAX_LENGTH, required=False)

    @extend_schema(
        request=AuthTokenInputSerializer,
        responses={200: inline_serializer("AuthToken", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.AuthTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        user = authenticate(request, username=fields["username"], password=fields["password"])
        if user is None:  # ModelBackend refuses inactive accounts too
            raise ApplicationError("invalid", "Unable to log in with the given credentials.")
        _, key = api_token_create_for_login(user=user, name=fields.get("name"))
        return Response({"token": key})
