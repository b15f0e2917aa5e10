"""A URL the SSRF guard cannot even parse is refused cleanly by every way in: no traceback."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from loyalty.models import Merchant
from outbox.models import WebhookEndpoint
from tests.factories import make_merchant


@pytest.mark.django_db
@pytest.mark.parametrize("allow_private", [True, False])
def test_create_merchant_refuses_an_out_of_range_port_in_one_line(settings, allow_private):
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = allow_private
    with pytest.raises(CommandError) as info:
        call_command(
            "create_merchant",
            "--name",
            "Cafe",
            "--webhook-url",
            "http://127.0.0.1:99999/",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    message = str(info.value)
    assert "port" in message and "\n" not in message
    assert Merchant.objects.count() == 0


@pytest.mark.django_db
def test_admin_endpoint_form_shows_a_field_error_for_a_bad_port(admin_client, settings):
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = True
    merchant = make_merchant("Shop").merchant
    answer = admin_client.post(
        "/admin/outbox/webhookendpoint/add/",
        {"merchant": merchant.id, "url": "http://127.0.0.1:99999/hook"},
    )
    assert answer.status_code == 200
    assert b"errorlist" in answer.content and b"65535" in answer.content
    assert not WebhookEndpoint.objects.exists()
