"""The SLA sweep on SQLite and the real PostgreSQL: who is reminded, urged, apologised to and
escalated, in working days, and that sweeping again the same day sends nothing twice."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from conftest import CAL

from bot.casework import cases
from bot.models import CaseItem, LedgerEntry, Notification, Staff
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.supervision import sla

SETTINGS = Settings(sla_warn_workdays=2, sla_escalate_workdays=3, public_url="https://bangban.example")
TODAY = date(2026, 11, 18)  # a Wednesday with no holiday near it
# name → due date (and state), relative to TODAY
ITEMS = {
    "临期事项": (date(2026, 11, 20), "submitted"),  # 2 working days ahead: remind
    "宽裕事项": (date(2026, 11, 23), "submitted"),  # 3 working days ahead: nothing yet
    "超期事项": (date(2026, 11, 17), "reviewing"),  # 1 working day late: urge, alert, apologise
    "久拖事项": (date(2026, 11, 13), "correction"),  # 3 working days late: and escalate
    "已办结事项": (date(2026, 11, 10), "done"),  # late but done: nobody is bothered
}


@pytest.fixture()
def sessions(db_sessions):
    with transaction(db_sessions) as db:
        db.add_all([
            Staff(username="zhang", name="张专员", role="commissioner", region="donghu", wechat_openid="oZhang"),
            Staff(username="boss", name="刘主任", role="supervisor", region="donghu", wechat_openid="oBoss"),
            Staff(username="deputy", name="赵副主任", role="supervisor", region="donghu"),  # no WeChat
            Staff(username="far", name="外区主任", role="supervisor", region="jiangbei", wechat_openid="oFar"),
        ])
    return db_sessions


def make_case(sessions, openid="oEnt", items=ITEMS, region="donghu") -> str:
    plans = tuple(cases.ItemPlan(f"code{i}", name, "住房和城乡建设部门", "3", 5) for i, name in enumerate(items))
    with transaction(sessions) as db:
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
            credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region=region,
            investment_type="社会投资", stage="3", contact_name="陈经理", items=plans), CAL, today=date(2026, 11, 2))
        for item in cases.items_of(db, case):
            item.due_date, item.state = items[item.name]
        return case.number


def run_sweep(sessions, today=TODAY, settings=SETTINGS) -> sla.SweepCounts:
    with transaction(sessions) as db:
        return sla.sweep(db, CAL, settings, today=today)


def sla_pushes(sessions) -> list[Notification]:
    with transaction(sessions) as db:
        return list(db.scalars(sa.select(Notification).where(Notification.idempotency_key.like("sla:%"))
                               .order_by(Notification.id)))


def escalations(sessions) -> list[tuple[str, str]]:
    with transaction(sessions) as db:
        return list(db.execute(sa.select(CaseItem.name, LedgerEntry.detail).join(
            CaseItem, CaseItem.id == LedgerEntry.case_item_id).where(LedgerEntry.action == "escalated")))


def by_recipient(pushes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in pushes:
        out.setdefault(n.recipient_openid, []).append(n.purpose)
    return {k: sorted(v) for k, v in out.items()}


def test_who_hears_about_what(sessions):
    number = make_case(sessions)

    counts = run_sweep(sessions)

    assert counts.as_dict() == {"warned": 1, "urged": 2, "supervisors_alerted": 1, "apologised": 2,
                                "escalated": 1, "escalation_alerts": 1, "notifications": 7}
    pushes = sla_pushes(sessions)
    assert by_recipient(pushes) == {
        "oZhang": ["sla_urge", "sla_urge", "sla_warn"],
        "oBoss": ["sla_escalate", "sla_overdue"],  # one daily summary; not 赵副主任 (no WeChat), not 外区主任
        "oEnt": ["sla_apology", "sla_apology"],
    }
    texts = {(n.purpose, n.data.get("item")): n for n in pushes}
    warn = texts[("sla_warn", "临期事项")]
    assert warn.text == f"【临期提醒】{number}「临期事项」（住房和城乡建设部门）将于2026-11-20到期，请跟进办理进度。"
    assert warn.recipient_kind == "staff" and warn.template == "sla_warn"
    assert warn.url == f"https://bangban.example/console/cases/{number}"
    assert warn.data == {"number": number, "item": "临期事项", "due": "2026-11-20"}
    summary_overdue = next(n for n in pushes if n.purpose == "sla_overdue")
    assert summary_overdue.text == ("【超期汇总】2026-11-18 本辖区超期未办结事项2项，最早应于2026-11-13办结。"
                                    "请在工作台「挂图作战」查看并督办。")
    assert summary_overdue.data == {"date": "2026-11-18", "count": "2", "oldest": "2026-11-13"}
    apology = texts[("sla_apology", "超期事项")]
    assert apology.recipient_kind == "enterprise" and apology.url is None
    assert apology.text.startswith("【致歉】您的项目「光谷示例研发楼」") and "2026-11-17" in apology.text
    assert all(n.state == "pending" and n.attempts == 0 for n in pushes)
    assert all(n.case_id for n in pushes if n.purpose not in ("sla_escalate", "sla_overdue"))  # summaries span cases
    assert escalations(sessions) == [("久拖事项", "「久拖事项」应于2026-11-13办结，超期已满3个工作日，升级至主管协调")]
    summary = next(n for n in pushes if n.purpose == "sla_escalate")
    assert summary.text.startswith("【升级】2026-11-18 本辖区新增1项事项超期已满3个工作日")
    assert summary.idempotency_key == f"sla:escalate:donghu:2026-11-18:s{summary.idempotency_key.rsplit('s', 1)[1]}"


def test_sweeping_again_the_same_day_sends_nothing_twice(sessions):
    make_case(sessions)
    run_sweep(sessions)
    first = [(n.idempotency_key, n.text) for n in sla_pushes(sessions)]

    again = run_sweep(sessions)

    assert again.notifications == 0 and again.escalated == 0
    assert [(n.idempotency_key, n.text) for n in sla_pushes(sessions)] == first
    assert len(escalations(sessions)) == 1


def test_next_day_only_the_daily_nudges_repeat_and_the_next_item_escalates(sessions):
    make_case(sessions)
    run_sweep(sessions)

    next_day = run_sweep(sessions, today=date(2026, 11, 19))
    # 临期事项 again and now 宽裕事项 (due Monday) are within 2 WD; both overdue items are urged
    # again and supervisors get the day's summary; the apologies and the escalation do not repeat.
    assert (next_day.warned, next_day.urged, next_day.supervisors_alerted, next_day.apologised,
            next_day.escalated) == (2, 2, 1, 0, 0)

    friday = run_sweep(sessions, today=date(2026, 11, 20))
    assert (friday.escalated, friday.escalation_alerts) == (1, 1)  # 超期事项: 11-17 + 3 working days
    assert sorted(name for name, _ in escalations(sessions)) == ["久拖事项", "超期事项"]


def test_closed_cases_and_items_without_a_due_date_are_left_alone(sessions):
    number = make_case(sessions)
    make_case(sessions, openid="oOther", items={"无时限事项": (None, "submitted")})
    with transaction(sessions) as db:
        case = cases.by_number(db, number)
        cases.transition(db, case, "terminated", actor_kind="supervisor", actor_id="boss", reason="企业主动终止")

    assert run_sweep(sessions).as_dict() == sla.SweepCounts().as_dict()


def test_cut_off_dates_count_working_days_across_national_day():
    dates = sla.SweepDates.for_day(date(2026, 10, 9), CAL, warn_workdays=2, escalate_workdays=3)
    assert dates.warn_until == date(2026, 10, 12)  # Sat 10-10 is a 调休 working day
    # Working days after 09-29 up to 10-09: 09-30, 10-08, 10-09 (the holiday week does not count).
    assert dates.escalate_due_by == date(2026, 9, 29)
