"""POST calculate, POST purchases, POST refunds, GET transactions."""

from __future__ import annotations

import uuid

import pytest

from loyalty.models import CustomerCode, LedgerEntry, Purchase, Refund
from loyalty.services import customer_code_issue, purchase_commit
from tests.factories import make_customer
from tests.integrations.api_client import assert_problem, get, post, purchase_body

pytestmark = pytest.mark.django_db

PURCHASE_FIELDS = {
    "id",
    "order_id",
    "customer_id",
    "amount_minor",
    "earned_points",
    "redeemed_points",
    "balance_points",
}
QUOTE_FIELDS = {
    "amount_minor",
    "redeem_points",
    "redeemed_minor",
    "payable_minor",
    "max_redeem_points",
    "earn_points",
    "tier",
    "balance_points",
    "customer_id",
}


def idem() -> str:
    return str(uuid.uuid4())


# --- POST calculate --------------------------------------------------------------------------


def test_calculate_quotes_and_writes_nothing(api, rich_customer):
    entries = LedgerEntry.objects.count()
    response = post(
        api,
        "calculate",
        {"customer_id": str(rich_customer.id), "amount_minor": 100_00, "redeem_points": 20},
    )
    assert response.status_code == 200
    quote = response.json()
    assert set(quote) >= QUOTE_FIELDS
    assert quote["redeemed_minor"] == 20_00 and quote["payable_minor"] == 80_00
    assert quote["max_redeem_points"] == 50  # 50 % cap of 100.00
    assert quote["earn_points"] == 4  # 5 % of the 80.00 paid in money
    assert quote["balance_points"] == 1000 and quote["customer_id"] == str(rich_customer.id)
    assert Purchase.objects.count() == 0 and LedgerEntry.objects.count() == entries


def test_calculate_with_lines_that_do_not_earn_or_redeem(api, rich_customer):
    lines = [
        {"sku": "coffee", "amount_minor": 60_00},
        {"sku": "tobacco", "amount_minor": 40_00, "earns": False, "redeemable": False},
    ]
    body = {"customer_id": str(rich_customer.id), "amount_minor": 100_00, "lines": lines}
    quote = post(api, "calculate", body).json()
    assert quote["max_redeem_points"] == 30 and quote["earn_points"] == 3


def test_calculate_with_a_code_consumes_it_and_answers_the_customer_id(api, rich_customer):
    code = customer_code_issue(customer=rich_customer)
    quote = post(api, "calculate", {"code": code, "amount_minor": 100_00}).json()
    assert quote["customer_id"] == str(rich_customer.id)
    assert_problem(
        post(api, "calculate", {"code": code, "amount_minor": 100_00}), 404, "code-invalid"
    )


def test_a_failed_calculate_leaves_the_code_usable(api, customer):
    code = customer_code_issue(customer=customer)
    problem = assert_problem(
        post(api, "calculate", {"code": code, "amount_minor": 100_00, "redeem_points": 5}),
        422,
        "insufficient-points",
    )
    assert problem["errors"]["redeem_points"] and problem["balance_points"] == 0
    assert CustomerCode.objects.get().used_at is None
    assert post(api, "code", {"code": code}).status_code == 200


def test_calculate_over_the_redeem_cap_is_422(api, rich_customer):
    body = {"customer_id": str(rich_customer.id), "amount_minor": 100_00, "redeem_points": 51}
    problem = assert_problem(post(api, "calculate", body), 422, "redeem-cap-exceeded")
    assert problem["max_redeem_points"] == 50


def test_calculate_for_another_merchants_customer_is_404(other_api, customer):
    assert_problem(
        post(other_api, "calculate", {"customer_id": str(customer.id), "amount_minor": 100}), 404
    )


def test_calculate_needs_exactly_one_of_customer_id_and_code(api, customer):
    for body in (
        {"amount_minor": 100},
        {"customer_id": str(customer.id), "code": "123456789", "amount_minor": 100},
    ):
        problem = assert_problem(post(api, "calculate", body), 400, "validation-error")
        assert {"customer_id", "code"} <= set(problem["errors"])


def test_calculate_lines_must_add_up(api, customer):
    body = {"customer_id": str(customer.id), "amount_minor": 100, "lines": [{"amount_minor": 99}]}
    assert "lines" in assert_problem(post(api, "calculate", body), 400)["errors"]


# --- POST purchases --------------------------------------------------------------------------


