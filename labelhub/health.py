"""``/healthz``: 200 when the app can reach its database, 503 otherwise (for load balancers and
docker-compose healthchecks). Unauthenticated and tells nothing but ok / not ok."""

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
