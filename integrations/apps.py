from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _api_keys_changed(sender: Any, **kwargs: Any) -> None:
    """A key or a merchant saved or deleted: drop the cached key rows (see api_key_cache)."""
    from integrations.services import api_key_cache

    api_key_cache.invalidate()


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integration API"

    def ready(self) -> None:
        from integrations.models import ApiKey
        from loyalty.models import Merchant

        for model in (ApiKey, Merchant):
            post_save.connect(_api_keys_changed, sender=model, dispatch_uid=f"api-keys-{model}")
            post_delete.connect(_api_keys_changed, sender=model, dispatch_uid=f"api-keys-{model}")
