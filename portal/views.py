"""The portal's pages: server-rendered templates over the same services and selectors as the
portal API, with a few lines of vendored, same-origin JavaScript for the charts.

Authentication (decision): the pages keep the portal API's own JWTs in cookies, so one session
model serves both (logout, reuse detection and deactivation end a browser session exactly as
they end an API client's). Both cookies are ``HttpOnly`` (no script can read a token, so the
refresh token is never readable by JS), ``SameSite=Lax``, scoped to ``/portal/``, and ``Secure``
whenever Django's session cookie is (outside DEBUG unless ``SECURE_COOKIES=0``). Every form
carries Django's CSRF token; the API never accepts the cookies (it takes a Bearer header), so
it needs no CSRF token. Every page answers a Content-Security-Policy that allows scripts and
styles from our own origin only: no inline script, no CDN.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApplicationError
from portal.authentication import client_address
from portal.errors import AuthenticationFailed, Forbidden, LoginThrottled
from portal.models import StaffUser
from portal.selectors import dashboard_figures, delivery_health
from portal.services import (
    ACCESS_TTL,
    REFRESH_TTL,
    WRITERS,
    TokenPair,
    portal_login,
    portal_logout,
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


def _secure_headers(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CSP
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response


def _set_tokens(response: HttpResponse, pair: TokenPair) -> None:
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


def _clear_tokens(response: HttpResponse) -> None:
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


def _authenticate(request: HttpRequest) -> tuple[StaffUser | None, TokenPair | None]:
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
            user, pair = _authenticate(request)
            if user is None:
                # The sign-in form in place (200), posting back to here through ?next.
                response: HttpResponse = render(
                    request,
                    "portal/login.html",
                    {
                        "next": _safe_next(request.get_full_path()),
                        "languages": LANGUAGES,
                        "language": language,
                    },
                )
                _clear_tokens(response)
                return _secure_headers(response)
            request.staff = user  # type: ignore[attr-defined]
            request.portal_language = language  # type: ignore[attr-defined]
            try:
                response = view(request, *args, **kwargs)
            except Forbidden as exc:
                response = render(
                    request, "portal/error.html", {"message": exc.detail, "staff": user}, status=403
                )
        if pair is not None:
            _set_tokens(response, pair)
        return _secure_headers(response)

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


def _safe_next(value: str | None) -> str:
    # Only our own pages: never an absolute URL or a protocol-relative one (open redirect).
    if value and value.startswith("/portal/") and not value.startswith("//"):
        return value
    return "/portal/"


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    language = page_language(request)
    with translation.override(language):
        context: dict[str, Any] = {
            "next": _safe_next(request.GET.get("next") or request.POST.get("next")),
            "languages": LANGUAGES,
            "language": language,
            "email": "",
        }
        status = 200
        retry_after = None
        if request.method == "POST":
            email = request.POST.get("email", "")[:254]
            context["email"] = email
            try:
                pair = portal_login(
                    email=email,
                    password=request.POST.get("password", "")[:200],
                    address=client_address(request),
                )
            except LoginThrottled as exc:
                status, retry_after = 429, exc.retry_after
                context["error"] = _("Too many failed sign-ins. Try again in %(minutes)s min.") % {
                    "minutes": max(1, (exc.retry_after + 59) // 60)
                }
            except ApplicationError:
                status = 401
                context["error"] = _("Wrong email or password.")
            else:
                response: HttpResponse = HttpResponseRedirect(context["next"])
                _set_tokens(response, pair)
                return _secure_headers(response)
        response = render(request, "portal/login.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return _secure_headers(response)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    refresh = request.COOKIES.get(REFRESH_COOKIE)
    if refresh:
        # A session already over leaves only the cookies to clear.
        with contextlib.suppress(AuthenticationFailed):
            portal_logout(refresh=refresh)
    response = HttpResponseRedirect("/portal/login")
    _clear_tokens(response)
    return _secure_headers(response)


@require_POST
def language_page(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("language", "")
    response = HttpResponseRedirect(_safe_next(request.POST.get("next")))
    if code in dict(LANGUAGES):
        response.set_cookie(
            LANGUAGE_COOKIE,
            code,
            max_age=365 * 86400,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            path="/portal/",
        )
    return _secure_headers(response)


@staff_page
def dashboard_page(request: HttpRequest) -> HttpResponse:
    merchant_id = request.staff.merchant_id  # type: ignore[attr-defined]
    figures = dashboard_figures(merchant_id=merchant_id)
    health = delivery_health(merchant_id=merchant_id)
    windows = [
        (_("Today"), figures["windows"]["today"]),
        (_("7 days"), figures["windows"]["7d"]),
        (_("30 days"), figures["windows"]["30d"]),
    ]
    return render(
        request,
        "portal/dashboard.html",
        page_context(
            request,
            windows=windows,
            health=health["endpoints"],
            chart_data={"daily": figures["daily"], "hourly": health["hourly"]},
            nav="dashboard",
        ),
    )
