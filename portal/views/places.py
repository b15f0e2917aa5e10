"""Places: outlets, devices, managers."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import ApplicationError, NotFound
from portal.authentication import client_address
from portal.errors import Forbidden
from portal.models import StaffUser
from portal.selectors import (
    place_list,
)
from portal.services import (
    WRITERS,
    portal_place_create,
    portal_place_deactivate,
    portal_place_reactivate,
    portal_place_rename,
)
from portal.views.base import page_context, problem_text, staff_page

PLACE_SECTIONS = ("outlet", "device", "manager")


@staff_page
def places_page(request: HttpRequest) -> HttpResponse:
    """Outlets, devices and managers: add, rename, deactivate, reactivate (writers only)."""
    user: StaffUser = request.staff  # type: ignore[attr-defined]
    error, status = None, 200
    if request.method == "POST":
        op = request.POST.get("op", "")
        kind = request.POST.get("kind", "")
        address = client_address(request)
        name = request.POST.get("name", "")[:300]
        place_id = request.POST.get("place_id", "")[:40]
        done = {
            "create": _("Added."),
            "rename": _("Renamed."),
            "deactivate": _("Deactivated."),
            "reactivate": _("Reactivated."),
        }
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
            elif op == "deactivate":
                portal_place_deactivate(by=user, kind=kind, place_id=place_id, address=address)
            else:
                portal_place_reactivate(by=user, kind=kind, place_id=place_id, address=address)
        except Forbidden:
            raise
        except ApplicationError as exc:
            error, status = problem_text(exc), exc.status
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
