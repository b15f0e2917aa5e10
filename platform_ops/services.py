"""Operations writes: the admin's site-mode switches."""

from __future__ import annotations

import logging

from django.db import transaction

from core.errors import ValidationFailed
from platform_ops.models import SiteMode, SiteModeChange
from platform_ops.selectors import site_modes_forget

logger = logging.getLogger(__name__)


def site_mode_set(*, mode: str, enabled: bool, reason: str, actor: str) -> SiteModeChange:
    """Flip an admin switch; the row is the audit record. Takes effect in every process within
    a few seconds (the cached state is dropped on commit, processes keep theirs ~2 s)."""
    if mode not in SiteMode.values:
        raise ValidationFailed(f"mode must be one of {', '.join(SiteMode.values)}.")
    if not reason or not reason.strip():
        raise ValidationFailed("A reason is required.", errors={"reason": ["Say why."]})
    # Plain atomic (not durable): the admin calls this inside its own transaction.
    with transaction.atomic():
        change = SiteModeChange.objects.create(
            mode=mode, enabled=enabled, reason=reason.strip()[:300], changed_by=actor[:150]
        )
        transaction.on_commit(site_modes_forget)
    logger.warning(
        "site mode %s switched %s",
        mode,
        "on" if enabled else "off",
        extra={"mode": mode, "enabled": enabled, "actor": actor, "reason": change.reason},
    )
    return change
