"""Pages we serve for merchants' developers: one per problem ``type`` (``/docs/problems/<slug>``).

Every problem+json body's ``type`` is ``<API_BASE_URL>/docs/problems/<slug>``
(``core.problems.PROBLEM_BASE``), so following it lands here: what the problem means and what to
do. ``tests/docs/test_problem_pages.py`` checks that every slug the code can answer has a page.
The pages are plain HTML with no external assets; ``/docs/problems/`` lists them all.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.html import escape

from core.problems import problem_response

#: slug -> (title, what it means and what to do)
PROBLEMS: dict[str, tuple[str, str]] = {
    "validation-error": (
        "Invalid request",
        "A field is missing, malformed or unknown. `errors` names each field with its messages; "
        "fix them and send again (with the same Idempotency-Key: nothing was written).",
    ),
    "malformed-json": (
        "The body is not valid JSON",
        "The body could not be parsed, is nested too deep, or is not UTF-8. Send one JSON object.",
    ),
    "idempotency-claim-lost": (
        "The request took too long",
        "A portal write ran past its Idempotency-Key lease and a retry took the key over; this "
        "write was rolled back. Retry with the same key to get the retry's result.",
    ),
    "payload-too-large": (
        "Request body too large",
        "Bodies are limited to 1 MiB (`REQUEST_BODY_MAX_BYTES`, docs/security.md); the answer is "
        "413 before anything is read. Send smaller requests, e.g. fewer purchase lines.",
    ),
    "bad-content-length": (
        "Malformed Content-Length",
        "The `Content-Length` header is not a non-negative integer. Let your HTTP client set it.",
    ),
    "json-too-deep": (
        "The JSON body is nested too deeply",
        "Arrays and objects may nest at most 32 levels (`JSON_MAX_DEPTH`); our bodies need 3.",
    ),
    "undecodable-text": (
        "The body holds undecodable text",
        "The body must be UTF-8 without NUL characters or lone surrogates (`\\ud800` alone).",
    ),
    "unsupported-media-type": (
        "Send application/json",
        "Request bodies must be JSON with `Content-Type: application/json`.",
    ),
    "not-acceptable": ("Not acceptable", "We answer JSON only; accept `application/json`."),
    "unauthenticated": (
        "Authentication required",
        "No API key, or a key that is wrong, revoked or expired. Send "
        "`Authorization: Bearer lk_...` (or `X-Api-Key`).",
    ),
    "forbidden": (
        "Not allowed",
        "The key is valid but may not do this (e.g. a `read` key on a POST).",
    ),
    "not-found": (
        "Not found",
        "No such object for this key's merchant. Another merchant's object is also not found.",
    ),
    "method-not-allowed": ("Method not allowed", "Use one of the methods in the `Allow` header."),
    "conflict": (
        "Conflict",
        "The object already exists (e.g. a phone already registered: the body names the "
        "existing `customer_id`).",
    ),
    "rate-limited": (
        "Too many requests",
        "Over the per-key rate limit. Wait the seconds in `Retry-After`, then send again.",
    ),
    "idempotency-key-reused": (
        "Idempotency-Key already used for another request",
        "The key was used with a different body. Use a new key for a new request.",
    ),
    "idempotency-in-progress": (
        "A request with this Idempotency-Key is still running",
        "Wait the seconds in `Retry-After` and send the same request again: you will get its "
        "answer.",
    ),
    "insufficient-points": (
        "Not enough points",
        "The customer's spendable balance is below the points asked. `max_redeem_points` is the "
        "most that may be sent.",
    ),
    "redeem-cap-exceeded": (
        "Too many points for this purchase",
        "The program lets points pay only part of the redeemable amount. Send at most "
        "`max_redeem_points`.",
    ),
    "refund-not-allowed": (
        "Refund not allowed",
        "The refund is larger than what is left of the purchase, or it was fully refunded.",
    ),
    "code-invalid": (
        "Invalid customer code",
        "The one-time code is unknown, expired or already used. Ask the customer for a new one.",
    ),
    "unsafe-target": (
        "Unsafe webhook target",
        "The webhook URL resolves to a private, loopback, link-local or metadata address.",
    ),
    "maintenance": (
        "Maintenance",
        "The service is in maintenance. Retry after the seconds in `Retry-After`.",
    ),
    "read-only": (
        "Read-only mode",
        "Writes are paused for a while; reads work. Retry the write later.",
    ),
    "schema-behind": (
        "Upgrade in progress",
        "The database is being upgraded; writes are refused until it is done. Retry shortly.",
    ),
    "metrics-token": ("Metrics token required", "Send `X-Metrics-Token` to read `/metrics`."),
    "internal-error": (
        "Internal error",
        "Something failed on our side; nothing was written. Retry later, quoting `X-Request-ID`.",
    ),
    "http-error": ("Request failed", "A generic HTTP error; see `status` and `detail`."),
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:0 .2em}}</style></head>
<body>{body}</body></html>"""


def _inline_code(text: str) -> str:
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def problem_page(request: HttpRequest, slug: str) -> HttpResponse:
    entry = PROBLEMS.get(slug)
    if entry is None:
        return problem_response(
            status_code=404,
            slug="not-found",
            title="Not found",
            detail=f"No problem type {slug!r}; see /docs/problems/ for the list.",
        )
    title, text = entry
    body = (
        f'<p><a href="/docs/problems/">Problem types</a></p>'
        f'<h1 id="{escape(slug)}">{escape(title)}</h1>'
        f"<p><code>type</code>: <code>{escape(request.build_absolute_uri())}</code></p>"
        f"<p>{_inline_code(text)}</p>"
        "<p>Every error is <code>application/problem+json</code> (RFC 9457) with "
        "<code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>.</p>"
    )
    return HttpResponse(_PAGE.format(title=escape(title), body=body))


def problem_index(request: HttpRequest) -> HttpResponse:
    items = "".join(
        f'<li><a href="/docs/problems/{escape(slug)}">{escape(slug)}</a>: {escape(title)}</li>'
        for slug, (title, _) in sorted(PROBLEMS.items())
    )
    return HttpResponse(
        _PAGE.format(title="Problem types", body=f"<h1>Problem types</h1><ul>{items}</ul>")
    )
