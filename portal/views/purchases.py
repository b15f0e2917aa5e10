"""Purchases and refunds."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import ApplicationError, NotFound, ValidationFailed
from portal.authentication import client_address
from portal.errors import Forbidden
from portal.models import StaffUser
from portal.selectors import (
    outlet_choices,
    page_by_time,
    purchase_detail,
    purchase_search,
    time_cursor_parse,
)
from portal.services import (
    purchase_refund,
)
from portal.views.base import day, page_context, problem_text, staff_page


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
                since=day(form["since"], "since"),
                until=day(form["until"], "until"),
                outlet_id=form["outlet_id"] or None,
                order_id=form["order_id"][:100],
            ),
            cursor=time_cursor_parse(request.GET.get("cursor")),
        )
    except ApplicationError as exc:
        error = problem_text(exc)
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
            error, status = problem_text(exc), exc.status
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
