"""The one JSON parser of every API: bounded in size and depth, and strict about text.

Limits (documented in ``docs/security.md``; the values live in ``config/settings.py``):

* ``REQUEST_BODY_MAX_BYTES`` (also ``DATA_UPLOAD_MAX_MEMORY_SIZE``): a longer body gets 413.
  :class:`core.request_limits.BodyLimitMiddleware` refuses it by its ``Content-Length`` before
  anything reads it; the parser reads at most one byte more than the limit, so a body that
  arrives without an honest length is refused here too.
* ``JSON_MAX_DEPTH``: arrays and objects nested deeper get 400 (``json-too-deep``); Python's
  parser would otherwise recurse until ``RecursionError``.
* Text: a body that is not UTF-8, or a string (key or value) holding a lone surrogate
  (``"\\ud800"``) or NUL, gets 400 (``undecodable-text``). Neither can be stored in PostgreSQL or
  written back out as UTF-8, so letting them in means a 500 later.

:class:`TelegramJSONParser` keeps the size and depth limits but lets such text through: Telegram
retries an update until it is acknowledged, so the webhook stores a sanitised copy instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from core.errors import ApplicationError


class BodyTooLarge(ApplicationError):
    """The request body is over ``REQUEST_BODY_MAX_BYTES``."""

    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class MalformedBody(ApplicationError):
    """The body is not JSON."""

    status = 400
    slug = "malformed-json"
    title = "The body is not valid JSON"


class BodyTooDeep(ApplicationError):
    """The JSON body nests deeper than ``JSON_MAX_DEPTH``."""

    status = 400
    slug = "json-too-deep"
    title = "The JSON body is nested too deeply"


class UndecodableText(ApplicationError):
    """The body is not UTF-8, or holds text no UTF-8 store can take (lone surrogates, NUL)."""

    status = 400
    slug = "undecodable-text"
    title = "The body holds undecodable text"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def text_is_storable(text: str) -> bool:
    """False for a string PostgreSQL or a UTF-8 writer cannot take (NUL, lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_inspect(data: Any, *, max_depth: int, check_text: bool) -> None:
    """Raise :class:`BodyTooDeep` or :class:`UndecodableText`; iterative, so never recursive."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping | list):
            if depth >= max_depth:
                raise BodyTooDeep(
                    f"The JSON body nests arrays and objects more than {max_depth} levels deep."
                )
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            for key, item in items:
                if check_text and isinstance(key, str) and not text_is_storable(key):
                    raise UndecodableText(_UNDECODABLE)
                stack.append((item, depth + 1))
        elif check_text and isinstance(value, str) and not text_is_storable(value):
            raise UndecodableText(_UNDECODABLE)


_UNDECODABLE = (
    "The body holds text we cannot store: a lone UTF-16 surrogate (\\ud800-\\udfff) or NUL "
    "(\\u0000). Send UTF-8 text without them."
)


class StrictJSONParser(JSONParser):
    """DRF's JSON parser with the limits above; errors are problem+json 400/413."""

    check_text = True

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.REQUEST_BODY_MAX_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise BodyTooLarge(f"The request body is over the limit of {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise UndecodableText(f"The request body is not valid {encoding} text.") from None
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise BodyTooDeep(
                f"The JSON body nests arrays and objects more than "
                f"{settings.JSON_MAX_DEPTH} levels deep."
            ) from None
        except json.JSONDecodeError as exc:
            raise MalformedBody(
                f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        except ValueError as exc:
            raise MalformedBody(f"The body is not valid JSON: {exc}.") from None
        json_inspect(data, max_depth=settings.JSON_MAX_DEPTH, check_text=self.check_text)
        return data


class TelegramJSONParser(StrictJSONParser):
    """Size and depth limits only: the webhook sanitises text it cannot store and acknowledges."""

    check_text = False
