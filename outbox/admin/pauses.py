"""Outbox pauses in the admin: pause (global, per merchant, endpoint or channel) with a reason,
resume with a confirmation; pauses are history and are never deleted."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse

from core.admin_blocks import action_confirm
from outbox.admin.shared import StatusPanelMixin
from outbox.models import OutboxPause, PauseScope
from outbox.services import outbox_pause, outbox_resume


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class PauseActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return (("yes", "In force"), ("no", "Resumed"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[OutboxPause]):
        if self.value() == "yes":
            return queryset.filter(resumed_at=None)
        if self.value() == "no":
            return queryset.exclude(resumed_at=None)
        return queryset


class OutboxPauseForm(forms.ModelForm):
    """Pick a scope and its one target; a reason is required."""

    class Meta:
        model = OutboxPause
        fields = ("scope", "merchant", "endpoint", "channel", "reason")
        help_texts = {"reason": "Why delivery is held: shown to everyone looking at the outbox."}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        scope = data.get("scope")
        targets: dict[str, str] = {
            PauseScope.MERCHANT: "merchant",
            PauseScope.ENDPOINT: "endpoint",
            PauseScope.CHANNEL: "channel",
        }
        needed = targets.get(scope or "")
        for field in targets.values():
            if field == needed and not data.get(field):
                self.add_error(field, "Choose what to pause for this scope.")
            elif field != needed and data.get(field):
                self.add_error(field, "Leave empty for this scope.")
        if not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why delivery is paused.")
        return data


@admin.register(OutboxPause)
class OutboxPauseAdmin(StatusPanelMixin):
    form = OutboxPauseForm
    list_display = (
        "scope",
        "target",
        "reason",
        "created_by",
        "created_at",
        "in_force",
        "resumed_by",
        "resumed_at",
    )
    list_filter = (PauseActiveFilter, "scope")
    list_select_related = ("merchant", "endpoint")
    actions = ("resume",)
    ordering = ("-created_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return ()
        return (
            "scope",
            "merchant",
            "endpoint",
            "channel",
            "reason",
            "created_by",
            "created_at",
            "resumed_by",
            "resumed_at",
        )

    def get_fields(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return ("scope", "merchant", "endpoint", "channel", "reason")
        return self.get_readonly_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # pauses are history: resume instead

    class Media:
        # Shows only the target field of the chosen scope (outbox/static/outbox/pause_scope.js);
        # without script every field shows and clean() still refuses a mismatch.
        js = ("outbox/pause_scope.js",)

    def get_urls(self) -> list[URLPattern]:
        resume = path(
            "<int:pause_id>/resume/",
            self.admin_site.admin_view(self.resume_one_view),
            name="outbox_outboxpause_resume",
        )
        return [resume, *super().get_urls()]

    def resume_one_view(self, request: HttpRequest, pause_id: int) -> HttpResponse:
        """The Resume button of one pause (the admin index's panel): POST only, change right."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            messages.error(request, "You may not resume outbox delivery.")
            return HttpResponseRedirect(reverse("admin:index"))
        pause = get_object_or_404(OutboxPause, pk=pause_id)
        if pause.resumed_at is not None:
            messages.info(request, f"That pause ({self.target(pause)}) had already ended.")
        else:
            outbox_resume(
                actor=_actor(request),
                merchant_id=str(pause.merchant_id) if pause.merchant_id else None,
                endpoint_id=str(pause.endpoint_id) if pause.endpoint_id else None,
                channel=pause.channel or None,
            )
            messages.success(
                request, f"Resumed {self.target(pause)}: its held deliveries go out now."
            )
        target = request.POST.get("next") or reverse("admin:index")
        if not target.startswith("/") or target.startswith("//"):
            target = reverse("admin:index")
        return HttpResponseRedirect(target)

    @admin.display(description="target")
    def target(self, obj: OutboxPause) -> str:
        return str(obj.merchant or obj.endpoint or obj.channel or "everything")

    @admin.display(description="in force", boolean=True)
    def in_force(self, obj: OutboxPause) -> bool:
        return obj.resumed_at is None

    def save_model(self, request: HttpRequest, obj: OutboxPause, form: Any, change: bool) -> None:
        if change:
            return  # nothing is editable after the fact
        pause = outbox_pause(
            reason=form.cleaned_data["reason"],
            actor=_actor(request),
            merchant_id=str(obj.merchant_id) if obj.merchant_id else None,
            endpoint_id=str(obj.endpoint_id) if obj.endpoint_id else None,
            channel=obj.channel or None,
        )
        # The service is idempotent per scope: it may hand back the pause already in force.
        obj.pk = pause.pk
        obj.created_by, obj.created_at = pause.created_by, pause.created_at
        obj.reason = pause.reason

    @admin.action(description="Resume delivery (end the selected pauses)", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[OutboxPause]):
        active = list(queryset.filter(resumed_at=None))

        def perform() -> str:
            ended = sum(
                outbox_resume(
                    actor=_actor(request),
                    merchant_id=str(p.merchant_id) if p.merchant_id else None,
                    endpoint_id=str(p.endpoint_id) if p.endpoint_id else None,
                    channel=p.channel or None,
                )
                for p in active
            )
            return f"Resumed: {ended} pauses ended; delivery of their scope continues."

        return action_confirm(
            self,
            request,
            title="Resume delivery: are you sure?",
            question="Deliveries held by these pauses go out again at once.",
            counts=[("pauses selected", queryset.count()), ("in force: will end", len(active))],
            will_change=len(active),
            confirm_label=f"Yes, resume {len(active)}",
            perform=perform,
        )
