"""Outbox events in the admin: the payload stored once, its deliveries inline; the operator
actions act on the selected events' deliveries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Count, QuerySet
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


def delivery_summaries(event_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per status of each event, in one grouped query on the event foreign key."""
    summaries: dict[int, dict[str, int]] = {}
    rows = (
        Delivery.objects.filter(event_id__in=event_ids)
        .values_list("event_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for event_id, status, n in rows:
        summaries.setdefault(event_id, {})[status] = n
    return summaries


class EventChangeList(ChangeList):
    """After the page is chosen, its events get their delivery status summary."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        summaries = delivery_summaries([event.pk for event in self.result_list])
        for event in self.result_list:
            event.delivery_summary = summaries.get(event.pk, {})


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
        "delivery_status",
        "customer_id",
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

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return EventChangeList

    @admin.display(description="deliveries")
    def delivery_status(self, obj: OutboxEvent) -> str:
        """e.g. "2 delivered, 1 pending": the page's events counted in one query."""
        summary: dict[str, int] | None = getattr(obj, "delivery_summary", None)
        if summary is None:
            summary = delivery_summaries([obj.pk]).get(obj.pk, {})
        if not summary:
            return "none"
        return ", ".join(f"{n} {status}" for status, n in sorted(summary.items()))

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
