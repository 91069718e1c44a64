"""People the consistency tests share, in the ``project`` fixture's project."""

from __future__ import annotations

import pytest

from annotations.models import Role


@pytest.fixture
def trio(member):
    """Three labelers, ana, ben and cy."""
    return [member(Role.LABELER, username=name) for name in ("ana", "ben", "cy")]


@pytest.fixture
def engineer(member):
    return member(Role.ENGINEER, username="eng")


@pytest.fixture
def sme(member):
    return member(Role.REVIEWER, username="sme")
