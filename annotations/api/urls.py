from django.urls import path

from annotations.api import alias_views as aliases
from annotations.api import label_studio_views as label_studio
from annotations.api import token_views, views

urlpatterns = [
    path("auth/token/", token_views.AuthTokenCreateApi.as_view(), name="auth-token"),
    path("tokens/", token_views.ApiTokenListCreateApi.as_view(), name="tokens"),
    path("tokens/<int:token_id>/", token_views.ApiTokenRevokeApi.as_view(), name="token-detail"),
    path("projects/", views.ProjectListCreateApi.as_view(), name="project-list"),
    path(
        "projects/import/label-studio/",
        label_studio.LabelStudioProjectImportApi.as_view(),
        name="project-import-label-studio",
    ),
    path(
        "projects/<int:project_id>/import/label-studio/",
        label_studio.LabelStudioImportApi.as_view(),
        name="project-import-label-studio-into",
    ),
    path(
        "projects/<int:project_id>/export/label-studio/",
        label_studio.LabelStudioExportApi.as_view(),
        name="project-export-label-studio",
    ),
    path("projects/<int:project_id>/", views.ProjectDetailApi.as_view(), name="project-detail"),
    path(
        "projects/<int:project_id>/classes/",
        views.LabelClassListCreateApi.as_view(),
        name="project-classes",
    ),
    path(
        "projects/<int:project_id>/classes/<int:class_id>/",
        views.LabelClassUpdateApi.as_view(),
        name="project-class-detail",
    ),
    path(
        "projects/<int:project_id>/members/",
        views.MembershipListCreateApi.as_view(),
        name="project-members",
    ),
    path(
        "projects/<int:project_id>/members/unpause/",
        views.MembershipUnpauseApi.as_view(),
        name="project-members-unpause",
    ),
    path("projects/<int:project_id>/items/", views.ItemListApi.as_view(), name="project-items"),
    path(
        "projects/<int:project_id>/items/import/",
        views.ItemImportApi.as_view(),
        name="project-items-import",
    ),
    path("projects/<int:project_id>/next/", views.AssignmentNextApi.as_view(), name="project-next"),
    path(
        "projects/<int:project_id>/progress/", views.ProgressApi.as_view(), name="project-progress"
    ),
    path(
        "projects/<int:project_id>/annotations/",
        views.AnnotationListApi.as_view(),
        name="project-annotations",
    ),
    path("items/<int:item_id>/image/", views.ItemImageApi.as_view(), name="item-image"),
    path("items/<int:item_id>/audio/", views.ItemAudioApi.as_view(), name="item-audio"),
    path("items/<int:item_id>/skip/", views.AssignmentSkipApi.as_view(), name="item-skip"),
    path("items/<int:item_id>/flags/", views.ItemFlagCreateApi.as_view(), name="item-flags"),
    path("annotations/", views.AnnotationSubmitApi.as_view(), name="annotation-submit"),
    path(
        "annotations/<int:annotation_id>/withdraw/",
        views.AnnotationWithdrawApi.as_view(),
        name="annotation-withdraw",
    ),
    path(
        "projects/<int:project_id>/aliases/",
        aliases.ClassAliasListCreateApi.as_view(),
        name="aliases",
    ),
    path(
        "projects/<int:project_id>/aliases/<int:alias_id>/",
        aliases.ClassAliasDeleteApi.as_view(),
        name="alias-delete",
    ),
]
