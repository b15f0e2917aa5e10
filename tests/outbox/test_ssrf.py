"""SSRF guard: internal addresses refused at endpoint creation and again at send time."""

from __future__ import annotations

import pytest

from outbox.errors import UnsafeTarget
from outbox.ssrf import target_check
from outbox.transports import TransportError
from outbox.transports.webhook import webhook_send


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
        "not a url",
    ],
)
def test_internal_targets_refused(url):
    with pytest.raises(UnsafeTarget):
        target_check(url, allow_private=False)


def test_public_address_allowed():
    target_check("https://93.184.216.34/hook", allow_private=False)


def test_allowed_when_private_targets_enabled():
    target_check("http://127.0.0.1:9/hook", allow_private=True)


def test_send_time_check_refuses_without_calling(settings):
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TransportError) as info:
        webhook_send(
            url="http://127.0.0.1:9/hook",
            secret="whsec_" + "A" * 44,
            message_id="msg_x",
            payload={},
        )
    assert info.value.permanent and info.value.error_class == "UnsafeTarget"


def test_endpoint_creation_refuses(db, settings):
    from outbox.services import webhook_endpoint_create
    from tests.factories import make_merchant

    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = False
    setup = make_merchant()
    with pytest.raises(UnsafeTarget):
        webhook_endpoint_create(merchant=setup.merchant, url="http://10.1.2.3/x")
