"""Hostile bodies on every endpoint: oversized, deeply nested, undecodable, out-of-range and
wrong-type. Each answer is a 4xx problem+json (never a 5xx), and no row is written anywhere.

The Telegram webhook is the one exception for text it cannot store (NUL, lone surrogates): it
acknowledges and stores a sanitised copy (tests/security/test_telegram_unstorable.py).
"""

from __future__ import annotations

import io
import json

import pytest
from django.apps import apps
from django.test import Client

from core.parsers import BodyTooLarge, StrictJSONParser
from core.problems import CONTENT_TYPE
from integrations.services import api_key_issue
from tests.notifications.updates import SECRET, SECRET_HEADER

OUR_APPS = ("loyalty", "outbox", "integrations", "notifications", "portal", "platform_ops")

INTEGRATION = "/api/integrations/v1/"
POST_ENDPOINTS = [
    INTEGRATION + "code",
    INTEGRATION + "customers",
    INTEGRATION + "calculate",
    INTEGRATION + "purchases",
    INTEGRATION + "refunds",
    "/api/portal/v1/auth/login",
    "/api/portal/v1/auth/refresh",
    "/api/portal/v1/auth/logout",
    "/api/telegram/webhook",
]
GET_ENDPOINTS = ["/health", "/live", "/ready", "/db/health", "/metrics"]

OVERSIZED = b'{"code": "' + b"9" * (2 * 1024 * 1024) + b'"}'
BOMB = b"[" * 100_000 + b"]" * 100_000  # RecursionError in json.loads without a guard
DEEP = b'{"a":' * 40 + b"1" + b"}" * 40  # parses, but deeper than JSON_MAX_DEPTH
UNDECODABLE = [
    b'{"\\ud800": 1}',  # a lone surrogate in a field name (rendered back in the error)
    b'{"code": "\\udfff", "phone": "\\udfff"}',
    b'{"code": "12\\u00003", "order_id": "a\\u0000b", "phone": "+7\\u0000"}',  # NUL
    b'{"code": "\xff\xfe"}',  # not UTF-8
]
OUT_OF_RANGE = {
    "code": "9" * 10_000,
    "phone": "+" + "9" * 300,
    "name": "n" * 10_000,
    "customer_id": 2**70,
    "purchase_id": -(2**70),
    "amount_minor": 10**30,
    "redeem_points": -(2**64),
    "order_id": "o" * 10_000,
    "outlet_id": 2**64,
    "device_id": 2**64,
    "manager_id": 2**64,
    "email": "e" * 10_000 + "@x.example",
    "password": "p" * 100_000,
    "refresh": "r" * 100_000,
    "update_id": -1,
}
WRONG_TYPES = [
    {
        "code": {"a": 1},
        "phone": 79161234567,
        "name": ["x"],
        "customer_id": {"id": 1},
        "purchase_id": [1],
        "amount_minor": "12.5",
        "redeem_points": True,
        "order_id": 5,
        "outlet_id": 1.5,
        "email": None,
        "password": 12,
        "refresh": {"token": "x"},
        "update_id": "one",
        "lines": "not a list",
    },
    [],
    "a string",
    12,
    None,
    1e308,
]


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app in OUR_APPS
        for model in apps.get_app_config(app).get_models()
    }


@pytest.fixture
def hostile(db, setup, settings):
    """A client that sends a merchant's key, the bot's secret and an Idempotency-Key."""
    settings.API_THROTTLE_RATE = "100000/s"
    settings.TELEGRAM_NOTIFY_WEBHOOK_SECRET = SECRET
    key = api_key_issue(merchant=setup.merchant).plaintext
    headers = {
        "Authorization": f"Bearer {key}",
        SECRET_HEADER: SECRET,
        "Idempotency-Key": "hostile-1",
    }
    return Client(headers=headers)


def _assert_refused(response, path: str) -> None:
    assert 400 <= response.status_code < 500, (path, response.status_code, response.content[:300])
    assert response["Content-Type"] == CONTENT_TYPE, (path, response["Content-Type"])
    body = response.json()
    assert body["status"] == response.status_code and body["detail"], (path, body)


def _send_all(client: Client, paths: list[str], body: bytes, *, method: str = "POST") -> list:
    return [
        (path, client.generic(method, path, body, content_type="application/json"))
        for path in paths
    ]


def test_oversized_bodies_get_413_everywhere(hostile):
    before = _row_counts()
    answers = _send_all(hostile, POST_ENDPOINTS, OVERSIZED)
    answers += _send_all(hostile, GET_ENDPOINTS, OVERSIZED, method="GET")
    for path, response in answers:
        _assert_refused(response, path)
        assert response.status_code == 413, path
        assert response.json()["type"].endswith("/payload-too-large")
    assert _row_counts() == before


def test_a_body_with_a_dishonest_length_is_bounded_by_the_parser(settings):
    settings.REQUEST_BODY_MAX_BYTES = 100
    with pytest.raises(BodyTooLarge):
        StrictJSONParser().parse(io.BytesIO(b'{"a": "' + b"x" * 200 + b'"}'), "application/json")


def test_malformed_content_length_is_a_400(hostile):
    response = hostile.generic(
        "POST", INTEGRATION + "code", b"{}", content_type="application/json", CONTENT_LENGTH="x1"
    )
    _assert_refused(response, "code")


@pytest.mark.parametrize("body", [BOMB, DEEP], ids=["bomb", "deep"])
def test_deeply_nested_json_gets_400(hostile, body):
    before = _row_counts()
    for path, response in _send_all(hostile, POST_ENDPOINTS, body):
        _assert_refused(response, path)
        assert response.status_code == 400
        assert response.json()["type"].endswith("/json-too-deep"), path
    assert _row_counts() == before


@pytest.mark.parametrize("body", UNDECODABLE, ids=["surrogate-key", "surrogate", "nul", "latin"])
def test_undecodable_text_gets_400_on_the_apis(hostile, body):
    before = _row_counts()
    paths = [p for p in POST_ENDPOINTS if "telegram" not in p]
    for path, response in _send_all(hostile, paths, body):
        _assert_refused(response, path)
        assert response.json()["type"].endswith("/undecodable-text"), path
    assert _row_counts() == before


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"a": NaN}', b'{"a": Infinity}', b"\x00", b'{"a": 1} trailing', b""],
    ids=["truncated", "nan", "infinity", "nul-byte", "trailing", "empty"],
)
def test_malformed_json_gets_400(hostile, body):
    before = _row_counts()
    for path, response in _send_all(hostile, POST_ENDPOINTS, body):
        _assert_refused(response, path)
    assert _row_counts() == before


def test_out_of_range_values_get_4xx(hostile):
    before = _row_counts()
    for path, response in _send_all(hostile, POST_ENDPOINTS, json.dumps(OUT_OF_RANGE).encode()):
        _assert_refused(response, path)
    assert _row_counts() == before


@pytest.mark.parametrize("body", WRONG_TYPES, ids=lambda b: type(b).__name__)
def test_wrong_types_get_4xx(hostile, body):
    before = _row_counts()
    for path, response in _send_all(hostile, POST_ENDPOINTS, json.dumps(body).encode()):
        _assert_refused(response, path)
    assert _row_counts() == before


def test_unauthenticated_hostile_bodies_never_5xx(db):
    """No key, no secret: the same bodies still end in a 4xx problem, never in a 500."""
    client = Client()
    before = _row_counts()
    for body in [OVERSIZED, BOMB, DEEP, *UNDECODABLE]:
        for path, response in _send_all(client, POST_ENDPOINTS, body):
            _assert_refused(response, path)
    assert _row_counts() == before
