"""Working-day arithmetic on the official mainland holiday calendar.

Conventions (the way a 承诺时限 “N个工作日” is counted from the day of acceptance):

* ``add_workdays(start, n)`` is the n-th working day *after* ``start``; ``start`` itself
  never counts, whatever day it is. Accepted on Friday with 1 working day → due Monday.
  ``n == 0`` returns ``start`` unchanged.
* ``workdays_between(a, b)`` counts working days in the half-open range (a, b]: after
  ``a``, up to and including ``b``. It is signed, ``workdays_between(b, a) ==
  -workdays_between(a, b)``, and consistent with the above:
  ``workdays_between(s, add_workdays(s, n)) == n``.

Outside the years the calendar has official data for (``covers``), only weekends are
days off: callers should warn that a deadline there may move once the State Council
publishes that year's schedule.
"""
from __future__ import annotations

import os
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

import yaml

__all__ = ["WorkCalendar", "load_calendar", "calendar_from_mapping", "DEFAULT_HOLIDAYS_PATH",
           "HOLIDAYS_ENV_VAR"]

DEFAULT_HOLIDAYS_PATH = Path(__file__).with_name("data") / "holidays.yaml"
HOLIDAYS_ENV_VAR = "BANGBAN_HOLIDAYS"


def _weekdays_up_to(ordinal: int) -> int:
    """Mon–Fri days among ordinals 1..ordinal (ordinal 1, 0001-01-01, is a Monday)."""
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest, 5)


def _first_ordinal_with_weekdays(count: int) -> int:
    """Smallest ordinal o with _weekdays_up_to(o) >= count (count >= 1)."""
    weeks, rest = divmod(count, 5)
    return weeks * 7 - 2 if rest == 0 else weeks * 7 + rest


class WorkCalendar:
    """Immutable working-day calendar.

    Every query goes through ``_count(o)``, the number of working days among ordinals
    1..o: a closed-form weekday count plus, inside the span of the official data, a
    precomputed correction table (makeup Saturdays add one, weekday holidays take one
    away). So ``is_workday`` and ``workdays_between`` are O(1) and ``add_workdays`` is
    one binary search over a table of a few hundred days per covered year — O(log days),
    independent of n — instead of walking day by day.
    """

    def __init__(self, holidays: Iterable[date], makeup_workdays: Iterable[date],
                 covered_years: Iterable[int]):
        self.holidays = frozenset(holidays)
        self.makeup_workdays = frozenset(makeup_workdays)
        self.covered_years = frozenset(covered_years)
        clash = self.holidays & self.makeup_workdays
        if clash:
            raise ValueError(f"dates both holiday and makeup workday: {sorted(clash)}")

        special = self.holidays | self.makeup_workdays
        if not special:
            self._table_start, self._count_table, self._correction_after = 0, [], 0
            return
        # The table spans whole years so it is easy to reason about; it only has to contain
        # every special date, outside it the correction is constant.
        first = date(min(d.year for d in special), 1, 1).toordinal()
        last = date(max(d.year for d in special), 12, 31).toordinal()
        correction, counts = 0, []
        for ordinal in range(first, last + 1):
            day = date.fromordinal(ordinal)
            weekend = day.weekday() >= 5
            if day in self.makeup_workdays and weekend:
                correction += 1
            elif day in self.holidays and not weekend:
                correction -= 1
            counts.append(_weekdays_up_to(ordinal) + correction)
        self._table_start = first
        self._count_table = counts  # nondecreasing: _count of each day in the span
        self._correction_after = correction

    # -- the counting function every query is built on ------------------------------------
    def _count(self, ordinal: int) -> int:
        index = ordinal - self._table_start
        if index < 0:
            return _weekdays_up_to(ordinal)
        if index < len(self._count_table):
            return self._count_table[index]
        return _weekdays_up_to(ordinal) + self._correction_after

    def _first_ordinal_with_count(self, target: int) -> int:
        """Smallest ordinal whose _count reaches ``target``: that day is a working day."""
        table = self._count_table
        if not table or target <= self._count(self._table_start - 1):
            return _first_ordinal_with_weekdays(target)
        if target <= table[-1]:
            return self._table_start + bisect_left(table, target)
        return _first_ordinal_with_weekdays(target - self._correction_after)

    # -- public API ---------------------------------------------------------------------
    def covers(self, day: date) -> bool:
        """Whether the official schedule for ``day``'s year is loaded."""
        return day.year in self.covered_years

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (``start`` not counted; n=0 → start)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return start
        return date.fromordinal(self._first_ordinal_with_count(self._count(start.toordinal()) + n))

    def workdays_between(self, a: date, b: date) -> int:
        """Working days in (a, b]; negative when b is before a."""
        return self._count(b.toordinal()) - self._count(a.toordinal())

    def __repr__(self) -> str:
        years = ",".join(str(y) for y in sorted(self.covered_years)) or "none"
        return (f"WorkCalendar(years={years}, holidays={len(self.holidays)}, "
                f"makeup_workdays={len(self.makeup_workdays)})")


# -- loading ------------------------------------------------------------------------------

_RANGE_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")


def _parse_dates(entry: object, where: str) -> list[date]:
    """A YAML date, an ISO date string, or an inclusive range "2025-10-01..2025-10-08"."""
    if isinstance(entry, date):  # YAML already parsed an unquoted 2025-10-01
        return [entry]
    if isinstance(entry, str):
        matched = _RANGE_RE.match(entry)
        try:
            if matched:
                first, last = (date.fromisoformat(part) for part in matched.groups())
                if last < first:
                    raise ValueError("range ends before it starts")
                return [first + timedelta(days=i) for i in range((last - first).days + 1)]
            return [date.fromisoformat(entry.strip())]
        except ValueError as err:
            raise ValueError(f"{where}: bad date or range {entry!r}: {err}") from None
    raise ValueError(f"{where}: expected a date or 'YYYY-MM-DD..YYYY-MM-DD', got {entry!r}")


def calendar_from_mapping(data: Mapping) -> WorkCalendar:
    """Build a calendar from the parsed YAML ``{years: {2025: {holidays, makeup_workdays}}}``."""
    years = (data or {}).get("years") if isinstance(data, Mapping) else None
    if not isinstance(years, Mapping) or not years:
        raise ValueError("holiday calendar needs a non-empty 'years' mapping")
    holidays: set[date] = set()
    makeup: set[date] = set()
    for year_key, spec in years.items():
        year = int(year_key)
        spec = spec or {}
        for key, into in (("holidays", holidays), ("makeup_workdays", makeup)):
            for entry in spec.get(key) or []:
                for day in _parse_dates(entry, f"years.{year}.{key}"):
                    # A notice may touch the neighbouring year (the 2019 notice made
                    # 2018-12-29 a workday) but never further: anything else is a typo.
                    if abs(day.year - year) > 1:
                        raise ValueError(f"years.{year}.{key}: {day} is not near {year}")
                    if key == "makeup_workdays" and day.weekday() < 5:
                        raise ValueError(f"years.{year}.makeup_workdays: {day} is not a weekend")
                    into.add(day)
    return WorkCalendar(holidays, makeup, {int(y) for y in years})


def load_calendar(path: str | os.PathLike | None = None) -> WorkCalendar:
    """Load the holiday calendar: ``path``, else $BANGBAN_HOLIDAYS, else the bundled file."""
    if path is None:
        path = os.environ.get(HOLIDAYS_ENV_VAR) or DEFAULT_HOLIDAYS_PATH
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    try:
        return calendar_from_mapping(data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
