"""Value rules for subscribe-message (bizsend) template fields.

A field key carries its type before the trailing number ("thing3", "character_string12").
Limits from WeChat's subscribe-message docs; a value breaking them gives 47003 on the real API:
thing <= 20 chars; character_string <= 32 letters/digits/symbols; phrase <= 5 Chinese characters;
number <= 32 digits (decimals allowed); letter <= 32 letters; symbol <= 5 symbols;
amount = optional currency sign + up to 10 digits + optional 2 decimals + optional 元;
phone_number <= 17 digits/symbols; car_number <= 8 chars; name <= 10 Chinese or <= 20 letters;
time = 24-hour time optionally after a date; date = a date optionally with a 24-hour time;
time and date may be a range "a~b".
"""
from __future__ import annotations

import re

KNOWN_TYPES = (
    "thing", "character_string", "phrase", "number", "letter", "symbol", "amount",
    "phone_number", "car_number", "name", "time", "date", "const",
)

_HAN = r"\u4e00-\u9fff"
_DATE = r"(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})"
_TIME = r"([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?"
_TIME_POINT = re.compile(rf"^({_DATE}\s*)?{_TIME}$")
_DATE_POINT = re.compile(rf"^{_DATE}(\s*{_TIME})?$")
_AMOUNT = re.compile(r"^[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?$")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_LETTERS = re.compile(r"^[A-Za-z]+$")
_SYMBOLS = re.compile(r"^[^\w\s]+$")
_ASCII_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_PHONE = re.compile(r"^[\d+\-() ]+$")
_CHINESE = re.compile(rf"^[{_HAN}]+$")


def field_type(key: str) -> str:
    """'character_string12' -> 'character_string'; unknown prefixes come back as they are."""
    return re.sub(r"\d+$", "", key)


def _point_or_range(value: str, point: re.Pattern) -> bool:
    parts = [p.strip() for p in value.split("~")]
    return 1 <= len(parts) <= 2 and all(point.match(p) for p in parts)


def _name_ok(value: str) -> bool:
    if _CHINESE.match(value):
        return len(value) <= 10
    return bool(re.match(r"^[A-Za-z .·]+$", value)) and len(value) <= 20


_RULES = {
    "thing": lambda v: len(v) <= 20,
    "character_string": lambda v: len(v) <= 32 and bool(_ASCII_PRINTABLE.match(v)),
    "phrase": lambda v: len(v) <= 5 and bool(_CHINESE.match(v)),
    "number": lambda v: len(v) <= 32 and bool(_NUMBER.match(v)),
    "letter": lambda v: len(v) <= 32 and bool(_LETTERS.match(v)),
    "symbol": lambda v: len(v) <= 5 and bool(_SYMBOLS.match(v)),
    "amount": lambda v: bool(_AMOUNT.match(v)),
    "phone_number": lambda v: len(v) <= 17 and bool(_PHONE.match(v)),
    "car_number": lambda v: len(v) <= 8,
    "name": _name_ok,
    "time": lambda v: _point_or_range(v, _TIME_POINT),
    "date": lambda v: _point_or_range(v, _DATE_POINT),
}


def field_problem(key: str, kind: str, entry) -> str | None:
    """Why data[key] is unacceptable for a field of this kind, or None when it is fine."""
    if not isinstance(entry, dict) or "value" not in entry:
        return f"data.{key}.value is empty"
    value = entry["value"]
    if not isinstance(value, str) or not value.strip():
        return f"data.{key}.value is empty"
    rule = _RULES.get(kind)
    if rule is not None and not rule(value):
        return f"data.{key}.value invalid for {kind}"
    return None
