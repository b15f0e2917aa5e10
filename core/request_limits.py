"""Refuse a request body over ``REQUEST_BODY_MAX_BYTES`` by its ``Content-Length``, unread.

Runs right after the request id is set, before sessions, CSRF or any view touches the body, so
a 10 MB POST costs nothing and answers 413 problem+json on every path (API, portal, Telegram
webhook, admin). A ``Content-Length`` that is not a non-negative integer is a 400. Bodies sent
without a length are bounded by the JSON parser (:mod:`core.parsers`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.problems import problem_response


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit():  # also refuses "-1" and "+5", which int() would take
            return problem_response(
                status_code=400,
                slug="bad-content-length",
                title="Malformed Content-Length",
                detail="Content-Length must be a non-negative integer.",
            )
        limit = settings.REQUEST_BODY_MAX_BYTES
        if int(declared) > limit:
            return problem_response(
                status_code=413,
                slug="payload-too-large",
                title="Request body too large",
                detail=f"The request body is over the limit of {limit} bytes.",
            )
        return self.get_response(request)
