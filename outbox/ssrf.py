"""SSRF guard for merchant-supplied URLs: resolve the host, refuse internal addresses.

Checked when an endpoint is created, again before every send, and once more where it matters
most: when the webhook client opens the connection (:mod:`outbox.transports.http`). There the
host is resolved once, every address is judged, and the socket is opened to a judged address, so
a name that answers a public address to the check and 127.0.0.1 to the connection (DNS
rebinding) never reaches loopback. ``OUTBOX_ALLOW_PRIVATE_TARGETS=1`` lifts the refusal for tests
and the embedded demo.

An IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible
``::a.b.c.d``, 6to4 ``2002::/16``, Teredo ``2001::/32``, NAT64 ``64:ff9b::/96``) is refused when
the IPv4 address it stands for would be; Teredo is refused outright (not globally routable).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from outbox.errors import UnsafeTarget

#: Cloud metadata services answer on these even where link-local is routed.
_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}

#: The NAT64 well-known prefix (RFC 6052): the last 32 bits are the IPv4 address behind it.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if 1 < int(address) < 2**32:  # IPv4-compatible ::a.b.c.d (:: and ::1 are judged as such)
        return ipaddress.IPv4Address(int(address))
    return None


def _is_plainly_refused(address: IPAddress) -> bool:
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def address_refused(address: IPAddress) -> bool:
    """True when we never connect to ``address``: an IPv6 form that stands for an IPv4 address
    is judged by that IPv4 address alone; Teredo (``2001::/32``, not global) is always refused."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return _is_plainly_refused(embedded)
    return _is_plainly_refused(address)


def host_resolve_checked(host: str, port: int, *, allow_private: bool = False) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, raising :class:`UnsafeTarget` if any is
    refused (one bad answer condemns the name: a client may pick any of them).

    ``allow_private`` resolves without judging (tests and the embedded run)."""
    name = host.lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    internal_name = name in _METADATA_HOSTS or name == "localhost" or name.endswith(".localhost")
    if internal_name and not allow_private:
        raise UnsafeTarget(
            f"{name} is an internal host.", errors={"url": ["Use a publicly reachable host."]}
        )
    try:
        # Looked up on the module at call time: the system resolver, or the one a test installs.
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeTarget(
            f"{name} does not resolve.", errors={"url": ["Use a host name that resolves in DNS."]}
        ) from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not allow_private and address_refused(address):
            raise UnsafeTarget(
                f"{name} resolves to a non-public address ({address}).",
                errors={"url": ["Use a publicly reachable address; private networks are refused."]},
            )
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeTarget(
            f"{name} does not resolve.", errors={"url": ["Use a host name that resolves in DNS."]}
        )
    return addresses


def target_check(url: str, *, allow_private: bool | None = None) -> None:
    """Raise :class:`UnsafeTarget` unless ``url`` is http(s) resolving only to public addresses."""
    if allow_private is None:
        allow_private = settings.OUTBOX_ALLOW_PRIVATE_TARGETS
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced [ in the host
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget(
            "The URL must be absolute http:// or https://.",
            errors={"url": ["Use an https:// URL."]},
        )
    try:
        port = parts.port  # ValueError outside 0-65535 or when not a number
    except ValueError:
        port = 0
    if port == 0:
        raise UnsafeTarget(
            "The URL's port must be a number from 1 to 65535.",
            errors={"url": ["Use a port from 1 to 65535, or none."]},
        )
    if parts.username or parts.password:
        raise UnsafeTarget(
            "Credentials in the URL are not allowed.",
            errors={"url": ["Remove user:password@ from the URL."]},
        )
    if allow_private:
        return
    host_resolve_checked(parts.hostname, port or (443 if parts.scheme == "https" else 80))
