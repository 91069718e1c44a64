"""Webhooks API: a project's managers register URLs for events, rotate their secrets, read the
delivery log and replay a delivery. Everyone else in the project gets 403 (a hook's secret signs
what its receiver trusts), non-members 404.

Contracts (all JSON; errors in the one error shape):

- ``GET  /projects/{id}/webhooks/``        the hooks, oldest first, secrets included.
- ``POST /projects/{id}/webhooks/``        ``{"url", "events": [...], "active"?}`` → 201 hook.
- ``PATCH /webhooks/{id}/``                any of ``url``, ``events``, ``active`` → 200 hook.
- ``DELETE /webhooks/{id}/``               → 204; the log goes with it.
- ``POST /webhooks/{id}/rotate-secret/``   → 200 hook with a new ``secret``.
- ``GET  /webhooks/{id}/deliveries/``      the log, newest first, cursor-paginated.
- ``POST /deliveries/{id}/replay/``        → 201, a new delivery of the same body.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.selectors import project_get_for_user
from consensus.models import Webhook, WebhookDelivery, WebhookEvent
from consensus.services.webhooks import (
    MANAGERS,
    webhook_create,
    webhook_delete,
    webhook_delivery_list,
    webhook_delivery_replay,
    webhook_get_for_user,
    webhook_list,
    webhook_secret_rotate,
    webhook_update,
)
from labelhub.pagination import DefaultCursorPagination


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = Webhook
        fields = ["id", "project", "url", "events", "secret", "active", "created_by", "created_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook",
            "event",
            "status",
            "attempts",
            "response_status",
            "response_ms",
            "error",
            "replay_of",
            "created_at",
            "delivered_at",
            "body",
        ]


def _events_field(*, required: bool) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        required=required,
        allow_empty=False,
        max_length=len(WebhookEvent.choices),
        error_messages={"empty": "Choose at least one event."},
    )


class WebhookListCreateApi(APIView):
    """GET: the project's hooks. POST: register one (a fresh secret is generated)."""

    class WebhookCreateInputSerializer(serializers.Serializer):
        # The service checks the URL (http(s) with a host) so the page and API say the same.
        url = serializers.CharField(max_length=2000, trim_whitespace=True)
        events = _events_field(required=True)
        active = serializers.BooleanField(required=False, default=True)

    @extend_schema(responses=WebhookSerializer(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = project_get_for_user(user=request.user, project_id=project_id, roles=MANAGERS)
        hooks = webhook_list(project=project).select_related("created_by")
        return Response(WebhookSerializer(hooks, many=True).data)

    @extend_schema(request=WebhookCreateInputSerializer, responses={201: WebhookSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_user(user=request.user, project_id=project_id, roles=MANAGERS)
        data = self.WebhookCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hook = webhook_create(project=project, created_by=request.user, **data.validated_data)
        return Response(WebhookSerializer(hook).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    """PATCH: change the URL, the events or whether it is active. DELETE: remove it and its log."""

    class WebhookUpdateInputSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=2000, trim_whitespace=True, required=False)
        events = _events_field(required=False)
        active = serializers.BooleanField(required=False)

    @extend_schema(request=WebhookUpdateInputSerializer, responses=WebhookSerializer)
    def patch(self, request: Request, webhook_id: int) -> Response:
        hook = webhook_get_for_user(user=request.user, webhook_id=webhook_id)
        data = self.WebhookUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hook = webhook_update(hook=hook, **data.validated_data)
        return Response(WebhookSerializer(hook).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, webhook_id: int) -> Response:
        hook = webhook_get_for_user(user=request.user, webhook_id=webhook_id)
        webhook_delete(hook=hook)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretRotateApi(APIView):
    """A new secret for the hook; the old one stops signing at once."""

    @extend_schema(request=None, responses=WebhookSerializer)
    def post(self, request: Request, webhook_id: int) -> Response:
        hook = webhook_get_for_user(user=request.user, webhook_id=webhook_id)
        return Response(WebhookSerializer(webhook_secret_rotate(hook=hook)).data)


class DeliveryCursorPagination(DefaultCursorPagination):
    page_size = 25


class WebhookDeliveryListApi(generics.ListAPIView):
    """The hook's delivery log, newest first (``?cursor=`` pages, ``?page_size=`` up to 500)."""

    serializer_class = WebhookDeliverySerializer
    pagination_class = DeliveryCursorPagination

    def get_queryset(self):
        hook = webhook_get_for_user(user=self.request.user, webhook_id=self.kwargs["webhook_id"])
        return webhook_delivery_list(hook=hook)


class DeliveryReplayApi(APIView):
    """Send a delivery's body again as a new delivery (``replay_of`` names the original)."""

    @extend_schema(request=None, responses={201: WebhookDeliverySerializer})
    def post(self, request: Request, delivery_id: int) -> Response:
        replay = webhook_delivery_replay(user=request.user, delivery_id=delivery_id)
        # With eager Celery the send already ran after commit: answer with the current row.
        replay.refresh_from_db()
        return Response(WebhookDeliverySerializer(replay).data, status=status.HTTP_201_CREATED)
