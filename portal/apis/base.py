"""What every portal API view shares: strict bodies, cursors, the two base views."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed
from core.problems import problem_response
from portal.authentication import IsPortalStaff, PortalAccessAuthentication
from portal.errors import LoginThrottled
from portal.models import StaffUser


class Strict(serializers.Serializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field; remove it."] for name in sorted(unknown)}
            )
        return attrs


def cursor_param(name: str = "cursor") -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, description="`next` of the previous page.")


def int_cursor(request: Request) -> int | None:
    raw = request.query_params.get("cursor")
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValidationFailed(
            "cursor must be the `next` of a previous page.",
            errors={"cursor": ["Send the `next` value back unchanged."]},
        )
    return int(raw)


class PublicPortalApi(APIView):
    """Sign-in endpoints: no token; a throttled sign-in answers 429 with ``Retry-After``."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, LoginThrottled):
            response = problem_response(
                status_code=429,
                slug=exc.slug,
                title=exc.title,
                detail=exc.detail,
                headers={"Retry-After": str(exc.retry_after)},
                retry_after=exc.retry_after,
            )
            return response  # type: ignore[return-value]
        return super().handle_exception(exc)


class PortalApi(APIView):
    """A signed-in endpoint; writes need the owner or manager role unless ``write_roles``."""

    authentication_classes = [PortalAccessAuthentication]
    permission_classes = [IsPortalStaff]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # An undeclared method is 405 before credentials are looked at (DRF checks them first).
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    @property
    def staff(self) -> StaffUser:
        user = self.request.user
        assert isinstance(user, StaffUser)
        return user


class PageOut(serializers.Serializer):
    """One page of a list: its rows and the cursor of the next page (``null`` at the end)."""

    results = serializers.ListField(child=serializers.DictField())
    next = serializers.CharField(allow_null=True)
