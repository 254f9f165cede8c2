"""Case services on SQLite and the real PostgreSQL: numbering, 属地 assignment, state machines,
the append-only ledger and the outbox row written with the change."""
from __future__ import annotations

import threading
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
from conftest import CAL, DRAWINGS, PERMIT

from bot.casework import cases
from bot.models import LedgerEntry, Notification, Staff
from bot.platform import clock
from bot.platform.db import transaction

PLANNING = cases.ItemPlan("engineering_planning_permit", "建设工程规划许可证核发", "自然资源和规划部门", "2", 15)
UTILITY = cases.ItemPlan("water_connection", "供水报装", "供水企业", "utility", None)


@pytest.fixture()
def sessions(db_sessions):
    with transaction(db_sessions) as db:
        db.add_all([
            Staff(username="zhang", name="张专员", role="commissioner", region="donghu", wechat_openid="oStaffZhang"),
            Staff(username="li", name="李专员", role="commissioner", region="donghu", wechat_openid="oStaffLi"),
            Staff(username="wang", name="王专员", role="commissioner", region="jiangbei"),
            Staff(username="boss", name="刘主任", role="supervisor", region="donghu"),
        ])
    return db_sessions


def application(openid="oEnt", key=None, mode="帮办", region="donghu", items=(PERMIT,)):
    return cases.Application(
        mode=mode, applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
        credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region=region,
        investment_type="社会投资", stage="3", contact_name="陈经理", items=tuple(items),
        agreement_consented_at=datetime.now(timezone.utc) if mode == "代办" else None, submission_key=key)


def test_submit_stores_case_items_ledger_and_alert_together(sessions):
    with transaction(sessions) as db:
        case = cases.submit(db, application(items=(PERMIT, DRAWINGS)), CAL, today=date(2026, 9, 28))
        number = case.number
    assert number == "BD-2026-000001"
    with transaction(sessions) as db:
        case = cases.by_number(db, number)
        items = cases.items_of(db, case)
        assert [(i.name, i.state, i.due_date) for i in items] == [
            ("建筑工程施工许可证核发", "pending", date(2026, 10, 13)),  # 7 WD across 国庆 and its 调休 Saturday 10-10
            ("施工图审查", "pending", date(2026, 10, 16)),
        ]
        assert [e.action for e in cases.ledger_of(db, case)] == ["submitted", "assigned"]
        alert = db.scalars(sa.select(Notification)).one()
        assert alert.recipient_openid in ("oStaffZhang", "oStaffLi")
        assert number in alert.text and alert.purpose == "assignment"


def test_least_loaded_commissioner_of_the_region_gets_the_case(sessions):
    with transaction(sessions) as db:
        first = cases.submit(db, application("oA"), CAL)
        second = cases.submit(db, application("oB"), CAL)
        other_region = cases.submit(db, application("oC", region="jiangbei"), CAL)
        names = {c.number: db.get(Staff, c.commissioner_id).name for c in (first, second, other_region)}
    assert names[first.number] != names[second.number]  # spread, not piled on one
    assert names[other_region.number] == "王专员"  # 属地: never across regions


def test_region_without_commissioner_is_recorded_for_supervisor(sessions):
    with transaction(sessions) as db:
        case = cases.submit(db, application(region="yanjin"), CAL)
        assert case.commissioner_id is None
        assert "unassigned" in [e.action for e in cases.ledger_of(db, case)]


def test_repeated_submission_key_makes_one_case(sessions):
    with transaction(sessions) as db:
        a = cases.submit(db, application(key="conv-1-confirm"), CAL)
    with transaction(sessions) as db:
        b = cases.submit(db, application(key="conv-1-confirm"), CAL)
        assert a.number == b.number
        assert db.scalar(sa.select(sa.func.count()).select_from(cases.Case)) == 1


def test_numbers_are_unique_under_concurrent_submissions(sessions):
    numbers, errors = [], []

    def submit(i):
        try:
            with transaction(sessions) as db:
                numbers.append(cases.submit(db, application(f"o{i}"), CAL).number)
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == [f"BD-{clock.today().year}-{i:06d}" for i in range(1, 9)]


