from datetime import date, timedelta

import pytest

from bot.platform.workdays import (
    DEFAULT_HOLIDAYS_PATH,
    HOLIDAYS_ENV_VAR,
    WorkCalendar,
    calendar_from_mapping,
    load_calendar,
)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return load_calendar(DEFAULT_HOLIDAYS_PATH)


def naive_add_workdays(cal: WorkCalendar, start: date, n: int) -> date:
    day = start
    while n > 0:
        day += timedelta(days=1)
        n -= cal.is_workday(day)
    return day


def naive_workdays_between(cal: WorkCalendar, a: date, b: date) -> int:
    low, high, sign = (a, b, 1) if a <= b else (b, a, -1)
    return sign * sum(cal.is_workday(low + timedelta(days=i)) for i in range(1, (high - low).days + 1))


# -- the bundled schedule ----------------------------------------------------------------------

def test_bundled_calendar_covers_2025_and_2026(calendar):
    assert calendar.covered_years == {2025, 2026}
    assert calendar.covers(date(2026, 12, 31)) and not calendar.covers(date(2027, 1, 1))


@pytest.mark.parametrize("day", ["2025-01-01", "2025-01-28", "2025-02-04", "2025-05-05",
                                 "2025-10-08", "2026-01-02", "2026-02-23", "2026-04-06",
                                 "2026-10-07"])
def test_official_holidays_are_days_off(calendar, day):
    assert not calendar.is_workday(date.fromisoformat(day))


@pytest.mark.parametrize("day", ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28",
                                 "2025-10-11", "2026-01-04", "2026-02-14", "2026-02-28",
                                 "2026-05-09", "2026-09-20", "2026-10-10"])
def test_makeup_weekend_days_are_workdays(calendar, day):
    d = date.fromisoformat(day)
    assert d.weekday() >= 5 and calendar.is_workday(d)


def test_ordinary_days(calendar):
    assert calendar.is_workday(date(2025, 11, 24))  # Monday
    assert not calendar.is_workday(date(2025, 11, 22))  # Saturday


# -- add_workdays ------------------------------------------------------------------------------

def test_add_zero_returns_start_even_on_a_day_off(calendar):
    for day in (date(2025, 11, 24), date(2025, 11, 22), date(2025, 10, 3)):
        assert calendar.add_workdays(day, 0) == day


def test_across_a_weekend(calendar):
    friday = date(2025, 11, 21)
    assert calendar.add_workdays(friday, 1) == date(2025, 11, 24)
    assert calendar.add_workdays(friday, 5) == date(2025, 11, 28)
    assert calendar.add_workdays(date(2025, 11, 22), 1) == date(2025, 11, 24)  # from Saturday


def test_across_national_day_2025_with_its_makeup_sunday_and_saturday(calendar):
    # 2025-09-28 (Sun) is worked, 10-01..10-08 are off, 10-11 (Sat) is worked.
    friday = date(2025, 9, 26)
    assert calendar.add_workdays(friday, 1) == date(2025, 9, 28)
    assert calendar.add_workdays(friday, 2) == date(2025, 9, 29)
    assert calendar.add_workdays(friday, 3) == date(2025, 9, 30)
    assert calendar.add_workdays(friday, 4) == date(2025, 10, 9)
    assert calendar.add_workdays(friday, 6) == date(2025, 10, 11)
    assert calendar.add_workdays(friday, 7) == date(2025, 10, 13)
    assert calendar.add_workdays(date(2025, 10, 3), 1) == date(2025, 10, 9)


def test_across_spring_festival_2026(calendar):
    # 2026-02-14 (Sat) worked, 02-15..02-23 off.
    assert calendar.add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert calendar.add_workdays(date(2026, 2, 13), 2) == date(2026, 2, 24)


def test_twenty_workdays_from_acceptance(calendar):
    # A typical 承诺时限: accepted Thursday 2025-09-25, 20 working days:
    # 9/26 9/28(Sun) 9/29 9/30 | 10/9 10/10 10/11(Sat) | 10/13-17 | 10/20-24 | 10/27 28 29.
    assert calendar.add_workdays(date(2025, 9, 25), 20) == date(2025, 10, 29)


def test_negative_n_is_rejected(calendar):
    with pytest.raises(ValueError):
        calendar.add_workdays(date(2025, 1, 1), -1)


def test_matches_day_by_day_reference_everywhere(calendar):
    start = date(2024, 12, 1)
    for offset in range(0, 800, 3):
        day = start + timedelta(days=offset)
        for n in (1, 2, 3, 5, 8, 13, 22, 60, 250):
            assert calendar.add_workdays(day, n) == naive_add_workdays(calendar, day, n), (day, n)


def test_result_is_always_a_workday(calendar):
    for offset in range(0, 800, 7):
        day = date(2024, 12, 1) + timedelta(days=offset)
        assert calendar.is_workday(calendar.add_workdays(day, 4))


# -- workdays_between --------------------------------------------------------------------------

