"""The scheduled jobs (unaccepted assignments, daily digest, outbox drain) on SQLite and the real
PostgreSQL, and the leader election that lets exactly one of several processes run them."""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from conftest import CAL, fill_database

from bot import scheduler
from bot.casework import cases
from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.models import Case, Notification, Staff
from bot.platform.config import Settings
from bot.platform.db import make_engine, make_sessionmaker, transaction
from bot.push.wechat_api import make_client

ITEM = cases.ItemPlan("construction_permit", "建筑工程施工许可证核发", "住房和城乡建设部门", "3", 7)
NO_API = "http://127.0.0.1:9"  # jobs in these tests never reach WeChat unless an emulator is served


def utc(**delta) -> datetime:
    return datetime.now(timezone.utc) + timedelta(**delta)


def wait_until(predicate, what: str, timeout: float = 20.0) -> None:
    """Poll until true; the timeout only stops a hung test, it is not what is being tested."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


@pytest.fixture()
def sessions(db_sessions):
    with transaction(db_sessions) as db:
        db.add_all([
            Staff(username="zhang", name="张专员", role="commissioner", region="donghu", wechat_openid="oZhang"),
            Staff(username="boss", name="刘主任", role="supervisor", region="donghu", wechat_openid="oBoss"),
            Staff(username="yan", name="延津主任", role="supervisor", region="yanjin", wechat_openid="oYan"),
            Staff(username="wang", name="王专员", role="commissioner", region="jiangbei"),  # no WeChat bound
        ])
    return db_sessions


def settings_for(url: str, **changes) -> Settings:
    return Settings(database_url=url, wechat_api_base=NO_API, public_url="https://bangban.example").with_(**changes)


def jobs_for(sessions, url: str, **changes) -> scheduler.Jobs:
    return scheduler.Jobs(settings_for(url, **changes), sessions=sessions, client=object(), calendar=CAL)


def submit(sessions, openid: str, region: str = "donghu") -> str:
    with transaction(sessions) as db:
        return cases.submit(db, cases.Application(
            mode="帮办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
            credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region=region,
            investment_type="社会投资", stage="3", contact_name="陈经理", items=(ITEM,)), CAL).number


def pushes(sessions, prefix: str) -> list[Notification]:
    with transaction(sessions) as db:
        return list(db.scalars(sa.select(Notification).where(Notification.idempotency_key.like(prefix + "%"))
                               .order_by(Notification.id)))


def ledger_actions(sessions, number: str) -> list[str]:
    with transaction(sessions) as db:
        return [e.action for e in cases.ledger_of(db, cases.by_number(db, number))]


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------
def test_unaccepted_assignment_is_re_alerted_then_escalated_once(sessions, database_url):
    jobs = jobs_for(sessions, database_url, accept_realert_minutes=60, accept_escalate_minutes=120)
    number = submit(sessions, "oEnt")
    accepted = submit(sessions, "oOther")
    with transaction(sessions) as db:
        cases.transition(db, cases.by_number(db, accepted), "accepted", actor_kind="commissioner", actor_id="zhang")

    assert jobs.unaccepted_assignments(now=utc(minutes=30)) == {"realerted": 0, "escalated": 0}
    assert jobs.unaccepted_assignments(now=utc(minutes=61)) == {"realerted": 1, "escalated": 0}
    assert jobs.unaccepted_assignments(now=utc(minutes=90)) == {"realerted": 0, "escalated": 0}
    [reminder] = pushes(sessions, "accept-remind:")
    assert reminder.recipient_openid == "oZhang" and reminder.template == "assignment"
    assert reminder.text.startswith(f"【待受理提醒】{number} 分派给您已超过60分钟仍未受理")

    assert jobs.unaccepted_assignments(now=utc(minutes=181)) == {"realerted": 0, "escalated": 1}
    assert jobs.unaccepted_assignments(now=utc(minutes=300)) == {"realerted": 0, "escalated": 0}
    [alert] = pushes(sessions, "accept-escalate:")
    assert alert.recipient_openid == "oBoss"  # the case's region only, not 延津
    assert "专员张专员超过180分钟仍未受理，请协调或改派" in alert.text
    assert ledger_actions(sessions, number).count("escalated") == 1
    assert "escalated" not in ledger_actions(sessions, accepted)


def test_case_nobody_can_accept_goes_to_the_supervisors_after_the_first_period(sessions, database_url):
    jobs = jobs_for(sessions, database_url, accept_realert_minutes=60)
    number = submit(sessions, "oEnt", region="yanjin")  # no commissioner there

    assert jobs.unaccepted_assignments(now=utc(minutes=61)) == {"realerted": 0, "escalated": 1}

    [alert] = pushes(sessions, "accept-escalate:")
    assert alert.recipient_openid == "oYan" and "该地区暂无可分派的帮代办专员" in alert.text
    assert ledger_actions(sessions, number)[-1] == "escalated"


def test_commissioner_without_wechat_goes_to_the_supervisors_after_the_first_period(sessions, database_url):
    jobs = jobs_for(sessions, database_url, accept_realert_minutes=60)
    number = submit(sessions, "oEnt", region="jiangbei")

    assert jobs.unaccepted_assignments(now=utc(minutes=61)) == {"realerted": 0, "escalated": 1}

    with transaction(sessions) as db:
        last = cases.ledger_of(db, cases.by_number(db, number))[-1]
    assert (last.action, last.detail) == ("escalated", "超过60分钟未受理，已提醒主管")


def test_daily_digest_gives_each_supervisor_their_region_once_a_day(sessions, database_url):
    jobs = jobs_for(sessions, database_url)
    first, second = submit(sessions, "oA"), submit(sessions, "oB")
    submit(sessions, "oC", region="yanjin")  # unassigned, other region
    with transaction(sessions) as db:
        case = cases.by_number(db, first)
        cases.items_of(db, case)[0].due_date = date(2020, 1, 6)  # long overdue
        db.add(Notification(idempotency_key="dead-one", recipient_openid="oA", recipient_kind="enterprise",
                            purpose="progress", text="…", case_id=case.id, state="dead", last_error="40003 invalid openid"))
        db.execute(sa.update(Case).where(Case.number == second).values(commissioner_id=None))

    assert jobs.daily_digest() == 2
    assert jobs.daily_digest() == 0  # a second run the same day queues nothing

    digests = {n.recipient_openid: n for n in pushes(sessions, "digest:")}
    assert digests["oBoss"].text.splitlines()[1:4] == ["在办案件：2件（待分派1件）", "超期事项：1项", "发送失败的通知：1条"]
    assert digests["oYan"].text.splitlines()[1:4] == ["在办案件：1件（待分派1件）", "超期事项：0项", "发送失败的通知：0条"]
    assert digests["oBoss"].recipient_kind == "staff" and digests["oBoss"].template == "digest"


def test_dispatch_job_drains_a_backlog_in_one_run(sessions, database_url):
    with serve() as base_url:
        EmulatorControl(base_url).add_template("tpl-digest", ["date"])
        settings = settings_for(database_url, wechat_api_base=base_url, wechat_appid=DEFAULT_APPID,
                                wechat_secret=DEFAULT_SECRET, wechat_templates={"digest": "tpl-digest"},
                                dispatch_batch=2)
        for i in range(5):
            EmulatorControl(base_url).add_user(f"oSup{i}")
            with transaction(sessions) as db:
                db.add(Notification(idempotency_key=f"d{i}", recipient_openid=f"oSup{i}", recipient_kind="staff",
                                    purpose="digest", text="简报", template="digest", data={"date": "2026-11-18"}))
        jobs = scheduler.Jobs(settings, sessions=sessions, client=make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url),
                              calendar=CAL)

        counts = jobs.dispatch_outbox()

        assert (counts.claimed, counts.sent) == (5, 5)
        assert len(EmulatorControl(base_url).messages()) == 5


# ---------------------------------------------------------------------------------------------
# Leadership
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def fast_settings(sqlite_url, redis_url):
    fill_database(sqlite_url)
    return settings_for(sqlite_url, redis_url=redis_url, scheduler_lock_ttl_s=1.5, dispatch_interval_s=0.05,
                        accept_check_interval_s=0.05)


def make_leader(settings: Settings, redis_client, lock_name: str) -> scheduler.LeaderScheduler:
    engine = make_engine(settings.database_url)
    jobs = scheduler.Jobs(settings, sessions=make_sessionmaker(engine), client=object(), calendar=CAL)
    return scheduler.LeaderScheduler(settings, jobs=jobs, redis_client=redis_client, lock_name=lock_name)


def test_two_schedulers_sharing_redis_run_jobs_in_one_only_and_hand_over(fast_settings, redis_client):
    lock_name = f"test:scheduler:{uuid.uuid4().hex}"
    a = make_leader(fast_settings, redis_client, lock_name).start()
    b = make_leader(fast_settings, redis_client, lock_name).start()
    try:
        wait_until(lambda: a.is_leader or b.is_leader, "a leader")
        leader, follower = (a, b) if a.is_leader else (b, a)
        wait_until(lambda: leader.runs["outbox-dispatch"] >= 3 and leader.runs["unaccepted-assignments"] >= 3,
                   "the leader running its jobs")
        assert not follower.is_leader and follower.runs == Counter()

        leader.stop()  # a clean stop releases the lock at once

        wait_until(lambda: follower.is_leader, "the follower taking over")
        assert not leader.is_leader
        ran_before = sum(leader.runs.values())
        wait_until(lambda: follower.runs["outbox-dispatch"] >= 3, "the new leader running the jobs")
        assert sum(leader.runs.values()) == ran_before  # the old leader runs nothing any more
    finally:
        a.stop()
        b.stop()


def test_a_leader_that_loses_its_lock_stops_its_jobs_and_campaigns_again(fast_settings, redis_client):
    lock_name = f"test:scheduler:{uuid.uuid4().hex}"
    leader = make_leader(fast_settings, redis_client, lock_name).start()
    try:
        wait_until(lambda: leader.is_leader and leader.runs["outbox-dispatch"] >= 1, "leading")

        redis_client.set(lock_name, "another-process", px=60_000)  # as if its TTL ran out and another won

        wait_until(lambda: not leader.is_leader, "stepping down")
        stopped_at = sum(leader.runs.values())
        assert leader.terms == 1

        redis_client.delete(lock_name)  # the other process went away

        wait_until(lambda: leader.is_leader and sum(leader.runs.values()) > stopped_at, "leading again")
        assert leader.terms == 2
    finally:
        leader.stop()


def test_without_redis_the_one_process_is_the_leader(sqlite_url):
    fill_database(sqlite_url)
    settings = settings_for(sqlite_url, dispatch_interval_s=0.05)
    leader = make_leader(settings, None, "unused").start()
    try:
        assert leader.is_leader
        wait_until(lambda: leader.runs["outbox-dispatch"] >= 2, "jobs running")
    finally:
        leader.stop()
    assert not leader.is_leader


def test_clock_jobs_are_persisted_and_kept_across_restarts(sqlite_url):
    fill_database(sqlite_url)
    settings = settings_for(sqlite_url)

    def stored_jobs(settings):
        leader = make_leader(settings, None, "unused").start()
        try:
            return {job.id: (str(job.trigger), job.next_run_time)
                    for job in leader._scheduler.get_jobs(jobstore="default")}
        finally:
            leader.stop()

    first = stored_jobs(settings)
    assert set(first) == {"sla-sweep", "daily-digest"}
    assert stored_jobs(settings) == first  # kept as stored: a missed run would still be due
    changed = stored_jobs(settings.with_(digest_hour=7))
    assert "hour='7'" in changed["daily-digest"][0] and changed["sla-sweep"] == first["sla-sweep"]
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from apscheduler_jobs")).scalar() == 2
    engine.dispose()


def test_run_forever_leads_until_stopped(sqlite_url):
    fill_database(sqlite_url)
    stop = threading.Event()
    runner = threading.Thread(target=scheduler.run_forever, args=(settings_for(sqlite_url),), kwargs={"stop": stop})
    runner.start()
    wait_until(lambda: scheduler._leader_jobs is not None, "the scheduler process leading")
    stop.set()
    runner.join(timeout=20)
    assert not runner.is_alive() and scheduler._leader_jobs is None
