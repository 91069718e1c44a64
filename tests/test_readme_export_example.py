"""The README's Python example, run as written against a live server with a real API token:
the three lines an ML engineer copies must work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotations.models import Role
from annotations.services.tokens import api_token_create
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, submit_labels

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    section = README.read_text().split("### Clean datasets", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.mark.django_db(transaction=True)
def test_the_readme_example_streams_the_export(live_server):
    # given a project with two labeled items, one below the example's agreement threshold
    project = ProjectFactory()
    labelers = [MembershipFactory(project=project).user for _ in range(3)]
    engineer = MembershipFactory(project=project, role=Role.ENGINEER).user
    for external_id, keys in [("sure", ["dent"] * 3), ("unsure", ["clean", "dent", "scratch"])]:
        item = ItemFactory(project=project, external_id=external_id)
        submit_labels(item, dict(zip(labelers, keys, strict=True)))
    _, key = api_token_create(user=engineer, name="readme")
    code = (
        _example()
        .replace("http://127.0.0.1:8000", live_server.url)
        .replace("/projects/1/", f"/projects/{project.pk}/")
        .replace("lh_…", key)
    )

    # when the example runs as written
    scope: dict = {}
    exec(code, scope)  # noqa: S102 (the README's own example)

    # then it holds the item that passed the filter, with its label
    assert [(r["external_id"], r["label"]) for r in scope["records"]] == [("sure", "dent")]
