"""Bare baseline for bench_commit.py: the register's calls, without the framework.

A plain WSGI app (psycopg 3 + redis-py, one persistent connection per thread). Every request
starts as ours does: key lookup by prefix + ``hmac.compare_digest`` hash check and one Redis
INCR/EXPIRE round trip (rate limit). Then, by path:

* ``POST .../purchases``: in one transaction the idempotency claim insert, the customer row
  lock, the purchase, a ledger entry, a lot, the balance update, an outbox event, one delivery,
  NOTIFY, and the stored response;
* ``POST .../calculate``: the customer row, the program with its reached tier (one statement),
  the quote computed;
* ``GET .../customers/<id>``: the customer row, the program with its reached tier;
* ``POST .../code``: in one transaction the one-time code consumed by a conditional UPDATE (a
  keyed hash, as ours), the customer row, the program with its reached tier.

Tables are ``bare_*`` ones created by :func:`create_schema`; nothing of the platform is imported.

Run by bench_commit.py as ``gunicorn bare_commit_app:app --chdir bench`` with DATABASE_URL and
REDIS_URL set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis

SCHEMA = """
CREATE TABLE IF NOT EXISTS bare_key (prefix text PRIMARY KEY, secret_hash text NOT NULL);
CREATE TABLE IF NOT EXISTS bare_customer (
    id uuid PRIMARY KEY, balance bigint NOT NULL DEFAULT 0, updated_at timestamptz,
    phone text NOT NULL DEFAULT '+79990000000', name text NOT NULL DEFAULT 'bench',
    pending bigint NOT NULL DEFAULT 0, lifetime_spend bigint NOT NULL DEFAULT 0,
    telegram_linked boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bare_program (
    id int PRIMARY KEY, earn_bps int NOT NULL, redeem_cap_bps int NOT NULL,
    minor_per_point int NOT NULL);
CREATE TABLE IF NOT EXISTS bare_tier (
    id serial PRIMARY KEY, program_id int NOT NULL REFERENCES bare_program, name text NOT NULL,
    min_spend bigint NOT NULL, earn_bps int NOT NULL);
CREATE TABLE IF NOT EXISTS bare_code (
    code_hash text PRIMARY KEY, customer_id uuid NOT NULL REFERENCES bare_customer,
    expires_at timestamptz NOT NULL, used_at timestamptz);
CREATE TABLE IF NOT EXISTS bare_idem (
    key text NOT NULL, prefix text NOT NULL, body_hash text NOT NULL, status int,
    response jsonb, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (prefix, key));
CREATE TABLE IF NOT EXISTS bare_purchase (
    id uuid PRIMARY KEY, customer_id uuid NOT NULL REFERENCES bare_customer,
    order_id text NOT NULL UNIQUE, amount_minor bigint NOT NULL, points bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bare_ledger (
    id bigserial PRIMARY KEY, customer_id uuid NOT NULL REFERENCES bare_customer,
    purchase_id uuid REFERENCES bare_purchase, delta bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bare_lot (
    id bigserial PRIMARY KEY, customer_id uuid NOT NULL REFERENCES bare_customer,
    points bigint NOT NULL, remaining bigint NOT NULL, expires_at timestamptz);
CREATE TABLE IF NOT EXISTS bare_event (
    id bigserial PRIMARY KEY, kind text NOT NULL, payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bare_delivery (
    id bigserial PRIMARY KEY, event_id bigint NOT NULL REFERENCES bare_event,
    target text NOT NULL, status text NOT NULL DEFAULT 'pending',
    next_attempt_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS bare_delivery_due ON bare_delivery (next_attempt_at)
    WHERE status = 'pending';
"""

KEY_PREFIX = "lk_"
RATE_LIMIT = 1_000_000
API = "/api/integrations/v1/"
CODE_KEY = b"bare-code-key"
PROGRAM_TERMS = (
    "SELECT p.earn_bps, p.redeem_cap_bps, p.minor_per_point, t.name, t.earn_bps"
    " FROM bare_program p LEFT JOIN LATERAL (SELECT name, earn_bps FROM bare_tier"
    " WHERE program_id = p.id AND min_spend <= %s ORDER BY min_spend DESC LIMIT 1) t ON true"
    " WHERE p.id = 1"
)
CUSTOMER = (
    "SELECT id, phone, name, balance, pending, lifetime_spend, telegram_linked, created_at"
    " FROM bare_customer WHERE id = %s"
)

_local = threading.local()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_schema(conn: psycopg.Connection[Any], customers: int) -> tuple[str, list[str]]:
    """Create the tables, one key and ``customers`` customers; the plaintext key and the ids."""
    conn.execute(SCHEMA)
    conn.execute("TRUNCATE bare_code")  # codes are numbered from the same start every run
    conn.execute("INSERT INTO bare_program VALUES (1, 500, 3000, 100) ON CONFLICT DO NOTHING")
    prefix, secret = uuid.uuid4().hex[:12], uuid.uuid4().hex
    conn.execute("INSERT INTO bare_key VALUES (%s, %s)", (prefix, _hash(secret)))
    ids = [str(uuid.uuid4()) for _ in range(customers)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO bare_customer (id) VALUES (%s)", [(i,) for i in ids])
    conn.commit()
    return f"{KEY_PREFIX}{prefix}_{secret}", ids


def code_hash(code: str) -> str:
    return hmac.new(CODE_KEY, code.encode(), hashlib.sha256).hexdigest()


def seed_codes(conn: psycopg.Connection[Any], customers: list[str], codes: range) -> None:
    """One-time codes ``codes`` (as 9 digits) for the customers round-robin, valid 1 hour."""
    until = datetime.now(UTC) + timedelta(hours=1)
    copy_sql = "COPY bare_code (code_hash, customer_id, expires_at) FROM STDIN"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for n in codes:
            copy.write_row((code_hash(f"{n:09d}"), customers[n % len(customers)], until))
    conn.commit()


def _connections() -> tuple[psycopg.Connection[Any], redis.Redis]:
    if not hasattr(_local, "db"):
        _local.db = psycopg.connect(os.environ["DATABASE_URL"])
        _local.redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _local.db, _local.redis


def _answer(
    start_response: Callable[..., Any], status: str, body: dict[str, Any]
) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/live":
        return _answer(start_response, "200 OK", {"status": "ok"})
    db, cache = _connections()
    token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
    prefix, _, secret = token.removeprefix(KEY_PREFIX).partition("_")
    row = db.execute("SELECT secret_hash FROM bare_key WHERE prefix = %s", (prefix,)).fetchone()
    db.commit()
    if not hmac.compare_digest(_hash(secret), row[0] if row else _hash("")) or row is None:
        return _answer(start_response, "401 Unauthorized", {"title": "bad key"})
    bucket = f"bare-rl:{prefix}:{int(time.time())}"
    pipe = cache.pipeline()
    pipe.incr(bucket)
    pipe.expire(bucket, 2)
    if pipe.execute()[0] > RATE_LIMIT:
        return _answer(start_response, "429 Too Many Requests", {"title": "throttled"})
    if path.startswith(API + "customers/"):
        found = _customer(db, path.removeprefix(API + "customers/"))
        db.commit()
        if found is None:
            return _answer(start_response, "404 Not Found", {"title": "no customer"})
        return _answer(start_response, "200 OK", found[0])
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = json.loads(raw)
    if path == API + "calculate":
        return _calculate(db, body, start_response)
    if path == API + "code":
        return _code(db, body, start_response)
    return _purchase(db, prefix, raw, body, environ, start_response)


def _customer(
    db: psycopg.Connection[Any], customer_id: str
) -> tuple[dict[str, Any], tuple[Any, ...]] | None:
    """The customer as the API shows it (with the reached tier), and the program's terms."""
    row = db.execute(CUSTOMER, (customer_id,)).fetchone()
    if row is None:
        return None
    terms = db.execute(PROGRAM_TERMS, (row[5],)).fetchone()
    payload = {
        "id": str(row[0]),
        "phone": row[1],
        "name": row[2],
        "balance_points": row[3],
        "pending_points": row[4],
        "tier": terms[3],
        "telegram_linked": row[6],
        "created_at": row[7].isoformat(),
    }
    return payload, terms


def _calculate(
    db: psycopg.Connection[Any], body: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    found = _customer(db, body["customer_id"])
    db.commit()
    if found is None:
        return _answer(start_response, "404 Not Found", {"title": "no customer"})
    customer, (earn_bps, cap_bps, minor_per_point, tier, tier_bps) = found
    amount = int(body["amount_minor"])
    redeem = int(body.get("redeem_points", 0))
    max_redeem = min(customer["balance_points"], amount * cap_bps // 10_000 // minor_per_point)
    redeemed_minor = min(redeem, max_redeem) * minor_per_point
    bps = tier_bps if tier else earn_bps
    quote = {
        "customer_id": customer["id"],
        "balance_points": customer["balance_points"],
        "amount_minor": amount,
        "redeem_points": min(redeem, max_redeem),
        "redeemed_minor": redeemed_minor,
        "payable_minor": amount - redeemed_minor,
        "max_redeem_points": max_redeem,
        "earn_points": (amount - redeemed_minor) * bps // 10_000 // minor_per_point,
        "earn_bps": bps,
        "tier": tier,
    }
    return _answer(start_response, "200 OK", quote)


def _code(
    db: psycopg.Connection[Any], body: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    with db.transaction():
        row = db.execute(
            "UPDATE bare_code SET used_at = now() WHERE code_hash = %s AND used_at IS NULL"
            " AND expires_at > now() RETURNING customer_id",
            (code_hash(str(body["code"])),),
        ).fetchone()
        found = _customer(db, row[0]) if row else None
    if found is None:
        return _answer(start_response, "404 Not Found", {"title": "unknown code"})
    return _answer(start_response, "200 OK", {"customer": found[0]})


def _purchase(
    db: psycopg.Connection[Any],
    prefix: str,
    raw: bytes,
    body: dict[str, Any],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> Iterable[bytes]:
    idem_key = environ.get("HTTP_IDEMPOTENCY_KEY", "")
    points = int(body["amount_minor"]) // 100
    with db.transaction():
        db.execute(
            "INSERT INTO bare_idem (key, prefix, body_hash) VALUES (%s, %s, %s)",
            (idem_key, prefix, hashlib.sha256(raw).hexdigest()),
        )
        db.execute("SELECT id FROM bare_customer WHERE id = %s FOR UPDATE", (body["customer_id"],))
        purchase_id = uuid.uuid4()
        db.execute(
            "INSERT INTO bare_purchase (id, customer_id, order_id, amount_minor, points)"
            " VALUES (%s, %s, %s, %s, %s)",
            (purchase_id, body["customer_id"], body["order_id"], body["amount_minor"], points),
        )
        db.execute(
            "INSERT INTO bare_ledger (customer_id, purchase_id, delta) VALUES (%s, %s, %s)",
            (body["customer_id"], purchase_id, points),
        )
        db.execute(
            "INSERT INTO bare_lot (customer_id, points, remaining, expires_at)"
            " VALUES (%s, %s, %s, now() + interval '365 days')",
            (body["customer_id"], points, points),
        )
        balance = db.execute(
            "UPDATE bare_customer SET balance = balance + %s, updated_at = now() WHERE id = %s"
            " RETURNING balance",
            (points, body["customer_id"]),
        ).fetchone()[0]
        response = {
            "id": str(purchase_id),
            "customer_id": body["customer_id"],
            "order_id": body["order_id"],
            "amount_minor": body["amount_minor"],
            "points": points,
            "balance": balance,
        }
        event_id = db.execute(
            "INSERT INTO bare_event (kind, payload) VALUES ('purchase.created', %s) RETURNING id",
            (json.dumps(response),),
        ).fetchone()[0]
        db.execute(
            "INSERT INTO bare_delivery (event_id, target) VALUES (%s, 'webhook')", (event_id,)
        )
        db.execute("NOTIFY bare_outbox")
        db.execute(
            "UPDATE bare_idem SET status = 201, response = %s WHERE prefix = %s AND key = %s",
            (json.dumps(response), prefix, idem_key),
        )
    return _answer(start_response, "201 Created", response)
