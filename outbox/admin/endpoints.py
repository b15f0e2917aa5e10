"""Webhook endpoints in the admin: created through the service (the signing secret is shown
once), rotated, disabled and enabled with a confirmation; never deleted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from core.admin_blocks import action_confirm, secret_page
from core.errors import ApplicationError
from outbox.models import EventType, WebhookEndpoint
from outbox.services import (
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
)
from outbox.ssrf import target_check


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
            # Immediate, as before: an operator rotates for a leak; merchants choose an overlap.
            secrets = [
                (e.url, webhook_endpoint_rotate_secret(endpoint=e, overlap=timedelta(0)))
                for e in endpoints
            ]
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