def test_daiban_needs_agreement_and_items_are_required(sessions):
    with transaction(sessions) as db:
        bad = application(mode="代办")
        bad = cases.Application(**{**bad.__dict__, "agreement_consented_at": None})
        with pytest.raises(cases.CaseError, match="委托协议"):
            cases.submit(db, bad, CAL)
        with pytest.raises(cases.CaseError, match="至少选择"):
            cases.submit(db, application(items=()), CAL)


def test_case_state_machine_refuses_illegal_moves(sessions):
    with transaction(sessions) as db:
        case = cases.submit(db, application(), CAL)
        with pytest.raises(cases.CaseError, match="不能变更为「已办结」"):
            cases.transition(db, case, "completed", actor_kind="commissioner", actor_id="zhang")
        cases.transition(db, case, "accepted", actor_kind="commissioner", actor_id="zhang")
        with pytest.raises(cases.CaseError, match="原因"):
            cases.transition(db, case, "terminated", actor_kind="commissioner", actor_id="zhang", reason=" ")
        cases.transition(db, case, "terminated", actor_kind="commissioner", actor_id="zhang", reason="企业主动终止")
        assert case.state == "terminated" and case.closed_at is not None
        assert "企业主动终止" in cases.ledger_of(db, case)[-1].detail


def test_item_state_machine_and_correction_loop(sessions):
    with transaction(sessions) as db:
        case = cases.submit(db, application(), CAL)
        item = cases.items_of(db, case)[0]
        for to in ("submitted", "accepted", "reviewing", "correction", "reviewing", "done"):
            cases.move_item(db, case, item, to, actor_kind="commissioner", actor_id="zhang")
        with pytest.raises(cases.CaseError, match="已办结"):
            cases.move_item(db, case, item, "reviewing", actor_kind="commissioner", actor_id="zhang")
        history = [e.detail for e in cases.ledger_of(db, case) if e.case_item_id == item.id]
        assert history[3] == "建筑工程施工许可证核发：审批中 → 需补正"


def test_ledger_is_append_only_in_the_database(sessions):
    with transaction(sessions) as db:
        cases.submit(db, application(), CAL)
    for stmt in (sa.update(LedgerEntry).values(detail="rewritten"), sa.delete(LedgerEntry)):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with transaction(sessions) as db:
                db.execute(stmt)
    with transaction(sessions) as db:
        assert "rewritten" not in {e.detail for e in db.scalars(sa.select(LedgerEntry))}


def test_schedule_runs_stages_in_order_and_items_in_parallel():
    plan = cases.plan_schedule([PERMIT, PLANNING, DRAWINGS, UTILITY], date(2026, 3, 2), CAL)
    due = {p.plan.code: p.due for p in plan.items}
    assert due["engineering_planning_permit"] == date(2026, 3, 23)  # stage 2 first: 15 WD
    assert due["construction_permit"] == CAL.add_workdays(date(2026, 3, 23), 7)  # stage 3 starts after
    assert due["drawing_review"] == CAL.add_workdays(date(2026, 3, 23), 10)
    assert due["water_connection"] is None  # no published limit: no invented date
    assert plan.finish == due["drawing_review"]


def test_item_that_needs_another_result_starts_after_it():
    reviewed = cases.ItemPlan("construction_permit", "建筑工程施工许可证核发", "住建", "3", 7, after=("drawing_review",))
    plan = cases.plan_schedule([reviewed, DRAWINGS], date(2026, 3, 2), CAL)
    due = {p.plan.code: p.due for p in plan.items}
    assert [p.plan.code for p in plan.items] == ["drawing_review", "construction_permit"]
    assert due["construction_permit"] == CAL.add_workdays(due["drawing_review"], 7)


def test_prerequisite_not_chosen_does_not_delay():
    alone = cases.ItemPlan("construction_permit", "建筑工程施工许可证核发", "住建", "3", 7, after=("drawing_review",))
    plan = cases.plan_schedule([alone], date(2026, 3, 2), CAL)
    assert plan.items[0].due == CAL.add_workdays(date(2026, 3, 2), 7)
