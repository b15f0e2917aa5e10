"""The merchant integration API (CONTRACT, "Integration API"): one view per operation.

Each view checks its input with its own serializer, calls one service or selector with the
key's merchant (so every read and write is scoped to it), and answers through its own output
serializer. Errors are problem+json via ``core.problems``; the shared request fields and
the base view live in :mod:`integrations.fields`.

SHAPED: the hot operations (``POST code``, ``GET customers/{id}``, ``POST calculate``,
``POST purchases``) answer their payload (:mod:`loyalty.payloads`) as it is, without running
it through the output serializer, which then only declares the shape for the schema. The
payload builders already hold JSON-ready values (ids and times as strings, as the webhooks
carry them), so the serializer would return them unchanged; skipping it saved its per-request
field copies (issue 16). ``tests/integrations/test_output_shapes.py`` checks the identity on
real answers, so a payload that stops being JSON-ready fails there.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ValidationFailed
from core.idempotency import Idempotency
from core.openapi import problems
from integrations.fields import (
    CodeField,
    CustomerOutput,
    IdField,
    IntegrationApi,
    LineInput,
    PhoneField,
    QueryPhoneField,
    StrictCharField,
    StrictSerializer,
    amount_field,
    payload_serializer,
    points_field,
    validated,
)
from integrations.idempotency import idempotency_key_from, idempotent
from integrations.openapi import idempotency_key
from integrations.selectors import (
    EVENTS_PAGE_DEFAULT,
    EVENTS_PAGE_MAX,
    LEDGER_PAGE_DEFAULT,
    LEDGER_PAGE_MAX,
    event_page,
    ledger_page,
)
from loyalty.events import EventType
from loyalty.models import Customer, Purchase, Refund
from loyalty.payloads import (
    LedgerEntryPayload,
    PurchasePayload,
    QuotePayload,
    RefundResultPayload,
    customer_payload,
    ledger_entry_payload,
    purchase_payload,
    quote_payload,
    refund_result_payload,
)
from loyalty.selectors import customer_get, customer_get_by_phone
from loyalty.services import (
    CustomerTerms,
    customer_code_redeem,
    customer_register,
    purchase_calculate,
    purchase_commit,
    refund_create,
)

# --- customers -----------------------------------------------------------------------------


class CodeRedeemApi(IntegrationApi):
    """``POST code``: the customer behind a one-time code, consuming the code."""

    class CodeRedeemInput(StrictSerializer):
        """The code the customer shows."""

        code = CodeField()

    class CodeRedeemOutput(serializers.Serializer):
        """The customer behind the code."""

        customer = CustomerOutput()

    @extend_schema(
        operation_id="code_redeem",
        tags=["customers"],
        summary="Resolve a one-time customer code",
        description="Answers the customer behind the code the customer shows at the register, "
        "with their balance. The code is single use and expires after a few minutes; a second "
        "use answers 404.",
        parameters=[idempotency_key(required=False)],
        request=CodeRedeemInput,
        responses={200: CodeRedeemOutput, **problems(404, 409, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key_from(request, required=False)
        data = validated(self.CodeRedeemInput, request.data)

        def perform(idempotency: Idempotency[CustomerTerms] | None) -> CustomerTerms:
            return customer_code_redeem(
                merchant=request.auth.merchant, code=data["code"], idempotency=idempotency
            )

        def render(found: CustomerTerms) -> tuple[int, Any]:
            payload = customer_payload(found.customer, terms=found.terms)
            return 200, {"customer": payload}  # CodeRedeemOutput (see SHAPED)

        return idempotent(request, operation="POST code", key=key, render=render, perform=perform)


class CustomerGetApi(IntegrationApi):
    """``GET customers/{id}``."""

    @extend_schema(
        operation_id="customer_get",
        tags=["customers"],
        summary="Get a customer",
        responses={200: CustomerOutput, **problems(404)},
    )
    def get(self, request: Request, customer_id: Any) -> Response:
        customer = customer_get(merchant=request.auth.merchant, customer_id=customer_id)
        return Response(customer_payload(customer))  # CustomerOutput (see SHAPED)


class CustomerByPhoneApi(IntegrationApi):
    """``GET customers?phone=``: the customer with this phone."""

    class CustomerByPhoneQuery(StrictSerializer):
        """The phone to look up."""

        phone = QueryPhoneField(help_text="E.164, e.g. +79161234567 (URL-encoded: %2B79161234567).")

    @extend_schema(
        operation_id="customer_find_by_phone",
        tags=["customers"],
        summary="Find a customer by phone",
        description="Answers the customer object (not a list); 404 when no customer of this "
        "merchant has the phone.",
        parameters=[CustomerByPhoneQuery],
        responses={200: CustomerOutput, **problems(404)},
    )
    def get(self, request: Request) -> Response:
        query = validated(self.CustomerByPhoneQuery, request.query_params)
        customer = customer_get_by_phone(merchant=request.auth.merchant, phone=query["phone"])
        return Response(CustomerOutput(customer_payload(customer)).data)


class CustomerRegisterApi(IntegrationApi):
    """``POST customers``: register a customer by phone."""

    class CustomerRegisterInput(StrictSerializer):
        """A new customer."""

        phone = PhoneField(help_text="E.164, e.g. +79161234567.")
        name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="customer_register",
        tags=["customers"],
        summary="Register a customer",
        description="409 when the phone is registered already; the problem names the existing "
        "customer in `customer_id`.",
        parameters=[idempotency_key(required=False)],
        request=CustomerRegisterInput,
        responses={201: CustomerOutput, **problems(409, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key_from(request, required=False)
        data = validated(self.CustomerRegisterInput, request.data)

        def perform(idempotency: Idempotency[Customer] | None) -> Customer:
            return customer_register(
                merchant=request.auth.merchant,
                phone=data["phone"],
                name=data["name"],
                idempotency=idempotency,
            )

        def render(customer: Customer) -> tuple[int, Any]:
            return 201, CustomerOutput(customer_payload(customer)).data

        return idempotent(
            request, operation="POST customers", key=key, render=render, perform=perform
        )


# --- purchases -----------------------------------------------------------------------------


class PurchaseInput(StrictSerializer):
    """Fields shared by ``calculate`` and ``purchases`` (a register sends the same body)."""

    customer_id = IdField(required=False, help_text="The customer; or send `code` instead.")
    code = CodeField(
        required=False,
        help_text="A one-time customer code instead of customer_id; consumed by this call.",
    )
    amount_minor = amount_field(help_text="The purchase total in minor units.")
    redeem_points = points_field(default=0, help_text="Points to pay with (default 0).")
    order_id = StrictCharField(
        max_length=100, required=False, help_text="Your order number, unique per merchant."
    )
    outlet_id = IdField(required=False)
    device_id = IdField(required=False)
    manager_id = IdField(required=False)
    lines = LineInput(
        many=True,
        required=False,
        max_length=500,
        help_text="Optional lines adding up to amount_minor, to exclude some from earning or "
        "from being paid with points.",
    )

    exactly_one_of = (("customer_id", "code"),)


class PurchaseCalculateApi(IntegrationApi):
    """``POST calculate``: quote a purchase; writes nothing (except consuming a code)."""

    class PurchaseCalculateInput(PurchaseInput):
        """The purchase to quote: `customer_id` or `code`, and the amount."""

    PurchaseCalculateOutput = payload_serializer(QuotePayload, name="PurchaseCalculateOutput")

    @extend_schema(
        operation_id="purchase_calculate",
        tags=["purchases"],
        summary="Quote a purchase",
        description="Points to earn, the most points that may be redeemed and what is left to "
        "pay; nothing is written. Takes the same body as `POST purchases`; `order_id` and the "
        "place ids are accepted and not checked here. **A `code` is consumed by this call** (the "
        "first call that uses a code consumes it): continue with the answered `customer_id`. If "
        "the quote fails (e.g. 422), the code stays usable.",
        request=PurchaseCalculateInput,
        responses={200: PurchaseCalculateOutput, **problems(404, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.PurchaseCalculateInput, request.data)
        result = purchase_calculate(
            merchant=request.auth.merchant,
            customer_id=data.get("customer_id"),
            code=data.get("code"),
            amount_minor=data["amount_minor"],
            redeem_points=data["redeem_points"],
            lines=data.get("lines"),
        )
        body = quote_payload(customer=result.customer, quote=result.quote)
        return Response(body)  # PurchaseCalculateOutput (see SHAPED)


class PurchaseCommitApi(IntegrationApi):
    """``POST purchases``: commit a purchase (earn and/or redeem points)."""

    class PurchaseCommitInput(PurchaseInput):
        """The purchase to commit: `customer_id` or `code`, amount, order and place."""

        order_id = StrictCharField(
            max_length=100, help_text="Your order number; each can be committed once."
        )

        at_least_one_of = (("outlet_id", "device_id", "manager_id"),)

    PurchaseOutput = payload_serializer(PurchasePayload, name="PurchaseOutput")

    @extend_schema(
        operation_id="purchase_commit",
        tags=["purchases"],
        summary="Commit a purchase",
        description="Requires one of outlet_id, device_id, manager_id (each must be the "
        "merchant's own) and an Idempotency-Key. An order_id already committed answers 409 "
        "with its `purchase_id`. A `code` is consumed only if the purchase commits.",
        parameters=[idempotency_key(required=True)],
        request=PurchaseCommitInput,
        responses={201: PurchaseOutput, **problems(404, 409, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key_from(request, required=True)
        data = validated(self.PurchaseCommitInput, request.data)

        def perform(idempotency: Idempotency[Purchase] | None) -> Purchase:
            return purchase_commit(
                merchant=request.auth.merchant,
                customer_id=data.get("customer_id"),
                code=data.get("code"),
                amount_minor=data["amount_minor"],
                order_id=data["order_id"],
                redeem_points=data["redeem_points"],
                lines=data.get("lines"),
                outlet_id=data.get("outlet_id"),
                device_id=data.get("device_id"),
                manager_id=data.get("manager_id"),
                idempotency=idempotency,
            )

        def render(purchase: Purchase) -> tuple[int, Any]:
            payload = purchase_payload(purchase, balance_points=purchase.customer.balance_points)
            return 201, payload  # PurchaseOutput (see SHAPED)

        return idempotent(
            request, operation="POST purchases", key=key, render=render, perform=perform
        )


class RefundCreateApi(IntegrationApi):
    """``POST refunds``: refund all or part of a purchase."""

    class RefundCreateInput(StrictSerializer):
        """The purchase to refund (`purchase_id` or `order_id`) and how much."""

        purchase_id = IdField(required=False, help_text="The purchase; or send order_id.")
        order_id = StrictCharField(max_length=100, required=False)
        amount_minor = amount_field(
            required=False, help_text="Amount to refund; absent: the rest of the purchase."
        )

        exactly_one_of = (("purchase_id", "order_id"),)

    RefundOutput = payload_serializer(RefundResultPayload, name="RefundOutput")

    @extend_schema(
        operation_id="refund_create",
        tags=["purchases"],
        summary="Refund a purchase",
        description="Full (no amount_minor) or partial. Earned points are reversed and redeemed "
        "points returned in proportion to the refunded share. Requires an Idempotency-Key.",
        parameters=[idempotency_key(required=True)],
        request=RefundCreateInput,
        responses={201: RefundOutput, **problems(404, 409, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key_from(request, required=True)
        data = validated(self.RefundCreateInput, request.data)

        def perform(idempotency: Idempotency[Refund] | None) -> Refund:
            return refund_create(
                merchant=request.auth.merchant,
                purchase_id=data.get("purchase_id"),
                order_id=data.get("order_id"),
                amount_minor=data.get("amount_minor"),
                idempotency=idempotency,
            )

        def render(refund: Refund) -> tuple[int, Any]:
            return 201, self.RefundOutput(refund_result_payload(refund)).data

        return idempotent(
            request, operation="POST refunds", key=key, render=render, perform=perform
        )


# --- ledger --------------------------------------------------------------------------------


LedgerEntryOutput = payload_serializer(LedgerEntryPayload, name="LedgerEntryOutput")


class TransactionListApi(IntegrationApi):
    """``GET transactions?customer_id=``: the customer's ledger, newest first, by cursor."""

    class TransactionListQuery(StrictSerializer):
        """Whose ledger, and which page."""

        customer_id = IdField()
        limit = serializers.IntegerField(
            min_value=1,
            max_value=LEDGER_PAGE_MAX,
            default=LEDGER_PAGE_DEFAULT,
            help_text=f"Entries per page, 1 to {LEDGER_PAGE_MAX}.",
        )
        cursor = StrictCharField(
            max_length=200, required=False, help_text="The `next` of the previous page."
        )

    class TransactionListOutput(serializers.Serializer):
        """A page of ledger entries, newest first."""

        results = LedgerEntryOutput(many=True)
        next = serializers.CharField(
            allow_null=True, help_text="Cursor of the next (older) page; null on the last page."
        )

    @extend_schema(
        operation_id="transaction_list",
        tags=["customers"],
        summary="List a customer's ledger",
        parameters=[TransactionListQuery],
        responses={200: TransactionListOutput, **problems(404)},
    )
    def get(self, request: Request) -> Response:
        query = validated(self.TransactionListQuery, request.query_params)
        page = ledger_page(
            merchant=request.auth.merchant,
            customer_id=query["customer_id"],
            limit=query["limit"],
            cursor=query.get("cursor"),
        )
        body = {
            "results": [ledger_entry_payload(entry) for entry in page.entries],
            "next": page.next_cursor,
        }
        return Response(self.TransactionListOutput(body).data)


