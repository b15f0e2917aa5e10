"""Program settings: earn rate, redeem cap, point value, tiers, delays."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.openapi import problems
from loyalty.selectors import program_for
from portal.apis.base import PortalApi, Strict
from portal.services.program import program_settings, program_settings_update


class TierIn(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    min_lifetime_spend_minor = serializers.IntegerField(min_value=0, max_value=10**12)
    earn_bps = serializers.IntegerField(min_value=0, max_value=10_000)

    def to_internal_value(self, data: Any) -> Any:
        # A nested serializer has no initial_data of its own: refuse unknown keys here.
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field; remove it."] for name in sorted(unknown)}
                )
        return super().to_internal_value(data)


class ProgramIn(Strict):
    earn_bps = serializers.IntegerField(min_value=0, max_value=10_000)
    redeem_cap_bps = serializers.IntegerField(min_value=0, max_value=10_000)
    minor_per_point = serializers.IntegerField(min_value=1, max_value=1_000_000)
    expiry_days = serializers.IntegerField(min_value=1, max_value=3650, allow_null=True)
    credit_delay_days = serializers.IntegerField(min_value=0, max_value=365)
    tiers = TierIn(many=True, required=False, help_text="Absent: the tiers stay as they are.")


class PortalProgramApi(PortalApi):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="The program's rules: earn rate and redeem cap (basis points), "
        "point value (minor units), expiry and credit delay (days), tiers.",
    )
    def get(self, request: Request) -> Response:
        return Response(program_settings(program_for(self.staff.merchant)))

    @extend_schema(
        request=ProgramIn,
        responses={200: OpenApiTypes.OBJECT, **problems()},
        tags=["portal"],
        description="Replace the rules (owners and managers); "
        "effective for the next purchase; audited with before and after.",
    )
    def put(self, request: Request) -> Response:
        data = ProgramIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        tiers = values.pop("tiers", None)
        return Response(
            program_settings_update(
                by=self.staff,
                values=values,
                tiers=[dict(t) for t in tiers] if tiers is not None else None,
            )
        )
