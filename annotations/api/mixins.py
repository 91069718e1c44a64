"""The one scoping mixin: API views obtain their project only through ``project_get_for_user``."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.request import Request

from annotations.models import Project
from annotations.selectors import project_get_for_user


class ProjectScopedMixin:
    """Resolves ``self.kwargs["project_id"]`` for the request's user.

    ``project_roles`` maps an HTTP method to the roles allowed (missing: any member). Non-members
    get 404, members with another role 403.
    """

    project_roles: dict[str, Iterable[str]] = {}
    request: Request
    kwargs: dict

    def get_project(self) -> Project:
        cached = getattr(self, "_project", None)
        if cached is None:
            cached = project_get_for_user(
                user=self.request.user,
                project_id=self.kwargs["project_id"],
                roles=self.project_roles.get(self.request.method),
            )
            self._project = cached
        return cached