# --- the event feed ---------------------------------------------------------------------------

#: What the feed lists: the webhook event types (points.expiring_soon is Telegram only).
FEED_EVENT_TYPES = [t.value for t in EventType if t != EventType.POINTS_EXPIRING_SOON]


class EventOutput(serializers.Serializer):
    """One event: the webhook body, with the webhook's `webhook-id` as `id`."""

    id = serializers.CharField(help_text="The event's `msg_…` id: the webhook-id header.")
    type = serializers.ChoiceField(choices=FEED_EVENT_TYPES, help_text="The event type.")
    timestamp = serializers.CharField(help_text="When the event happened (ISO 8601).")
    data = serializers.DictField(
        help_text="The object, as in the webhook (see the schema's `webhooks`)."
    )


class EventListApi(IntegrationApi):
    """``GET events?after=&type=``: the merchant's webhook events, oldest first, by cursor."""

    class EventListQuery(StrictSerializer):
        """Where to continue, which type, and how many."""

        after = StrictCharField(
            max_length=200,
            required=False,
            help_text="The `next` of the previous page; omit it for the oldest events kept.",
        )
        type = serializers.ChoiceField(
            choices=FEED_EVENT_TYPES, required=False, help_text="Only events of this type."
        )
        limit = serializers.IntegerField(
            min_value=1,
            max_value=EVENTS_PAGE_MAX,
            default=EVENTS_PAGE_DEFAULT,
            help_text=f"Events per page, 1 to {EVENTS_PAGE_MAX}.",
        )

    class EventListOutput(serializers.Serializer):
        """A page of events, oldest first."""

        results = EventOutput(many=True)
        next = serializers.CharField(
            allow_null=True,
            help_text="Pass as `after` for the following events; null only before any event. "
            "Polling with it later returns only newer events.",
        )
        done = serializers.BooleanField(help_text="True when this page reached the newest event.")

    @extend_schema(
        operation_id="event_list",
        tags=["events"],
        summary="List the merchant's events (the webhooks, for polling or catching up)",
        description="The same events, ids (`webhook-id`) and payloads the webhooks carry, oldest "
        "first, for merchants whose endpoint missed messages or cannot receive them. Events are "
        "kept as long as the outbox keeps them (`OUTBOX_RETENTION_DAYS`, 14 days by default).",
        parameters=[EventListQuery],
        responses={200: EventListOutput, **problems()},
    )
    def get(self, request: Request) -> Response:
        # A parameter sent empty (`?type=`) is refused, not read as absent (which DRF's
        # form-style parsing of query strings would do).
        blank = {
            name: ["Send a value, or leave the parameter out."]
            for name, value in request.query_params.items()
            if name in self.EventListQuery().fields and not value.strip()
        }
        if blank:
            raise ValidationFailed(f"Empty parameter: {', '.join(blank)}.", errors=blank)
        query = validated(self.EventListQuery, request.query_params)
        page = event_page(
            merchant=request.auth.merchant,
            event_types=FEED_EVENT_TYPES,
            after=query.get("after"),
            event_type=query.get("type"),
            limit=query["limit"],
        )
        body = {"results": page.results, "next": page.next_cursor, "done": page.done}
        return Response(self.EventListOutput(body).data)