def test_commit_purchase(api, setup, rich_customer):
    body = purchase_body(setup, rich_customer, redeem_points=20)
    response = post(api, "purchases", body, key=idem())
    assert response.status_code == 201, response.content
    purchase = response.json()
    assert set(purchase) >= PURCHASE_FIELDS
    assert purchase["order_id"] == body["order_id"] and purchase["amount_minor"] == 100_00
    assert purchase["redeemed_points"] == 20 and purchase["earned_points"] == 4
    assert purchase["balance_points"] == 1000 - 20 + 4
    assert purchase["outlet_id"] == str(setup.outlet.id)
    assert Purchase.objects.get().id == uuid.UUID(purchase["id"])


@pytest.mark.parametrize("place", ["device_id", "manager_id"])
def test_commit_by_device_or_manager(api, setup, customer, place):
    body = purchase_body(
        setup, customer, outlet_id=None, **{place: str(getattr(setup, place[:-3]).id)}
    )
    response = post(api, "purchases", body, key=idem())
    assert response.status_code == 201, response.content
    assert response.json()[place] == body[place]


def test_commit_with_a_code_consumes_it(api, setup, customer):
    code = customer_code_issue(customer=customer)
    body = purchase_body(setup, customer, customer_id=None, code=code)
    assert post(api, "purchases", body, key=idem()).json()["customer_id"] == str(customer.id)
    assert_problem(
        post(api, "purchases", {**body, "order_id": "next"}, key=idem()), 404, "code-invalid"
    )


def test_commit_needs_a_place(api, setup, customer):
    body = purchase_body(setup, customer, outlet_id=None)
    problem = assert_problem(post(api, "purchases", body, key=idem()), 400, "validation-error")
    assert "outlet_id" in problem["errors"]


def test_commit_refuses_another_merchants_places(api, setup, other, customer):
    for field, value in (
        ("outlet_id", other.outlet.id),
        ("device_id", other.device.id),
        ("manager_id", other.manager.id),
    ):
        body = purchase_body(setup, customer, **{"outlet_id": None, field: str(value)})
        problem = assert_problem(post(api, "purchases", body, key=idem()), 400, "validation-error")
        assert field in problem["errors"]
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize("place", ["outlet_id", "device_id", "manager_id"])
def test_commit_refuses_a_deactivated_place(api, setup, customer, place):
    row = getattr(setup, place[:-3])
    row.is_active = False
    row.save(update_fields=["is_active"])
    body = purchase_body(setup, customer, **{"outlet_id": None, place: str(row.id)})
    problem = assert_problem(post(api, "purchases", body, key=idem()), 400, "validation-error")
    assert place in problem["errors"] and "deactivated" in problem["detail"]
    assert Purchase.objects.count() == 0


def test_commit_for_another_merchants_customer_is_404(other_api, other, customer):
    body = purchase_body(other, customer)
    assert_problem(post(other_api, "purchases", body, key=idem()), 404, "not-found")


def test_duplicate_order_id_is_409_naming_the_purchase(api, setup, customer):
    first = post(api, "purchases", purchase_body(setup, customer), key=idem()).json()
    problem = assert_problem(
        post(api, "purchases", purchase_body(setup, customer), key=idem()), 409, "conflict"
    )
    assert problem["purchase_id"] == first["id"]
    assert "order_id" in problem["errors"]


def test_a_retried_order_that_redeemed_everything_is_409_not_422(api, setup):
    # The first commit took all 500 points; the register, unsure it went through, sends the
    # same order again under a new key: it hears "already committed", not "not enough points".
    customer = make_customer(setup.merchant, points=500)
    body = purchase_body(setup, customer, redeem_points=500, amount_minor=1000_00)
    first = post(api, "purchases", body, key=idem())
    assert first.status_code == 201, first.content
    problem = assert_problem(post(api, "purchases", body, key=idem()), 409, "conflict")
    assert problem["purchase_id"] == first.json()["id"]
    assert Purchase.objects.count() == 1


def test_commit_needs_an_idempotency_key(api, setup, customer):
    problem = assert_problem(post(api, "purchases", purchase_body(setup, customer)), 400)
    assert "Idempotency-Key" in problem["errors"]
    for bad in ("has space", "x" * 256, "ключ"):
        problem = assert_problem(
            post(api, "purchases", purchase_body(setup, customer), key=bad), 400
        )
        assert "Idempotency-Key" in problem["errors"]
    assert Purchase.objects.count() == 0


