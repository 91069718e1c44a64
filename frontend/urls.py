from django.urls import path

from frontend import (
    dataset_views,
    guideline_views,
    model_views,
    review_views,
    rule_views,
    taxonomy_views,
    token_views,
    views,
    webhook_views,
)

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("settings/tokens/", token_views.tokens, name="tokens"),
    path("projects/<int:project_id>/label/", views.label, name="label"),
    path("projects/<int:project_id>/consistency/", views.consistency, name="consistency"),
    path(
        "projects/<int:project_id>/guidelines/",
        guideline_views.guidelines,
        name="guidelines",
    ),
    path("projects/<int:project_id>/review/", review_views.review_queue, name="review-queue"),
    path(
        "projects/<int:project_id>/review/<int:item_id>/",
        review_views.review_item,
        name="review-item",
    ),
    path("projects/<int:project_id>/models/", model_views.models, name="models"),
    path(
        "projects/<int:project_id>/models/<int:run_id>/",
        model_views.model_run,
        name="model-run",
    ),
    path("projects/<int:project_id>/webhooks/", webhook_views.webhooks, name="webhooks"),
    path("projects/<int:project_id>/datasets/", dataset_views.datasets, name="datasets"),
    path("projects/<int:project_id>/classes/", taxonomy_views.classes, name="classes"),
    path("projects/<int:project_id>/rules/", rule_views.rules, name="rules"),
]
