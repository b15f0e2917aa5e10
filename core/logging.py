"""One JSON object per log line, with the request id when there is one; secrets, query-string
values and phone numbers redacted (:mod:`core.redaction`)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from core.redaction import log_data_redact
from core.request_context import current_request_id

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            # As Python names them (INFO, WARNING, ERROR): `grep ERROR` finds what it should.
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            data["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        # Redaction last, over every field (messages, extras, tracebacks): see core.redaction.
        return json.dumps(log_data_redact(data), default=str, ensure_ascii=False)
