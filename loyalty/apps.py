from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _places_changed(sender: Any, **kwargs: Any) -> None:
    """An outlet, device or manager saved or deleted: drop the cached places (see place_cache)."""
    from loyalty.services.purchases import place_cache

    place_cache.invalidate()


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty"

    def ready(self) -> None:
        from loyalty.models import Device, Manager, Outlet

        for model in (Outlet, Device, Manager):
            uid = f"places-{model.__name__}"
            post_save.connect(_places_changed, sender=model, dispatch_uid=uid)
            post_delete.connect(_places_changed, sender=model, dispatch_uid=uid)
