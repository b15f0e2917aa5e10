"""What every page shares: cookies, headers, sign-in check, context, form helpers."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from core.errors import ApplicationError, NotFound, ValidationFailed
from portal.errors import AuthenticationFailed, Forbidden
from portal.models import StaffUser
from portal.services import (
    ACCESS_TTL,
    REFRESH_TTL,
    WRITERS,
    TokenPair,
    portal_refresh,
    staff_from_access,
    staff_role_require,
)

ACCESS_COOKIE = "portal_access"
REFRESH_COOKIE = "portal_refresh"
LANGUAGE_COOKIE = "portal_language"
#: The portal's languages (the bot's): picked from the browser, switchable on every page.
LANGUAGES = (("en", "English"), ("ru", "Русский"))
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
PageView = Callable[..., HttpResponse]


def secure_headers(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CSP
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response


def set_tokens(response: HttpResponse, pair: TokenPair) -> None:
    common: dict[str, Any] = {
        "httponly": True,
        "secure": settings.SESSION_COOKIE_SECURE,
        "samesite": "Lax",
        "path": "/portal/",
    }
    response.set_cookie(
        ACCESS_COOKIE, pair.access, max_age=int(ACCESS_TTL.total_seconds()), **common
    )
    response.set_cookie(
        REFRESH_COOKIE, pair.refresh, max_age=int(REFRESH_TTL.total_seconds()), **common
    )


def clear_tokens(response: HttpResponse) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path="/portal/", samesite="Lax")


def page_language(request: HttpRequest) -> str:
    """The switch's choice (cookie), else the browser's Accept-Language, else English."""
    chosen = request.COOKIES.get(LANGUAGE_COOKIE, "")
    codes = [code for code, _name in LANGUAGES]
    if chosen in codes:
        return chosen
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in codes:
            return code
    return "en"


def authenticate(request: HttpRequest) -> tuple[StaffUser | None, TokenPair | None]:
    access = request.COOKIES.get(ACCESS_COOKIE)
    if access:
        try:
            return staff_from_access(access), None
        except AuthenticationFailed:
            pass
    refresh = request.COOKIES.get(REFRESH_COOKIE)
    if refresh:
        try:
            pair = portal_refresh(refresh=refresh)
            return staff_from_access(pair.access), pair
        except AuthenticationFailed:
            pass
    return None, None


def staff_page(view: PageView) -> PageView:
    """A page for signed-in staff: renews the access token from the refresh cookie when it
    expired, sends everyone else to the sign-in page, and answers with the portal's headers."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        language = page_language(request)
        with translation.override(language):
            user, pair = authenticate(request)
            if user is None:
                # The sign-in form in place (200), posting back to here through ?next.
                response: HttpResponse = render(
                    request,
                    "portal/login.html",
                    {
                        "next": safe_next(request.get_full_path()),
                        "languages": LANGUAGES,
                        "language": language,
                    },
                )
                clear_tokens(response)
                return secure_headers(response)
            request.staff = user  # type: ignore[attr-defined]
            request.portal_language = language  # type: ignore[attr-defined]
            try:
                response = view(request, *args, **kwargs)
            except Forbidden as exc:
                response = render(
                    request, "portal/error.html", {"message": exc.detail, "staff": user}, status=403
                )
        if pair is not None:
            set_tokens(response, pair)
        return secure_headers(response)

    return wrapper


def page_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    return {
        "staff": user,
        "merchant": user.merchant,
        "can_write": user.role in WRITERS,
        "languages": LANGUAGES,
        "language": getattr(request, "portal_language", "en"),
        **extra,
    }


def writer_required(request: HttpRequest) -> StaffUser:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    staff_role_require(user, WRITERS)
    return user


def safe_next(value: str | None) -> str:
    # Only our own pages: never an absolute URL or a protocol-relative one (open redirect).
    if value and value.startswith("/portal/") and not value.startswith("//"):
        return value
    return "/portal/"


def problem_text(exc: ApplicationError) -> str:
    fields = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items())
    return f"{exc.detail} {fields}".strip()


def day(raw: str, field: str) -> date | None:
    if not raw:
        return None
    parsed = parse_date(raw) if len(raw) <= 10 else None
    if parsed is None:
        raise ValidationFailed(_("Dates look like 2026-12-31."), errors={field: ["YYYY-MM-DD"]})
    return parsed


def action(request: HttpRequest, run: Callable[[], Any], done: str) -> str | None:
    """Run a page's write; a flash on success, the problem's text on failure."""
    try:
        run()
    except Forbidden:
        raise
    except ApplicationError as exc:
        return problem_text(exc)
    messages.success(request, done)
    return None


def moment(raw: str, field: str) -> datetime | None:
    parsed = parse_datetime(raw[:40]) if raw else None
    if raw and parsed is None:
        raise ValidationFailed(
            _("Times look like 2026-12-31T18:00."), errors={field: ["YYYY-MM-DDTHH:MM"]}
        )
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def uuid_or_404(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"No member of staff {raw[:40]}.") from None
