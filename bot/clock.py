"""Service time: the service runs on China Standard Time whatever zone the host is in, so
"today" (due dates, once-a-day 催办) and the times people read are Beijing time. Stored
timestamps stay UTC."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

SERVICE_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    return datetime.now(SERVICE_TZ).date()


def as_utc(dt: datetime) -> datetime:
    """SQLite returns naive datetimes; everything we store is UTC."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def start_of_day(day: date) -> datetime:
    """The UTC instant at which `day` begins in service time."""
    return datetime.combine(day, time.min, tzinfo=SERVICE_TZ).astimezone(timezone.utc)


def local_text(dt: datetime, fmt: str = "%m月%d日 %H:%M") -> str:
    return as_utc(dt).astimezone(SERVICE_TZ).strftime(fmt)
