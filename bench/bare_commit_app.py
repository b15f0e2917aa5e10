"""Bare baseline for bench_commit.py: the writes of a purchase commit, without the framework.

A plain WSGI app (psycopg 3 + redis-py, one persistent connection per thread) doing, per POST,
what our purchase commit does at the database: key lookup by prefix + ``hmac.compare_digest``
hash check, one Redis INCR/EXPIRE round trip (rate limit), then in one transaction the
idempotency claim insert, the customer row lock, the purchase, a ledger entry, a lot, the
balance update, an outbox event, one delivery, NOTIFY, and the stored response. Tables are
``bare_*`` ones created by :func:`create_schema`; nothing of the platform is imported.

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
from typing import Any

import psycopg
import redis

SCHEMA = """
CREATE TABLE IF NOT EXISTS bare_key (prefix text PRIMARY KEY, secret_hash text NOT NULL);
CREATE TABLE IF NOT EXISTS bare_customer (
    id uuid PRIMARY KEY, balance bigint NOT NULL DEFAULT 0, updated_at timestamptz);
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

_local = threading.local()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_schema(conn: psycopg.Connection[Any], customers: int) -> tuple[str, list[str]]:
    """Create the tables, one key and ``customers`` customers; the plaintext key and the ids."""
    conn.execute(SCHEMA)
    prefix, secret = uuid.uuid4().hex[:12], uuid.uuid4().hex
    conn.execute("INSERT INTO bare_key VALUES (%s, %s)", (prefix, _hash(secret)))
    ids = [str(uuid.uuid4()) for _ in range(customers)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO bare_customer (id) VALUES (%s)", [(i,) for i in ids])
    conn.commit()
    return f"{KEY_PREFIX}{prefix}_{secret}", ids


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
    if environ["PATH_INFO"] == "/live":
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
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = json.loads(raw)
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
