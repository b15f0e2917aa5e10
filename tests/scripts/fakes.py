"""Small HTTP servers on loopback that stand in for the platform API in the script tests.

``FakeOps`` answers the operations endpoints (/health, /ready, /live, /metrics) and
``FakeIntegrations`` the merchant integration API with an in-memory balance. Both run in a thread
of the test process; every knob is a plain attribute the test sets before running a script.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        self.server.app.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.app.handle(self, "POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: _FakeApp


class _FakeApp:
    """Runs a ThreadingHTTPServer on 127.0.0.1 with a free port."""

    def __init__(self) -> None:
        #: Seconds to wait before answering, by path (without query).
        self.delay: dict[str, float] = {}
        self.calls: list[dict[str, Any]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.app = self
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> _FakeApp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, request: _Handler, method: str) -> None:
        url = urlsplit(request.path)
        body = request._body() if method == "POST" else None
        self.calls.append(
            {
                "method": method,
                "path": url.path,
                "query": parse_qs(url.query),
                "headers": dict(request.headers),
                "body": body,
            }
        )
        time.sleep(self.delay.get(url.path, 0))
        self.route(request, method, url.path, parse_qs(url.query), body)

    def route(
        self,
        request: _Handler,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: dict[str, Any] | None,
    ) -> None:
        raise NotImplementedError


class FakeOps(_FakeApp):
    """/health, /ready, /live and /metrics, with the metrics token check of the real app."""

    def __init__(self) -> None:
        super().__init__()
        self.status: dict[str, int] = {}
        self.health_status = "ok"
        self.metrics_token: str | None = None

    def route(self, request, method, path, query, body):
        code = self.status.get(path)
        if path in ("/health", "/healthz"):
            checks = {"database": {"status": "ok"}, "redis": {"status": "ok"}}
            if self.health_status == "degraded":
                checks["redis"] = {"status": "fail", "detail": "timeout"}
            request._answer(code or 200, {"status": self.health_status, "checks": checks})
        elif path in ("/ready", "/live"):
            request._answer(code or 200, {"status": "ok" if not code else "fail"})
        elif path == "/metrics":
            if self.metrics_token and request.headers.get("X-Metrics-Token") != self.metrics_token:
                request._answer(401, {"title": "Unauthorized", "status": 401})
                return
            text = (
                "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"
                'http_requests_total{method="GET",status="200"} 3.0\n'
                "# HELP loyalty_outbox_pending Pending.\n# TYPE loyalty_outbox_pending gauge\n"
                "loyalty_outbox_pending 0.0\n"
            )
            request._answer(code or 200, text.encode(), "text/plain; version=0.0.4")
        else:
            request._answer(404, {"title": "Not Found", "status": 404})


class FakeIntegrations(_FakeApp):
    """The merchant integration API over one in-memory customer ledger.

    Purchases earn 10% of ``amount_minor`` in points; a full refund takes them back (or, with
    ``refund_leaks_points``, forgets to, so the smoke check's balance step has something to catch).
    """

    prefix = "/api/integrations/v1/"

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.customers: dict[int, dict[str, Any]] = {
            42: {
                "id": 42,
                "phone": "+79990001122",
                "name": "Smoke",
                "balance_points": 120,
                "tier": "base",
            },
        }
        self.codes = {"123456": 42}
        self.purchases: dict[int, dict[str, Any]] = {}
        self.refund_leaks_points = False

    def _problem(self, request: _Handler, status: int, title: str) -> None:
        request._answer(
            status,
            {"type": "about:blank", "title": title, "status": status},
            "application/problem+json",
        )

    def route(self, request, method, path, query, body):
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            self._problem(request, 401, "Invalid API key")
            return
        if not path.startswith(self.prefix):
            self._problem(request, 404, "Not Found")
            return
        name = path[len(self.prefix) :]
        if method == "POST" and name == "code":
            customer_id = self.codes.get(body.get("code"))
            if customer_id is None:
                self._problem(request, 404, "Unknown code")
                return
            request._answer(200, {"customer": self.customers[customer_id]})
        elif method == "GET" and name == "customers":
            phone = query.get("phone", [""])[0]
            found = [c for c in self.customers.values() if c["phone"] == phone]
            request._answer(200, {"results": found, "next": None})
        elif method == "GET" and name.startswith("customers/"):
            customer = self.customers.get(int(name.split("/")[1]))
            if customer is None:
                self._problem(request, 404, "Not Found")
                return
            request._answer(200, customer)
        elif method == "POST" and name == "calculate":
            request._answer(
                200,
                {
                    "customer_id": body["customer_id"],
                    "amount_minor": body["amount_minor"],
                    "earned_points": body["amount_minor"] // 10,
                    "redeemed_points": 0,
                },
            )
        elif method == "POST" and name == "purchases":
            self._purchase(request, body)
        elif method == "POST" and name == "refunds":
            self._refund(request, body)
        else:
            self._problem(request, 404, "Not Found")

    def _purchase(self, request: _Handler, body: dict[str, Any]) -> None:
        if not request.headers.get("Idempotency-Key"):
            self._problem(request, 400, "Idempotency-Key required")
            return
        if not any(body.get(k) for k in ("outlet_id", "device_id", "manager_id")):
            self._problem(request, 400, "outlet_id, device_id or manager_id required")
            return
        customer = self.customers[body["customer_id"]]
        earned = body["amount_minor"] // 10
        customer["balance_points"] += earned
        purchase = {
            "id": len(self.purchases) + 1,
            "order_id": body["order_id"],
            "customer_id": customer["id"],
            "amount_minor": body["amount_minor"],
            "earned_points": earned,
            "redeemed_points": 0,
            "balance_points": customer["balance_points"],
        }
        self.purchases[purchase["id"]] = purchase
        request._answer(201, purchase)

    def _refund(self, request: _Handler, body: dict[str, Any]) -> None:
        if not request.headers.get("Idempotency-Key"):
            self._problem(request, 400, "Idempotency-Key required")
            return
        purchase = self.purchases.get(body.get("purchase_id"))
        if purchase is None:
            self._problem(request, 404, "Unknown purchase")
            return
        customer = self.customers[purchase["customer_id"]]
        if not self.refund_leaks_points:
            customer["balance_points"] -= purchase["earned_points"]
        request._answer(
            201,
            {
                "id": 1,
                "purchase_id": purchase["id"],
                "amount_minor": purchase["amount_minor"],
                "balance_points": customer["balance_points"],
            },
        )
