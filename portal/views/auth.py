"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApplicationError
from portal.authentication import client_address
from portal.errors import AuthenticationFailed, LoginThrottled
from portal.services import (
    portal_login,
    portal_logout,
)
from portal.views.base import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    REFRESH_COOKIE,
    clear_tokens,
    page_language,
    safe_next,
    secure_headers,
    set_tokens,
)


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    language = page_language(request)
    with translation.override(language):
        context: dict[str, Any] = {
            "next": safe_next(request.GET.get("next") or request.POST.get("next")),
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
                set_tokens(response, pair)
                return secure_headers(response)
        response = render(request, "portal/login.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return secure_headers(response)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    refresh = request.COOKIES.get(REFRESH_COOKIE)
    if refresh:
        # A session already over leaves only the cookies to clear.
        with contextlib.suppress(AuthenticationFailed):
            portal_logout(refresh=refresh)
    response = HttpResponseRedirect("/portal/login")
    clear_tokens(response)
    return secure_headers(response)


@require_POST
def language_page(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("language", "")
    response = HttpResponseRedirect(safe_next(request.POST.get("next")))
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
    return secure_headers(response)
