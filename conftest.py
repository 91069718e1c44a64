"""Fixtures shared by every app's tests: users by role in one project, and API clients."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotations.models import Role
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture
def project(db):
    return ProjectFactory()


@pytest.fixture
def member(project):
    """``member(role)`` makes a user with that role in ``project``."""

    def make(role: str = Role.LABELER, username: str | None = None):
        kwargs = {"username": username} if username else {}
        return MembershipFactory(project=project, role=role, user=UserFactory(**kwargs)).user

    return make


@pytest.fixture
def labeler(member):
    return member(Role.LABELER)


@pytest.fixture
def manager(member):
    return member(Role.MANAGER)


@pytest.fixture
def items(project):
    """``items(n)`` makes n text items in ``project``."""

    def make(n: int, **kwargs):
        return ItemFactory.create_batch(n, project=project, **kwargs)

    return make


@pytest.fixture
def api():
    """``api(user)`` is an APIClient authenticated as ``user`` (anonymous when None)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def pytest_collection_modifyitems(config, items):
    """Skip ``postgres``-marked tests when the suite runs on SQLite (the embedded default)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL); CI runs it")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
