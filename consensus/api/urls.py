from django.urls import path

from consensus.api import model_views as models
from consensus.api import review_views as review
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
    path(
        "projects/<int:project_id>/disagreements/",
        review.DisagreementListApi.as_view(),
        name="disagreements",
    ),
    path(
        "projects/<int:project_id>/disagreements/pairs/",
        review.DisagreementPairsApi.as_view(),
        name="disagreement-pairs",
    ),
    path(
        "projects/<int:project_id>/guidelines/",
        review.GuidelineListApi.as_view(),
        name="guidelines",
    ),
    path(
        "projects/<int:project_id>/guidelines/<int:version>/acknowledge/",
        review.GuidelineAcknowledgeApi.as_view(),
        name="guideline-acknowledge",
    ),
    path("projects/<int:project_id>/rounds/", review.RoundStartApi.as_view(), name="rounds"),
    path(
        "projects/<int:project_id>/input-issues/",
        review.InputIssueListApi.as_view(),
        name="input-issues",
    ),
    path("items/<int:item_id>/review/", review.ItemReviewApi.as_view(), name="item-review"),
    path("items/<int:item_id>/decision/", review.ItemDecisionApi.as_view(), name="item-decision"),
    path(
        "items/<int:item_id>/comments/", review.ItemCommentListApi.as_view(), name="item-comments"
    ),
    path("comments/<int:comment_id>/", review.CommentEditApi.as_view(), name="comment-edit"),
    path("notifications/", review.NotificationListApi.as_view(), name="notifications"),
    path("notifications/read/", review.NotificationReadApi.as_view(), name="notifications-read"),
    path("projects/<int:project_id>/runs/", models.ModelRunListCreateApi.as_view(), name="runs"),
    path("runs/<int:run_id>/", models.ModelRunDetailApi.as_view(), name="run-detail"),
    path(
        "runs/<int:run_id>/predictions/",
        models.PredictionImportApi.as_view(),
        name="run-predictions",
    ),
    path("runs/<int:run_id>/analysis/", models.RunAnalysisApi.as_view(), name="run-analysis"),
    path(
        "runs/<int:run_id>/analysis/<str:table>.csv",
        models.RunAnalysisCsvApi.as_view(),
        name="run-analysis-csv",
    ),
]
