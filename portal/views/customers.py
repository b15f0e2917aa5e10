"""Customers: search, detail, manual points adjustment."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import ApplicationError, NotFound, ValidationFailed
from portal.authentication import client_address
from portal.errors import Forbidden
from portal.models import StaffUser
from portal.selectors import (
    customer_detail,
    customer_search,
    page_by_time,
    time_cursor_parse,
)
from portal.services import (
    customer_points_adjust,
)
from portal.views.base import page_context, problem_text, staff_page


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
            error, status = problem_text(exc), exc.status
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
