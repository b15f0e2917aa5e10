"""RFC 9457 problem+json for every error: DRF's, ours, and Django's 404/500 handlers."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import ApplicationError

logger = logging.getLogger(__name__)

#: Each problem ``type`` is a page we serve (platform_ops.docs, ``/docs/problems/<slug>``) at the
#: public base URL (``API_BASE_URL``), so following it explains the problem.
PROBLEM_BASE = settings.API_BASE_URL.rstrip("/") + "/docs/problems/"
CONTENT_TYPE = "application/problem+json"


#: The 500 answer: the failure is ours, and it says so without promising a retry will help
#: (a request whose own content broke us would fail again; those are 4xx wherever we know them).
INTERNAL_ERROR_DETAIL = (
    "Something failed on our side; it is logged under this response's X-Request-ID: quote it "
    "to support. A retry helps only if the failure was passing (a write retried with the same "
    "Idempotency-Key and body never applies twice)."
)


def problem_body(
    *,
    status_code: int,
    slug: str,
    title: str,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(
    *,
    status_code: int,
    slug: str,
    title: str,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JsonResponse:
    """A plain Django response, for middleware and handlers outside DRF."""
    response = JsonResponse(
        problem_body(
            status_code=status_code, slug=slug, title=title, detail=detail, errors=errors, **extra
        ),
        status=status_code,
        content_type=CONTENT_TYPE,
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                name = prefix or "non_field_errors"
            for k, v in _flatten(value, name).items():
                errors.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            errors[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for k, v in _flatten(item, f"{prefix}[{index}]").items():
                    errors.setdefault(k, []).extend(v)
    else:
        errors[prefix or "non_field_errors"] = [str(detail)]
    return errors


_DRF_SLUGS = {
    exceptions.NotAuthenticated: ("unauthenticated", "Authentication required"),
    exceptions.AuthenticationFailed: ("unauthenticated", "Authentication failed"),
    exceptions.PermissionDenied: ("forbidden", "Not allowed"),
    exceptions.NotFound: ("not-found", "Not found"),
    exceptions.MethodNotAllowed: ("method-not-allowed", "Method not allowed"),
    exceptions.NotAcceptable: ("not-acceptable", "Not acceptable"),
    exceptions.UnsupportedMediaType: ("unsupported-media-type", "Send application/json"),
    exceptions.Throttled: ("rate-limited", "Too many requests"),
    exceptions.ParseError: ("malformed-json", "The body is not valid JSON"),
}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every error becomes problem+json; unknown errors are 500s."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        body = problem_body(
            status_code=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            **exc.extra,
        )
        return Response(body, status=exc.status, content_type=CONTENT_TYPE)
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        fields = ", ".join(sorted(errors))
        body = problem_body(
            status_code=400,
            slug="validation-error",
            title="The request has invalid fields",
            detail=f"Fix these fields and send again: {fields}.",
            errors=errors,
        )
        return Response(body, status=400, content_type=CONTENT_TYPE)
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
        body = problem_body(
            status_code=500,
            slug="internal-error",
            title="Internal error",
            detail=INTERNAL_ERROR_DETAIL,
        )
        return Response(body, status=500, content_type=CONTENT_TYPE)
    slug, title = "http-error", "Request failed"
    for klass, (s, t) in _DRF_SLUGS.items():
        if isinstance(exc, klass):
            slug, title = s, t
            break
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(int(exc.wait + 0.999), 1))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    body = problem_body(
        status_code=response.status_code, slug=slug, title=title, detail=str(detail)
    )
    out = Response(body, status=response.status_code, content_type=CONTENT_TYPE, headers=headers)
    return out


def handler404(request: Any, exception: Exception | None = None) -> JsonResponse:
    return problem_response(
        status_code=status.HTTP_404_NOT_FOUND,
        slug="not-found",
        title="Not found",
        detail=f"No resource at {request.path}. See /api/docs/ for the API.",
    )


def handler500(request: Any) -> JsonResponse:
    return problem_response(
        status_code=500,
        slug="internal-error",
        title="Internal error",
        detail=INTERNAL_ERROR_DETAIL,
    )
