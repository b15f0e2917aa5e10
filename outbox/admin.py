"""Outbox in the admin: events, deliveries with their attempts, pauses, webhook endpoints.

Every change goes through :mod:`outbox.services` (retry now, replay, cancel, pause, resume,
endpoint create/rotate/enable/disable); bulk actions show a confirmation page with counts first.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from core.admin_blocks import ReadOnlyAdmin, action_confirm, ids_of, secret_page
from core.errors import ApplicationError
from outbox.models import (
    Attempt,
    Channel,
    Delivery,
    DeliveryStatus,
    EventType,
    OutboxEvent,
    OutboxPause,
    PauseScope,
    WebhookEndpoint,
)
from outbox.selectors import deliveries_status_counts, outbox_counts, pauses_active_rows
from outbox.services import (
    outbox_cancel,
    outbox_pause,
    outbox_replay,
    outbox_resume,
    outbox_retry_now,
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
)
from outbox.ssrf import target_check


def _actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class StatusPanelMixin(admin.ModelAdmin):
    """Pending and dead counts and the pauses in force, above the changelist."""

    change_list_template = "admin/outbox/change_list_with_status.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        panel = {"counts": outbox_counts(), "pauses": pauses_active_rows()}
        context = {**(extra_context or {}), "outbox_status": panel}
        return super().changelist_view(request, context)


# --- deliveries: the three operator actions ---------------------------------------------------


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


def _retry_now(modeladmin: admin.ModelAdmin, request: HttpRequest, deliveries: QuerySet[Delivery]):
    return _deliveries_action(
        modeladmin,
        request,
        deliveries,
        verb="retry now",
        applies_to=DeliveryStatus.PENDING,
        perform=outbox_retry_now,
    )


def _replay_dead(
    modeladmin: admin.ModelAdmin, request: HttpRequest, deliveries: QuerySet[Delivery]
):
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


def _cancel(modeladmin: admin.ModelAdmin, request: HttpRequest, deliveries: QuerySet[Delivery]):
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
        return _retry_now(self, request, ids_of(queryset))

    @admin.action(
        description="Replay dead deliveries (fresh schedule, same webhook-id)",
        permissions=["change"],
    )
    def replay_dead(self, request: HttpRequest, queryset: QuerySet[Delivery]):
        return _replay_dead(self, request, ids_of(queryset))

    @admin.action(description="Cancel pending deliveries", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Delivery]):
        return _cancel(self, request, ids_of(queryset))


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
        return _retry_now(self, request, self._deliveries(queryset))

    @admin.action(description="Replay the events' dead deliveries", permissions=["change"])
    def replay_dead(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]):
        return _replay_dead(self, request, self._deliveries(queryset))

    @admin.action(description="Cancel the events' pending deliveries", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]):
        return _cancel(self, request, self._deliveries(queryset))


# --- pauses -------------------------------------------------------------------------------------


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


# --- webhook endpoints ----------------------------------------------------------------------


class WebhookEndpointCreateForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("merchant", "url", "event_types", "ordered")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            target_check(url)  # the service checks again; this only turns it into a form error
        except ApplicationError as exc:
            raise ValidationError(exc.detail) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = (
        "url",
        "merchant",
        "is_enabled",
        "ordered",
        "consecutive_failures",
        "circuit_open_until",
        "failing_since",
        "created_at",
    )
    list_filter = ("is_enabled", "merchant")
    list_select_related = ("merchant",)
    search_fields = ("=id", "url", "merchant__name")
    actions = ("rotate_secret", "disable", "enable")
    readonly_fields = (
        "id",
        "merchant",
        "url",
        "event_types",
        "ordered",
        "retry_schedule",
        "is_enabled",
        "disabled_reason",
        "consecutive_failures",
        "circuit_open_until",
        "failing_since",
        "created_at",
    )
    _new_secret: str | None = None

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = WebhookEndpointCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return () if obj is None else self.readonly_fields

    def get_fields(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return ("merchant", "url", "event_types", "ordered")
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disable instead: deliveries and history point at endpoints

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        if change:
            return
        endpoint, secret = webhook_endpoint_create(
            merchant=form.cleaned_data["merchant"],
            url=form.cleaned_data["url"],
            event_types=form.cleaned_data.get("event_types") or (),
            ordered=form.cleaned_data.get("ordered", True),
        )
        obj.pk = endpoint.pk
        obj.secret_encrypted = endpoint.secret_encrypted
        request._webhook_secret = secret  # type: ignore[attr-defined]  # for response_add only

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: Any = None
    ):
        secret = getattr(request, "_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return secret_page(
            self,
            request,
            title="Webhook endpoint created",
            note="the merchant's receiver verifies signatures with it (Standard Webhooks).",
            secrets=[(obj.url, secret)],
            continue_url=reverse("admin:outbox_webhookendpoint_change", args=[obj.pk]),
        )

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]):
        endpoints = list(queryset)

        def perform() -> HttpResponse:
            secrets = [(e.url, webhook_endpoint_rotate_secret(endpoint=e)) for e in endpoints]
            return secret_page(
                self,
                request,
                title="Signing secrets rotated",
                note="the old secrets stopped working; give the merchants the new ones.",
                secrets=secrets,
                continue_url=reverse("admin:outbox_webhookendpoint_changelist"),
            )

        return action_confirm(
            self,
            request,
            title="Rotate signing secrets: are you sure?",
            question="The current secrets stop working at once; receivers reject deliveries "
            "until they have the new secret.",
            counts=[("endpoints", len(endpoints))],
            will_change=len(endpoints),
            confirm_label=f"Yes, rotate {len(endpoints)}",
            perform=perform,
        )

    @admin.action(description="Disable (stop delivering to them)", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]):
        endpoints = list(queryset.filter(is_enabled=True))

        def perform() -> str:
            reason = f"disabled in the admin by {request.user.get_username()}"
            done = sum(webhook_endpoint_disable(endpoint_id=e.id, reason=reason) for e in endpoints)
            return f"Disabled {done} endpoints."

        return action_confirm(
            self,
            request,
            title="Disable endpoints: are you sure?",
            question="New events stop creating deliveries for disabled endpoints.",
            counts=[("enabled endpoints selected", len(endpoints))],
            will_change=len(endpoints),
            confirm_label=f"Yes, disable {len(endpoints)}",
            perform=perform,
        )

    @admin.action(description="Enable (and reset their failure state)", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]):
        for endpoint in queryset:
            webhook_endpoint_enable(endpoint=endpoint)
        self.message_user(request, f"Enabled {queryset.count()} endpoints.")
