"""Places services: create, rename, deactivate outlets/devices/managers, tenant-scoped."""

from __future__ import annotations

import uuid

import pytest

from core.errors import NotFound, ValidationFailed
from loyalty.models import Device, Outlet
from loyalty.services import (
    place_create,
    place_deactivate,
    place_reactivate,
    place_rename,
    place_resolve,
)
from tests.factories import make_merchant

pytestmark = pytest.mark.django_db


def test_create_rename_deactivate_an_outlet_and_its_devices():
    setup = make_merchant("Places shop")
    outlet = place_create(merchant=setup.merchant, kind="outlet", name="  Riverside  ")
    assert outlet.name == "Riverside" and outlet.is_active
    device = place_create(
        merchant=setup.merchant, kind="device", name="Till 2", outlet_id=str(outlet.id)
    )
    row, before = place_rename(
        merchant=setup.merchant, kind="outlet", place_id=outlet.id, name="Quay"
    )
    assert before == "Riverside" and Outlet.objects.get(id=outlet.id).name == "Quay"
    place_deactivate(merchant=setup.merchant, kind="outlet", place_id=outlet.id)
    assert not Outlet.objects.get(id=outlet.id).is_active
    assert not Device.objects.get(id=device.id).is_active
    assert Device.objects.get(id=setup.device.id).is_active  # other outlet's device untouched
    with pytest.raises(ValidationFailed):
        place_resolve(merchant=setup.merchant, outlet_id=outlet.id)


def test_bad_input_and_other_merchants_rows_are_refused():
    setup, other = make_merchant("A"), make_merchant("B")
    for name in ("", "   ", "x" * 201, None):
        with pytest.raises(ValidationFailed):
            place_create(merchant=setup.merchant, kind="outlet", name=name)
    with pytest.raises(ValidationFailed):
        place_create(merchant=setup.merchant, kind="shelf", name="x")
    with pytest.raises(ValidationFailed):
        place_create(merchant=setup.merchant, kind="device", name="Till")  # no outlet
    with pytest.raises(ValidationFailed):
        place_create(
            merchant=setup.merchant, kind="device", name="Till", outlet_id=str(other.outlet.id)
        )
    for place_id in (other.outlet.id, uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(NotFound):
            place_rename(merchant=setup.merchant, kind="outlet", place_id=place_id, name="x")
        with pytest.raises(NotFound):
            place_deactivate(merchant=setup.merchant, kind="outlet", place_id=place_id)
    assert Outlet.objects.get(id=other.outlet.id).is_active


def test_reactivating_an_outlet_leaves_its_devices_off_until_each_comes_back():
    setup = make_merchant("Back again")
    outlet = place_create(merchant=setup.merchant, kind="outlet", name="Pier")
    device = place_create(merchant=setup.merchant, kind="device", name="Till", outlet_id=outlet.id)
    manager = place_create(merchant=setup.merchant, kind="manager", name="Ann", outlet_id=outlet.id)
    place_deactivate(merchant=setup.merchant, kind="outlet", place_id=outlet.id)
    place_deactivate(merchant=setup.merchant, kind="manager", place_id=manager.id)

    with pytest.raises(ValidationFailed) as refused:
        place_reactivate(merchant=setup.merchant, kind="device", place_id=device.id)
    assert (
        "reactivate the outlet first" in str(refused.value) and "is_active" in refused.value.errors
    )
    assert not Device.objects.get(id=device.id).is_active

    # A manager's outlet does not gate it (purchases never check a manager's outlet).
    assert place_reactivate(merchant=setup.merchant, kind="manager", place_id=manager.id).is_active
    assert place_reactivate(merchant=setup.merchant, kind="outlet", place_id=outlet.id).is_active
    assert not Device.objects.get(id=device.id).is_active  # no cascade
    place_resolve(merchant=setup.merchant, outlet_id=outlet.id)  # takes purchases again
    with pytest.raises(ValidationFailed):
        place_resolve(merchant=setup.merchant, device_id=device.id)
    assert place_reactivate(merchant=setup.merchant, kind="device", place_id=device.id).is_active
    again = place_reactivate(merchant=setup.merchant, kind="device", place_id=device.id)
    assert again.is_active  # idempotent
    assert place_resolve(merchant=setup.merchant, device_id=device.id).outlet == outlet


def test_reactivate_is_tenant_scoped():
    setup, other = make_merchant("A"), make_merchant("B")
    place_deactivate(merchant=other.merchant, kind="outlet", place_id=other.outlet.id)
    for place_id in (other.outlet.id, uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(NotFound):
            place_reactivate(merchant=setup.merchant, kind="outlet", place_id=place_id)
    assert not Outlet.objects.get(id=other.outlet.id).is_active


@pytest.mark.django_db(transaction=True)
def test_a_place_removed_behind_the_cache_gives_a_422_not_a_server_error(settings):
    """place_cache keeps an outlet up to PLACE_CACHE_SECONDS when a change is not announced
    (a plain DELETE here, as from another process before its announcement arrives): the
    purchase naming it is refused as a bad request, and the next one reads the table again."""
    from django.db import connection

    from loyalty.services import purchase_commit
    from loyalty.services.purchases import place_cache
    from tests.factories import make_customer

    settings.PLACE_CACHE_SECONDS = 60
    setup = make_merchant("Gone shop")
    customer = make_customer(setup.merchant)
    outlet = place_create(merchant=setup.merchant, kind="outlet", name="Pop-up")
    place_cache.invalidate()
    assert place_resolve(merchant=setup.merchant, outlet_id=outlet.id).outlet.id == outlet.id
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM loyalty_outlet WHERE id = %s", [outlet.id])
    assert place_resolve(merchant=setup.merchant, outlet_id=outlet.id).outlet.id == outlet.id

    def commit(order: str):
        return purchase_commit(
            merchant=setup.merchant,
            customer_id=customer.id,
            amount_minor=500,
            order_id=order,
            outlet_id=outlet.id,
        )

    with pytest.raises(ValidationFailed) as refused:
        commit("GONE-1")
    assert "just removed" in str(refused.value) and "outlet_id" in refused.value.errors
    with pytest.raises(ValidationFailed, match="not one of this merchant's"):
        commit("GONE-2")  # the cache was dropped: the table answers now
    from loyalty.models import Purchase

    assert not Purchase.objects.filter(merchant=setup.merchant).exists()
