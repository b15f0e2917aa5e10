"""What the OpenAPI document says beyond the serializers: the description, problem+json errors
with examples, the Idempotency-Key parameter and the response headers drf-spectacular cannot
declare on its own (added by :func:`schema_postprocess`, a ``POSTPROCESSING_HOOKS`` entry).

The problem+json responses and their examples are declared in :mod:`core.openapi`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

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

    target_class = "portal.apis._Strict"
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
