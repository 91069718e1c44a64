from django.urls import path

from consensus.api import views

urlpatterns = [
    path(
        "projects/<int:project_id>/consistency/",
        views.ConsistencyReportApi.as_view(),
        name="consistency",
    ),
    path(
        "projects/<int:project_id>/consistency/labelers/",
        views.ConsistencyPartApi.as_view(part="per_labeler"),
        name="consistency-labelers",
    ),
    path(
        "projects/<int:project_id>/consistency/slices/",
        views.ConsistencyPartApi.as_view(part="per_slice"),
        name="consistency-slices",
    ),
    path(
        "projects/<int:project_id>/consistency/classes/",
        views.ConsistencyPartApi.as_view(part="per_class"),
        name="consistency-classes",
    ),
    path(
        "projects/<int:project_id>/consistency/items/",
        views.ItemConsensusListApi.as_view(),
        name="consistency-items",
    ),
    path(
        "projects/<int:project_id>/consistency/recompute/",
        views.ConsistencyRecomputeApi.as_view(),
        name="consistency-recompute",
    ),
]
