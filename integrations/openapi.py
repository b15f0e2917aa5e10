"""What the OpenAPI document says beyond the serializers: the description, problem+json errors
with examples, the Idempotency-Key parameter and the response headers drf-spectacular cannot
declare on its own (added by :func:`schema_postprocess`, a ``POSTPROCESSING_HOOKS`` entry).

The problem+json responses and their examples are declared in :mod:`core.openapi`."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from loyalty import payloads

DESCRIPTION = """
The API a merchant's registers and back office use to run the loyalty program.

**Authentication.** Every request carries the merchant's API key, either as
`Authorization: Bearer lk_<prefix>_<secret>` or as `X-Api-Key: lk_<prefix>_<secret>`. Keys are
shown once when created, stored hashed, and can be revoked or rotated (the old key keeps working
during the overlap window). A key with the `read` scope may call GET endpoints; every POST needs
`write` (also `calculate`, since it can consume a one-time code). A key only ever sees its own
merchant's data: anything else answers 404.

**The register flow.**
1. `POST code` with the one-time code the customer shows (from the Telegram bot) answers the
   customer and their balance. A code is single use and short-lived.
2. `POST calculate` quotes the purchase: points earned, the most points the customer may
   redeem, and what is left to pay. It writes nothing to the ledger. It accepts `customer_id`
   or `code`; **a code is consumed by the first call that uses it** (`code`, `calculate` or
   `purchases`), so after a `calculate` with a code the register continues with the
   `customer_id` it answered.
3. `POST purchases` commits the purchase (earn and/or redeem) and answers 201.
4. `POST refunds` refunds all or part of a purchase; points move in proportion.

**Idempotency.** `POST purchases` and `POST refunds` require an `Idempotency-Key` header (any
unique string up to 255 printable ASCII characters, e.g. a UUID per purchase); `POST code` and
`POST customers` honour it when sent. Retrying with the same key and the same body answers the
first successful response again, with `Idempotent-Replayed: true`; the same key with another
body answers 422; a retry while the first request still runs answers 409 with `Retry-After`.
Only successful responses are stored (24 hours): after an error nothing was written, so the
request may be corrected and sent again with the same key.

**Errors** are `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`
and, for invalid fields, `errors` (field → messages). Unknown fields are rejected. Some problems
add context, e.g. `customer_id` on a duplicate phone or `max_redeem_points` on a redeem over the
limit.

**Rate limit.** Requests are limited per API key (default 50 per second, sliding window);
beyond it the answer is 429 with `Retry-After` in seconds.

**Conventions.** Money is integer minor units (`amount_minor`, 12345 = 123.45), at most
10000000000; points are integers. Phones are E.164 (`+79161234567`; URL-encode `+` as `%2B` in
query strings). Lists answer `{"results": [...], "next": <cursor or null>}`; pass `next` back as
`cursor` for the following page.
""".strip()


class StrictSerializerSchema(OpenApiSerializerExtension):
    """Request bodies declare ``additionalProperties: false``: unknown fields are rejected."""

    target_class = "integrations.fields.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        groups = [
            {"oneOf": [{"required": [name]} for name in group]}
            for group in self.target.exactly_one_of
        ] + [
            {"anyOf": [{"required": [name]} for name in group]}
            for group in self.target.at_least_one_of
        ]
        if len(groups) == 1:
            schema.update(groups[0])
        elif groups:
            schema["allOf"] = groups
        return schema


class PortalStrictSerializerSchema(OpenApiSerializerExtension):
    """The portal's request bodies refuse unknown fields too; the schema says so.

    Named by its dotted path (no import: interfaces never import each other); the schema is
    one document, and this module holds what it states beyond the serializers."""

    target_class = "portal.apis.base.Strict"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


def idempotency_key(*, required: bool) -> OpenApiParameter:
    return OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=required,
        description=(
            "A unique key per request (e.g. a UUID), up to 255 printable ASCII characters. "
            "Retrying with the same key and body replays the first successful response."
            + ("" if required else " Optional here; honoured when sent.")
        ),
        pattern=r"^[\x21-\x7E]{1,255}$",
    )


_RETRY_AFTER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 1},
}
_REPLAYED = {
    "description": "`true` when this is the stored response of an earlier request with the same "
    "Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}


def schema_postprocess(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Add the API description and the Retry-After / Idempotent-Replayed response headers."""
    result["info"]["description"] = DESCRIPTION
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            idempotent = any(
                p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])
            )
            for status, response in operation.get("responses", {}).items():
                if status in ("409", "429"):
                    response.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
                elif idempotent and status.startswith("2"):
                    response.setdefault("headers", {})["Idempotent-Replayed"] = _REPLAYED
    return result


# --- webhooks (OpenAPI 3.1 top-level `webhooks`; SPECTACULAR_SETTINGS["WEBHOOKS"]) -------------

