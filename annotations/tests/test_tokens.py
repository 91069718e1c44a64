"""Personal API tokens: the service rules, authentication by Bearer/Token header, the tokens API,
POST /api/v1/auth/token/, and throttling."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle

from annotations.models import ApiToken
from annotations.services.tokens import (
    KEY_PREFIX,
    MAX_LIVE_TOKENS,
    api_token_authenticate,
    api_token_create,
    api_token_create_for_login,
    api_token_revoke,
    api_token_rotate,
    api_token_touch,
)
from labelhub.errors import ApplicationError
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/tokens/"
LOGIN = "/api/v1/auth/token/"
PASSWORD = "pw-labelhub-1"  # tests.factories.UserFactory's password


def bearer(key: str, scheme: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


# ----------------------------------------------------------------------------- service


def test_create_stores_the_digest_and_a_prefix_never_the_key():
    # given a user
    user = UserFactory()
    # when a token is created
    token, key = api_token_create(user=user, name="  training box  ")
    # then the key is recognisable, only its SHA-256 and its first 8 characters are stored
    assert key.startswith(KEY_PREFIX)
    assert len(key) >= 40
    token.refresh_from_db()
    assert token.name == "training box"
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:8]
    stored = ApiToken.objects.filter(pk=token.pk).values()[0]
    assert key not in {str(v) for v in stored.values()}
    # and two tokens never share a key
    assert api_token_create(user=user, name="other")[1] != key


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the token a name."),
        ("   ", "Give the token a name."),
        ("x" * 101, "at most 100"),
        ("two\nlines", "control characters"),
    ],
)
def test_bad_names_are_refused_naming_the_field(name, message):
    user = UserFactory()
    with pytest.raises(ApplicationError) as error:
        api_token_create(user=user, name=name)
    assert error.value.status_code == 400
    assert error.value.field == "name"
    assert message in error.value.message
    assert not ApiToken.objects.exists()


def test_a_name_is_unique_among_live_tokens_only():
    user = UserFactory()
    token, _ = api_token_create(user=user, name="ci")
    # a second live "ci" is refused (409 naming the field)
    with pytest.raises(ApplicationError) as error:
        api_token_create(user=user, name="ci ")
    assert (error.value.status_code, error.value.code, error.value.field) == (
        409,
        "token_name_taken",
        "name",
    )
    # another user may use the name; once revoked, the name is free again
    api_token_create(user=UserFactory(), name="ci")
    api_token_revoke(user=user, token_id=token.pk)
    api_token_create(user=user, name="ci")
    assert ApiToken.objects.filter(user=user, name="ci").count() == 2


def test_live_tokens_per_user_are_capped():
    user = UserFactory()
    for i in range(MAX_LIVE_TOKENS):
        api_token_create(user=user, name=f"t{i}")
    with pytest.raises(ApplicationError) as error:
        api_token_create(user=user, name="one more")
    assert (error.value.status_code, error.value.code) == (409, "token_limit")
    # revoking one makes room
    api_token_revoke(user=user, token_id=ApiToken.objects.filter(user=user).first().pk)
    api_token_create(user=user, name="one more")


def test_revoke_is_idempotent_and_keeps_the_first_time():
    user = UserFactory()
    token, _ = api_token_create(user=user, name="ci")
    first = api_token_revoke(user=user, token_id=token.pk).revoked_at
    assert first is not None
    again = api_token_revoke(user=user, token_id=token.pk)
    assert again.revoked_at == first


def test_revoking_another_users_token_is_not_found():
    owner, other = UserFactory(), UserFactory()
    token, _ = api_token_create(user=owner, name="ci")
    with pytest.raises(ApplicationError) as error:
        api_token_revoke(user=other, token_id=token.pk)
    assert error.value.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_login_tokens_get_distinct_dated_names():
    user = UserFactory()
    now = timezone.now()
    names = [api_token_create_for_login(user=user, now=now)[0].name for _ in range(3)]
    stamp = f"login {now:%Y-%m-%d %H:%M} UTC"
    assert names == [stamp, f"{stamp} (2)", f"{stamp} (3)"]


def test_rotate_revokes_the_live_token_of_that_name():
    user = UserFactory()
    old, old_key = api_token_create(user=user, name="bench")
    new, new_key = api_token_rotate(user=user, name="bench")
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert new.revoked_at is None
    assert api_token_authenticate(key=new_key) == new
    assert api_token_authenticate(key=old_key).revoked_at is not None


def test_last_used_is_written_at_most_once_a_minute(django_assert_num_queries):
    token, _ = api_token_create(user=UserFactory(), name="ci")
    now = timezone.now()
    assert api_token_touch(token=token, now=now) is True
    # within the minute: no query at all
    with django_assert_num_queries(0):
        assert api_token_touch(token=token, now=now + timedelta(seconds=59)) is False
    assert api_token_touch(token=token, now=now + timedelta(seconds=61)) is True
    token.refresh_from_db()
    assert token.last_used_at == now + timedelta(seconds=61)


def test_a_stale_copy_does_not_write_over_a_fresh_use():
    # given two requests that loaded the token before either wrote last_used_at
    token, _ = api_token_create(user=UserFactory(), name="ci")
    copy = ApiToken.objects.get(pk=token.pk)
    now = timezone.now()
    # then only the first writes
    assert api_token_touch(token=token, now=now) is True
    assert api_token_touch(token=copy, now=now + timedelta(seconds=5)) is False
    token.refresh_from_db()
    assert token.last_used_at == now


# ----------------------------------------------------------------------------- authentication


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
def test_a_key_authenticates_with_either_header(scheme):
    user = UserFactory()
    _, key = api_token_create(user=user, name="ci")
    response = bearer(key, scheme).get(TOKENS)
    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == ["ci"]
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_a_revoked_key_gets_401_token_revoked():
    user = UserFactory()
    token, key = api_token_create(user=user, name="ci")
    api_token_revoke(user=user, token_id=token.pk)
    response = bearer(key).get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer lh_not-a-real-key-at-all-0000000000000000000",
        "Bearer not-even-our-prefix",
        "Bearer " + KEY_PREFIX + "x" * 300,
        "Bearer",
        "Bearer two keys",
    ],
)
def test_unknown_or_malformed_keys_get_401_token_invalid(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_no_credentials_get_401_not_authenticated():
    response = APIClient().get(TOKENS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_inactive_users_key_gets_401():
    user = UserFactory()
    _, key = api_token_create(user=user, name="ci")
    user.is_active = False
    user.save()
    response = bearer(key).get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "user_inactive"


def test_authenticating_costs_one_query_and_no_write_within_the_minute(
    django_assert_num_queries,
):
    user = UserFactory()
    _, key = api_token_create(user=user, name="ci")
    client = bearer(key)
    assert client.get(TOKENS).status_code == 200  # writes last_used_at once
    # then: the token+user lookup and the list (count-free cursor page) only
    with django_assert_num_queries(2):
        assert client.get(TOKENS).status_code == 200


# ----------------------------------------------------------------------------- tokens API


def test_create_list_and_revoke_through_the_api(api):
    user = UserFactory()
    client = api(user)
    created = client.post(TOKENS, {"name": "notebook"}, format="json")
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith(KEY_PREFIX)
    assert body["prefix"] == key[:8]
    assert body["revoked_at"] is None
    # the list is newest first, and never holds a key
    client.post(TOKENS, {"name": "ci"}, format="json")
    listed = client.get(TOKENS)
    assert [t["name"] for t in listed.json()["results"]] == ["ci", "notebook"]
    assert key not in listed.content.decode()
    assert all("key" not in t and "digest" not in t for t in listed.json()["results"])
    # the key works, until it is revoked
    assert bearer(key).get("/api/v1/projects/").status_code == 200
    assert client.delete(f"{TOKENS}{body['id']}/").status_code == 204
    assert client.delete(f"{TOKENS}{body['id']}/").status_code == 204  # idempotent
    assert bearer(key).get("/api/v1/projects/").status_code == 401
    revoked = next(t for t in client.get(TOKENS).json()["results"] if t["id"] == body["id"])
    assert revoked["revoked_at"] is not None


def test_another_users_token_id_is_404_on_delete(api):
    owner, other = UserFactory(), UserFactory()
    token, key = api_token_create(user=owner, name="ci")
    response = api(other).delete(f"{TOKENS}{token.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert bearer(key).get(TOKENS).status_code == 200
    # nor does it show in the other user's list
    assert api(other).get(TOKENS).json()["results"] == []


def test_a_token_manages_its_own_users_tokens_only():
    owner, other = UserFactory(), UserFactory()
    _, key = api_token_create(user=owner, name="script")
    theirs, _ = api_token_create(user=other, name="theirs")
    client = bearer(key)
    made = client.post(TOKENS, {"name": "from a script"}, format="json")
    assert made.status_code == 201
    assert ApiToken.objects.get(pk=made.json()["id"]).user == owner
    assert client.delete(f"{TOKENS}{theirs.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"name": ""}, 400, "invalid"),
        ({"name": "  "}, 400, "invalid"),
        ({"name": "x" * 101}, 400, "invalid"),
        ({"name": "taken"}, 409, "token_name_taken"),
    ],
)
def test_bad_token_names_answer_in_the_error_shape(api, body, status, code):
    user = UserFactory()
    api_token_create(user=user, name="taken")
    response = api(user).post(TOKENS, body, format="json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == "name"
    assert ApiToken.objects.filter(user=user).count() == 1


def test_a_browser_session_creates_and_revokes_tokens():
    # given a signed-in browser session (request.user is Django's lazy user, not a User)
    user = UserFactory()
    client = APIClient()
    client.force_login(user)
    created = client.post(TOKENS, {"name": "from the page"}, format="json")
    assert created.status_code == 201
    assert client.delete(f"{TOKENS}{created.json()['id']}/").status_code == 204
    assert ApiToken.objects.get(user=user).revoked_at is not None


def test_session_requests_need_the_csrf_token():
    # given a browser session (CSRF is enforced for session-authenticated writes)
    user = UserFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(TOKENS, {"name": "x"}, format="json")
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


# ----------------------------------------------------------------------------- auth/token


def test_login_gives_a_new_working_token_each_time():
    user = UserFactory(username="mia")
    first = APIClient().post(LOGIN, {"username": "mia", "password": PASSWORD}, format="json")
    second = APIClient().post(
        LOGIN, {"username": "mia", "password": PASSWORD, "name": "nightly"}, format="json"
    )
    assert first.status_code == second.status_code == 200
    keys = [first.json()["token"], second.json()["token"]]
    assert keys[0] != keys[1]
    names = sorted(ApiToken.objects.filter(user=user).values_list("name", flat=True))
    assert names[0].startswith("login ")
    assert names[1] == "nightly"
    for key in keys:
        assert bearer(key, "Token").get(TOKENS).status_code == 200


def test_login_with_a_taken_name_is_409_naming_it():
    user = UserFactory(username="mia")
    api_token_create(user=user, name="nightly")
    response = APIClient().post(
        LOGIN, {"username": "mia", "password": PASSWORD, "name": "nightly"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "token_name_taken",
        "message": "You already have a live token named 'nightly'.",
        "field": "name",
    }
    assert ApiToken.objects.filter(user=user).count() == 1


def test_login_ignores_a_stale_token_header():
    user = UserFactory(username="mia")
    token, key = api_token_create(user=user, name="old")
    api_token_revoke(user=user, token_id=token.pk)
    response = bearer(key).post(LOGIN, {"username": "mia", "password": PASSWORD}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "mia", "password": "wrong"}, None),
        ({"username": "nobody", "password": PASSWORD}, None),
        ({"username": "mia"}, "password"),
    ],
)
def test_failed_logins_answer_400_and_create_nothing(body, field):
    UserFactory(username="mia")
    response = APIClient().post(LOGIN, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error.get("field") == field
    assert not ApiToken.objects.exists()


def test_an_inactive_user_cannot_log_in():
    UserFactory(username="mia", is_active=False)
    response = APIClient().post(LOGIN, {"username": "mia", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


# ----------------------------------------------------------------------------- throttling


def test_the_auth_scope_throttles_the_third_login_a_minute(monkeypatch):
    # given the auth scope at 2/min (the test settings lift every rate; the throttle classes
    # read their rates from one dict, so it is patched in place and restored afterwards)
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "auth", "2/min")
    cache.clear()
    UserFactory(username="mia")
    client = APIClient(REMOTE_ADDR="10.0.0.7")
    body = {"username": "mia", "password": "wrong"}
    # when the same address tries three times
    statuses = [client.post(LOGIN, body, format="json").status_code for _ in range(3)]
    # then the third is refused with 429 in the error shape and a Retry-After
    assert statuses == [400, 400, 429]
    third = client.post(LOGIN, body, format="json")
    assert third.json()["error"]["code"] == "throttled"
    assert 0 < int(third["Retry-After"]) <= 60
    # and X-Forwarded-For does not buy a fresh allowance (NUM_PROXIES = 0)
    forged = client.post(LOGIN, body, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert forged.status_code == 429
    # while another address is unaffected
    other = APIClient(REMOTE_ADDR="10.0.0.8").post(LOGIN, body, format="json")
    assert other.status_code == 400


def test_the_user_rate_throttles_per_person(monkeypatch):
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "3/min")
    cache.clear()
    busy, calm = UserFactory(), UserFactory()
    _, busy_key = api_token_create(user=busy, name="ci")
    _, calm_key = api_token_create(user=calm, name="ci")
    statuses = [bearer(busy_key).get(TOKENS).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert bearer(calm_key).get(TOKENS).status_code == 200


def test_rates_come_from_the_environment_and_bad_ones_fail_at_start(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from labelhub.settings import _throttle_rate

    monkeypatch.delenv("API_THROTTLE_EXPORT", raising=False)
    assert _throttle_rate("API_THROTTLE_EXPORT", "120/hour") == "120/hour"
    monkeypatch.setenv("API_THROTTLE_EXPORT", "10/minute")
    assert _throttle_rate("API_THROTTLE_EXPORT", "120/hour") == "10/minute"
    for bad in ("lots", "0/hour", "10/fortnight", "-1/s"):
        monkeypatch.setenv("API_THROTTLE_EXPORT", bad)
        with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_EXPORT"):
            _throttle_rate("API_THROTTLE_EXPORT", "120/hour")
