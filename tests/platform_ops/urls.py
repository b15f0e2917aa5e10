"""The real URLs plus a few views the operations tests need (a failing one, a slow one, and one
that records an outbox event inside a request)."""

from __future__ import annotations

import time

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as real_urlpatterns
from loyalty.models import Merchant
from loyalty.services import customer_register


def boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("boom (test)")


def slow(request: HttpRequest) -> JsonResponse:
    time.sleep(float(request.GET.get("s", "0.1")))
    return JsonResponse({"ok": True})


@csrf_exempt
def register(request: HttpRequest) -> JsonResponse:
    merchant = Merchant.objects.get(id=request.GET["merchant"])
    customer = customer_register(merchant=merchant, phone=request.GET["phone"], name="Req")
    return JsonResponse({"id": str(customer.id)}, status=201)


urlpatterns = [
    path("test/boom", boom),
    path("test/slow", slow),
    path("test/register", register),
    *real_urlpatterns,
]
