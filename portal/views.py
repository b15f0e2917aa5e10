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
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import ApplicationError, NotFound, ValidationFailed
from loyalty.selectors import program_for
from outbox.models import DeliveryStatus
from outbox.services import WEBHOOK_EVENT_TYPES
from portal.authentication import client_address
from portal.errors import AuthenticationFailed, Forbidden, LoginThrottled
from portal.models import StaffRole, StaffUser
from portal.selectors import (
    audit_list,
    customer_detail,
    customer_search,
    dashboard_figures,
    delivery_detail,
    delivery_health,
    delivery_search,
    endpoint_list,
    endpoint_paused,
    outlet_choices,
    page_after,
    page_by_time,
    place_list,
    purchase_detail,
    purchase_search,
    staff_list,
    time_cursor_parse,
)
from portal.services import (
    ACCESS_TTL,
    OWNERS,
    REFRESH_TTL,
    WRITERS,
    TokenPair,
    customer_points_adjust,
    deliveries_replay,
    endpoint_create,
    endpoint_pause,
    endpoint_resume,
    endpoint_secret_rotate,
    portal_login,
    portal_logout,
    portal_place_create,
    portal_place_deactivate,
    portal_place_rename,
    portal_refresh,
    purchase_refund,
    staff_from_access,
    staff_password_change,
    staff_role_require,
    staff_user_create,
    staff_user_update,
)
from portal.services.api_keys import (
    api_key_list,
    portal_api_key_create,
    portal_api_key_revoke,
    portal_api_key_rotate,
)
from portal.services.program import LIMITS as PROGRAM_LIMITS
from portal.services.program import program_settings, program_settings_update

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


def _problem_text(exc: ApplicationError) -> str:
    fields = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items())
    return f"{exc.detail} {fields}".strip()


@staff_page
def customers_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    try:
        cursor = time_cursor_parse(request.GET.get("cursor"))
    except ApplicationError:
        cursor = None
    rows, nxt = page_by_time(
        customer_search(merchant_id=request.staff.merchant_id, query=query),  # type: ignore[attr-defined]
        cursor=cursor,
    )
    return render(
        request,
        "portal/customers.html",
        page_context(request, customers=rows, q=query, next_cursor=nxt, nav="customers"),
    )


@staff_page
def customer_page(request: HttpRequest, customer_id: Any) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    status = 200
    if request.method == "POST":
        try:
            raw = request.POST.get("points", "").strip()
            if not raw.lstrip("-").isdigit() or len(raw) > 12:
                raise ValidationFailed(_("Enter whole points, e.g. 100 or -50."))
            customer_points_adjust(
                by=user,
                customer_id=customer_id,
                points=int(raw),
                reason=request.POST.get("reason", "")[:200],
                address=client_address(request),
            )
        except Forbidden:
            raise
        except ApplicationError as exc:
            error, status = _problem_text(exc), exc.status
        else:
            messages.success(request, _("Points adjusted."))
            return HttpResponseRedirect(request.path)
    try:
        detail = customer_detail(merchant_id=user.merchant_id, customer_id=customer_id)
    except NotFound as exc:
        return render(
            request, "portal/error.html", page_context(request, message=exc.detail), status=404
        )
    return render(
        request,
        "portal/customer.html",
        page_context(request, d=detail, error=error, nav="customers"),
        status=status,
    )


@staff_page
def purchases_page(request: HttpRequest) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    form = {k: request.GET.get(k, "") for k in ("since", "until", "outlet_id", "order_id")}
    error = None
    rows: list[Any] = []
    nxt = None
    try:
        rows, nxt = page_by_time(
            purchase_search(
                merchant_id=user.merchant_id,
                since=_day(form["since"], "since"),
                until=_day(form["until"], "until"),
                outlet_id=form["outlet_id"] or None,
                order_id=form["order_id"][:100],
            ),
            cursor=time_cursor_parse(request.GET.get("cursor")),
        )
    except ApplicationError as exc:
        error = _problem_text(exc)
    return render(
        request,
        "portal/purchases.html",
        page_context(
            request,
            purchases=rows,
            form=form,
            outlets=outlet_choices(merchant_id=user.merchant_id),
            next_cursor=nxt,
            query=urlencode({k: v for k, v in form.items() if v}),
            error=error,
            nav="purchases",
        ),
        status=400 if error else 200,
    )


