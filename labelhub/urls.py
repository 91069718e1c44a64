"""URLs: the REST API under /api/v1/, its schema and docs, the admin, and the pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from labelhub.health import healthz

urlpatterns = [
    path("api/v1/", include(("annotations.api.urls", "api"))),
    path("api/v1/", include(("consensus.api.urls", "consensus-api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include(("frontend.urls", "frontend"))),
]