def test_workdays_between_counts_after_a_up_to_b(calendar):
    assert calendar.workdays_between(date(2025, 11, 21), date(2025, 11, 24)) == 1
    assert calendar.workdays_between(date(2025, 11, 24), date(2025, 11, 24)) == 0
    assert calendar.workdays_between(date(2025, 9, 30), date(2025, 10, 9)) == 1


def test_workdays_between_is_antisymmetric(calendar):
    pairs = [(date(2025, 9, 20), date(2025, 10, 20)), (date(2025, 1, 1), date(2026, 12, 31)),
             (date(2024, 6, 1), date(2027, 6, 1)), (date(2026, 2, 14), date(2026, 2, 14))]
    for a, b in pairs:
        assert calendar.workdays_between(b, a) == -calendar.workdays_between(a, b)


def test_workdays_between_inverts_add_workdays_and_matches_reference(calendar):
    for offset in range(0, 800, 11):
        a = date(2024, 12, 1) + timedelta(days=offset)
        for n in (1, 7, 30, 200):
            assert calendar.workdays_between(a, calendar.add_workdays(a, n)) == n
        b = a + timedelta(days=97)
        assert calendar.workdays_between(a, b) == naive_workdays_between(calendar, a, b)


def test_workday_totals_per_year(calendar):
    # Counted by hand from the notices. 2025: 261 weekdays - 18 weekday holidays
    # (元旦1 春节6 清明1 劳动3 端午1 国庆6) + 5 makeup days = 248.
    assert calendar.workdays_between(date(2024, 12, 31), date(2025, 12, 31)) == 248
    # 2026: 261 weekdays - 19 weekday holidays (元旦2 春节6 清明1 劳动3 端午1 中秋1 国庆5)
    # + 6 makeup days = 248.
    assert calendar.workdays_between(date(2025, 12, 31), date(2026, 12, 31)) == 248


# -- outside the covered years -----------------------------------------------------------------

def test_outside_coverage_only_weekends_are_off(calendar):
    assert not calendar.covers(date(2030, 10, 1))
    assert calendar.is_workday(date(2030, 10, 1))  # a Tuesday; no official data for 2030
    assert calendar.add_workdays(date(2030, 9, 27), 1) == date(2030, 9, 30)
    assert calendar.workdays_between(date(2030, 1, 6), date(2030, 1, 13)) == 5
    assert calendar.add_workdays(date(2024, 9, 27), 3) == date(2024, 10, 2)  # 2024 not loaded


def test_counting_into_an_uncovered_year(calendar):
    # 2026-12-31 is a Thursday; 2027 has no schedule yet, so 2027-01-01 counts as a workday.
    assert calendar.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert calendar.add_workdays(date(2026, 12, 30), 3) == date(2027, 1, 4)


def test_empty_calendar_is_weekends_only():
    cal = WorkCalendar(set(), set(), set())
    assert cal.add_workdays(date(2025, 10, 1), 3) == date(2025, 10, 6)
    assert cal.workdays_between(date(2025, 10, 6), date(2025, 10, 13)) == 5


# -- loading -----------------------------------------------------------------------------------

SMALL_YAML = """
years:
  2031:
    holidays: ["2031-05-01..2031-05-02", 2031-05-05]
    makeup_workdays: [2031-05-10]
"""


def test_env_override_path(tmp_path, monkeypatch):
    path = tmp_path / "holidays.yaml"
    path.write_text(SMALL_YAML, encoding="utf-8")
    monkeypatch.setenv(HOLIDAYS_ENV_VAR, str(path))
    cal = load_calendar()
    assert cal.covered_years == {2031}
    assert not cal.is_workday(date(2031, 5, 5)) and cal.is_workday(date(2031, 5, 10))
    assert cal.add_workdays(date(2031, 4, 30), 1) == date(2031, 5, 6)


def test_explicit_path_beats_env(tmp_path, monkeypatch):
    monkeypatch.setenv(HOLIDAYS_ENV_VAR, str(tmp_path / "missing.yaml"))
    assert load_calendar(DEFAULT_HOLIDAYS_PATH).covered_years == {2025, 2026}


def test_default_is_the_bundled_file_when_env_unset_or_empty(monkeypatch):
    monkeypatch.delenv(HOLIDAYS_ENV_VAR, raising=False)
    assert load_calendar().covered_years == {2025, 2026}
    monkeypatch.setenv(HOLIDAYS_ENV_VAR, "")
    assert load_calendar().covered_years == {2025, 2026}


@pytest.mark.parametrize("data, message", [
    ({}, "years"),
    ({"years": {2031: {"holidays": ["2031-05-01..2031-04-01"]}}}, "range"),
    ({"years": {2031: {"holidays": ["May 1st"]}}}, "bad date"),
    ({"years": {2031: {"makeup_workdays": [date(2031, 5, 6)]}}}, "not a weekend"),
    ({"years": {2031: {"holidays": [date(2035, 5, 1)]}}}, "not near"),
    ({"years": {2031: {"holidays": [date(2031, 5, 10)], "makeup_workdays": [date(2031, 5, 10)]}}},
     "both"),
])
def test_bad_calendar_data_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        calendar_from_mapping(data)
