"""Staff and roles."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _

from portal.models import StaffRole, StaffUser
from portal.selectors import (
    audit_list,
    staff_list,
)
from portal.services import (
    OWNERS,
    staff_password_change,
    staff_user_create,
    staff_user_update,
)
from portal.views.base import action, page_context, staff_page, uuid_or_404


@staff_page
def staff_page_view(request: HttpRequest) -> HttpResponse:
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error = None
    if request.method == "POST":
        op = request.POST.get("op", "")
        if op == "create":
            error = action(
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
            error = action(
                request,
                lambda: staff_user_update(
                    by=user,
                    staff_id=uuid_or_404(request.POST.get("staff_id", "")),
                    role=request.POST.get("role") or None,
                    is_active=None if active is None else active == "1",
                ),
                _("Saved."),
            )
        elif op == "password":
            error = action(
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