def _day(raw: str, field: str) -> date | None:
    if not raw:
        return None
    parsed = parse_date(raw) if len(raw) <= 10 else None
    if parsed is None:
        raise ValidationFailed(_("Dates look like 2026-12-31."), errors={field: ["YYYY-MM-DD"]})
    return parsed


@staff_page
def purchase_page(request: HttpRequest, purchase_id: Any) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    status = 200
    if request.method == "POST":
        raw = request.POST.get("amount_minor", "").strip()
        try:
            if raw and (not raw.isdigit() or len(raw) > 12):
                raise ValidationFailed(_("Enter the amount in minor units, e.g. 1500."))
            purchase_refund(
                by=user,
                idempotency_key=request.POST.get("idempotency_key", ""),
                purchase_id=purchase_id,
                amount_minor=int(raw) if raw else None,
                address=client_address(request),
            )
        except Forbidden:
            raise
        except ApplicationError as exc:
            error, status = _problem_text(exc), exc.status
        else:
            messages.success(request, _("Refund recorded."))
            return HttpResponseRedirect(request.path)
    try:
        detail = purchase_detail(merchant_id=user.merchant_id, purchase_id=purchase_id)
    except NotFound as exc:
        return render(
            request, "portal/error.html", page_context(request, message=exc.detail), status=404
        )
    return render(
        request,
        "portal/purchase.html",
        # A fresh key per rendered form: submitting the same form twice refunds once.
        page_context(request, d=detail, error=error, idempotency_key=uuid.uuid4(), nav="purchases"),
        status=status,
    )


def _action(request: HttpRequest, run: Callable[[], Any], done: str) -> str | None:
    """Run a page's write; a flash on success, the problem's text on failure."""
    try:
        run()
    except Forbidden:
        raise
    except ApplicationError as exc:
        return _problem_text(exc)
    messages.success(request, done)
    return None


@staff_page
def webhooks_page(request: HttpRequest) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    secret = None
    if request.method == "POST":
        op = request.POST.get("op", "")
        eid = request.POST.get("endpoint_id", "")
        if op == "create":
            try:
                _endpoint, secret = endpoint_create(
                    by=user,
                    url=request.POST.get("url", "")[:2000],
                    event_types=request.POST.getlist("event_types"),
                    ordered=request.POST.get("ordered") == "on",
                )
            except Forbidden:
                raise
            except ApplicationError as exc:
                error = _problem_text(exc)
        elif op == "pause":
            error = _action(
                request,
                lambda: endpoint_pause(
                    by=user, endpoint_id=eid, reason=request.POST.get("reason", "")[:300]
                ),
                _("Endpoint paused."),
            )
        elif op == "resume":
            error = _action(
                request, lambda: endpoint_resume(by=user, endpoint_id=eid), _("Endpoint resumed.")
            )
        elif op == "rotate":
            try:
                secret = endpoint_secret_rotate(by=user, endpoint_id=eid)
            except Forbidden:
                raise
            except ApplicationError as exc:
                error = _problem_text(exc)
        if error is None and secret is None:
            return HttpResponseRedirect(request.path)
    endpoints = [
        (e, endpoint_paused(endpoint_id=e.id)) for e in endpoint_list(merchant_id=user.merchant_id)
    ]
    return render(
        request,
        "portal/webhooks.html",
        # A secret is shown in this one answer only (never stored in clear, never again).
        page_context(
            request,
            endpoints=endpoints,
            error=error,
            secret=secret,
            event_types=sorted(WEBHOOK_EVENT_TYPES),
            nav="webhooks",
        ),
        status=400 if error else 200,
    )


