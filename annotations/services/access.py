"""Access checks shared by the labeling services (items reached by id, not through a project)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from annotations.models import Item, Membership, Role
from labelhub.errors import ConflictError, ForbiddenError, NotFoundError


def labeler_membership(*, project_id: int, user: AbstractBaseUser) -> Membership:
    """The user's labeler membership, not paused, with the newest guideline acknowledged.

    Non-members get 404 so ids do not leak; a labeler who has not acknowledged the project's
    newest guideline version gets 409 ``guideline_unacknowledged`` (details name the version).
    """
    membership = (
        Membership.objects.filter(user=user, project_id=project_id)
        .select_related("project")
        .first()
    )
    if membership is None:
        raise NotFoundError("Item not found.")
    if membership.role != Role.LABELER:
        raise ForbiddenError("Only the project's labelers submit labels (labeling is blind).")
    if membership.paused_at is not None:
        raise ForbiddenError(
            "Your labeling in this project is paused; a project manager can lift the pause.",
            code="labeler_paused",
        )
    version = membership.project.guideline_version
    if membership.guideline_acknowledged < version:
        raise ConflictError(
            "guideline_unacknowledged",
            f"Read and acknowledge guideline version {version} before labeling again.",
            details=[{"guideline_version": version}],
        )
    return membership


def ensure_labeler(*, item: Item, user: AbstractBaseUser) -> Membership:
    return labeler_membership(project_id=item.project_id, user=user)
