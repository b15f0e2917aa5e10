"""The Places page: reached from the nav, writers add/rename/deactivate, viewers only read
(their posts are a 403 page), another merchant's place is a 404, Russian strings render."""

from __future__ import annotations

import pytest
from django.test import Client

from loyalty.models import Outlet
from portal.models import AuditEntry
from tests.portal.test_pages import page_login

pytestmark = pytest.mark.django_db


def test_manager_adds_renames_and_deactivates_from_the_page(staff):
    client = Client()
    page_login(client, staff.manager.email)
    home = client.get("/portal/")
    assert b'href="/portal/places"' in home.content
    added = client.post("/portal/places", {"op": "create", "kind": "outlet", "name": "Quay"})
    assert added.status_code == 302
    outlet = Outlet.objects.get(merchant=staff.merchant, name="Quay")
    bad = client.post("/portal/places", {"op": "create", "kind": "device", "name": "Till"})
    assert bad.status_code == 400 and b'id="places-error"' in bad.content
    client.post(
        "/portal/places",
        {"op": "rename", "kind": "outlet", "place_id": str(outlet.id), "name": "Pier"},
    )
    client.post(
        "/portal/places", {"op": "deactivate", "kind": "outlet", "place_id": str(outlet.id)}
    )
    outlet.refresh_from_db()
    assert outlet.name == "Pier" and not outlet.is_active
    page = client.get("/portal/places")
    assert page.status_code == 200 and b"Pier" in page.content and b"deactivated" in page.content


def test_viewer_reads_but_is_refused_and_foreign_places_are_404(staff, other_staff):
    client = Client()
    page_login(client, staff.viewer.email)
    page = client.get("/portal/places")
    assert page.status_code == 200 and b'id="place-create-outlet"' not in page.content
    refused = client.post("/portal/places", {"op": "create", "kind": "outlet", "name": "Nope"})
    assert refused.status_code == 403
    assert not Outlet.objects.filter(name="Nope").exists()

    owner = Client()
    page_login(owner, staff.owner.email)
    foreign = other_staff.merchant.outlets.get()
    missing = owner.post(
        "/portal/places",
        {"op": "rename", "kind": "outlet", "place_id": str(foreign.id), "name": "Mine"},
    )
    assert missing.status_code == 404 and b'id="places-error"' in missing.content
    assert owner.post("/portal/places", {"op": "create", "kind": "planet"}).status_code == 404
    assert Outlet.objects.get(id=foreign.id).name == foreign.name


def test_the_page_speaks_russian(staff):
    client = Client()
    page_login(client, staff.owner.email)
    client.post("/portal/language", {"language": "ru", "next": "/portal/places"})
    page = client.get("/portal/places").content.decode()
    assert "Торговые точки" in page and "Переименовать" in page


def test_reactivate_button_brings_an_outlet_back_and_explains_a_refused_device(staff):
    client = Client()
    page_login(client, staff.manager.email)
    outlet = staff.merchant.outlets.get()
    device = staff.merchant.devices.get()
    client.post(
        "/portal/places", {"op": "deactivate", "kind": "outlet", "place_id": str(outlet.id)}
    )
    page = client.get("/portal/places").content.decode()
    assert page.count('class="inline place-reactivate"') == 2  # the outlet and its device

    refused = client.post(
        "/portal/places", {"op": "reactivate", "kind": "device", "place_id": str(device.id)}
    )
    assert refused.status_code == 400 and b"reactivate the outlet first" in refused.content
    back = client.post(
        "/portal/places", {"op": "reactivate", "kind": "outlet", "place_id": str(outlet.id)}
    )
    assert back.status_code == 302
    assert b"Reactivated." in client.get("/portal/places").content
    outlet.refresh_from_db()
    device.refresh_from_db()
    assert outlet.is_active and not device.is_active
    assert AuditEntry.objects.filter(action="outlet.reactivate", user=staff.manager).count() == 1

    viewer = Client()
    page_login(viewer, staff.viewer.email)
    assert b"place-reactivate" not in viewer.get("/portal/places").content
    assert (
        viewer.post(
            "/portal/places", {"op": "reactivate", "kind": "device", "place_id": str(device.id)}
        ).status_code
        == 403
    )