@staff_page
def deliveries_page(request: HttpRequest) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    form = {
        k: request.GET.get(k, "")[:100]
        for k in ("endpoint_id", "status", "event_type", "since", "until")
    }
    error = None
    rows: list[Any] = []
    nxt = None
    if request.method == "POST":
        error = _action(
            request,
            lambda: deliveries_replay(
                by=user,
                endpoint_id=request.POST.get("endpoint_id") or None,
                since=_moment(request.POST.get("since", ""), "since"),
                until=_moment(request.POST.get("until", ""), "until"),
            ),
            _("Failed deliveries in the window queued again."),
        )
        if error is None:
            return HttpResponseRedirect(request.get_full_path())
    try:
        cursor = request.GET.get("cursor", "")
        rows, nxt = page_after(
            delivery_search(
                merchant_id=user.merchant_id,
                endpoint_id=form["endpoint_id"] or None,
                status=form["status"] if form["status"] in DeliveryStatus.values else "",
                event_type=form["event_type"],
                since=_day(form["since"], "since"),
                until=_day(form["until"], "until"),
            ),
            cursor=int(cursor) if cursor.isdigit() and len(cursor) < 19 else None,
        )
    except ApplicationError as exc:
        error = _problem_text(exc)
    return render(
        request,
        "portal/deliveries.html",
        page_context(
            request,
            deliveries=rows,
            form=form,
            error=error,
            next_cursor=nxt,
            query=urlencode({k: v for k, v in form.items() if v}),
            statuses=DeliveryStatus.values,
            event_types=sorted(WEBHOOK_EVENT_TYPES),
            endpoints=endpoint_list(merchant_id=user.merchant_id),
            nav="webhooks",
        ),
        status=400 if error else 200,
    )


def _moment(raw: str, field: str) -> datetime | None:
    parsed = parse_datetime(raw[:40]) if raw else None
    if raw and parsed is None:
        raise ValidationFailed(
            _("Times look like 2026-12-31T18:00."), errors={field: ["YYYY-MM-DDTHH:MM"]}
        )
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


@staff_page
def delivery_page(request: HttpRequest, delivery_id: int) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    if request.method == "POST":
        error = _action(
            request,
            lambda: (
                delivery_detail(merchant_id=user.merchant_id, delivery_id=delivery_id),
                deliveries_replay(by=user, delivery_id=delivery_id),
            ),
            _("Delivery queued again."),
        )
        if error is None:
            return HttpResponseRedirect(request.path)
    try:
        detail = delivery_detail(merchant_id=user.merchant_id, delivery_id=delivery_id)
    except NotFound as exc:
        return render(
            request, "portal/error.html", page_context(request, message=exc.detail), status=404
        )
    return render(
        request,
        "portal/delivery.html",
        page_context(
            request,
            d=detail,
            error=error,
            payload=json.dumps(detail["payload"], indent=2, ensure_ascii=False),
            nav="webhooks",
        ),
    )


@staff_page
def api_keys_page(request: HttpRequest) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    shown = None
    if request.method == "POST":
        op = request.POST.get("op", "")
        try:
            if op == "create":
                shown = portal_api_key_create(
                    by=user,
                    name=request.POST.get("name", ""),
                    scopes=request.POST.getlist("scopes"),
                ).plaintext
            elif op == "rotate":
                shown = portal_api_key_rotate(
                    by=user, key_id=request.POST.get("key_id"), overlap_hours=24
                ).plaintext
            elif op == "revoke":
                portal_api_key_revoke(by=user, key_id=request.POST.get("key_id"))
                messages.success(request, _("Key revoked."))
                return HttpResponseRedirect(request.path)
        except Forbidden:
            raise
        except (ApplicationError, ValueError) as exc:
            error = _problem_text(exc) if isinstance(exc, ApplicationError) else str(exc)
    return render(
        request,
        "portal/api_keys.html",
        page_context(
            request,
            keys=api_key_list(merchant_id=user.merchant_id),
            shown=shown,
            error=error,
            is_owner=user.role in OWNERS,
            nav="api-keys",
        ),
        status=400 if error else 200,
    )


