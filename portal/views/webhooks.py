"""Webhook endpoints, the delivery log, one delivery, replays."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, NotFound, ValidationFailed
from outbox.models import DeliveryStatus
from outbox.selectors import deliveries_progress
from outbox.services import WEBHOOK_EVENT_TYPES
from portal.errors import Forbidden
from portal.models import StaffUser
from portal.selectors import (
    delivery_detail,
    delivery_search,
    endpoint_list,
    endpoint_paused,
    page_after,
)
from portal.services import (
    deliveries_replay,
    endpoint_create,
    endpoint_pause,
    endpoint_resume,
    endpoint_secret_rotate,
)
from portal.services.webhooks import (
    LOG_EVENT_TYPES,
    OVERLAP_HOURS_DEFAULT,
    deliveries_about,
    deliveries_replay_about,
    endpoint_test_send,
)
from portal.views.base import action, day, moment, page_context, problem_text, staff_page


def _overlap_hours(request: HttpRequest) -> int:
    """The form's overlap; a value out of 0..168 is refused by the service, not clamped."""
    raw = request.POST.get("overlap_hours", "").strip()
    if not raw:
        return OVERLAP_HOURS_DEFAULT
    if not raw.isdigit() or len(raw) > 6:
        raise ValidationFailed(
            "The overlap must be a whole number of hours, 0 to 168.",
            errors={"overlap_hours": ["Give 0 (immediate) to 168 hours."]},
        )
    return int(raw)


@staff_page
def webhooks_page(request: HttpRequest) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    secret = None
    previous_until = None
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
                error = problem_text(exc)
        elif op == "pause":
            error = action(
                request,
                lambda: endpoint_pause(
                    by=user, endpoint_id=eid, reason=request.POST.get("reason", "")[:300]
                ),
                _("Endpoint paused."),
            )
        elif op == "resume":
            error = action(
                request, lambda: endpoint_resume(by=user, endpoint_id=eid), _("Endpoint resumed.")
            )
        elif op == "rotate":
            try:
                secret, previous_until = endpoint_secret_rotate(
                    by=user, endpoint_id=eid, overlap_hours=_overlap_hours(request)
                )
            except Forbidden:
                raise
            except ApplicationError as exc:
                error = problem_text(exc)
        elif op == "test":
            try:
                delivery = endpoint_test_send(by=user, endpoint_id=eid)
            except Forbidden:
                raise
            except ApplicationError as exc:
                error = problem_text(exc)
            else:
                # Straight to the log entry, where its attempt appears once sent.
                return HttpResponseRedirect(reverse("portal-delivery-page", args=[delivery.id]))
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
            previous_until=previous_until,
            overlap_default=OVERLAP_HOURS_DEFAULT,
            now=timezone.now(),
            event_types=sorted(WEBHOOK_EVENT_TYPES),
            nav="webhooks",
        ),
        status=400 if error else 200,
    )


def _about(data: Any) -> dict[str, Any]:
    """The business object of a replay: ``customer_id`` (a UUID) or ``order_id``; a customer id
    that is no UUID is refused by the service like a missing one."""
    customer = (data.get("customer_id") or data.get("about_customer") or "").strip()[:100]
    order = (data.get("order_id") or data.get("about_order") or "").strip()[:100]
    try:
        customer_id = uuid.UUID(customer) if customer else None
    except ValueError:
        raise ValidationFailed(
            "That customer id is not a customer id.",
            errors={"customer_id": ["A UUID, as in the customer's page."]},
        ) from None
    return {"customer_id": customer_id, "order_id": order}


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
    if request.method == "POST" and request.POST.get("op") == "replay_about":
        error = action(
            request,
            lambda: deliveries_replay_about(by=user, **_about(request.POST)),
            _("Deliveries about it queued again."),
        )
        if error is None:
            asked = _about(request.POST)
            query = {"about_customer": asked["customer_id"] or "", "about_order": asked["order_id"]}
            return HttpResponseRedirect(
                f"{request.path}?{urlencode({k: v for k, v in query.items() if v})}"
            )
    elif request.method == "POST":
        error = action(
            request,
            lambda: deliveries_replay(
                by=user,
                endpoint_id=request.POST.get("endpoint_id") or None,
                since=moment(request.POST.get("since", ""), "since"),
                until=moment(request.POST.get("until", ""), "until"),
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
                since=day(form["since"], "since"),
                until=day(form["until"], "until"),
            ),
            cursor=int(cursor) if cursor.isdigit() and len(cursor) < 19 else None,
        )
    except ApplicationError as exc:
        error = problem_text(exc)
    progress = None
    about: dict[str, Any] = {"customer_id": None, "order_id": ""}
    if (request.GET.get("about_customer") or request.GET.get("about_order")) and error is None:
        try:
            about = _about(request.GET)
            progress = deliveries_progress(deliveries_about(by=user, **about))
        except ApplicationError as exc:
            error = problem_text(exc)
    return render(
        request,
        "portal/deliveries.html",
        page_context(
            request,
            deliveries=rows,
            form=form,
            error=error,
            next_cursor=nxt,
            about=about,
            progress=progress,
            query=urlencode({k: v for k, v in form.items() if v}),
            statuses=DeliveryStatus.values,
            event_types=LOG_EVENT_TYPES,
            endpoints=endpoint_list(merchant_id=user.merchant_id),
            nav="webhooks",
        ),
        status=400 if error else 200,
    )


@staff_page
def delivery_page(request: HttpRequest, delivery_id: int) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    if request.method == "POST":
        error = action(
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
