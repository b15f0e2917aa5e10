"""Admin views of the customer bot's inbound updates and pending links (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from notifications.models import TelegramLinkRequest, TelegramUpdate


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the bot's services: operators look, they do not edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TelegramUpdate)
class TelegramUpdateAdmin(ReadOnlyAdmin):
    list_display = ("update_id", "chat_id", "received_at", "processed_at", "attempts", "error")
    list_filter = (("processed_at", admin.EmptyFieldListFilter),)
    search_fields = ("=update_id", "=chat_id")
    ordering = ("-update_id",)


@admin.register(TelegramLinkRequest)
class TelegramLinkRequestAdmin(ReadOnlyAdmin):
    list_display = ("chat_id", "merchant", "user_id", "created_at")
    search_fields = ("=chat_id",)
