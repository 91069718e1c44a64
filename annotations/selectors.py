"""Read queries of the labeling domain. Pages and the API obtain projects only through
:func:`project_get_for_user`, which hides projects from non-members (404, so existence does not
leak) and refuses members whose role is not allowed (403)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from annotations.models import (
    Annotation,
    Item,
    ItemStatus,
    LabelClass,
    Membership,
    Project,
    Role,
)
from labelhub.errors import ForbiddenError, NotFoundError

User = AbstractBaseUser | AnonymousUser

#: Roles that see every label, gold label and agreement figure of a project (not blind).
SEES_LABELS = (Role.MANAGER, Role.REVIEWER, Role.ENGINEER)
#: Roles that may list and filter a project's items.
SEES_ITEMS = (Role.MANAGER, Role.ENGINEER)


def project_list_for_user(*, user: User) -> QuerySet[Project]:
    """The user's projects, each annotated with ``my_role``."""
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return (
        Project.objects.filter(memberships__user=user)
        .annotate(my_role=Subquery(role))
        .order_by("-created_at", "-id")
    )


def project_get_for_user(
    *, user: User, project_id: int | str, roles: Iterable[str] | None = None
) -> Project:
    """The project if ``user`` is a member (and has one of ``roles``), with ``my_role`` set."""
    try:
        pk = int(project_id)
    except (TypeError, ValueError):
        raise NotFoundError("Project not found.") from None
    if not user.is_authenticated:
        raise NotFoundError("Project not found.")
    project = project_list_for_user(user=user).filter(pk=pk).first()
    if project is None:
        raise NotFoundError("Project not found.")
    if roles is not None and project.my_role not in set(roles):
        raise ForbiddenError(f"Your role in this project ({project.my_role}) may not do this.")
    return project


def item_get_for_user(*, user: User, item_id: int, roles: Iterable[str] | None = None) -> Item:
    """An item reached by id, through its project's access rules (404 for non-members, 403 for
    a role not in ``roles``); ``item.project`` carries ``my_role``."""
    project_id = Item.objects.filter(pk=item_id).values_list("project_id", flat=True).first()
    if project_id is None:
        raise NotFoundError("Item not found.")
    try:
        project = project_get_for_user(user=user, project_id=project_id, roles=roles)
    except NotFoundError:
        raise NotFoundError("Item not found.") from None
    item = Item.objects.get(pk=item_id)
    item.project = project
    return item


def membership_role(*, user: User, project_id: int) -> str | None:
    return (
        Membership.objects.filter(user=user, project_id=project_id)
        .values_list("role", flat=True)
        .first()
    )


def label_class_list(*, project: Project, include_merged: bool = False) -> QuerySet[LabelClass]:
    """The classes a label can be given, in display order; with ``include_merged``, also those
    merged into another class in the current taxonomy version (their raw labels count as the
    target's, and labelers no longer see them)."""
    classes = LabelClass.objects.filter(project=project)
    if not include_merged:
        classes = classes.filter(merged_into__isnull=True)
    return classes.select_related("merged_into").order_by("order", "id")


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("id")


def item_list(
    *,
    project: Project,
    status: str | None = None,
    slices: dict[str, str] | None = None,
    has_gold: bool | None = None,
) -> QuerySet[Item]:
    """Items of a project, filtered by status, slice values (``{"camera": "A"}``) and gold."""
    items = Item.objects.filter(project=project).select_related("gold_label")
    if status:
        items = items.filter(status=status)
    for key, value in (slices or {}).items():
        items = items.filter(**{f"slices__{key}": value})
    if has_gold is not None:
        items = items.filter(gold_label__isnull=not has_gold)
    return items


def annotation_list(
    *, project: Project, user: User, include_withdrawn: bool = False
) -> QuerySet[Annotation]:
    """A project's annotations; a labeler (blind) gets only their own."""
    annotations = Annotation.objects.filter(project=project).select_related("labeler", "label")
    if project.my_role not in SEES_LABELS:
        annotations = annotations.filter(labeler=user)
    if not include_withdrawn:
        annotations = annotations.filter(withdrawn=False)
    return annotations


@dataclass(frozen=True)
class LabelerProgress:
    """What a labeler sees of a project: their own work and what is left overall."""

    my_labels: int
    items_total: int
    items_open: int


def labeler_progress(*, project: Project, user: User) -> LabelerProgress:
    """Two index-backed counts: the user's active labels and the items still needing labels."""
    mine = Annotation.objects.filter(project=project, labeler=user, withdrawn=False).count()
    counts = Item.objects.filter(project=project).aggregate(
        total=Count("id"), open=Count("id", filter=Q(status=ItemStatus.OPEN))
    )
    return LabelerProgress(my_labels=mine, items_total=counts["total"], items_open=counts["open"])
