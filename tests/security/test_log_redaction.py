"""No log line and no 5xx alert sample carries a query string's values, a key, a token or a
customer's phone: django.request's own warnings included (they pass the request object)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from core.logging import JsonFormatter
from core.redaction import text_redact
from integrations.services import api_key_issue

PHONE = "+79161234567"
SECRETS = ("79161234567", "my-secret-key-123", "lk_abc_def", "tok.en.value")


@pytest.fixture
def log_text():
    """Everything every logger writes through the production JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield stream.getvalue
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.django_db
def test_request_warnings_carry_no_query_values(client, setup, log_text):
    key = api_key_issue(merchant=setup.merchant).plaintext
    # An unauthenticated lookup with the key in the query string (401, a django.request warning).
    client.get(
        "/api/integrations/v1/customers",
        {"phone": PHONE, "api_key": "my-secret-key-123", "token": "lk_abc_def"},
    )
    # An authenticated lookup of a phone nobody has (404, another warning).
    client.get(
        "/api/integrations/v1/customers",
        {"phone": PHONE},
        headers={"Authorization": f"Bearer {key}"},
    )
    text = log_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line["logger"] == "django.request" for line in lines), text
    for secret in (*SECRETS, key):
        assert secret not in text, (secret, text)
    assert "phone=[redacted]" in text or "/api/integrations/v1/customers" in text


def test_message_and_extras_are_redacted():
    record = logging.makeLogRecord(
        {
            "name": "x",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "GET /c?phone=%2B79161234567&x=1 for Bearer abc.def and whsec_QUJD",
            "args": None,
            "detail": {"url": "https://h/?token=tok.en.value", "who": f"call {PHONE}"},
        }
    )
    line = JsonFormatter().format(record)
    for secret in ("79161234567", "abc.def", "whsec_QUJD", "tok.en.value"):
        assert secret not in line, line
    assert "phone=[redacted]" in line and "token=[redacted]" in line


def test_redaction_leaves_plain_text_alone():
    text = "purchase committed for customer 0c9e7b2a in 12.5 ms (status 201)"
    assert text_redact(text) == text


def test_5xx_alert_sample_redacts_credentials_a_client_put_anywhere(settings, db, caplog):
    from django.test import Client

    settings.ROOT_URLCONF = "tests.platform_ops.urls"
    settings.ALERTS_5XX_SAMPLE_RATE = 1.0
    with caplog.at_level(logging.WARNING, logger="platform_ops.alert_counters"):
        Client(raise_request_exception=False).get(
            "/test/boom", headers={"User-Agent": "till/2 ?api_key=my-secret-key-123 lk_abc_def"}
        )
    [record] = [r for r in caplog.records if r.getMessage() == "http 5xx sample"]
    flat = repr(record.sample)
    assert "my-secret-key-123" not in flat and "lk_abc_def" not in flat, flat
    assert record.sample["user_agent"].startswith("till/2")
