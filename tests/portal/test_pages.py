"""The pages' security: HttpOnly, SameSite cookies holding the session's tokens, CSRF on every
form, a CSP without inline script, and the sign-in throttle on the page too."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.models import PortalSession
from portal.services.throttle import ACCOUNT_FAILURES
from portal.views.base import ACCESS_COOKIE, REFRESH_COOKIE
from tests.portal.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def page_login(client: Client, email: str, password: str = PASSWORD):
    return client.post("/portal/login", {"email": email, "password": password, "next": "/portal/"})


def test_sign_in_sets_httponly_samesite_cookies_and_a_strict_csp(staff):
    client = Client()
    response = page_login(client, staff.owner.email)
    assert response.status_code == 302 and response["Location"] == "/portal/"
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        cookie = response.cookies[name]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax" and cookie["path"] == "/portal/"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page = client.get("/portal/")
    assert page.status_code == 200 and staff.owner.email.encode() in page.content
    assert "unsafe-inline" not in page["Content-Security-Policy"]
    assert b"<script>" not in page.content  # only <script src=...> and JSON data blocks


def test_forms_need_the_csrf_token(staff):
    client = Client(enforce_csrf_checks=True)
    refused = page_login(client, staff.owner.email)
    assert refused.status_code == 403
    assert not PortalSession.objects.exists()
    form = client.get("/portal/login")
    token = form.cookies["csrftoken"].value
    ok = client.post(
        "/portal/login",
        {"email": staff.owner.email, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert ok.status_code == 302


def test_sign_out_ends_the_session_and_clears_the_cookies(staff):
    client = Client()
    page_login(client, staff.owner.email)
    access = client.cookies[ACCESS_COOKIE].value
    response = client.post("/portal/logout")
    assert response.status_code == 302
    assert response.cookies[ACCESS_COOKIE].value == ""
    assert PortalSession.objects.get().revoked_reason == "logout"
    # The old cookie value no longer opens a page: the sign-in form comes back.
    client.cookies[ACCESS_COOKIE] = access
    page = client.get("/portal/")
    assert b'id="login"' in page.content and staff.owner.email.encode() not in page.content


def test_an_expired_access_cookie_is_renewed_from_the_refresh_cookie(staff):
    client = Client()
    page_login(client, staff.owner.email)
    client.cookies[ACCESS_COOKIE] = "expired-or-junk"
    page = client.get("/portal/")
    assert page.status_code == 200 and staff.owner.email.encode() in page.content
    assert page.cookies[ACCESS_COOKIE].value not in ("", "expired-or-junk")


def test_the_page_sign_in_is_throttled_too(staff):
    client = Client()
    for _ in range(ACCOUNT_FAILURES):
        assert page_login(client, staff.owner.email, "wrong password!").status_code == 401
    locked = page_login(client, staff.owner.email)
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0


def test_next_never_leaves_the_portal(staff):
    client = Client()
    response = client.post(
        "/portal/login",
        {"email": staff.owner.email, "password": PASSWORD, "next": "//evil.example/"},
    )
    assert response["Location"] == "/portal/"


def test_language_follows_the_browser_and_the_switch(staff):
    client = Client()
    page_login(client, staff.owner.email)
    russian = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9")
    assert "Панель".encode() in russian.content
    client.post("/portal/language", {"language": "en", "next": "/portal/"})
    english = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9")
    assert b"Dashboard" in english.content and "Панель".encode() not in english.content


def test_viewers_see_pages_but_their_writes_are_refused(staff, setup):
    from outbox.models import WebhookEndpoint
    from tests.factories import make_customer

    customer = make_customer(setup.merchant, points=10)
    client = Client()
    page_login(client, staff.viewer.email)
    for path in (
        "/portal/",
        "/portal/customers",
        f"/portal/customers/{customer.id}",
        "/portal/purchases",
        "/portal/webhooks",
        "/portal/webhooks/deliveries",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert b'id="adjust"' not in page.content and b'id="endpoint-create"' not in page.content
    refused = client.post("/portal/webhooks", {"op": "create", "url": "https://example.com/h"})
    assert refused.status_code == 403 and not WebhookEndpoint.objects.exists()
    adjust = client.post(f"/portal/customers/{customer.id}", {"points": "5", "reason": "x"})
    assert adjust.status_code == 403
    customer.refresh_from_db()
    assert customer.balance_points == 10


def test_another_merchants_objects_are_404_pages(staff, other_staff):
    from tests.factories import make_customer

    theirs = make_customer(other_staff.merchant)
    client = Client()
    page_login(client, staff.owner.email)
    assert client.get(f"/portal/customers/{theirs.id}").status_code == 404
    assert client.get("/portal/webhooks/deliveries/99999999999999999999").status_code == 404
    assert client.get("/portal/purchases?since=bad").status_code == 400


def test_staff_page_adds_a_viewer_and_shows_the_audit_trail(staff):
    from portal.models import StaffUser

    client = Client()
    page_login(client, staff.owner.email)
    done = client.post(
        "/portal/staff",
        {"op": "create", "email": "new@cafe.test", "password": "long enough pw", "role": "viewer"},
    )
    assert done.status_code == 302
    assert StaffUser.objects.get(email="new@cafe.test").role == "viewer"
    bad = client.post("/portal/staff", {"op": "update", "staff_id": "junk", "is_active": "0"})
    assert bad.status_code == 400
    page = client.get("/portal/staff")
    assert b"staff.create" in page.content and b"new@cafe.test" in page.content
