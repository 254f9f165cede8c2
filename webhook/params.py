"""Reading odd request input as a 400 (or the 404 of a thing that cannot exist), never a 500.

Python's int has no bound, SQLite's and PostgreSQL's have; json.loads recurses, and its
RecursionError is no ValueError, so `get_json(silent=True)` lets it through.
"""
from __future__ import annotations

from datetime import date

from flask import abort, request
from werkzeug.routing import IntegerConverter

# Every id column is an INTEGER, 32 bits on PostgreSQL: a larger id names nothing (and errs there).
MAX_ID = 2**31 - 1
# LIMIT/OFFSET and SQLite's integers are 64-bit.
MAX_INT = 2**63 - 1
# Dates people mean: the service started in 2019; one outside this century is a typo or a probe
# (and the year 1 or 9999 overflows a day's arithmetic).
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: a number no table can hold does not match (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002 - werkzeug's names
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def int_arg(values, name: str, default: int, *, at_most: int = MAX_INT) -> int:
    """`values.get(name, default, type=int)` (unreadable is the default, as before), but a number
    above `at_most` is a 400."""
    value = values.get(name, default, type=int)
    if value is not None and value > at_most:
        abort(400, description=f"{name} 超出范围")
    return value


def id_arg(values, name: str) -> int | None:
    """An id from a form or query: None when missing or unreadable, 400 beyond any id."""
    return int_arg(values, name, None, at_most=MAX_ID)


def date_arg(name: str, default: date) -> date:
    """A YYYY-MM-DD query argument; unreadable is the default, a date outside EARLIEST-LATEST a 400."""
    try:
        value = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default
    if not EARLIEST <= value <= LATEST:
        abort(400, description=f"日期超出范围：请选择 {EARLIEST:%Y-%m-%d} 至 {LATEST:%Y-%m-%d} 之间的日期。")
    return value


def json_body():
    """The request's JSON, or None when it is none (not JSON, or nested deeper than the parser goes)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None
