"""Operations pages served at the site root: the landing page (``/``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    """``/`` (also the admin's "View site"): where to go next."""
    return render(request, "platform_ops/landing.html")
