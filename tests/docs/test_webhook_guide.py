"""docs/webhooks.md and the schema's `webhooks`: the guide's Python and Node verification
snippets, run as printed against a real delivery (relay + worker + loopback receiver), and the
delivered body checked against the OpenAPI 3.1 schema of its event type."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
from django.test import Client

from integrations.services import api_key_issue
from loyalty.events import EventType
from loyalty.services import purchase_commit
from outbox.services import webhook_endpoint_create
from tests.factories import make_customer, make_merchant
from tests.integrations.api_client import client_for, get

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "webhooks.md"
NODE_DIR = Path(__file__).resolve().parent / "node"
WEBHOOK_TYPES = [t.value for t in EventType if t != EventType.POINTS_EXPIRING_SOON]

NODE_HARNESS = """
const { verifyWebhook } = require(process.argv[2]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const event = verifyWebhook(Buffer.from(input.body, "base64"), input.headers, input.secret);
process.stdout.write(JSON.stringify(event));
"""


def snippet(language: str) -> str:
    text = GUIDE.read_text()
    return re.search(rf"```{language}\n(.*?)```", text, re.S).group(1)


def schema() -> dict:
    answer = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert answer.status_code == 200
    return json.loads(answer.content)


@pytest.mark.django_db
def test_schema_is_openapi_31_with_every_webhook_and_its_signature_headers():
    document = schema()
    assert document["openapi"].startswith("3.1")
    assert sorted(document["webhooks"]) == sorted(WEBHOOK_TYPES)
    for event_type, item in document["webhooks"].items():
        operation = item["post"]
        names = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert names == {"webhook-id", "webhook-timestamp", "webhook-signature"}, event_type
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        component = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
        assert component["properties"]["type"]["enum"] == [event_type]
        assert set(component["required"]) == {"type", "timestamp", "data"}
        assert "at least once" in operation["description"]


def node_verify(body: bytes, headers: dict, secret: str, tmp_path: Path):
    import base64

    if not (NODE_DIR / "node_modules" / "standardwebhooks").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    module = tmp_path / "verify_snippet.js"
    module.write_text(snippet("js"))
    harness = tmp_path / "harness.js"
    harness.write_text(NODE_HARNESS)
    result = subprocess.run(
        ["node", str(harness), str(module)],
        input=json.dumps(
            {"body": base64.b64encode(body).decode(), "headers": headers, "secret": secret}
        ),
        capture_output=True,
        text=True,
        timeout=60,
        env={"NODE_PATH": str(NODE_DIR / "node_modules"), "PATH": "/usr/bin:/usr/local/bin"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_guide_snippets_verify_a_real_delivery(stack, receiver, transactional_db, tmp_path):
    setup = make_merchant("Shop")
    _, secret = webhook_endpoint_create(merchant=setup.merchant, url=receiver.url)
    customer = make_customer(setup.merchant)
    stack.worker()
    stack.relay()
    purchase_commit(
        merchant=setup.merchant,
        customer_id=customer.id,
        amount_minor=100_00,
        order_id="G-1",
        outlet_id=setup.outlet.id,
    )
    got = receiver.wait_for(2)
    hit = next(r for r in got if r.json()["type"] == "purchase.committed")

    namespace: dict = {}
    exec(compile(snippet("python"), str(GUIDE), "exec"), namespace)
    verify_webhook = namespace["verify_webhook"]
    event = verify_webhook(hit.body, hit.headers, secret)
    assert event["data"]["order_id"] == "G-1"
    tampered = hit.body.replace(b"G-1", b"G-2")
    assert verify_webhook(tampered, hit.headers, secret) is None
    assert verify_webhook(hit.body, hit.headers, "whsec_" + "A" * 43 + "=") is None

    assert node_verify(hit.body, hit.headers, secret, tmp_path)["data"]["order_id"] == "G-1"
    assert node_verify(tampered, hit.headers, secret, tmp_path) is None

    # The event feed shows the same id (webhook-id) and the same body.
    api = client_for(api_key_issue(merchant=setup.merchant).plaintext)
    feed = get(api, "events").json()["results"]
    item = next(r for r in feed if r["id"] == hit.headers["webhook-id"])
    # (An ordered endpoint's webhook also carries its stream's ``sequence``, a number of that
    # endpoint's deliveries; the feed is the merchant's events, not one endpoint's stream.)
    delivered = json.loads(hit.body)
    assert isinstance(delivered.pop("sequence"), int)
    assert {k: v for k, v in item.items() if k != "id"} == delivered

    # The delivered body matches the schema the guide points at.
    document = schema()
    component = document["components"]["schemas"]["PurchaseCommittedWebhook"]
    resolver_doc = {"components": document["components"], **component}
    jsonschema.validate(json.loads(hit.body), resolver_doc)