def test_commit_more_points_than_the_balance_is_422(api, setup, customer):
    body = purchase_body(setup, customer, redeem_points=1)
    assert_problem(post(api, "purchases", body, key=idem()), 422, "insufficient-points")


# --- POST refunds ----------------------------------------------------------------------------


@pytest.fixture
def purchase(setup, rich_customer):
    return purchase_commit(
        merchant=setup.merchant,
        customer_id=rich_customer.id,
        amount_minor=100_00,
        redeem_points=20,
        order_id="R-1",
        outlet_id=setup.outlet.id,
    )


def test_full_refund_by_purchase_id(api, purchase, rich_customer):
    response = post(api, "refunds", {"purchase_id": str(purchase.id)}, key=idem())
    assert response.status_code == 201, response.content
    refund = response.json()
    assert refund["amount_minor"] == 100_00 and refund["purchase_id"] == str(purchase.id)
    assert refund["earned_points_reversed"] == 4 and refund["redeemed_points_returned"] == 20
    assert refund["balance_points"] == 1000 and refund["customer_id"] == str(rich_customer.id)


def test_partial_refunds_by_order_id_then_nothing_left(api, purchase):
    first = post(api, "refunds", {"order_id": "R-1", "amount_minor": 50_00}, key=idem())
    assert first.status_code == 201 and first.json()["redeemed_points_returned"] == 10
    over = post(api, "refunds", {"order_id": "R-1", "amount_minor": 50_01}, key=idem())
    assert "amount_minor" in assert_problem(over, 422, "refund-not-allowed")["errors"]
    assert post(api, "refunds", {"order_id": "R-1"}, key=idem()).json()["amount_minor"] == 50_00
    assert_problem(post(api, "refunds", {"order_id": "R-1"}, key=idem()), 422, "refund-not-allowed")
    assert Refund.objects.count() == 2


def test_refund_of_another_merchants_purchase_is_404(other_api, purchase):
    assert_problem(post(other_api, "refunds", {"purchase_id": str(purchase.id)}, key=idem()), 404)
    assert_problem(post(other_api, "refunds", {"order_id": "R-1"}, key=idem()), 404)
    assert Refund.objects.count() == 0


def test_refund_unknown_purchase_is_404(api):
    assert_problem(post(api, "refunds", {"order_id": "nope"}, key=idem()), 404, "not-found")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"purchase_id": "5d0c7a8e-3b1f-4c1e-9a57-0b2f6d1e8c44", "order_id": "R-1"},
        {"order_id": "R-1", "amount_minor": 0},
        {"order_id": "R-1", "amount_minor": "10"},
    ],
)
def test_refund_validation(api, purchase, body):
    assert_problem(post(api, "refunds", body, key=idem()), 400, "validation-error")


def test_refund_needs_an_idempotency_key(api, purchase):
    problem = assert_problem(post(api, "refunds", {"order_id": "R-1"}), 400)
    assert "Idempotency-Key" in problem["errors"]


# --- GET transactions ------------------------------------------------------------------------


def test_transactions_page_newest_first_with_a_cursor(api, setup, merchant):
    customer = make_customer(merchant, points=10)
    for n in range(4):
        purchase_commit(
            merchant=merchant,
            customer_id=customer.id,
            amount_minor=100_00,
            order_id=f"T-{n}",
            outlet_id=setup.outlet.id,
        )
    expected = list(
        LedgerEntry.objects.filter(customer=customer).order_by("-id").values_list("id", flat=True)
    )
    assert len(expected) == 5
    seen, cursor = [], None
    while True:
        params = {
            "customer_id": str(customer.id),
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        page = get(api, "transactions", params).json()
        seen += [entry["id"] for entry in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == expected
    first = get(api, "transactions", {"customer_id": str(customer.id)}).json()
    assert first["next"] is None and first["results"][0]["kind"] == "earn"
    assert {"points", "balance_after", "purchase_id", "created_at"} <= set(first["results"][0])


def test_transactions_of_another_merchants_customer_is_404(other_api, customer):
    assert_problem(get(other_api, "transactions", {"customer_id": str(customer.id)}), 404)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "customer_id"),
        ({"customer_id": "x"}, "customer_id"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "eyJiZWZvcmUiOiAiMSJ9"}, "cursor"),
        ({"page": 2}, "page"),
    ],
)
def test_transactions_validation(api, customer, params, field):
    params = {"customer_id": str(customer.id), **params} if field != "customer_id" else params
    problem = assert_problem(get(api, "transactions", params), 400, "validation-error")
    assert field in problem["errors"]
