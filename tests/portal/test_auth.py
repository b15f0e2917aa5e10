"""Portal sign-in hardening (issue 12 items 5 and 6): the throttle, sessions that end with their
reason (deactivation, reuse of a rotated refresh token, logout), and roles."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from loyalty.models import Merchant
from portal.models import AuditEntry, PortalSession
from portal.services import staff_user_update
from portal.services.throttle import ACCOUNT_FAILURES, ADDRESS_FAILURES, WINDOW
from tests.portal.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def refresh(client: APIClient, token: str):
    return client.post("/api/portal/v1/auth/refresh", {"refresh": token}, format="json")


def me(client: APIClient, access: str):
    return client.get("/api/portal/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def test_the_account_locks_after_repeated_failures_even_for_the_right_password(staff):
    client = APIClient()
    throttled_before = metric("portal_auth_throttled_total", scope="account")
    for _ in range(ACCOUNT_FAILURES):
        assert login(client, staff.owner.email, "wrong password!").status_code == 401
    locked = login(client, staff.owner.email)  # the right password, but locked
    assert locked.status_code == 429
    assert locked["Content-Type"] == "application/problem+json"
    assert 0 < int(locked["Retry-After"]) <= WINDOW
    assert locked.json()["retry_after"] == int(locked["Retry-After"])
    assert metric("portal_auth_throttled_total", scope="account") == throttled_before + 1
    # Another account from the same address is not affected.
    assert login(client, staff.manager.email).status_code == 200


def test_one_address_trying_many_accounts_is_locked(staff):
    client = APIClient()
    for n in range(ADDRESS_FAILURES):
        assert login(client, f"guess{n}@cafe.test", "x", address="10.9.9.9").status_code == 401
    locked = login(client, staff.owner.email, address="10.9.9.9")
    assert locked.status_code == 429 and "your address" in locked.json()["detail"]
    assert int(locked["Retry-After"]) > 0
    # The same account from elsewhere still signs in.
    assert login(client, staff.owner.email, address="10.0.0.2").status_code == 200


def test_a_successful_sign_in_clears_the_account_failures(staff):
    client = APIClient()
    for _ in range(ACCOUNT_FAILURES - 1):
        login(client, staff.owner.email, "wrong password!")
    assert login(client, staff.owner.email).status_code == 200
    for _ in range(ACCOUNT_FAILURES - 1):
        assert login(client, staff.owner.email, "wrong password!").status_code == 401
    assert login(client, staff.owner.email).status_code == 200


def test_deactivating_the_merchant_ends_access_and_refresh_tokens(staff):
    client = APIClient()
    tokens = login(client, staff.owner.email).json()
    assert me(client, tokens["access"]).status_code == 200
    Merchant.objects.filter(id=staff.merchant.id).update(is_active=False)
    assert me(client, tokens["access"]).status_code == 401
    assert refresh(client, tokens["refresh"]).status_code == 401
    assert login(client, staff.owner.email).status_code == 401


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(staff):
    client = APIClient()
    first = login(client, staff.owner.email).json()
    second = refresh(client, first["refresh"]).json()
    assert me(client, second["access"]).status_code == 200
    reuse_before = metric("portal_auth_refresh_total", result="reuse")
    # An attacker (or the victim) presents the rotated token again ...
    assert refresh(client, first["refresh"]).status_code == 401
    assert metric("portal_auth_refresh_total", result="reuse") == reuse_before + 1
    # ... and the successor stops working too, with its access token.
    assert refresh(client, second["refresh"]).status_code == 401
    assert me(client, second["access"]).status_code == 401
    session = PortalSession.objects.get(user=staff.owner)
    assert session.revoked_reason == "reuse"
    assert AuditEntry.objects.filter(action="auth.refresh_reuse", user=staff.owner).count() == 1
    # Other sessions of the same account are untouched.
    other = login(client, staff.owner.email).json()
    assert me(client, other["access"]).status_code == 200


def test_logout_ends_the_access_token_at_once(staff):
    client = APIClient()
    tokens = login(client, staff.owner.email).json()
    other = login(client, staff.owner.email).json()
    response = client.post(
        "/api/portal/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json"
    )
    assert response.status_code == 204
    assert me(client, tokens["access"]).status_code == 401
    assert refresh(client, tokens["refresh"]).status_code == 401
    assert me(client, other["access"]).status_code == 200  # only that session ended


def test_deactivated_staff_lose_their_sessions(staff):
    client = APIClient()
    tokens = login(client, staff.viewer.email).json()
    staff_user_update(by=staff.owner, staff_id=staff.viewer.id, is_active=False)
    assert me(client, tokens["access"]).status_code == 401
    assert refresh(client, tokens["refresh"]).status_code == 401


def test_a_token_without_a_session_or_with_a_forged_one_is_refused(staff):
    import jwt
    from django.conf import settings

    client = APIClient()
    forged = jwt.encode(
        {"sub": str(staff.owner.id), "sid": "not-a-uuid", "typ": "access", "exp": 9999999999},
        f"portal-jwt:{settings.SECRET_KEY}",
        algorithm="HS256",
    )
    assert me(client, forged).status_code == 401
    assert client.get("/api/portal/v1/me", HTTP_AUTHORIZATION="Bearer junk").status_code == 401


def test_password_change_ends_the_other_sessions(staff):
    client = APIClient()
    mine = login(client, staff.manager.email).json()
    elsewhere = login(client, staff.manager.email).json()
    response = client.post(
        "/api/portal/v1/me/password",
        {"current_password": PASSWORD, "new_password": "a brand new secret"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {mine['access']}",
    )
    assert response.status_code == 204
    assert me(client, mine["access"]).status_code == 200
    assert me(client, elsewhere["access"]).status_code == 401
    assert login(client, staff.manager.email, "a brand new secret").status_code == 200
    wrong = client.post(
        "/api/portal/v1/me/password",
        {"current_password": "nope nope nope", "new_password": "another secret!"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {mine['access']}",
    )
    assert wrong.status_code == 400 and "current_password" in wrong.json()["errors"]
