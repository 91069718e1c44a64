"""Token creation at once on PostgreSQL: the per-user row lock keeps names unique among live
tokens and the live-token cap exact, however many requests race."""

import threading

import pytest
from django.db import connection

from annotations.models import ApiToken
from annotations.services.tokens import MAX_LIVE_TOKENS, api_token_create
from labelhub.errors import ConflictError
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(n: int, target) -> list[BaseException]:
    """Run ``target(i)`` in n threads released together; the ConflictErrors they raised."""
    barrier = threading.Barrier(n)
    conflicts: list[BaseException] = []
    unexpected: list[BaseException] = []

    def run(i):
        try:
            barrier.wait()
            target(i)
        except ConflictError as exc:
            conflicts.append(exc)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            unexpected.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not unexpected, unexpected
    return conflicts


def test_racing_creations_of_one_name_make_one_token():
    user = UserFactory()
    conflicts = _race(8, lambda i: api_token_create(user=user, name="ci"))
    assert ApiToken.objects.filter(user=user, name="ci").count() == 1
    assert len(conflicts) == 7
    assert {c.code for c in conflicts} == {"token_name_taken"}


def test_racing_creations_stop_exactly_at_the_cap():
    user = UserFactory()
    for i in range(MAX_LIVE_TOKENS - 3):
        api_token_create(user=user, name=f"t{i}")
    conflicts = _race(8, lambda i: api_token_create(user=user, name=f"race {i}"))
    assert ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() == MAX_LIVE_TOKENS
    assert len(conflicts) == 5
    assert {c.code for c in conflicts} == {"token_limit"}
