"""Operations state kept in the database: site-mode switches (with their history) and alerts."""

from __future__ import annotations

from django.db import models


class SiteMode(models.TextChoices):
    MAINTENANCE = "maintenance", "Maintenance (everything but operations and admin gets 503)"
    READ_ONLY = "read_only", "Read-only (only GET/HEAD/OPTIONS pass)"


class SiteModeChange(models.Model):
    """One flip of an admin switch. The newest row per mode is the switch's state; rows are
    never updated, so the table is the audit trail (who, when, why)."""

    mode = models.CharField(max_length=20, choices=SiteMode.choices)
    enabled = models.BooleanField()
    reason = models.CharField(max_length=300)
    changed_by = models.CharField(max_length=150)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["mode", "-id"], name="sitemode_latest_idx")]

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.mode} {state} by {self.changed_by}: {self.reason}"


class Alert(models.Model):
    """An operator alert sent (or attempted) to the alerts Telegram chat.

    Alerts with the same ``fingerprint`` inside the cooldown are not sent again; they only bump
    ``suppressed`` on the row that was sent.
    """

    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=40)
    message = models.TextField()
    value = models.FloatField()
    threshold = models.FloatField()
    sent_at = models.DateTimeField(auto_now_add=True)
    delivered = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True, default="")
    suppressed = models.PositiveIntegerField(
        default=0, help_text="Repeats inside the cooldown that were not sent."
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["fingerprint", "-sent_at"], name="alert_fingerprint_idx")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.sent_at:%Y-%m-%d %H:%M}"
