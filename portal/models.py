"""Merchant staff who sign in to the portal, their sign-in sessions and refresh tokens, and the
audit trail of everything they do."""

from __future__ import annotations

import uuid

from django.db import models

from loyalty.models import Merchant


class StaffRole(models.TextChoices):
    """What a member of staff may do: owners also manage staff and API keys; viewers only read."""

    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"


class StaffUser(models.Model):
    """A merchant's employee with portal access; the password is stored as a Django hash."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="staff")
    email = models.EmailField(unique=True)
    password_hash = models.CharField(max_length=200)
    role = models.CharField(max_length=10, choices=StaffRole.choices, default=StaffRole.OWNER)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.email


class PortalSession(models.Model):
    """One sign-in: the family of refresh tokens rotated from one login.

    Access tokens carry the session id (``sid``), so revoking the session (logout, detected
    refresh-token reuse, password change) ends the access tokens at once, not at their expiry.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    #: Why it ended: ``logout``, ``reuse`` (a rotated refresh token came back), ``password``.
    revoked_reason = models.CharField(max_length=20, blank=True, default="")

    def __str__(self) -> str:
        return f"portal session {self.id}"


class RefreshToken(models.Model):
    """One issued refresh token (by its ``jti``); rotation revokes the previous one."""

    jti = models.UUIDField(primary_key=True)
    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="refresh_tokens")
    session = models.ForeignKey(
        PortalSession, on_delete=models.CASCADE, related_name="refresh_tokens", null=True
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"refresh token {self.jti}"


class AuditEntry(models.Model):
    """Who did what, when, to which object: one row per portal action, never updated."""

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        StaffUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    #: The email at the time, kept when the user row is gone.
    actor = models.CharField(max_length=254)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["merchant", "-id"], name="portal_audit_recent_idx")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type} {self.object_id}"


class IdempotencyRecord(models.Model):
    """A portal write guarded by an Idempotency-Key, per merchant (the portal's own table, so a
    key can never collide with an integration API key's).

    ``running`` while the first request holds the claim (until ``lease_expires_at``); ``done``
    with the stored answer once the write committed (in the write's own transaction).
    """

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="portal_idem_key_per_merchant")
        ]

    def __str__(self) -> str:
        return f"idempotency {self.key}"


class EndpointAlert(models.Model):
    """What a merchant wants to hear in their Telegram chat about one of their endpoints.

    Two conditions, each optional: the endpoint has been failing (``failing_since``) for at least
    ``failing_minutes``; it has dead deliveries. Each alerts once, then stays quiet until it
    clears (the endpoint succeeds again; no dead delivery is left): ``*_alerted_at`` is that
    cooldown state, set when the alert is recorded and emptied when the condition clears."""

    endpoint = models.OneToOneField(
        "outbox.WebhookEndpoint", on_delete=models.CASCADE, related_name="+"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    #: The portal language of whoever set the alert: the message is written in it.
    language = models.CharField(max_length=10, blank=True, default="")
    #: Empty: no "failing" alert.
    failing_minutes = models.PositiveIntegerField(null=True, blank=True)
    on_dead = models.BooleanField(default=False)
    failing_alerted_at = models.DateTimeField(null=True, blank=True)
    dead_alerted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"alert on {self.endpoint_id}"
