"""Merchant staff who sign in to the portal, and their refresh tokens."""

from __future__ import annotations

import uuid

from django.db import models

from loyalty.models import Merchant


class StaffUser(models.Model):
    """A merchant's employee with portal access; the password is stored as a Django hash."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="staff")
    email = models.EmailField(unique=True)
    password_hash = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.email


class RefreshToken(models.Model):
    """One issued refresh token (by its ``jti``); rotation revokes the previous one."""

    jti = models.UUIDField(primary_key=True)
    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="refresh_tokens")
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"refresh token {self.jti}"