WEBHOOK_DESCRIPTION = """
We POST one JSON object `{"type", "timestamp", "data"}` per event to each subscribed endpoint,
signed per [Standard Webhooks](https://www.standardwebhooks.com/): verify `webhook-signature`
over `webhook-id.webhook-timestamp.body` with the endpoint's `whsec_...` secret (the
`standardwebhooks` libraries for Python and Node do it; see docs/webhooks.md).

Delivery is **at least once**: use `webhook-id` (the event's `msg_...` id, the same on every
retry and replay, and the `id` in `GET events`) to drop duplicates. Answer any 2xx within 10 s
to acknowledge. Anything else is retried on the endpoint's schedule (default: immediately, 5 s,
5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with jitter); 429/503 with `Retry-After` waits that long
(at most 1 h); other 4xx are tried at most 3 times; a response header
`webhook-delivery: abort-message` stops retrying that message; **410 Gone disables the
endpoint**. Deliveries to one endpoint for one customer go out in commit order.
""".strip()

_SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The event's id (`msg_...`): the same on retries and replays; dedupe on it.",
        "schema": {"type": "string", "pattern": "^msg_"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Unix seconds when this attempt was signed; reject ones far from now.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures of "
        "`{webhook-id}.{webhook-timestamp}.{body}` with the endpoint secret (base64 after "
        "`whsec_`); more than one during a secret rotation.",
        "schema": {"type": "string", "pattern": "^v1,"},
    },
]


def _webhook(event_type: str, data: type, summary: str) -> Any:
    from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
    from rest_framework import serializers

    name = "".join(part.capitalize() for part in re.split(r"[._]", event_type)) + "Webhook"
    envelope = type(
        name,
        (serializers.Serializer,),
        {
            "__doc__": f"The body of a `{event_type}` webhook.",
            "__module__": __name__,
            "type": serializers.ChoiceField(choices=[event_type], help_text="The event type."),
            "timestamp": serializers.DateTimeField(help_text="When the event happened (ISO 8601)."),
            "data": data(help_text="The object, as the API shows it."),
        },
    )
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            summary=summary,
            description=WEBHOOK_DESCRIPTION,
            request={"application/json": envelope},
            responses={
                200: OpenApiResponse(description="Any 2xx acknowledges the message."),
                410: OpenApiResponse(description="Gone: we disable the endpoint."),
            },
        ),
    )


def _data(shape: type, name: str) -> type:
    from integrations.fields import payload_serializer

    return payload_serializer(shape, name=name)


_customer = _data(payloads.CustomerPayload, "CustomerEventData")
webhook_customer_created = _webhook(
    "customer.created", _customer, "A customer registered (API, portal or Telegram)"
)
webhook_customer_telegram_linked = _webhook(
    "customer.telegram_linked", _customer, "A customer linked their Telegram chat"
)
_purchase = _data(payloads.PurchasePayload, "PurchaseEventData")


def _refunded() -> type:
    # RefundedData nests the purchase, which payload_serializer does not map: built here.
    from rest_framework import serializers

    base = _data(payloads.RefundPayload, "RefundEventBase")
    return type(
        "RefundEventData",
        (base,),
        {
            "__doc__": payloads.RefundedData.__doc__,
            "__module__": __name__,
            "purchase": _purchase(help_text="The purchase after the refund."),
            "balance_points": serializers.IntegerField(
                help_text="The customer's spendable balance after the refund."
            ),
        },
    )


webhook_purchase_committed = _webhook(
    "purchase.committed", _purchase, "A purchase was committed (points earned and/or redeemed)"
)
webhook_purchase_refunded = _webhook(
    "purchase.refunded", _refunded(), "A purchase was refunded in full or in part"
)
webhook_points_adjusted = _webhook(
    "points.adjusted",
    _data(payloads.PointsAdjustedData, "PointsAdjustedEventData"),
    "Points were added or removed by hand",
)
webhook_points_expired = _webhook(
    "points.expired",
    _data(payloads.PointsExpiredData, "PointsExpiredEventData"),
    "Points expired",
)


def _webhook_test_data() -> type:
    from rest_framework import serializers

    return type(
        "WebhookTestEventData",
        (serializers.Serializer,),
        {
            "__doc__": "A test message: no business object changed.",
            "__module__": __name__,
            "endpoint_id": serializers.UUIDField(help_text="The endpoint it was sent to."),
            "message": serializers.CharField(help_text="A fixed sentence saying it is a test."),
        },
    )


webhook_webhook_test = _webhook(
    "webhook.test",
    _webhook_test_data(),
    "A test event the merchant sent to one endpoint from the portal (ignore or log it)",
)


def webhooks_postprocess(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """The Standard Webhooks signature headers on every webhook (OpenApiWebhook has no
    parameter of its own for them)."""
    for path_item in result.get("webhooks", {}).values():
        for operation in path_item.values():
            operation["parameters"] = [dict(h) for h in _SIGNATURE_HEADERS]
    return result
