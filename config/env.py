"""The one strict reader of the process environment.

Every setting comes through :class:`EnvReader`. A missing required value or a value that does not
parse raises :class:`~django.core.exceptions.ImproperlyConfigured` whose message names the
variable and what was expected; ``manage.py`` and ``config/wsgi.py`` print that one line and exit.
"""

from __future__ import annotations

import base64
import builtins
import os
from collections.abc import Mapping
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_MISSING = object()


class EnvReader:
    """Typed, strict accessors over an environment mapping."""

    def __init__(self, environ_map: Mapping[builtins.str, str] | None = None) -> None:
        self._env = os.environ if environ_map is None else environ_map

    def _raw(self, name: builtins.str, default: Any) -> Any:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            if default is _MISSING:
                raise ImproperlyConfigured(f"{name} is required but not set")
            return default
        return value.strip()

    def str(self, name: builtins.str, default: Any = _MISSING) -> Any:
        return self._raw(name, default)

    def bool(self, name: builtins.str, default: builtins.bool | object = _MISSING) -> builtins.bool:
        value = self._raw(name, default)
        if isinstance(value, bool):
            return value
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name} must be 0 or 1 (got {value!r})")

    def int(
        self,
        name: builtins.str,
        default: builtins.int | object = _MISSING,
        *,
        minimum: builtins.int | None = None,
    ) -> builtins.int:
        value = self._raw(name, default)
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(f"{name} must be an integer (got {value!r})") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {number})")
        return number

    def float(
        self,
        name: builtins.str,
        default: builtins.float | object = _MISSING,
        *,
        lo: builtins.float,
        hi: builtins.float,
    ) -> builtins.float:
        value = self._raw(name, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(f"{name} must be a number (got {value!r})") from None
        if not lo <= number <= hi:
            raise ImproperlyConfigured(f"{name} must be between {lo} and {hi} (got {number})")
        return number

    def choice(
        self, name: builtins.str, choices: tuple[builtins.str, ...], default: builtins.str
    ) -> builtins.str:
        value = self._raw(name, default).lower()
        if value not in choices:
            raise ImproperlyConfigured(
                f"{name} must be one of {', '.join(choices)} (got {value!r})"
            )
        return value

    def list(
        self, name: builtins.str, default: builtins.list[builtins.str]
    ) -> builtins.list[builtins.str]:
        value = self._raw(name, None)
        if value is None:
            return default
        return [item.strip() for item in value.split(",") if item.strip()]

    def int_list(
        self, name: builtins.str, default: builtins.list[builtins.int], *, minimum: builtins.int = 0
    ) -> builtins.list[builtins.int]:
        value = self._raw(name, None)
        if value is None:
            return list(default)
        try:
            numbers = [int(item) for item in value.split(",") if item.strip()]
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated integers, e.g. 0,5,300 (got {value!r})"
            ) from None
        if not numbers or any(n < minimum for n in numbers):
            raise ImproperlyConfigured(f"{name} must list integers of at least {minimum}")
        return numbers

    def database(self, name: builtins.str, default: builtins.str) -> dict[builtins.str, Any]:
        url = self._raw(name, default)
        try:
            config = environ.Env.db_url_config(url)
        except Exception:
            raise ImproperlyConfigured(
                f"{name} must be a database URL like postgres://user:pass@host:5432/db "
                "or sqlite:///path"
            ) from None
        if config.get("ENGINE") not in (
            "django.db.backends.postgresql",
            "django.db.backends.sqlite3",
        ):
            raise ImproperlyConfigured(
                f"{name} must use postgres:// or sqlite:// (got {url.split(':')[0]!r})"
            )
        return config

    def url(
        self, name: builtins.str, default: Any = _MISSING, *, schemes: tuple[builtins.str, ...]
    ) -> Any:
        value = self._raw(name, default)
        if value is None or value is default:
            return value
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in schemes:
            raise ImproperlyConfigured(
                f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return value

    # --- Growing past one machine (scale-out helpers; self-contained) ---------------------------

    def host_ports(self, name: builtins.str) -> builtins.list[tuple[builtins.str, builtins.int]]:
        """Comma-separated ``host:port`` pairs (e.g. Redis Sentinels); empty when unset."""
        value = self._raw(name, None)
        if value is None:
            return []
        pairs: builtins.list[tuple[builtins.str, builtins.int]] = []
        for item in (part.strip() for part in value.split(",")):
            host, _, port = item.rpartition(":")
            host = host.removeprefix("[").removesuffix("]")  # [::1]:26379
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ImproperlyConfigured(
                    f"{name} must be comma-separated host:port pairs, e.g. "
                    f"sentinel-1:26379,sentinel-2:26379 (got {item!r})"
                )
            pairs.append((host, int(port)))
        return pairs

    def fernet_keys(self, name: builtins.str) -> builtins.list[builtins.str]:
        """Comma-separated Fernet keys, newest first; empty when unset. Never echoes a key."""
        value = self._raw(name, None)
        if value is None:
            return []
        keys = [item.strip() for item in value.split(",")]
        for position, key in enumerate(keys, start=1):
            try:
                raw = base64.urlsafe_b64decode(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raw = b""
            if len(key) != 44 or len(raw) != 32:
                raise ImproperlyConfigured(
                    f"{name} must be comma-separated Fernet keys (44 characters of url-safe "
                    f"base64 each, from Fernet.generate_key()); key {position} is not one"
                )
        if len(set(keys)) != len(keys):
            raise ImproperlyConfigured(f"{name} lists the same key twice")
        return keys


env = EnvReader()
