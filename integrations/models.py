"""API keys of merchants' registers and the idempotency records of their writes."""

from __future__ import annotations

import uuid

from django.db import models

from loyalty.models import Merchant


class ApiKey(models.Model):
    """A merchant's integration key: ``lk_live_<prefix>_<secret>``; only a hash is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    #: Public part, used to find the row; the secret is compared by hash in constant time.
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    #: When set, the key stops working at this time (rotation overlap window).
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} (lk_{self.prefix}_…)"


class IdempotencyRecord(models.Model):
    """The first response to a write with an Idempotency-Key, kept 24 h."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    route = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_per_merchant")
        ]

    def __str__(self) -> str:
        return f"{self.route} {self.key}"
