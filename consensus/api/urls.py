from django.urls import path

from consensus.api import export_views as exports
from consensus.api import model_views as models
from consensus.api import review_views as review
from consensus.api import rule_views as rules
from consensus.api import taxonomy_views as taxonomy
from consensus.api import views
from consensus.api import webhook_views as webhooks

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
    path(
        "projects/<int:project_id>/webhooks/",
        webhooks.WebhookListCreateApi.as_view(),
        name="webhooks",
    ),
    path("webhooks/<int:webhook_id>/", webhooks.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<int:webhook_id>/rotate-secret/",
        webhooks.WebhookSecretRotateApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<int:webhook_id>/deliveries/",
        webhooks.WebhookDeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "deliveries/<int:delivery_id>/replay/",
        webhooks.DeliveryReplayApi.as_view(),
        name="delivery-replay",
    ),
    path("projects/<int:project_id>/export/", exports.ProjectExportApi.as_view(), name="export"),
    path(
        "projects/<int:project_id>/datasets/",
        exports.DatasetListCreateApi.as_view(),
        name="datasets",
    ),
    path(
        "projects/<int:project_id>/datasets/<int:dataset_id>/",
        exports.DatasetDetailApi.as_view(),
        name="dataset-detail",
    ),
    path(
        "projects/<int:project_id>/datasets/<int:dataset_id>/download/",
        exports.DatasetDownloadApi.as_view(),
        name="dataset-download",
    ),
    path(
        "projects/<int:project_id>/datasets/<int:a_id>/diff/<int:b_id>/",
        exports.DatasetDiffApi.as_view(),
        name="dataset-diff",
    ),
    path(
        "projects/<int:project_id>/merges/preview/",
        taxonomy.ClassMergePreviewApi.as_view(),
        name="merge-preview",
    ),
    path(
        "projects/<int:project_id>/merges/",
        taxonomy.ClassMergeListCreateApi.as_view(),
        name="merges",
    ),
    path(
        "projects/<int:project_id>/merges/<int:merge_id>/",
        taxonomy.ClassMergeUndoApi.as_view(),
        name="merge-undo",
    ),
    path("projects/<int:project_id>/rules/", rules.RuleSetListCreateApi.as_view(), name="rules"),
    path(
        "projects/<int:project_id>/rules/preview/",
        rules.RuleSetPreviewApi.as_view(),
        name="rules-preview",
    ),
    path(
        "projects/<int:project_id>/rules/<int:version>/activate/",
        rules.RuleSetActivateApi.as_view(),
        name="rules-activate",
    ),
]