@staff_page
def staff_page_view(request: HttpRequest) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    if request.method == "POST":
        op = request.POST.get("op", "")
        if op == "create":
            error = _action(
                request,
                lambda: staff_user_create(
                    merchant=user.merchant,
                    by=user,
                    email=request.POST.get("email", "")[:254],
                    password=request.POST.get("password", "")[:200],
                    role=request.POST.get("role", ""),
                ),
                _("Access given."),
            )
        elif op == "update":
            active = request.POST.get("is_active")
            error = _action(
                request,
                lambda: staff_user_update(
                    by=user,
                    staff_id=_uuid_or_404(request.POST.get("staff_id", "")),
                    role=request.POST.get("role") or None,
                    is_active=None if active is None else active == "1",
                ),
                _("Saved."),
            )
        elif op == "password":
            error = _action(
                request,
                lambda: staff_password_change(
                    user=user,
                    current=request.POST.get("current_password", "")[:200],
                    new=request.POST.get("new_password", "")[:200],
                ),
                _("Password changed."),
            )
        if error is None:
            return HttpResponseRedirect(request.path)
    return render(
        request,
        "portal/staff.html",
        page_context(
            request,
            people=staff_list(merchant_id=user.merchant_id)[:500],
            roles=StaffRole.choices,
            is_owner=user.role in OWNERS,
            error=error,
            audit=audit_list(merchant_id=user.merchant_id).order_by("-id")[:50],
            nav="staff",
        ),
        status=400 if error else 200,
    )


PLACE_SECTIONS = ("outlet", "device", "manager")


@staff_page
def places_page(request: HttpRequest) -> HttpResponse:
    """Outlets, devices and managers: add, rename, deactivate (writers only)."""
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error, status = None, 200
    if request.method == "POST":
        op = request.POST.get("op", "")
        kind = request.POST.get("kind", "")
        address = client_address(request)
        name = request.POST.get("name", "")[:300]
        place_id = request.POST.get("place_id", "")[:40]
        done = {"create": _("Added."), "rename": _("Renamed."), "deactivate": _("Deactivated.")}
        try:
            if kind not in PLACE_SECTIONS or op not in done:
                raise NotFound(_("No such place or action."))
            if op == "create":
                outlet_id = request.POST.get("outlet_id") or None
                portal_place_create(
                    by=user, kind=kind, name=name, outlet_id=outlet_id, address=address
                )
            elif op == "rename":
                portal_place_rename(
                    by=user, kind=kind, place_id=place_id, name=name, address=address
                )
            else:
                portal_place_deactivate(by=user, kind=kind, place_id=place_id, address=address)
        except Forbidden:
            raise
        except ApplicationError as exc:
            error, status = _problem_text(exc), exc.status
        else:
            messages.success(request, done[op])
            return HttpResponseRedirect(request.path)
    lists = {kind: place_list(merchant_id=user.merchant_id, kind=kind) for kind in PLACE_SECTIONS}
    titles = {"outlet": _("Outlets"), "device": _("Devices"), "manager": _("Managers")}
    return render(
        request,
        "portal/places.html",
        page_context(
            request,
            sections=[(kind, titles[kind], lists[kind]) for kind in PLACE_SECTIONS],
            outlets=[o for o in lists["outlet"] if o["is_active"]],
            outlet_names={o["id"]: o["name"] for o in lists["outlet"]},
            is_writer=user.role in WRITERS,
            error=error,
            nav="places",
        ),
        status=status,
    )


def _uuid_or_404(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"No member of staff {raw[:40]}.") from None


@staff_page
def program_page(request: HttpRequest) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    if request.method == "POST":

        def number(raw: str) -> Any:
            raw = raw.strip()
            return int(raw) if raw.isdigit() and len(raw) < 14 else raw

        values = {field: number(request.POST.get(field, "")) for field in PROGRAM_LIMITS}
        if values["expiry_days"] == "":
            values["expiry_days"] = None
        names = request.POST.getlist("tier_name")
        spends = request.POST.getlist("tier_spend")
        rates = request.POST.getlist("tier_earn_bps")
        tiers = [
            {"name": n.strip(), "min_lifetime_spend_minor": number(s), "earn_bps": number(r)}
            for n, s, r in zip(names, spends, rates, strict=False)
            if n.strip() or s.strip() or r.strip()
        ]
        error = _action(
            request,
            lambda: program_settings_update(by=user, values=values, tiers=tiers),
            _("Settings saved."),
        )
        if error is None:
            return HttpResponseRedirect(request.path)
    settings_now = program_settings(program_for(user.merchant))
    rows = settings_now["tiers"] + [{}] * 3
    return render(
        request,
        "portal/program.html",
        page_context(request, p=settings_now, tier_rows=rows, error=error, nav="program"),
        status=400 if error else 200,
    )
