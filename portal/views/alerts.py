"""Alerts: link the merchant's Telegram chat, set each endpoint's alert."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import ApplicationError, NotFound, ValidationFailed
from notifications.merchant_chats import merchant_link_deep_link
from portal.authentication import client_address
from portal.errors import Forbidden
from portal.models import StaffUser
from portal.services.alerts import (
    endpoint_alert_rows,
    endpoint_alert_set,
    merchant_chat_linked,
    portal_telegram_link_code_issue,
    portal_telegram_unlink,
)
from portal.views.base import page_context, problem_text, staff_page


def _minutes(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 6:
        msg = _("Minutes are a whole number; leave empty for no alert.")
        raise ValidationFailed(msg, errors={"failing_minutes": [msg]})
    return int(raw)


def _alert_save(request: HttpRequest, user: StaffUser) -> None:
    endpoint_alert_set(
        by=user,
        endpoint_id=request.POST.get("endpoint_id", "")[:40],
        failing_minutes=_minutes(request.POST.get("failing_minutes", "")),
        on_dead=request.POST.get("on_dead") == "on",
        language=getattr(request, "portal_language", "en"),
        address=client_address(request),
    )


@staff_page
def alerts_page(request: HttpRequest) -> HttpResponse:
    """The chat link (a one-time code, shown once: no redirect) and one alert form per
    endpoint (saved, then redirected)."""
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error, status, link = None, 200, None
    if request.method == "POST":
        op = request.POST.get("op", "")
        address = client_address(request)
        done = {"unlink": _("Chat unlinked."), "alert": _("Alert saved.")}
        try:
            if op == "link_code":
                code, expires = portal_telegram_link_code_issue(by=user, address=address)
                link = {
                    "code": code,
                    "expires_at": expires,
                    "deep_link": merchant_link_deep_link(code=code),
                }
            elif op == "unlink":
                portal_telegram_unlink(by=user, address=address)
            elif op == "alert":
                _alert_save(request, user)
            else:
                raise NotFound(_("No such action."))
        except Forbidden:
            raise
        except ApplicationError as exc:
            error, status = problem_text(exc), exc.status
        else:
            if op in done:
                messages.success(request, done[op])
                return HttpResponseRedirect(request.path)
    return render(
        request,
        "portal/alerts.html",
        page_context(
            request,
            linked=merchant_chat_linked(merchant_id=user.merchant_id),
            link=link,
            rows=endpoint_alert_rows(merchant_id=user.merchant_id),
            error=error,
            nav="alerts",
        ),
        status=status,
    )
