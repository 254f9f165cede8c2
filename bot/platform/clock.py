"""Service time: the service runs on China Standard Time whatever zone the host is in, so
"today" (due dates, once-a-day 催办) and the times people read are Beijing time. Stored
timestamps stay UTC.

Every time or date a person reads is written by one of the functions at the end: `stamp` for
records (console, exports, ledger lines, the CLI), `date_text` and `local_text` for what the
chat and pushes say. Nothing else formats a stored datetime, so none can show UTC.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

SERVICE_TZ = ZoneInfo("Asia/Shanghai")
STAMP = "%Y-%m-%d %H:%M"


def now() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    return datetime.now(SERVICE_TZ).date()


def as_utc(dt: datetime) -> datetime:
    """SQLite returns naive datetimes; everything we store is UTC."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def to_local(dt: datetime) -> datetime:
    """A stored (UTC, possibly naive) instant as Beijing wall-clock time."""
    return as_utc(dt).astimezone(SERVICE_TZ)


def start_of_day(day: date) -> datetime:
    """The UTC instant at which `day` begins in service time."""
    return datetime.combine(day, time.min, tzinfo=SERVICE_TZ).astimezone(timezone.utc)


# -- what people read ---------------------------------------------------------------------

def stamp(dt: datetime | None, fmt: str = STAMP) -> str:
    """A record's time, 「2026-12-02 21:57」 in Beijing time; "" for none."""
    return to_local(dt).strftime(fmt) if dt is not None else ""


def date_text(day: date, current: date | None = None) -> str:
    """A date in a sentence: 「12月02日」 this year, 「2027年01月05日」 in any other (a date
    without its year reads as this year's)."""
    current = current or today()
    return f"{day:%m月%d日}" if day.year == current.year else f"{day:%Y年%m月%d日}"


def local_text(dt: datetime, fmt: str | None = None) -> str:
    """An instant in a sentence, 「12月02日 21:57」 (with the year when it is not this year's);
    `fmt` for a fixed layout."""
    local = to_local(dt)
    if fmt is not None:
        return local.strftime(fmt)
    return f"{date_text(local.date())} {local:%H:%M}"
