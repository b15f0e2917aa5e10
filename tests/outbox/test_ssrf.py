"""SSRF guard: internal addresses refused at endpoint creation and again at send time."""

from __future__ import annotations

import socket

import pytest

from outbox.errors import UnsafeTarget
from outbox.ssrf import target_check
from outbox.transports import TransportError
from outbox.transports.webhook import webhook_send


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
        "not a url",
    ],
)
def test_internal_targets_refused(url):
    with pytest.raises(UnsafeTarget):
        target_check(url, allow_private=False)


def test_public_address_allowed():
    target_check("https://93.184.216.34/hook", allow_private=False)


def test_allowed_when_private_targets_enabled():
    target_check("http://127.0.0.1:9/hook", allow_private=True)


def test_send_time_check_refuses_without_calling(settings):
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TransportError) as info:
        webhook_send(
            url="http://127.0.0.1:9/hook",
            secret="whsec_" + "A" * 44,
            message_id="msg_x",
            payload={},
        )
    assert info.value.permanent and info.value.error_class == "UnsafeTarget"


def test_endpoint_creation_refuses(db, settings):
    from outbox.services import webhook_endpoint_create
    from tests.factories import make_merchant

    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = False
    setup = make_merchant()
    with pytest.raises(UnsafeTarget):
        webhook_endpoint_create(merchant=setup.merchant, url="http://10.1.2.3/x")


# --- DNS rebinding: the address connected to is the address judged -------------------------


class _ScriptedResolver:
    """A resolver the test controls: ``answers[name]`` gives one address per successive lookup
    (the last one repeats); every other name goes to the system resolver (loopback literals)."""

    def __init__(self, real, answers: dict[str, list[str]]) -> None:
        self.real, self.answers, self.calls = real, answers, {}

    def __call__(self, host, port, *args, **kwargs):
        script = self.answers.get(str(host).lower())
        if script is None:
            return self.real(host, port, *args, **kwargs)
        count = self.calls[host] = self.calls.get(host, 0) + 1
        address = script[min(count, len(script)) - 1]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, int(port or 0), 0, 0) if ":" in address else (address, int(port or 0))
        return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]


@pytest.fixture
def resolver(monkeypatch):
    scripted = _ScriptedResolver(socket.getaddrinfo, {})
    monkeypatch.setattr(socket, "getaddrinfo", scripted)
    return scripted


def test_rebinding_name_never_reaches_loopback(settings, receiver, resolver):
    """Public to the check, 127.0.0.1 to the connection: refused, nothing delivered."""
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = False
    resolver.answers["rebind.example"] = ["93.184.216.34", "127.0.0.1"]
    port = receiver.url.rsplit(":", 1)[1].split("/", 1)[0]
    with pytest.raises(TransportError) as info:
        webhook_send(
            url=f"http://rebind.example:{port}/hook",
            secret="whsec_" + "A" * 44,
            message_id="msg_rebind",
            payload={"x": 1},
        )
    assert info.value.permanent and info.value.error_class == "UnsafeTarget"
    assert "127.0.0.1" in (info.value.excerpt or "")
    assert receiver.requests == []
    assert resolver.calls["rebind.example"] == 2  # the check, then the connection's own


def test_connection_goes_to_the_one_resolved_address_with_the_original_host(
    settings, receiver, resolver
):
    """One lookup per connection, the socket opened to its answer, Host kept on the name."""
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = True  # loopback receiver; the pinning still holds
    # A second lookup would answer an unroutable TEST-NET address and the send would fail.
    resolver.answers["pinned.example"] = ["127.0.0.1", "192.0.2.1"]
    port = receiver.url.rsplit(":", 1)[1].split("/", 1)[0]
    sent = webhook_send(
        url=f"http://pinned.example:{port}/hook",
        secret="whsec_" + "A" * 44,
        message_id="msg_pinned",
        payload={"x": 1},
    )
    assert sent.status_code == 200
    assert receiver.requests[0].headers["host"] == f"pinned.example:{port}"
    assert resolver.calls["pinned.example"] == 1


def test_guarded_backend_refuses_a_name_with_any_internal_answer(settings, resolver):
    from outbox.transports.http import GuardedNetworkBackend

    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = False
    resolver.answers["mixed.example"] = ["10.0.0.7"]
    with pytest.raises(UnsafeTarget):
        GuardedNetworkBackend().connect_tcp("mixed.example", 80, timeout=1)


# --- addresses that wrap an internal IPv4, and ports out of range ---------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://[2002:a00:1::]/hook",  # 6to4 of 10.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
        "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "http://[::127.0.0.1]/hook",  # IPv4-compatible loopback
        "http://[::ffff:10.0.0.1]/hook",  # IPv4-mapped private
    ],
)
def test_ipv6_forms_judged_by_their_embedded_ipv4(url):
    with pytest.raises(UnsafeTarget):
        target_check(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://[2002:5db8:d822::]/hook", "http://[64:ff9b::5db8:d822]/hook"]
)
def test_ipv6_forms_of_a_public_ipv4_allowed(url):
    target_check(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:99999/", "http://example.com:0/", "http://example.com:x/", "http://[::1/"],
)
@pytest.mark.parametrize("allow_private", [True, False])
def test_bad_port_or_host_is_a_clean_refusal(url, allow_private):
    with pytest.raises(UnsafeTarget) as info:
        target_check(url, allow_private=allow_private)
    assert info.value.errors and "url" in info.value.errors
