"""A redeem above the limit names one limit: the title, the detail and "Send at most N" agree."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_customer
from tests.integrations.api_client import assert_problem, post

pytestmark = pytest.mark.django_db


def numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", text)}


def test_above_balance_and_cap_names_the_cap(api, merchant):
    customer = make_customer(merchant, points=40)  # 40 points, cap 50 % of 10.00 = 5 points
    body = {"customer_id": str(customer.id), "amount_minor": 10_00, "redeem_points": 100}
    problem = assert_problem(post(api, "calculate", body), 422, "redeem-cap-exceeded")
    assert problem["title"] != "Not enough points"
    assert problem["max_redeem_points"] == 5
    assert problem["errors"]["redeem_points"] == ["Send at most 5."]
    assert 5 in numbers(problem["detail"]) and 40 not in numbers(problem["detail"])


def test_above_balance_under_cap_names_the_balance(api, merchant):
    customer = make_customer(merchant, points=40)  # cap 50 % of 1000.00 = 500 points
    body = {"customer_id": str(customer.id), "amount_minor": 1000_00, "redeem_points": 100}
    problem = assert_problem(post(api, "calculate", body), 422, "insufficient-points")
    assert problem["title"] == "Not enough points"
    assert problem["errors"]["redeem_points"] == ["Send at most 40."]
    assert problem["balance_points"] == problem["max_redeem_points"] == 40
    assert 40 in numbers(problem["detail"])
