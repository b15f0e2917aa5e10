"""Routes of the integration API, mounted at ``/api/integrations/v1/`` (paths from CONTRACT)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

from core.problems import problem_response
from integrations import apis
from integrations.fields import IntegrationApi


def by_method(name: str, **views: type[IntegrationApi]) -> Callable[..., HttpResponse]:
    """One URL served by one view per operation, chosen by HTTP method.

    CONTRACT puts two operations on ``customers`` (GET finds by phone, POST registers). The
    schema generator sees a class combining the views' handlers, so each keeps its own schema.
    """
    handlers = {method.upper(): view.as_view() for method, view in views.items()}
    if "GET" in handlers:
        handlers.setdefault("HEAD", handlers["GET"])
    allowed = ", ".join(handlers)

    def dispatch(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        handler = handlers.get(request.method or "")
        if handler is None:
            return problem_response(
                status_code=405,
                slug="method-not-allowed",
                title="Method not allowed",
                detail=f'Method "{request.method}" not allowed. Use one of: {allowed}.',
                headers={"Allow": allowed},
            )
        return handler(request, *args, **kwargs)

    dispatch.cls = type(name, tuple(views.values()), {"__doc__": f"{name}: {allowed}"})  # type: ignore[attr-defined]
    dispatch.initkwargs = {}  # type: ignore[attr-defined]
    # The operations' views do their own CSRF exemption (API keys, no cookies).
    dispatch.csrf_exempt = True  # type: ignore[attr-defined]
    return dispatch


urlpatterns = [
    path("code", apis.CodeRedeemApi.as_view(), name="integrations-code"),
    path(
        "customers",
        by_method("CustomersApi", get=apis.CustomerByPhoneApi, post=apis.CustomerRegisterApi),
        name="integrations-customers",
    ),
    path(
        "customers/<uuid:customer_id>", apis.CustomerGetApi.as_view(), name="integrations-customer"
    ),
    path("calculate", apis.PurchaseCalculateApi.as_view(), name="integrations-calculate"),
    path("purchases", apis.PurchaseCommitApi.as_view(), name="integrations-purchases"),
    path("refunds", apis.RefundCreateApi.as_view(), name="integrations-refunds"),
    path("transactions", apis.TransactionListApi.as_view(), name="integrations-transactions"),
    path("events", apis.EventListApi.as_view(), name="integrations-events"),
]
