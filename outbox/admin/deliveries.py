"""Deliveries in the admin: one row per event and target, with its attempts; the operator
actions act on the selected deliveries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core.admin_blocks import ReadOnlyAdmin, ids_of
from outbox.admin.shared import (
    OutboxSearchMixin,
    StatusPanelMixin,
    deliveries_cancel,
    deliveries_replay_dead,
    deliveries_retry_now,
)
from outbox.models import Attempt, Channel, Delivery, DeliveryStatus


def _cut(text: str, size: int) -> str:
    """At most ``size`` characters, with an ellipsis when cut."""
    return text if len(text) <= size else text[: size - 1] + "…"


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("started_at", "duration_ms", "status_code", "error_class", "response_excerpt")
    readonly_fields = fields
    ordering = ("started_at", "id")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(StatusPanelMixin, OutboxSearchMixin, ReadOnlyAdmin):
    event_path = "event__"
    # Narrow columns (short dates, cut-off target and error, full text on hover) so the list with
    # its filters fits a 1400 px screen (tests/admin/test_ops_panel.py measures it in Chromium).
    list_display = (
        "id",
        "event_link",
        "event_type",
        "channel",
        "target",
        "status",
        "attempts",
        "next_attempt",
        "last_code",
        "short_error",
        "updated",
    )
    list_filter = (
        "status",
        "channel",
        ("event__event_type", admin.ChoicesFieldListFilter),
        "merchant",
        "endpoint",
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("event", "merchant", "endpoint")
    search_fields = ("id", "event__message_id", "event__request_id")
    search_help_text = "Delivery id, msg_… message id (webhook-id) or request id."
    show_full_result_count = False
    list_per_page = 50
    inlines = (AttemptInline,)
    actions = ("retry_now", "replay_dead", "cancel")
    readonly_fields = (
        "event_link",
        "merchant",
        "channel",
        "endpoint",
        "telegram_chat_id",
        "customer_id",
        "ordered",
        "status",
        "attempts",
        "next_attempt",
        "lease_expires_at",
        "last_code",
        "last_error",
        "created_at",
        "updated_at",
        "delivered_at",
    )
    fields = readonly_fields

    @admin.display(description="event")
    def event_link(self, obj: Delivery) -> str:
        url = reverse("admin:outbox_outboxevent_change", args=[obj.event_id])
        return format_html('<a href="{}">{}</a>', url, obj.event.message_id)

    @admin.display(description="type", ordering="event__event_type")
    def event_type(self, obj: Delivery) -> str:
        return obj.event.event_type

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        # The last attempt's status code for rows whose own column is empty (the engine records
        # it on failures only): one indexed subquery per listed row (attempts by delivery).
        last = Attempt.objects.filter(delivery=OuterRef("pk")).order_by("-started_at", "-id")
        return (
            super()
            .get_queryset(request)
            .annotate(last_attempt_code=Subquery(last.values("status_code")[:1]))
        )

    @admin.display(description="target")
    def target(self, obj: Delivery) -> str:
        if obj.channel == Channel.TELEGRAM:
            return f"chat {obj.telegram_chat_id}"
        if not obj.endpoint_id:
            return "-"
        return _cut(str(obj.endpoint), 32)

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        return _cut(obj.last_error, 32)

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, obj: Delivery) -> str:
        """Only pending and in-flight rows have one; a finished row shows a dash."""
        if obj.status not in (DeliveryStatus.PENDING, DeliveryStatus.LEASED):
            return "-"
        return f"{obj.next_attempt_at:%m-%d %H:%M:%S}"

    @admin.display(description="last code", ordering="last_status_code")
    def last_code(self, obj: Delivery) -> str:
        # The change form's object comes from get_queryset too, so it is annotated as well.
        code = obj.last_status_code or getattr(obj, "last_attempt_code", None)
        return str(code) if code is not None else "-"

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj: Delivery) -> str:
        return f"{obj.updated_at:%m-%d %H:%M:%S}"

    # Bulk actions change rows, so they need the change permission even though the change form
    # itself is read-only.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and admin.ModelAdmin.has_change_permission(self, request, obj)

    @admin.action(description="Retry now (pending deliveries become due)", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Delivery]):
        return deliveries_retry_now(self, request, ids_of(queryset))

    @admin.action(
        description="Replay dead deliveries (fresh schedule, same webhook-id)",
        permissions=["change"],
    )
    def replay_dead(self, request: HttpRequest, queryset: QuerySet[Delivery]):
        return deliveries_replay_dead(self, request, ids_of(queryset))

    @admin.action(description="Cancel pending deliveries", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Delivery]):
        return deliveries_cancel(self, request, ids_of(queryset))
