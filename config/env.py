"""The one reader of the process environment: django-environ's ``Env``, made strict.

``config/settings.py`` and ``config/gunicorn.py`` (which must not need Django set up) read every
variable through :data:`env`. A missing required value or a value that does not parse raises
:class:`~django.core.exceptions.ImproperlyConfigured` naming the variable and what was expected;
``manage.py``, ``config/wsgi.py`` and ``config/gunicorn.py`` print that one line and exit.

**The local ``.env`` file** (:func:`env_file_load`, run once when this module is imported, so
``manage.py``, gunicorn, the relay and the worker all see it): ``make run`` writes a git-ignored
``.env`` in the checkout on its first run (:func:`env_file_local_write`: ``DEBUG=1``, a generated
``SECRET_KEY``, the demo's settings). Its values fill in only what the process environment does
not set. The rule that keeps production away from it:

* ``ENV_FILE=/path`` reads that file (it must exist), whatever it says;
* ``ENV_FILE=`` (set but empty) reads no file at all (``make test`` does this);
* ``ENV_FILE`` unset reads the checkout's ``.env`` only when it exists, says ``DEBUG=1`` (a
  development file) and the process environment does not set ``DEBUG`` to a false value.

Production never has a checkout ``.env`` (``.dockerignore`` keeps it out of the image) and sets
``DEBUG=0``, so it reads a file only when pointed at one with ``ENV_FILE``.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeAlias

import environ
from django.core.exceptions import ImproperlyConfigured

NOTSET = environ.Env.NOTSET
# The type names are also method names of Env (as in django-environ itself).
_str: TypeAlias = str
_int: TypeAlias = int
_float: TypeAlias = float
_bool: TypeAlias = bool
_list: TypeAlias = list


def _boolean(value: _str) -> _bool:
    # Stricter than django-environ's bool, where any unknown word (a typo of "true") is False.
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)


def _number(value: _str) -> _float:
    # Not django-environ's float, which drops every character that is not a digit ("1O" -> 1.0).
    return _float(value)


def _names(value: _str) -> _list[_str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _integers(value: _str) -> _list[_int]:
    return [_int(item) for item in value.split(",") if item.strip()]


#: What a value that fails a cast should have looked like, for the error message.
_EXPECTED: dict[Callable[[_str], Any], _str] = {
    _int: "an integer",
    _boolean: "0 or 1",
    _number: "a number",
    _integers: "comma-separated integers, e.g. 0,5,300",
}


class EnvReader(environ.Env):
    """django-environ's ``Env`` over ``environ_map`` (default: ``os.environ``), with strict casts.

    Differences from django-environ, each on purpose:

    * a blank value counts as unset (``.env.production.example``: "an empty value means the
      default"), and values are stripped;
    * a value that does not parse raises ``ImproperlyConfigured`` naming the variable, never a
      bare ``ValueError``, and booleans accept only 0/1, true/false, yes/no, on/off;
    * no ``$OTHER`` proxy expansion: a token that starts with ``$`` is a value, not the name of
      another variable.

    On top: bounds (``minimum``, ``lo``/``hi``), ``choice``, ``int_list``, ``database`` (PostgreSQL
    or SQLite only) and ``url`` restricted to ``schemes``.
    """

    def __init__(self, environ_map: Mapping[_str, _str] | None = None) -> None:
        super().__init__()
        if environ_map is not None:
            self.ENVIRON = environ_map

    def get_value(
        self,
        var: _str,
        cast: Any = None,
        default: Any = NOTSET,
        parse_default: _bool = False,
    ) -> Any:
        value = (self.ENVIRON.get(var) or "").strip()
        if not value:
            if default is NOTSET:
                raise ImproperlyConfigured(f"{var} is required but not set")
            return default
        if cast is None:
            return value
        try:
            return self.parse_value(value, cast)
        except ValueError:
            expected = _EXPECTED.get(cast, "a valid value")
            raise ImproperlyConfigured(f"{var} must be {expected} (got {value!r})") from None

    def bool(self, var: _str, default: Any = NOTSET) -> _bool:
        return self.get_value(var, cast=_boolean, default=default)

    def int(self, var: _str, default: Any = NOTSET, *, minimum: _int | None = None) -> _int:
        number: _int = self.get_value(var, cast=_int, default=default)
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{var} must be at least {minimum} (got {number})")
        return number

    def float(self, var: _str, default: Any = NOTSET, *, lo: _float, hi: _float) -> _float:
        number: _float = self.get_value(var, cast=_number, default=default)
        if not lo <= number <= hi:
            raise ImproperlyConfigured(f"{var} must be between {lo} and {hi} (got {number})")
        return number

    def choice(self, var: _str, choices: tuple[_str, ...], default: _str) -> _str:
        value: _str = self.get_value(var, default=default).lower()
        if value not in choices:
            raise ImproperlyConfigured(f"{var} must be one of {', '.join(choices)} (got {value!r})")
        return value

    def list(self, var: _str, default: _list[_str]) -> _list[_str]:
        """Comma-separated names, each stripped, blanks dropped."""
        return self.get_value(var, cast=_names, default=default)

    def int_list(self, var: _str, default: _list[_int], *, minimum: _int = 0) -> _list[_int]:
        numbers: _list[_int] = self.get_value(var, cast=_integers, default=_list(default))
        if not numbers or any(n < minimum for n in numbers):
            raise ImproperlyConfigured(f"{var} must list integers of at least {minimum}")
        return numbers

    def database(self, var: _str, default: _str) -> dict[_str, Any]:
        url = self.get_value(var, default=default)
        try:
            config: dict[_str, Any] = self.db_url_config(url)
        except Exception:
            raise ImproperlyConfigured(
                f"{var} must be a database URL like postgres://user:pass@host:5432/db "
                "or sqlite:///path"
            ) from None
        if config.get("ENGINE") not in (
            "django.db.backends.postgresql",
            "django.db.backends.sqlite3",
        ):
            raise ImproperlyConfigured(
                f"{var} must use postgres:// or sqlite:// (got {url.split(':')[0]!r})"
            )
        return config

    def url(self, var: _str, default: Any = NOTSET, *, schemes: tuple[_str, ...]) -> Any:
        """The URL as a string (unlike django-environ's ``ParseResult``); a default is not
        checked."""
        value = self.get_value(var, default=default)
        if value is default:
            return value
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in schemes:
            raise ImproperlyConfigured(
                f"{var} must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return value

    # --- Growing past one machine (scale-out helpers; self-contained) ---------------------------

    def host_ports(self, name: _str) -> _list[tuple[_str, _int]]:
        """Comma-separated ``host:port`` pairs (e.g. Redis Sentinels); empty when unset."""
        value = self.get_value(name, default=None)
        if value is None:
            return []
        pairs: _list[tuple[_str, _int]] = []
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

    def fernet_keys(self, name: _str) -> _list[_str]:
        """Comma-separated Fernet keys, newest first; empty when unset. Never echoes a key."""
        value = self.get_value(name, default=None)
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


#: The checkout's local file, written by ``make run`` (``env_file_local_write``).
LOCAL_ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


class _FileValues(environ.Env):
    """django-environ's ``read_env`` parser, writing into a dict of its own (not os.environ)."""

    ENVIRON: dict[_str, _str] = {}


def env_file_values(path: Path) -> dict[_str, _str]:
    """The variables ``path`` sets, parsed by django-environ's ``Env.read_env``."""
    _FileValues.ENVIRON = {}
    _FileValues.read_env(str(path), overwrite=True)
    return dict(_FileValues.ENVIRON)


def env_file_choose(
    environ_map: Mapping[_str, _str], local: Path = LOCAL_ENV_FILE
) -> tuple[Path | None, dict[_str, _str]]:
    """Which file to read (see the module docstring) and its values; ``(None, {})`` for none."""
    explicit = environ_map.get("ENV_FILE")
    if explicit is not None:
        if not explicit.strip():
            return None, {}
        path = Path(explicit.strip())
        if not path.is_file():
            raise ImproperlyConfigured(f"ENV_FILE must name an existing file (got {explicit!r})")
        return path, env_file_values(path)
    if not local.is_file():
        return None, {}
    debug = (environ_map.get("DEBUG") or "").strip().lower()
    if debug in {"0", "false", "no", "off"}:
        return None, {}
    values = env_file_values(local)
    if (values.get("DEBUG") or "").strip().lower() not in {"1", "true", "yes", "on"}:
        return None, {}
    return local, values


def env_file_load(environ_map: MutableMapping[_str, _str] = os.environ) -> Path | None:
    """Fill in ``environ_map`` from the chosen file (set variables win); the file read or None."""
    path, values = env_file_choose(environ_map)
    for name, value in values.items():
        environ_map.setdefault(name, value)
    return path


def env_file_local_write(path: Path = LOCAL_ENV_FILE) -> bool:
    """Write the local development ``.env`` unless it exists; True when written.

    The key is generated once and kept, so one-time codes issued by a command (HMAC'd with
    ``SECRET_KEY``) are accepted by the running server, across restarts.
    """
    if path.exists():
        return False
    path.write_text(
        "# Written by `make run` on its first run: local development only, git-ignored.\n"
        "# manage.py, gunicorn, the relay and the worker read it (config/env.py); the\n"
        "# process environment wins over it. Production ignores it (DEBUG=0, no ENV_FILE).\n"
        "DEBUG=1\n"
        f"SECRET_KEY={secrets.token_urlsafe(48)}\n"
        "# The demo's webhook endpoint is the built-in receiver on 127.0.0.1.\n"
        "OUTBOX_ALLOW_PRIVATE_TARGETS=1\n"
    )
    path.chmod(0o600)
    return True


env_file_load()
env = EnvReader()
