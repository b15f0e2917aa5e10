"""Program settings."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _

from loyalty.selectors import program_for
from portal.models import StaffUser
from portal.services.program import LIMITS as PROGRAM_LIMITS
from portal.services.program import program_settings, program_settings_update
from portal.views.base import action, page_context, staff_page


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
        error = action(
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
