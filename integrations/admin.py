"""API keys in the admin: issue (shown once), revoke, rotate. Only hashes are ever stored."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from core.admin_blocks import action_confirm, secret_page
from integrations.models import ApiKey
from integrations.services import SCOPES, api_key_issue, api_key_revoke, api_key_rotate


class ApiKeyIssueForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES],
        initial=list(SCOPES),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiKey
        fields = ("merchant", "name", "scopes")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "merchant",
        "masked",
        "scopes",
        "state",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("merchant", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("merchant",)
    search_fields = ("=prefix", "name", "merchant__name")
    search_help_text = "Key prefix (the part after lk_), name or merchant."
    actions = ("revoke", "rotate")
    readonly_fields = (
        "id",
        "merchant",
        "name",
        "masked",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = ApiKeyIssueForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None):
        return ("merchant", "name", "scopes") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return () if obj is None else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row tells who used what and when

    @admin.display(description="key")
    def masked(self, obj: ApiKey) -> str:
        return f"lk_{obj.prefix}_…"

    @admin.display(description="state")
    def state(self, obj: ApiKey) -> str:
        if obj.revoked_at:
            return "revoked"
        return "expiring (rotated)" if obj.expires_at else "active"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return
        issued = api_key_issue(
            merchant=form.cleaned_data["merchant"],
            name=form.cleaned_data["name"],
            scopes=tuple(form.cleaned_data["scopes"]),
        )
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        request._api_key_plaintext = issued.plaintext  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None):
        plaintext = getattr(request, "_api_key_plaintext", None)
        if plaintext is None:
            return super().response_add(request, obj, post_url_continue)
        return secret_page(
            self,
            request,
            title="API key issued",
            note="the merchant's register sends it as Authorization: Bearer <key>.",
            secrets=[(f"{obj.merchant} / {obj.name}", plaintext)],
            continue_url=reverse("admin:integrations_apikey_changelist"),
        )

    @admin.action(description="Revoke (stop working at once)", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]):
        live = list(queryset.filter(revoked_at=None))

        def perform() -> str:
            for key in live:
                api_key_revoke(api_key=key)
            return f"Revoked {len(live)} API keys."

        return action_confirm(
            self,
            request,
            title="Revoke API keys: are you sure?",
            question="Registers using these keys get 401 from the next request on.",
            counts=[("keys selected", queryset.count()), ("live: will revoke", len(live))],
            will_change=len(live),
            confirm_label=f"Yes, revoke {len(live)}",
            perform=perform,
        )

    @admin.action(description="Rotate (new key; the old works 24 h more)", permissions=["change"])
    def rotate(self, request: HttpRequest, queryset: QuerySet[ApiKey]):
        live = list(queryset.filter(revoked_at=None).select_related("merchant"))

        def perform() -> HttpResponse:
            issued = [(key, api_key_rotate(api_key=key)) for key in live]
            return secret_page(
                self,
                request,
                title="API keys rotated",
                note="the old keys keep working for 24 hours, then stop.",
                secrets=[(f"{old.merchant} / {old.name}", new.plaintext) for old, new in issued],
                continue_url=reverse("admin:integrations_apikey_changelist"),
            )

        return action_confirm(
            self,
            request,
            title="Rotate API keys: are you sure?",
            question="Each key gets a successor shown once; the old key stops after 24 hours.",
            counts=[("keys selected", queryset.count()), ("not revoked: will rotate", len(live))],
            will_change=len(live),
            confirm_label=f"Yes, rotate {len(live)}",
            perform=perform,
        )
