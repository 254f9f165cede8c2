"""Logging for operators: one line per event, a request id on every line of a request, and no
personal data — credit codes and phone numbers are masked wherever they appear in a message.

LOG_FORMAT=json gives one JSON object per line (for a log shipper); the default is plain text.
Request lines carry the path only (gunicorn.conf.py does the same for gunicorn's access log): a
/wechat query string is a signature anyone could replay, a console search may be a name.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re

from bot.identifiers import mask_credit_code, mask_phone

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_CREDIT_CODE_RE = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)")


def mask_personal_data(text: str) -> str:
    text = _CREDIT_CODE_RE.sub(lambda m: mask_credit_code(m.group(0)), text)
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """Masks the rendered message (arguments included) and stamps the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed log call must not lose the line
            message = str(record.msg)
        masked = mask_personal_data(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


# The request line of werkzeug's access log: "GET /path?query HTTP/1.1".
_REQUEST_QUERY_RE = re.compile(r'("[A-Z]+ [^ ?"]*)\?[^ "]*')


class QueryStringFilter(logging.Filter):
    """Drops the query string from the development server's request lines (logger "werkzeug")."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed log call must not lose the line
            return True
        redacted = _REQUEST_QUERY_RE.sub(r"\1", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                 "logger": record.name, "request_id": getattr(record, "request_id", "-"),
                 "message": record.getMessage()}
        if record.exc_info:
            entry["error"] = mask_personal_data(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """Configure the root logger once (idempotent: a second call replaces our handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bangban", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._bangban = True  # type: ignore[attr-defined]
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # On the logger itself, not a handler: every handler (and pytest's caplog) sees the path only.
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, QueryStringFilter) for f in werkzeug.filters):
        werkzeug.addFilter(QueryStringFilter())
