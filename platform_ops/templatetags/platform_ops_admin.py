"""Admin template tags: the site-modes banner shown on every admin page."""

from __future__ import annotations

from typing import Any

from django import template

from core.schema import schema_state
from platform_ops.selectors import site_modes_current

register = template.Library()


@register.inclusion_tag("admin/platform_ops/site_modes_banner.html")
def site_modes_banner() -> dict[str, Any]:
    # The schema state as the middleware last saw it: no database query from a template.
    return {"modes": site_modes_current(), "schema_missing": schema_state.missing or []}


@register.simple_tag
def operations_panel() -> dict[str, Any]:
    """The admin index's operations panel (per-minute rollups, pauses, modes)."""
    from platform_ops.rollups import operations_panel as panel

    return panel()
