"""API keys at the door: Bearer or X-Api-Key, 401 for missing/unknown/revoked, scopes, rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import ApiKey
from integrations.services import api_key_issue, api_key_revoke, api_key_rotate
from loyalty.models import Merchant
from tests.integrations.api_client import BASE, assert_problem, client_for, get, post

pytestmark = pytest.mark.django_db


def test_bearer_and_x_api_key_both_work(key, customer):
    for header in ("bearer", "x-api-key"):
        response = get(client_for(key, header=header), f"customers/{customer.id}")
        assert response.status_code == 200, header


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer lk_000000000000_wrongsecret"},
        {"HTTP_AUTHORIZATION": "Bearer "},
        {"HTTP_AUTHORIZATION": "Bearer not-a-key"},
        {"HTTP_X_API_KEY": "lk_unknown_key"},
        {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
        {"HTTP_AUTHORIZATION": "Token abc"},
    ],
)
def test_missing_or_unknown_key_is_401(customer, headers):
    response = client_for(None).get(BASE + f"customers/{customer.id}", **headers)
    problem = assert_problem(response, 401, "unauthenticated")
    assert "X-Api-Key" in problem["detail"] or "key" in problem["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_right_prefix_wrong_secret_is_401(key, customer):
    wrong = f"lk_{ApiKey.objects.get().prefix}_wrong-secret"
    assert_problem(get(client_for(wrong), f"customers/{customer.id}"), 401)


def test_revoked_key_is_401(key, customer):
    # The first call caches the key row in this process; revoking drops the copy at once.
    assert get(client_for(key), f"customers/{customer.id}").status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get())
    assert_problem(get(client_for(key), f"customers/{customer.id}"), 401, "unauthenticated")


def test_inactive_merchant_is_401(key, merchant, customer):
    Merchant.objects.filter(id=merchant.id).update(is_active=False)
    assert_problem(get(client_for(key), f"customers/{customer.id}"), 401)


def test_merchant_deactivated_through_the_orm_drops_cached_keys(key, merchant, customer):
    assert get(client_for(key), f"customers/{customer.id}").status_code == 200
    merchant.is_active = False
    merchant.save(update_fields=["is_active"])
    assert_problem(get(client_for(key), f"customers/{customer.id}"), 401)


def test_unannounced_change_shows_after_the_cache_bound(key, customer, settings):
    """A plain UPDATE is not announced: the cached row serves until API_KEY_CACHE_SECONDS."""
    assert get(client_for(key), f"customers/{customer.id}").status_code == 200
    ApiKey.objects.update(revoked_at=timezone.now())
    assert get(client_for(key), f"customers/{customer.id}").status_code == 200  # cached copy
    settings.API_KEY_CACHE_SECONDS = 0  # the bound has passed
    assert_problem(get(client_for(key), f"customers/{customer.id}"), 401)


def test_rotated_key_works_during_the_overlap_and_stops_after(key, customer, settings):
    old = ApiKey.objects.get()
    new = api_key_rotate(api_key=old, overlap=timedelta(hours=1))
    assert get(client_for(key), f"customers/{customer.id}").status_code == 200
    assert get(client_for(new.plaintext), f"customers/{customer.id}").status_code == 200
    ApiKey.objects.filter(id=old.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    settings.API_KEY_CACHE_SECONDS = 0  # the plain UPDATE shows once the cache bound has passed
    assert_problem(get(client_for(key), f"customers/{customer.id}"), 401)
    assert get(client_for(new.plaintext), f"customers/{customer.id}").status_code == 200


def test_read_only_key_reads_but_cannot_write(merchant, customer):
    reader = client_for(api_key_issue(merchant=merchant, scopes=("read",)).plaintext)
    assert get(reader, f"customers/{customer.id}").status_code == 200
    problem = assert_problem(post(reader, "customers", {"phone": "+79165550301"}), 403, "forbidden")
    assert "write" in problem["detail"]
    assert_problem(
        post(reader, "calculate", {"customer_id": str(customer.id), "amount_minor": 1}), 403
    )


def test_write_only_key_cannot_read(merchant, customer):
    writer = client_for(api_key_issue(merchant=merchant, scopes=("write",)).plaintext)
    problem = assert_problem(get(writer, f"customers/{customer.id}"), 403, "forbidden")
    assert "read" in problem["detail"]


def test_use_records_last_used_time(key, customer):
    assert ApiKey.objects.get().last_used_at is None
    get(client_for(key), f"customers/{customer.id}")
    assert ApiKey.objects.get().last_used_at is not None


def test_the_key_is_stored_hashed(key):
    import hashlib

    stored = ApiKey.objects.get()
    assert key.startswith("lk_" + stored.prefix + "_")
    secret = key.split("_", 2)[2]  # the secret itself may contain "_"
    assert secret not in stored.secret_hash
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
