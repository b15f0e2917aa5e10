"""The dashboard: today / 7 / 30 days with charts, delivery health."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from portal.selectors import (
    dashboard_figures,
    delivery_health,
)
from portal.views.base import page_context, staff_page


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
