"""Loyalty in the admin: merchants and their places and people (editable reference data);
customers, purchases, refunds and the ledger read-only (balances change only through services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.admin_blocks import ChangedFieldsAdmin, ReadOnlyAdmin
from core.errors import ApplicationError
from loyalty.models import (
    Customer,
    Device,
    LedgerEntry,
    Manager,
    Merchant,
    Outlet,
    Purchase,
    Refund,
)
from loyalty.services import merchant_create, points_adjust


class PointsCorrectForm(forms.Form):
    points = forms.IntegerField(help_text="Points to add (e.g. 100) or remove (e.g. -50).")
    reason = forms.CharField(max_length=200, help_text="Who asked and why (kept in the ledger).")


class MerchantCreateForm(forms.ModelForm):
    class Meta:
        model = Merchant
        fields = ("name",)


@admin.register(Merchant)
class MerchantAdmin(ChangedFieldsAdmin):
    list_display = ("name", "id", "is_active", "telegram_chat_id", "created_at")
    list_filter = ("is_active",)
    search_fields = ("=id", "name")
    readonly_fields = ("id", "telegram_start_payload", "created_at")
    fields = ("id", "name", "is_active", "telegram_chat_id", "telegram_start_payload", "created_at")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = MerchantCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None):
        return ("name",) if obj is None else self.fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: a merchant's ledger must survive

    def save_model(self, request: HttpRequest, obj: Merchant, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # With its program, first outlet, register and manager, like create_merchant.
        setup = merchant_create(name=form.cleaned_data["name"])
        obj.pk = setup.merchant.pk
        obj.created_at = setup.merchant.created_at


class SameMerchantForm(forms.ModelForm):
    """The outlet picked must belong to the row's merchant."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        outlet, merchant = data.get("outlet"), data.get("merchant")
        if outlet is not None and merchant is not None and outlet.merchant_id != merchant.pk:
            self.add_error("outlet", "This outlet belongs to another merchant.")
        return data


@admin.register(Outlet)
class OutletAdmin(ChangedFieldsAdmin):
    list_display = ("name", "merchant", "id")
    list_filter = ("merchant",)
    list_select_related = ("merchant",)
    search_fields = ("=id", "name", "merchant__name")


@admin.register(Device)
class DeviceAdmin(ChangedFieldsAdmin):
    form = SameMerchantForm
    list_display = ("name", "merchant", "outlet", "id")
    list_filter = ("merchant",)
    list_select_related = ("merchant", "outlet")
    search_fields = ("=id", "name", "merchant__name")


@admin.register(Manager)
class ManagerAdmin(ChangedFieldsAdmin):
    form = SameMerchantForm
    list_display = ("name", "merchant", "outlet", "id")
    list_filter = ("merchant",)
    list_select_related = ("merchant", "outlet")
    search_fields = ("=id", "name", "merchant__name")


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = (
        "phone",
        "name",
        "merchant",
        "balance_points",
        "pending_points",
        "telegram_status",
        "created_at",
    )
    list_filter = ("merchant", "telegram_status")
    list_select_related = ("merchant",)
    search_fields = ("=id", "=phone", "name")
    search_help_text = "Customer id, exact phone (+7…) or name."
    show_full_result_count = False
    actions = ["points_correct"]

    @admin.action(description="Correct points (one customer)…")
    def points_correct(self, request: HttpRequest, queryset: QuerySet[Customer]) -> Any:
        """Runbook 003's manual balance fix through points_adjust (a ledger adjustment entry,
        the cached balance under the customer's lock, a points.adjusted event)."""
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one customer.", messages.ERROR)
            return None
        customer = queryset.select_related("merchant").get()
        form = PointsCorrectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                entry = points_adjust(
                    merchant=customer.merchant,
                    customer_id=customer.id,
                    points=form.cleaned_data["points"],
                    reason=f"{form.cleaned_data['reason']} (admin: {request.user})",
                )
            except ApplicationError as exc:
                form.add_error(None, str(exc))
            else:
                customer.refresh_from_db(fields=["balance_points"])
                self.message_user(
                    request,
                    f"{entry.points:+d} points for {customer}; balance {customer.balance_points}.",
                    messages.SUCCESS,
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Correct points",
            "customer": customer,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/loyalty/points_correct.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "customer",
        "merchant",
        "kind",
        "points",
        "pending_points",
        "balance_after",
        "reason",
    )
    list_filter = ("kind", "merchant", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("customer", "merchant")
    search_fields = ("=customer__id", "=customer__phone")
    search_help_text = "Customer id or exact phone."
    show_full_result_count = False
    ordering = ("-id",)


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = (
        "order_id",
        "merchant",
        "customer",
        "amount_minor",
        "earned_points",
        "redeemed_points",
        "refunded_minor",
        "created_at",
    )
    list_filter = ("merchant", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("merchant", "customer")
    search_fields = ("=id", "=order_id", "=customer__phone")
    show_full_result_count = False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "purchase",
        "merchant",
        "amount_minor",
        "earned_points_reversed",
        "redeemed_points_returned",
        "created_at",
    )
    list_filter = ("merchant",)
    list_select_related = ("merchant", "purchase")
    search_fields = ("=id", "=purchase__order_id")
    show_full_result_count = False
