"""Access checks shared by the labeling services (items reached by id, not through a project)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from annotations.models import Item, Role
from annotations.selectors import membership_role
from labelhub.errors import ForbiddenError, NotFoundError


def ensure_labeler(*, item: Item, user: AbstractBaseUser) -> None:
    """Only the project's labelers label. Non-members get 404 so item ids do not leak."""
    role = membership_role(user=user, project_id=item.project_id)
    if role is None:
        raise NotFoundError("Item not found.")
    if role != Role.LABELER:
        raise ForbiddenError("Only the project's labelers submit labels (labeling is blind).")
