"""SECRET_KEY rotation and the sessions made under the old key, over HTTP (the Django test
client; the signed-value case is in test_secret_key_rotation.py).

* ``/admin/`` sessions (Django's, with the session auth hash keyed by ``SECRET_KEY``): valid
  under the new key while the old key is in ``SECRET_KEY_FALLBACKS``. A session used during the
  overlap is re-keyed by Django on that request and survives emptying the fallbacks; one not
  used during the overlap is refused afterwards (sent to the sign-in page).
* Portal sign-ins (JWTs signed with ``SECRET_KEY``, accepted under a fallback too,
  ``portal/services/auth.py``): they survive the rotation while the old key is listed and end
  when the fallbacks are emptied.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from portal.services import portal_login, staff_user_create
from tests.factories import make_merchant

pytestmark = pytest.mark.django_db

OLD = "old-secret-key-sessions-0123456789abcdef0123456789"
NEW = "new-secret-key-sessions-0123456789abcdef0123456789"


def _admin_session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admin_sessions_survive_with_the_fallback_only(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    user = get_user_model().objects.create_superuser("ops", "ops@example.test", "pw-0123456789")
    used, unused = _admin_session(user), _admin_session(user)
    assert used.get("/admin/").status_code == 200

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    assert used.get("/admin/").status_code == 200  # validated by the fallback, re-keyed

    settings.SECRET_KEY_FALLBACKS = []
    assert used.get("/admin/").status_code == 200
    refused = unused.get("/admin/")
    assert refused.status_code == 302 and "/login/" in refused["Location"]


def test_portal_sign_ins_survive_the_overlap_and_end_with_the_fallbacks(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    merchant = make_merchant("Cafe").merchant
    staff_user_create(
        merchant=merchant, email="o@cafe.test", password="pw-0123456789", role="owner"
    )
    access = portal_login(email="o@cafe.test", password="pw-0123456789").access
    me = Client(headers={"Authorization": f"Bearer {access}"})
    assert me.get("/api/portal/v1/me").status_code == 200

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    assert me.get("/api/portal/v1/me").status_code == 200  # the old key is a fallback

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, []
    answer = me.get("/api/portal/v1/me")
    assert answer.status_code == 401
    assert answer["Content-Type"].startswith("application/problem+json")
