"""What the OpenAPI document says beyond the serializers: the description, problem+json errors
with examples, the Idempotency-Key parameter and the response headers drf-spectacular cannot
declare on its own (added by :func:`schema_postprocess`, a ``POSTPROCESSING_HOOKS`` entry)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from core.problems import CONTENT_TYPE, PROBLEM_BASE

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


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; some problems add context members (e.g. ``customer_id``)."""

    type = serializers.URLField(help_text="Identifies the kind of problem.")
    title = serializers.CharField(help_text="Short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(help_text="What went wrong with this request and how to fix it.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per invalid field (validation problems only).",
    )


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


def _example(status: int, slug: str, title: str, detail: str, **extra: Any) -> OpenApiExample:
    value = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return OpenApiExample(slug, value=value, status_codes=[str(status)], response_only=True)


_PROBLEMS: dict[int, tuple[str, list[OpenApiExample]]] = {
    400: (
        "The request is malformed: invalid or unknown fields, a missing Idempotency-Key.",
        [
            _example(
                400,
                "validation-error",
                "The request has invalid fields",
                "Fix these fields and send again: amount_minor, colour.",
                errors={
                    "amount_minor": [
                        "Send a positive amount in minor units, from 1 to 10000000000."
                    ],
                    "colour": ["Unknown field. Allowed fields: customer_id, code, amount_minor."],
                },
            )
        ],
    ),
    401: (
        "The API key is missing, unknown, revoked or expired.",
        [
            _example(
                401,
                "unauthenticated",
                "Authentication failed",
                "The API key is unknown, revoked or expired. Check that the whole key was copied, "
                "or create a new one in the portal.",
            )
        ],
    ),
    403: (
        "The API key lacks the scope the method needs.",
        [
            _example(
                403,
                "forbidden",
                "Not allowed",
                "This API key lacks the 'write' scope needed for POST. Use a key issued with the "
                "scopes read and write.",
            )
        ],
    ),
    404: (
        "No such object for this merchant (or the one-time code is unknown, used or expired).",
        [
            _example(404, "not-found", "Not found", "No customer 5d0c7a8e-... for this merchant."),
            _example(
                404,
                "code-invalid",
                "Customer code not valid",
                "The code is unknown, already used or expired. Ask the customer to open a new "
                "code in the bot (/code).",
            ),
        ],
    ),
    409: (
        "A conflict: the phone or order_id exists already, or a request with this "
        "Idempotency-Key is still running (then with Retry-After).",
        [
            _example(
                409,
                "conflict",
                "Conflict with the current state",
                "Phone +79161234567 is already registered as customer 5d0c7a8e-....",
                customer_id="5d0c7a8e-...",
            ),
            _example(
                409,
                "idempotency-in-progress",
                "A request with this Idempotency-Key is in progress",
                "A request with this Idempotency-Key is still being processed. Retry after the "
                "Retry-After seconds with the same key and body to get its result.",
            ),
        ],
    ),
    415: ("The body is not JSON (send Content-Type: application/json).", []),
    422: (
        "The request is well-formed but cannot be done: not enough points, over the redeem "
        "limit, refund beyond the purchase, or an Idempotency-Key reused with another body.",
        [
            _example(
                422,
                "insufficient-points",
                "Not enough points",
                "The customer has 40 spendable points; 100 were asked.",
                errors={"redeem_points": ["Send at most 40."]},
                balance_points=40,
                max_redeem_points=40,
            ),
            _example(
                422,
                "idempotency-key-reused",
                "Idempotency-Key already used for another request",
                "Idempotency-Key 'k-1' was already used for POST purchases with another body.",
            ),
        ],
    ),
    429: (
        "Too many requests for this API key; retry after Retry-After seconds.",
        [
            _example(
                429,
                "rate-limited",
                "Too many requests",
                "Too many requests for this API key (limit 50/s). Retry after the Retry-After "
                "seconds.",
            )
        ],
    ),
    500: (
        "Something failed on our side; retry with the same Idempotency-Key.",
        [
            _example(
                500,
                "internal-error",
                "Internal error",
                "Something failed on our side; the request may be retried with the same "
                "Idempotency-Key.",
            )
        ],
    ),
}

#: Problems every operation can answer.
COMMON_PROBLEMS = (400, 401, 403, 429, 500)


def problems(*statuses: int) -> dict[Any, OpenApiResponse]:
    """problem+json responses for ``statuses`` plus :data:`COMMON_PROBLEMS`."""
    responses: dict[Any, OpenApiResponse] = {}
    for status in sorted({*COMMON_PROBLEMS, *statuses}):
        description, examples = _PROBLEMS[status]
        responses[(status, CONTENT_TYPE)] = OpenApiResponse(
            ProblemSerializer, description=description, examples=examples
        )
    return responses


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
