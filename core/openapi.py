"""The problem+json responses of the OpenAPI document, with an example of each problem.

Every API (the integration API, the portal's) declares its error responses with
:func:`problems`, so one status is documented the same way everywhere.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from core.problems import CONTENT_TYPE, PROBLEM_BASE


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
