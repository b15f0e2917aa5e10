"""SSRF guard for merchant-supplied URLs: resolve the host, refuse internal addresses.

Checked when an endpoint is created and again before every send (DNS may change in between).
``OUTBOX_ALLOW_PRIVATE_TARGETS=1`` lifts the refusal for tests and the embedded demo.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from outbox.errors import UnsafeTarget

#: Cloud metadata services answer on these even where link-local is routed.
_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


def _is_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def target_check(url: str, *, allow_private: bool | None = None) -> None:
    """Raise :class:`UnsafeTarget` unless ``url`` is http(s) resolving only to public addresses."""
    if allow_private is None:
        allow_private = settings.OUTBOX_ALLOW_PRIVATE_TARGETS
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget(
            "The URL must be absolute http:// or https://.",
            errors={"url": ["Use an https:// URL."]},
        )
    if parts.username or parts.password:
        raise UnsafeTarget(
            "Credentials in the URL are not allowed.",
            errors={"url": ["Remove user:password@ from the URL."]},
        )
    if allow_private:
        return
    host = parts.hostname.lower().rstrip(".")
    if host in _METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise UnsafeTarget(
            f"{host} is an internal host.", errors={"url": ["Use a publicly reachable host."]}
        )
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeTarget(
            f"{host} does not resolve.", errors={"url": ["Use a host name that resolves in DNS."]}
        ) from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _is_refused(address):
            raise UnsafeTarget(
                f"{host} resolves to a non-public address ({address}).",
                errors={"url": ["Use a publicly reachable address; private networks are refused."]},
            )
