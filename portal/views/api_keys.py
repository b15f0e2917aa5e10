"""Integration API keys."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from portal.errors import Forbidden
from portal.models import StaffUser
from portal.services import (
    OWNERS,
)
from portal.services.api_keys import (
    api_key_list,
    portal_api_key_create,
    portal_api_key_revoke,
    portal_api_key_rotate,
)
from portal.views.base import page_context, problem_text, staff_page


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
            error = problem_text(exc) if isinstance(exc, ApplicationError) else str(exc)
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
