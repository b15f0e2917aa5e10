"""Pure arithmetic of earning, redeeming and refunding; no database access.

Rounding rules (all integer arithmetic, always toward the customer's smaller figure):

* Points to earn = floor(money paid on earning lines x earn rate / value of a point).
  Money paid with points earns nothing; redeemed money is spread over the redeemable lines in
  proportion to their amounts (floor), the remainder landing on the last such line.
* Max redeemable points = floor(redeemable amount x redeem cap / value of a point), and never more
  than the spendable balance.
* Refunds reverse earned points and return redeemed points in proportion to the refunded share,
  computed on the cumulative refunded amount (floor), so that a series of partial refunds adds up
  exactly to the purchase's figures when the purchase is fully refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ValidationFailed
from loyalty.errors import InsufficientPoints, RedeemCapExceeded

#: Largest purchase amount accepted, in minor units (10 billion = 100 million in major units).
MAX_AMOUNT_MINOR = 10_000_000_000
#: Largest points figure accepted in any request.
MAX_POINTS = 1_000_000_000


@dataclass(frozen=True)
class Line:
    amount_minor: int
    earns: bool = True
    redeemable: bool = True
    sku: str = ""


@dataclass(frozen=True)
class Quote:
    amount_minor: int
    redeem_points: int
    redeemed_minor: int
    payable_minor: int
    max_redeem_points: int
    earnable_minor: int
    earn_points: int
    earn_bps: int
    tier: str | None


def lines_parse(amount_minor: int, raw_lines: list[dict[str, Any]] | None) -> list[Line]:
    """Validate lines against the total; no lines means one line that earns and is redeemable."""
    amount_check(amount_minor, field="amount_minor")
    if not raw_lines:
        return [Line(amount_minor=amount_minor)]
    lines: list[Line] = []
    for index, raw in enumerate(raw_lines):
        amount = raw.get("amount_minor")
        amount_check(amount, field=f"lines[{index}].amount_minor")
        lines.append(
            Line(
                amount_minor=int(amount),  # type: ignore[arg-type]
                earns=bool(raw.get("earns", True)),
                redeemable=bool(raw.get("redeemable", True)),
                sku=str(raw.get("sku", ""))[:100],
            )
        )
    total = sum(line.amount_minor for line in lines)
    if total != amount_minor:
        raise ValidationFailed(
            f"The lines add up to {total} but amount_minor is {amount_minor}.",
            errors={"lines": [f"Line amounts must add up to amount_minor ({amount_minor})."]},
        )
    return lines


def amount_check(value: Any, *, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            f"{field} must be an integer number of minor units.",
            errors={field: ["Send an integer in minor units, e.g. 12345 for 123.45."]},
        )
    if value <= 0 or value > MAX_AMOUNT_MINOR:
        raise ValidationFailed(
            f"{field} must be between 1 and {MAX_AMOUNT_MINOR}.",
            errors={field: [f"Send a value from 1 to {MAX_AMOUNT_MINOR}."]},
        )


def points_check(value: Any, *, field: str, allow_zero: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field} must be an integer.", errors={field: ["Send an integer."]})
    low = 0 if allow_zero else 1
    if value < low or value > MAX_POINTS:
        raise ValidationFailed(
            f"{field} must be between {low} and {MAX_POINTS}.",
            errors={field: [f"Send a value from {low} to {MAX_POINTS}."]},
        )


def quote_compute(
    *,
    lines: list[Line],
    redeem_points: int,
    balance_points: int,
    earn_bps: int,
    redeem_cap_bps: int,
    minor_per_point: int,
    tier: str | None,
) -> Quote:
    """Compute a purchase quote; raises if the redeem exceeds the balance or the cap."""
    points_check(redeem_points, field="redeem_points")
    amount = sum(line.amount_minor for line in lines)
    redeemable = sum(line.amount_minor for line in lines if line.redeemable)
    cap_points = redeemable * redeem_cap_bps // 10000 // minor_per_point
    max_redeem = min(cap_points, balance_points)
    # One refusal naming the limit that binds (the smaller of balance and cap), so the title,
    # the detail and "Send at most N" always speak of the same number.
    if redeem_points > max_redeem and balance_points <= cap_points:
        raise InsufficientPoints(
            f"The customer has {balance_points} spendable points; {redeem_points} were asked.",
            errors={"redeem_points": [f"Send at most {max_redeem}."]},
            extra={"balance_points": balance_points, "max_redeem_points": max_redeem},
        )
    if redeem_points > max_redeem:
        raise RedeemCapExceeded(
            f"At most {cap_points} points can pay for this purchase; {redeem_points} were asked.",
            errors={"redeem_points": [f"Send at most {max_redeem}."]},
            extra={"max_redeem_points": max_redeem},
        )
    redeemed_minor = redeem_points * minor_per_point
    # Spread the redeemed money over the redeemable lines; money paid with points earns nothing.
    redeemable_lines = [i for i, line in enumerate(lines) if line.redeemable]
    paid = [line.amount_minor for line in lines]
    left = redeemed_minor
    for position, index in enumerate(redeemable_lines):
        if position == len(redeemable_lines) - 1:
            share = left
        else:
            share = redeemed_minor * lines[index].amount_minor // redeemable
        paid[index] -= share
        left -= share
    earnable = sum(paid[i] for i, line in enumerate(lines) if line.earns)
    earn = earnable * earn_bps // 10000 // minor_per_point
    return Quote(
        amount_minor=amount,
        redeem_points=redeem_points,
        redeemed_minor=redeemed_minor,
        payable_minor=amount - redeemed_minor,
        max_redeem_points=max_redeem,
        earnable_minor=earnable,
        earn_points=earn,
        earn_bps=earn_bps,
        tier=tier,
    )


def refund_share(*, total: int, purchase_amount: int, refunded_after: int, already: int) -> int:
    """Points to move now so that the cumulative figure is floor(total x refunded share)."""
    target = (
        total if refunded_after >= purchase_amount else total * refunded_after // purchase_amount
    )
    return max(target - already, 0)
