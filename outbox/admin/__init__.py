"""Outbox in the admin: events, deliveries with their attempts, pauses, webhook endpoints.

Every change goes through :mod:`outbox.services` (retry now, replay, cancel, pause, resume,
endpoint create/rotate/enable/disable); bulk actions show a confirmation page with counts first.
One module per admin; importing them here is what registers them when Django's admin
autodiscovery imports ``outbox.admin``.
"""

from outbox.admin import deliveries, endpoints, events, pauses

__all__ = ["deliveries", "endpoints", "events", "pauses"]
