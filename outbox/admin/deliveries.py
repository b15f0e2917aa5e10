"""Deliveries in the admin: one row per event and target, with its attempts; the operator
actions act on the selected deliveries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
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
from outbox.models import Attempt, Channel, Delivery


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
    list_display = (
        "id",
        "event_link",
        "event_type",
        "merchant",
        "channel",
        "target",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "short_error",
        "updated_at",
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
        "next_attempt_at",
        "lease_expires_at",
        "last_status_code",
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

    @admin.display(description="target")
    def target(self, obj: Delivery) -> str:
        if obj.channel == Channel.TELEGRAM:
            return f"chat {obj.telegram_chat_id}"
        return str(obj.endpoint) if obj.endpoint_id else "-"

    @admin.display(description="last error")
    def short_error(self, obj: Delivery) -> str:
        return obj.last_error[:80]

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
