"""Building blocks shared by the apps' admins: confirmed bulk actions, show-once secrets,
read-only model admins and change forms that save only what changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def action_confirm(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    title: str,
    question: str,
    counts: Sequence[tuple[str, int]],
    will_change: int,
    confirm_label: str,
    perform: Callable[[], str | HttpResponse],
) -> HttpResponse | None:
    """First call: a page with the counts and a confirm button (nothing changes). Confirmed:
    ``perform()`` runs; a string it returns becomes a success message, a response is shown."""
    if request.POST.get("confirmed") == "yes":
        outcome = perform()
        if isinstance(outcome, HttpResponse):
            return outcome
        modeladmin.message_user(request, outcome, messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "counts": counts,
        "will_change": will_change,
        "confirm_label": confirm_label,
        "opts": modeladmin.model._meta,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
    }
    return TemplateResponse(request, "admin/platform_ops/confirm_action.html", context)


def secret_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    title: str,
    note: str,
    secrets: Sequence[tuple[str, str]],
    continue_url: str,
) -> HttpResponse:
    """Show freshly made secrets once, in this response only: not stored in messages (cookie
    or session), never cached by the browser."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "note": note,
        "secrets": secrets,
        "continue_url": continue_url,
        "opts": modeladmin.model._meta,
    }
    response = TemplateResponse(request, "admin/platform_ops/secret_once.html", context)
    response["Cache-Control"] = "no-store"
    return response


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services (ledger, alerts, ...): staff may look, not touch."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ChangedFieldsAdmin(admin.ModelAdmin):
    """Edits save only the fields the form changed (``save(update_fields=...)``), so a stale
    form cannot overwrite columns someone else changed meanwhile."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            fields = [name for name in form.changed_data if name in form.fields]
            if fields:
                obj.save(update_fields=fields)
            return
        super().save_model(request, obj, form, change)


def ids_of(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The selection as ``pk IN (subquery)``: safe to ``update()`` whatever the changelist added
    (search may make it distinct, ordering, joins)."""
    return queryset.model._default_manager.filter(pk__in=queryset.values("pk"))
