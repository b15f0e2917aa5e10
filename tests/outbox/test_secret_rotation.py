"""The outbox side of a secret rotation with an overlap: the service's bounds, the previous
secret encrypted at rest and moved by ``outbox_reencrypt_secrets`` like the current one, and
the transport's choice of signing secrets by the overlap's end."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from core.errors import ValidationFailed
from outbox.crypto import secret_decrypt, secret_encrypt
from outbox.models import WebhookEndpoint
from outbox.services import webhook_endpoint_create, webhook_endpoint_rotate_secret
from outbox.transports.webhook import endpoint_previous_secrets
from tests.factories import make_merchant

pytestmark = pytest.mark.django_db

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def endpoint_with_secret():
    return webhook_endpoint_create(
        merchant=make_merchant().merchant, url="https://example.com/hook"
    )


@pytest.mark.parametrize("overlap", [timedelta(days=7, seconds=1), timedelta(seconds=-1)])
def test_an_overlap_outside_0_to_7_days_is_refused_and_changes_nothing(overlap):
    endpoint, _ = endpoint_with_secret()
    before = WebhookEndpoint.objects.values().get(id=endpoint.id)
    with pytest.raises(ValidationFailed):
        webhook_endpoint_rotate_secret(endpoint=endpoint, overlap=overlap)
    assert WebhookEndpoint.objects.values().get(id=endpoint.id) == before


def test_the_previous_secret_signs_only_until_the_overlap_ends():
    endpoint, old = endpoint_with_secret()
    new = webhook_endpoint_rotate_secret(endpoint=endpoint, overlap=timedelta(days=7))
    endpoint.refresh_from_db()
    assert secret_decrypt(endpoint.secret_encrypted) == new
    ends = endpoint.previous_secret_expires_at
    assert endpoint_previous_secrets(endpoint, now=ends - timedelta(seconds=1)) == (old,)
    assert endpoint_previous_secrets(endpoint, now=ends) == ()
    webhook_endpoint_rotate_secret(endpoint=endpoint, overlap=timedelta(0))
    endpoint.refresh_from_db()
    assert endpoint_previous_secrets(endpoint, now=timezone.now()) == ()


def test_reencrypt_moves_the_previous_secret_too():
    with override_settings(OUTBOX_ENCRYPTION_KEYS=[KEY_A]):
        endpoint, old = endpoint_with_secret()
        new = webhook_endpoint_rotate_secret(endpoint=endpoint)
    with override_settings(OUTBOX_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        out = StringIO()
        call_command("outbox_reencrypt_secrets", stdout=out, stderr=StringIO())
        assert "re-encrypted 1 endpoint secrets" in out.getvalue()
        again = StringIO()
        call_command("outbox_reencrypt_secrets", stdout=again, stderr=StringIO())
        assert "re-encrypted 0 endpoint secrets" in again.getvalue()
        assert "1 were already under it" in again.getvalue()
    endpoint.refresh_from_db()
    only_b = Fernet(KEY_B.encode())
    assert only_b.decrypt(endpoint.secret_encrypted.encode()).decode() == new
    assert only_b.decrypt(endpoint.previous_secret_encrypted.encode()).decode() == old


def test_reencrypt_moves_a_previous_secret_left_under_an_old_key_alone():
    """The current secret may be under the newest key already while the previous one is not
    (rotated after the new key was put first): the previous one still moves."""
    with override_settings(OUTBOX_ENCRYPTION_KEYS=[KEY_A]):
        endpoint, old = endpoint_with_secret()
    with override_settings(OUTBOX_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        new = webhook_endpoint_rotate_secret(endpoint=endpoint)
        out = StringIO()
        call_command("outbox_reencrypt_secrets", stdout=out, stderr=StringIO())
        assert "re-encrypted 1 endpoint secrets" in out.getvalue()
    endpoint.refresh_from_db()
    only_b = Fernet(KEY_B.encode())
    assert only_b.decrypt(endpoint.secret_encrypted.encode()).decode() == new
    assert only_b.decrypt(endpoint.previous_secret_encrypted.encode()).decode() == old


def test_a_decrypted_secret_is_not_answered_once_its_key_is_dropped():
    """secret_decrypt keeps what it decrypted per process, by token and key set: dropping the
    key that encrypted a secret makes it undecryptable at once, cached or not."""
    with override_settings(OUTBOX_ENCRYPTION_KEYS=[KEY_A], SECRET_KEY_FALLBACKS=[]):
        token = secret_encrypt("whsec_cached")
        assert secret_decrypt(token) == secret_decrypt(token) == "whsec_cached"
    with (
        override_settings(OUTBOX_ENCRYPTION_KEYS=[KEY_B], SECRET_KEY_FALLBACKS=[]),
        pytest.raises(InvalidToken),
    ):
        secret_decrypt(token)
    with override_settings(OUTBOX_ENCRYPTION_KEYS=[KEY_B, KEY_A], SECRET_KEY_FALLBACKS=[]):
        assert secret_decrypt(token) == "whsec_cached"
