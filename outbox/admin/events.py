"""Outbox events in the admin: the payload stored once, its deliveries inline; the operator
actions act on the selected events' deliveries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from core.admin_blocks import ReadOnlyAdmin
from outbox.admin.shared import (
    OutboxSearchMixin,
    StatusPanelMixin,
    deliveries_cancel,
    deliveries_replay_dead,
    deliveries_retry_now,
)
from outbox.models import Delivery, OutboxEvent


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = (
        "delivery_link",
        "channel",
        "endpoint",
        "telegram_chat_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    @admin.display(description="delivery")
    def delivery_link(self, obj: Delivery) -> str:
        url = reverse("admin:outbox_delivery_change", args=[obj.pk])
        return format_html('<a href="{}">#{}</a>', url, obj.pk)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(StatusPanelMixin, OutboxSearchMixin, ReadOnlyAdmin):
    list_display = (
        "id",
        "message_id",
        "event_type",
        "merchant",
        "customer_id",
        "request_id",
        "created_at",
    )
    list_filter = (
        "event_type",
        "merchant",
        ("created_at", admin.DateFieldListFilter),
        "deliveries__status",
    )
    list_select_related = ("merchant",)
    search_fields = ("id", "message_id", "request_id")
    search_help_text = "Event id, msg_… message id (webhook-id) or request id."
    show_full_result_count = False
    list_per_page = 50
    inlines = (DeliveryInline,)
    actions = ("retry_now", "replay_dead", "cancel")
    readonly_fields = (
        "message_id",
        "merchant",
        "event_type",
        "customer_id",
        "request_id",
        "created_at",
        "payload",
    )
    fields = readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and admin.ModelAdmin.has_change_permission(self, request, obj)

    @staticmethod
    def _deliveries(queryset: QuerySet[OutboxEvent]) -> QuerySet[Delivery]:
        return Delivery.objects.filter(event_id__in=queryset.values("pk"))

    @admin.action(description="Retry now the events' pending deliveries", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]):
        return deliveries_retry_now(self, request, self._deliveries(queryset))

    @admin.action(description="Replay the events' dead deliveries", permissions=["change"])
    def replay_dead(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]):
        return deliveries_replay_dead(self, request, self._deliveries(queryset))

    @admin.action(description="Cancel the events' pending deliveries", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]):
        return deliveries_cancel(self, request, self._deliveries(queryset))
