"""The portal's single page: signs in through the portal API and shows the overview."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def portal_home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html")
