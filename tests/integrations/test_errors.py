"""problem+json for everything outside the happy path: 404 URLs, 405, 500."""

from __future__ import annotations

import pytest

from integrations import apis
from tests.integrations.api_client import BASE, assert_problem

pytestmark = pytest.mark.django_db


def test_unknown_url_is_a_problem(api):
    for path in (BASE + "nothing-here", BASE + "purchases/", "/api/integrations/v2/purchases"):
        problem = assert_problem(api.get(path), 404, "not-found")
        assert "/api/docs/" in problem["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "purchases", {"POST"}),
        ("delete", "refunds", {"POST"}),
        ("put", "code", {"POST"}),
        ("post", "transactions", {"GET", "HEAD"}),
        ("options", "calculate", {"POST"}),
        ("delete", "customers", {"GET", "HEAD", "POST"}),
        ("patch", "customers", {"GET", "HEAD", "POST"}),
    ],
)
def test_wrong_method_is_405_with_allow(api, method, path, allowed):
    response = getattr(api, method)(BASE + path)
    problem = assert_problem(response, 405, "method-not-allowed")
    assert method.upper() in problem["detail"]
    assert {m.strip() for m in response["Allow"].split(",")} == allowed


def test_head_answers_like_get(api, customer):
    response = api.head(BASE + f"customers/{customer.id}")
    assert response.status_code == 200 and not response.content


def test_unhandled_error_is_a_500_problem_without_internals(api, customer, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("password=hunter2 in a traceback")

    monkeypatch.setattr(apis, "customer_get", explode)
    response = api.get(BASE + f"customers/{customer.id}")
    problem = assert_problem(response, 500, "internal-error")
    assert "hunter2" not in response.content.decode()
    assert "RuntimeError" not in response.content.decode()
    assert set(problem) == {"type", "title", "status", "detail"}
    assert any("hunter2" in (record.exc_text or str(record.exc_info)) for record in caplog.records)


def test_error_answers_never_carry_a_stack_trace(api):
    response = api.post(BASE + "calculate", b"{", content_type="application/json")
    assert b"Traceback" not in response.content and b"File " not in response.content
