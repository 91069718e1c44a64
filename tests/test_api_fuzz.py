"""Property-based fuzzing of the whole REST API with schemathesis, from its OpenAPI schema.

Every operation drf-spectacular puts in the schema is exercised — nothing here lists endpoints,
so an endpoint added tomorrow is fuzzed tomorrow. For each operation schemathesis generates
requests from the schema (valid ones and, in negative mode, invalid ones) and checks that:

- the API never answers 5xx (``not_a_server_error``): bad input is a 4xx, never a crash;
- a documented status's body matches its declared schema (``response_schema_conformance``);
- its Content-Type is one the schema declares (``content_type_conformance``);
- documented response headers are present (``response_headers_conformance``).

``status_code_conformance`` is not checked: the schema documents success statuses only, and
every error (400/401/403/404/409) has the one shape of labelhub/errors.py, documented in the
README rather than repeated on every operation.

The application is called in-process (WSGI, no server), as the project's manager, against a
small realistic project (see ``_seed``). Path ids (``project_id``, ``item_id``, ``run_id``...)
are pinned to its rows; random integers would only ever reach 404. A path id not in
``Seeded.path_ids`` (a new endpoint's) is still fuzzed, with generated values. Each request runs
in a savepoint that is rolled back, so every example sees the same seeded state, whatever the
previous one created or changed.

Bounded for CI: ``MAX_EXAMPLES`` per operation, derandomized (the same examples on every run).
Run only this: ``.venv/bin/python -m pytest tests/test_api_fuzz.py`` (one operation:
``-k "predictions and POST"``; more examples: raise ``MAX_EXAMPLES`` locally).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
import schemathesis
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client
from django.test.client import ClientHandler
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from annotations.models import Annotation, Role
from annotations.services.tokens import api_token_create
from consensus.models import ConsistencyReport, WebhookDelivery, WebhookEvent
from consensus.services.comments import comment_add
from consensus.services.datasets import dataset_freeze
from consensus.services.guidelines import guideline_publish
from consensus.services.predictions import model_run_create, predictions_import_records
from consensus.services.webhooks import webhook_create
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, submit_labels

pytestmark = pytest.mark.django_db

#: Examples per operation: enough to reach each operation's validation branches, small enough
#: that the ~70 operations take about a minute of CPU.
MAX_EXAMPLES = 15

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@dataclass(frozen=True)
class Seeded:
    manager_session: str
    path_ids: dict[str, int]


class _Wsgi:
    """A WSGI application over Django's test ``ClientHandler``.

    Django's own ``WSGIHandler`` closes old database connections at the start and end of each
    request, which inside the test's transaction marks it for rollback and breaks every later
    query; the test client's handler does not. It also skips CSRF checks as the test client
    does (the session cookie stands in for a browser that holds its CSRF token)."""

    def __init__(self) -> None:
        self.handler = ClientHandler(enforce_csrf_checks=False)

    def __call__(self, environ, start_response):
        response = self.handler(environ)
        headers = [*response.items()]
        headers += [("Set-Cookie", c.output(header="")) for c in response.cookies.values()]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return response


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _seed() -> Seeded:
    """A manager in a project whose three labelers labeled six items (two in dispute), with a
    consistency report, a model run with predictions, a comment, a guideline, an API token, a
    webhook with a delivery, and two frozen dataset versions."""
    project = ProjectFactory(name="Fuzzed line")
    manager = MembershipFactory(project=project, role=Role.MANAGER).user
    labelers = [MembershipFactory(project=project, role=Role.LABELER).user for _ in range(3)]
    items = [
        ItemFactory(project=project, slices={"camera": "A" if i % 2 else "B"}) for i in range(6)
    ]
    votes = [
        ("clean", "clean", "scratch"),
        ("dent", "scratch", "clean"),
        ("clean", "clean", "clean"),
        ("scratch", "scratch", "scratch"),
        ("dent", "dent", "clean"),
        ("clean", "clean", "clean"),
    ]
    for item, keys in zip(items, votes, strict=True):
        # Only the third label is announced: the receivers (item consensus, disputes,
        # notifications, the report) read every label of the item, so the state is the same as
        # announcing all three, at a third of the cost, paid again by each of the ~70 tests.
        submit_labels(item, dict(zip(labelers[:2], keys[:2], strict=True)), announce=False)
        submit_labels(item, {labelers[2]: keys[2]})
    # The disputed item the path ids point at also holds an image, so the image endpoint is
    # fuzzed against a real file rather than only its 404.
    item = items[0]
    item.image.save("fuzz.png", ContentFile(_png()), save=False)
    item.save(update_fields=["image"])  # only the image: the labels changed the rest
    # submit_labels ran the after-commit receivers, so the consistency report exists already.
    assert ConsistencyReport.objects.filter(project=project).exists()
    run = model_run_create(project=project, name="resnet", version="1", created_by=manager)
    predictions_import_records(
        run=run,
        records=[
            {"item": it.external_id, "label": "clean", "scores": {"clean": 0.8, "scratch": 0.2}}
            for it in items
        ],
    )
    comment = comment_add(item=item, author=manager, body="Looks like a scratch to me.")
    guideline = guideline_publish(project=project, author=manager, body="Scratches are lines.")
    # Tokens, webhooks and dataset versions come last: a webhook that existed while the labels
    # were submitted would have had its deliveries sent. Deliveries made here are sent after
    # commit, which never comes inside the test's transaction.
    token, _key = api_token_create(user=manager, name="fuzz")
    hook = webhook_create(
        project=project,
        created_by=manager,
        url="http://127.0.0.1:9/labelhub-fuzz",
        events=[WebhookEvent.DATASET_FROZEN],
    )
    first = dataset_freeze(user=manager, project_id=project.pk, name="v1")
    second = dataset_freeze(user=manager, project_id=project.pk, name="v2")
    delivery = WebhookDelivery.objects.filter(webhook=hook).order_by("pk")[0]
    client = Client()
    client.force_login(manager)
    return Seeded(
        manager_session=client.cookies[settings.SESSION_COOKIE_NAME].value,
        path_ids={
            "project_id": project.pk,
            "item_id": item.pk,
            "class_id": project.classes.get(key="scratch").pk,
            "annotation_id": Annotation.objects.filter(item=item).order_by("pk")[0].pk,
            "comment_id": comment.pk,
            "run_id": run.pk,
            "version": guideline.version,
            "token_id": token.pk,
            "webhook_id": hook.pk,
            "delivery_id": delivery.pk,
            "dataset_id": first.pk,
            "a_id": first.pk,
            "b_id": second.pk,
        },
    )


@pytest.fixture
def seeded(db) -> Seeded:
    return _seed()


#: The schema drf-spectacular generates from the code (what /api/schema/ serves), called
#: in-process. pytest-django has configured Django before this module is imported.
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = _Wsgi()
# Send the manager's session, never generated credentials: a made-up "Authorization: Bearer x"
# would make every request a 401 and no example would reach a view.
schema.config.generation.update(with_security_parameters=False)


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_and_matches_its_schema(case, seeded):
    # Pin every id in the path to a seeded row (the seeded ids differ per test on PostgreSQL,
    # where rolled-back sequences do not rewind, so they cannot be fixed in the schema config).
    for name in case.path_parameters.keys() & seeded.path_ids.keys():
        case.path_parameters[name] = seeded.path_ids[name]
    with transaction.atomic():
        response = case.call(cookies={settings.SESSION_COOKIE_NAME: seeded.manager_session})
        transaction.set_rollback(True)
    # The manager is signed in: a 401 means the fuzzer is not reaching the views at all.
    assert response.status_code != 401, f"not authenticated: {response.text[:200]}"
    case.validate_response(response, checks=CHECKS)
