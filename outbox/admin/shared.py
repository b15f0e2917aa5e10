"""What the outbox admins share: the status panel above a changelist, id search, and the three
operator actions on deliveries (retry now, replay dead, cancel), each behind a confirmation page
with counts."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from core.admin_blocks import action_confirm
from outbox.models import Delivery, DeliveryStatus
from outbox.selectors import deliveries_status_counts, outbox_counts, pauses_active_rows
from outbox.services import outbox_cancel, outbox_replay, outbox_retry_now


class StatusPanelMixin(admin.ModelAdmin):
    """Pending and dead counts and the pauses in force, above the changelist."""

    change_list_template = "admin/outbox/change_list_with_status.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        panel = {"counts": outbox_counts(), "pauses": pauses_active_rows()}
        context = {**(extra_context or {}), "outbox_status": panel}
        return super().changelist_view(request, context)


def _deliveries_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    deliveries: QuerySet[Delivery],
    *,
    verb: str,
    applies_to: str,
    perform: Any,
) -> HttpResponse | None:
    counts = deliveries_status_counts(deliveries)
    total = sum(counts.values())
    affected = counts.get(applies_to, 0)
    return action_confirm(
        modeladmin,
        request,
        title=f"{verb.capitalize()}: are you sure?",
        question=f"{verb.capitalize()} acts on {applies_to} deliveries only; the others in the "
        "selection are left alone.",
        counts=[
            ("deliveries selected", total),
            (f"{applies_to}: will {verb}", affected),
            ("in another status: unchanged", total - affected),
        ],
        will_change=affected,
        confirm_label=f"Yes, {verb} {affected}",
        perform=lambda: f"{verb.capitalize()}: {perform(deliveries=deliveries)} deliveries.",
    )


def deliveries_retry_now(
    modeladmin: admin.ModelAdmin, request: HttpRequest, deliveries: QuerySet[Delivery]
):
    """Pending deliveries in ``deliveries`` become due now."""
    return _deliveries_action(
        modeladmin,
        request,
        deliveries,
        verb="retry now",
        applies_to=DeliveryStatus.PENDING,
        perform=outbox_retry_now,
    )


def deliveries_replay_dead(
    modeladmin: admin.ModelAdmin, request: HttpRequest, deliveries: QuerySet[Delivery]
):
    """Dead deliveries in ``deliveries`` start a fresh schedule (same webhook-id)."""
    # outbox_replay also takes delivered and cancelled rows; this action is about dead ones.
    return _deliveries_action(
        modeladmin,
        request,
        deliveries,
        verb="replay",
        applies_to=DeliveryStatus.DEAD,
        perform=lambda *, deliveries: outbox_replay(
            deliveries=deliveries.filter(status=DeliveryStatus.DEAD)
        ),
    )


def deliveries_cancel(
    modeladmin: admin.ModelAdmin, request: HttpRequest, deliveries: QuerySet[Delivery]
):
    """Pending deliveries in ``deliveries`` are cancelled."""
    return _deliveries_action(
        modeladmin,
        request,
        deliveries,
        verb="cancel",
        applies_to=DeliveryStatus.PENDING,
        perform=outbox_cancel,
    )


class OutboxSearchMixin:
    """Search by delivery/event id (digits), ``msg_...`` message id, or request id; exact and
    indexed lookups only, never a substring scan of the outbox tables."""

    event_path = ""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        if term.startswith("msg_"):
            return queryset.filter(**{f"{self.event_path}message_id": term}), False
        return queryset.filter(**{f"{self.event_path}request_id": term}), False
