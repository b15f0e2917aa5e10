"""Portal sign-in: login, overview, refresh rotation, logout; tenant-scoped overview."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from portal.services import staff_user_create
from tests.factories import make_customer, make_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(setup):
    staff_user_create(
        merchant=setup.merchant, email="Boss@Cafe.test", password="correct horse battery"
    )
    return setup


def login(client, password="correct horse battery"):
    return client.post(
        "/api/portal/v1/auth/login",
        {"email": "boss@cafe.test", "password": password},
        format="json",
    )


def test_login_overview_refresh_logout(staff):
    make_customer(staff.merchant)
    make_customer(make_merchant("Other").merchant)
    client = APIClient()
    tokens = login(client).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    overview = client.get(
        "/api/portal/v1/overview", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}"
    ).json()
    assert overview["customers"] == 1 and overview["merchant"]["name"] == "Cafe"
    rotated = client.post(
        "/api/portal/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert rotated.status_code == 200
    reused = client.post(
        "/api/portal/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert reused.status_code == 401 and reused["Content-Type"] == "application/problem+json"
    new = rotated.json()
    assert (
        client.post(
            "/api/portal/v1/auth/logout", {"refresh": new["refresh"]}, format="json"
        ).status_code
        == 204
    )
    assert (
        client.post(
            "/api/portal/v1/auth/refresh", {"refresh": new["refresh"]}, format="json"
        ).status_code
        == 401
    )


def test_wrong_password_and_bad_tokens(staff):
    client = APIClient()
    bad = login(client, "wrong password!")
    assert bad.status_code == 401 and bad.json()["detail"] == "Wrong email or password."
    assert client.get("/api/portal/v1/overview").status_code == 401
    assert (
        client.get("/api/portal/v1/overview", HTTP_AUTHORIZATION="Bearer junk").status_code == 401
    )
    refresh = login(client).json()["refresh"]
    # a refresh token is not an access token
    assert (
        client.get("/api/portal/v1/overview", HTTP_AUTHORIZATION=f"Bearer {refresh}").status_code
        == 401
    )
    unknown = client.post(
        "/api/portal/v1/auth/login",
        {"email": "x@example.com", "password": "p", "extra": 1},
        format="json",
    )
    assert unknown.status_code == 400 and "extra" in unknown.json()["errors"]


def test_portal_page_renders(client):
    response = client.get("/portal/")
    assert response.status_code == 200 and b"Merchant portal" in response.content
