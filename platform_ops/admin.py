"""Site-mode switches (with their audit history) and the alerts table in the admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from core.admin_blocks import ReadOnlyAdmin
from platform_ops.models import Alert, SiteModeChange
from platform_ops.selectors import site_modes_current
from platform_ops.services import site_mode_set


class SiteModeChangeForm(forms.ModelForm):
    enabled = forms.TypedChoiceField(
        choices=[("1", "Switch ON"), ("0", "Switch OFF")],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        label="Switch",
    )

    class Meta:
        model = SiteModeChange
        fields = ("mode", "enabled", "reason")
        help_texts = {"reason": "Why: kept in the history below with your name and the time."}


@admin.register(SiteModeChange)
class SiteModeChangeAdmin(admin.ModelAdmin):
    """Adding a row flips a switch; rows are the history and cannot be edited or deleted."""

    form = SiteModeChangeForm
    list_display = ("changed_at", "mode", "enabled", "reason", "changed_by")
    list_filter = ("mode", "enabled")
    change_list_template = "admin/platform_ops/sitemodechange_change_list.html"

    def get_fields(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return ("mode", "enabled", "reason")
        return ("mode", "enabled", "reason", "changed_by", "changed_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return () if obj is None else ("mode", "enabled", "reason", "changed_by", "changed_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        context = {**(extra_context or {}), "modes": site_modes_current()}
        return super().changelist_view(request, context)

    def save_model(
        self, request: HttpRequest, obj: SiteModeChange, form: Any, change: bool
    ) -> None:
        change_row = site_mode_set(
            mode=form.cleaned_data["mode"],
            enabled=form.cleaned_data["enabled"],
            reason=form.cleaned_data["reason"],
            actor=request.user.get_username(),
        )
        obj.pk = change_row.pk
        obj.changed_by, obj.changed_at = change_row.changed_by, change_row.changed_at


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = (
        "sent_at",
        "kind",
        "value",
        "threshold",
        "delivered",
        "suppressed",
        "error",
        "short_message",
    )
    list_filter = ("kind", "delivered", ("sent_at", admin.DateFieldListFilter))
    search_fields = ("=fingerprint", "message")
    fields = (
        "sent_at",
        "kind",
        "fingerprint",
        "value",
        "threshold",
        "delivered",
        "error",
        "suppressed",
        "message",
    )
    readonly_fields = fields

    @admin.display(description="message")
    def short_message(self, obj: Alert) -> str:
        return obj.message.splitlines()[0][:120] if obj.message else ""
