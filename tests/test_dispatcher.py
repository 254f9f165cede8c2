"""The outbox dispatcher against the served WeChat emulator, on SQLite and the real PostgreSQL:
which channel a push takes, what happens on each WeChat failure, and that no push is lost or
doubled when dispatchers run side by side or one is killed mid-batch."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import fill_database

from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
from bot.models import Notification, WechatUser
from bot.platform.clock import as_utc
from bot.platform.config import Settings
from bot.platform.db import make_engine, make_sessionmaker, transaction
from bot.push import dispatcher
from bot.push.wechat_api import make_client

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_ID = "tpl-progress"
TEMPLATE_FIELDS = ["number", "item", "status"]
DATA = {"number": "BD-2026-000001", "item": "施工许可", "status": "已受理"}


def utc(**delta) -> datetime:
    return datetime.now(timezone.utc) + timedelta(**delta)


@pytest.fixture()
def sessions(db_sessions):
    return db_sessions


@pytest.fixture()
def emulator():
    with serve() as base_url:
        control = EmulatorControl(base_url)
        control.add_template(TEMPLATE_ID, TEMPLATE_FIELDS)
        yield base_url, control


def settings_for(base_url: str, database_url: str = "", **changes) -> Settings:
    settings = Settings(wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET, wechat_api_base=base_url,
                        wechat_templates={"progress": TEMPLATE_ID}, database_url=database_url or "sqlite://")
    return settings.with_(**changes)


@pytest.fixture()
def wechat(emulator):
    base_url, control = emulator
    return make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url), control, settings_for(base_url)


def user(sessions, control, openid: str, wrote_hours_ago: float | None):
    """A follower; wrote_hours_ago says when they last wrote (None: never), in both worlds."""
    control.add_user(openid)
    last = utc(hours=-wrote_hours_ago) if wrote_hours_ago is not None else None
    if last is not None:
        control.interact(openid, at=last.timestamp())
    with transaction(sessions) as db:
        db.add(WechatUser(openid=openid, last_message_at=last))


def push(sessions, key: str, recipient: str, kind: str = "enterprise", template: str | None = "progress",
         text: str = "您的施工许可已受理。", **extra) -> None:
    with transaction(sessions) as db:
        db.add(Notification(idempotency_key=key, recipient_openid=recipient, recipient_kind=kind,
                            purpose="progress", text=text, template=template, data=dict(DATA),
                            url="https://bangban.example/c/1", **extra))


def rows(sessions) -> dict[str, Notification]:
    with transaction(sessions) as db:
        return {n.idempotency_key: n for n in db.scalars(sa.select(Notification))}


# ---------------------------------------------------------------------------------------------
# Channel choice
# ---------------------------------------------------------------------------------------------
def test_customer_service_text_inside_the_48h_window(sessions, wechat):
    client, control, settings = wechat
    user(sessions, control, "oInWindow", wrote_hours_ago=1)
    push(sessions, "p1", "oInWindow")

    counts = dispatcher.dispatch_once(sessions, client, settings)

    assert (counts.claimed, counts.sent) == (1, 1)
    n = rows(sessions)["p1"]
    assert (n.state, n.channel, n.attempts, n.last_error) == ("sent", "custom", 1, None)
    assert n.sent_at is not None
    [message] = control.messages()
    assert message["kind"] == "custom" and message["openid"] == "oInWindow"
    assert message["payload"]["text"]["content"] == "您的施工许可已受理。"


def test_template_message_outside_the_window_with_data_url_and_client_msg_id(sessions, wechat):
    client, control, settings = wechat
    user(sessions, control, "oQuiet", wrote_hours_ago=72)
    push(sessions, "p2", "oQuiet")

    dispatcher.dispatch_once(sessions, client, settings)

    n = rows(sessions)["p2"]
    assert (n.state, n.channel) == ("sent", "template")
    [message] = control.messages()
    assert message["kind"] == "template" and message["template_id"] == TEMPLATE_ID
    assert message["client_msg_id"] == "p2"
    assert message["payload"]["data"]["item"] == {"value": "施工许可"}
    assert message["payload"]["url"] == "https://bangban.example/c/1"


def test_template_takes_over_when_the_window_quota_is_used_up(sessions, wechat):
    client, control, settings = wechat
    user(sessions, control, "oChatty", wrote_hours_ago=1)
    for i in range(6):  # WeChat allows 5 customer-service messages per window
        push(sessions, f"p{i}", "oChatty", text=f"进度{i}")

    dispatcher.dispatch_once(sessions, client, settings)

    states = rows(sessions)
    assert all(n.state == "sent" for n in states.values())
    assert [states[f"p{i}"].channel for i in range(6)] == ["custom"] * 5 + ["template"]
    assert states["p5"].last_error.startswith("custom: 45047")  # kept for the console
    assert [m["kind"] for m in control.messages()] == ["custom"] * 5 + ["template"]


def test_subscribe_message_when_no_template_is_configured(sessions, wechat):
    client, control, settings = wechat
    control.add_subscribe_template("sub-progress", {"thing1": "thing", "phrase2": "phrase"})
    control.accept_subscription("oSub", "sub-progress")
    settings = settings.with_(wechat_templates={}, wechat_subscribe_templates={
        "progress": {"id": "sub-progress", "fields": {"thing1": "item", "phrase2": "status"}}})
    user(sessions, control, "oSub", wrote_hours_ago=None)
    push(sessions, "p3", "oSub")

    dispatcher.dispatch_once(sessions, client, settings)

    assert (rows(sessions)["p3"].state, rows(sessions)["p3"].channel) == ("sent", "subscribe")
    [message] = control.messages()
    assert message["payload"]["data"] == {"thing1": {"value": "施工许可"}, "phrase2": {"value": "已受理"}}


def test_dead_with_a_reason_when_no_channel_is_left(sessions, wechat):
    client, control, settings = wechat
    user(sessions, control, "oGone", wrote_hours_ago=100)
    push(sessions, "p4", "oGone", template=None)

    counts = dispatcher.dispatch_once(sessions, client, settings)

    n = rows(sessions)["p4"]
    assert counts.dead == 1 and n.state == "dead"
    assert "outside the 48 h customer-service window" in n.last_error
    assert "no template or subscribe message configured" in n.last_error
    assert control.messages() == []


def test_staff_get_the_template_if_configured_else_a_text(sessions, wechat):
    client, control, settings = wechat
    user(sessions, control, "oStaff", wrote_hours_ago=2)
    push(sessions, "s-template", "oStaff", kind="staff")
    push(sessions, "s-text", "oStaff", kind="staff", template=None, text="【新帮办申请】BD-2026-000002")

    dispatcher.dispatch_once(sessions, client, settings)

    states = rows(sessions)
    assert states["s-template"].channel == "template" and states["s-text"].channel == "custom"


# ---------------------------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------------------------
def test_template_quota_backs_off_until_the_daily_reset_with_a_warning(sessions, wechat, caplog):
    client, control, settings = wechat
    control.set_quotas(template_daily=1)
    for i in range(3):
        user(sessions, control, f"oQ{i}", wrote_hours_ago=None)
        push(sessions, f"q{i}", f"oQ{i}")

    with caplog.at_level(logging.WARNING, logger="bot.push.dispatcher"):
        counts = dispatcher.dispatch_once(sessions, client, settings)

    assert (counts.sent, counts.retried) == (1, 2)
    waiting = [n for n in rows(sessions).values() if n.state == "pending"]
    assert len(waiting) == 2
    reset = dispatcher.quota_reset_after(utc(), rand=lambda: 0)
    for n in waiting:
        assert n.attempts == 0  # the message is fine, the account's day is used up
        assert n.last_error.startswith("45009") or n.last_error.startswith("template: 45009")
        assert as_utc(n.next_attempt_at) >= reset
    assert len(control.messages()) == 1
    quota_lines = [r for r in caplog.records if "45009" in r.getMessage()]
    assert len(quota_lines) == 1 and quota_lines[0].levelno == logging.WARNING


def test_permanent_error_is_dead_with_code_and_message_and_never_retried(sessions, wechat):
    client, control, settings = wechat
    settings = settings.with_(wechat_templates={"progress": "tpl-deleted-in-backend"})
    user(sessions, control, "oP", wrote_hours_ago=None)
    push(sessions, "p5", "oP")

    dispatcher.dispatch_once(sessions, client, settings)
    later = dispatcher.dispatch_once(sessions, client, settings, now=utc(days=2))

    n = rows(sessions)["p5"]
    assert (n.state, n.attempts) == ("dead", 1)
    assert n.last_error == "template: 40037 invalid template_id"
    assert later.claimed == 0


def test_system_busy_is_retried_with_backoff_then_sent(sessions, wechat):
    client, control, settings = wechat
    user(sessions, control, "oBusy", wrote_hours_ago=1)
    push(sessions, "p6", "oBusy")
    control.inject_fault("/cgi-bin/message/custom/send", "busy", count=2)

    first = dispatcher.dispatch_once(sessions, client, settings)
    n = rows(sessions)["p6"]
    assert first.retried == 1 and n.state == "pending" and n.last_error == "custom: -1 system error"
    waited = as_utc(n.next_attempt_at) - utc()
    assert timedelta(seconds=10) < waited <= timedelta(seconds=settings.dispatch_backoff_base_s)
    assert dispatcher.dispatch_once(sessions, client, settings).claimed == 0  # not due yet

    dispatcher.dispatch_once(sessions, client, settings, now=utc(minutes=2))
    dispatcher.dispatch_once(sessions, client, settings, now=utc(minutes=5))

    n = rows(sessions)["p6"]
    assert (n.state, n.channel, n.attempts) == ("sent", "custom", 3)
    assert len(control.messages()) == 1


def test_gives_up_after_max_attempts(sessions, wechat):
    client, control, settings = wechat
    settings = settings.with_(dispatch_max_attempts=2)
    user(sessions, control, "oDown", wrote_hours_ago=None)
    push(sessions, "p7", "oDown")
    control.inject_fault("/cgi-bin/message/template/send", "http500", count=5)

    dispatcher.dispatch_once(sessions, client, settings)
    dispatcher.dispatch_once(sessions, client, settings, now=utc(hours=2))

    n = rows(sessions)["p7"]
    assert n.state == "dead" and n.last_error.startswith("gave up after 2 attempts; last: template:")


def test_a_misconfiguration_ends_dead_with_its_reason_instead_of_wedging_the_batch(sessions, wechat):
    client, control, settings = wechat
    settings = settings.with_(wechat_templates={}, dispatch_max_attempts=1,
                              wechat_subscribe_templates={"progress": {"fields": {"thing1": "item"}}})  # no id
    user(sessions, control, "oCfg", wrote_hours_ago=None)
    push(sessions, "p9", "oCfg")

    counts = dispatcher.dispatch_once(sessions, client, settings)

    n = rows(sessions)["p9"]
    assert counts.dead == 1 and n.state == "dead"
    assert n.last_error == "gave up after 1 attempts; last: internal error: KeyError: 'id'"


def test_backoff_grows_and_is_capped():
    steps = [dispatcher.backoff_seconds(a, 30, 3600, rand=lambda: 1.0) for a in (1, 2, 3, 10)]
    assert steps == [30, 60, 120, 3600]
    assert dispatcher.backoff_seconds(3, 30, 3600, rand=lambda: 0.0) == 60


# ---------------------------------------------------------------------------------------------
# Leases, crashes and concurrency
# ---------------------------------------------------------------------------------------------
def test_a_claim_is_a_lease_that_falls_due_again(sessions, wechat):
    client, control, settings = wechat
    user(sessions, control, "oLease", wrote_hours_ago=1)
    push(sessions, "p8", "oLease")

    # A dispatcher claims the row and dies before sending anything.
    [claimed] = dispatcher.claim_batch(sessions, utc(), 10, settings.dispatch_lease_s)
    assert claimed.attempts == 1
    assert dispatcher.dispatch_once(sessions, client, settings).claimed == 0  # still leased

    counts = dispatcher.dispatch_once(sessions, client, settings, now=utc(seconds=settings.dispatch_lease_s + 1))
    assert counts.sent == 1 and rows(sessions)["p8"].attempts == 2


def test_rows_are_released_when_the_lease_runs_out_mid_batch(sessions, wechat):
    client, control, settings = wechat
    settings = settings.with_(dispatch_lease_s=1)  # stop starting sends after 0.5 s
    user(sessions, control, "oSlow", wrote_hours_ago=1)
    for i in range(3):
        push(sessions, f"r{i}", "oSlow")
    control.inject_fault("/cgi-bin/message/custom/send", "delay", count=1, delay_seconds=0.6)

    counts = dispatcher.dispatch_once(sessions, client, settings)

    assert (counts.sent, counts.released) == (1, 2)
    released = [n for n in rows(sessions).values() if n.state == "pending"]
    assert [n.attempts for n in released] == [0, 0]
    assert dispatcher.dispatch_once(sessions, client, settings).sent == 2  # due again at once


def test_a_text_is_recorded_as_sent_before_the_next_send(sessions, wechat, monkeypatch):
    # Texts have no idempotency key: a crash may repeat only the one in flight, never earlier ones.
    client, control, settings = wechat
    user(sessions, control, "oTwo", wrote_hours_ago=1)
    push(sessions, "t1", "oTwo")
    push(sessions, "t2", "oTwo")
    seen_before_each_send = []
    real_send_text = dispatcher.wechat_api.send_text

    def spy(*args, **kwargs):
        seen_before_each_send.append({k: n.state for k, n in rows(sessions).items()})
        return real_send_text(*args, **kwargs)

    monkeypatch.setattr(dispatcher.wechat_api, "send_text", spy)
    dispatcher.dispatch_once(sessions, client, settings)

    assert seen_before_each_send == [{"t1": "pending", "t2": "pending"}, {"t1": "sent", "t2": "pending"}]


def test_two_dispatchers_in_parallel_deliver_each_row_exactly_once(postgres_url, emulator):
    fill_database(postgres_url)
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    base_url, control = emulator
    settings = settings_for(base_url, postgres_url)
    openids = [f"oPar{i:02d}" for i in range(40)]
    for openid in openids:  # customer-service texts: no client_msg_id could hide a double send
        user(sessions, control, openid, wrote_hours_ago=1)
        push(sessions, f"par:{openid}", openid)

    barrier = threading.Barrier(2)
    totals: list[int] = []

    def work():
        client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
        barrier.wait()
        sent = 0
        while (counts := dispatcher.dispatch_once(sessions, client, settings, batch=3)).claimed:
            sent += counts.sent
        totals.append(sent)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sum(totals) == 40
    assert all(n.state == "sent" and n.attempts == 1 for n in rows(sessions).values())
    received = Counter(m["openid"] for m in control.messages())
    assert received == Counter({openid: 1 for openid in openids})
    engine.dispose()


def test_killed_dispatcher_loses_nothing_and_no_template_arrives_twice(postgres_url, emulator):
    fill_database(postgres_url)
    engine = make_engine(postgres_url)
    sessions = make_sessionmaker(engine)
    base_url, control = emulator
    keys = [f"kill:{i}" for i in range(8)]
    for i, key in enumerate(keys):
        user(sessions, control, f"oKill{i}", wrote_hours_ago=None)  # template messages
        push(sessions, key, f"oKill{i}")
    # Every template send takes 0.3 s, so the batch is surely in flight when the kill comes.
    control.inject_fault("/cgi-bin/message/template/send", "delay", count=len(keys), delay_seconds=0.3)

    env = {**os.environ, "DATABASE_URL": postgres_url, "REDIS_URL": "", "WECHAT_API_BASE": base_url,
           "WECHAT_APPID": DEFAULT_APPID, "WECHAT_SECRET": DEFAULT_SECRET,
           "WECHAT_TEMPLATE_IDS": f'{{"progress": "{TEMPLATE_ID}"}}', "DISPATCH_INTERVAL_S": "0.2"}
    child = subprocess.Popen([sys.executable, "-m", "bot.push.dispatcher"], cwd=REPO_ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(control.messages()) < 2:  # WeChat has had some of the batch, not all
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the dispatcher subprocess never got going"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()

    assert len(control.messages()) < len(keys), "killed too late to be mid-batch"
    assert any(n.state == "pending" for n in rows(sessions).values())

    # A fresh dispatcher once the dead one's lease has run out.
    client = make_client(DEFAULT_APPID, DEFAULT_SECRET, base_url)
    settings = settings_for(base_url, postgres_url)
    lease_over = utc(seconds=settings.dispatch_lease_s + 1)
    while dispatcher.dispatch_once(sessions, client, settings, now=lease_over).claimed:
        pass

    assert {n.state for n in rows(sessions).values()} == {"sent"}
    templates = [m for m in control.messages() if m["kind"] == "template"]
    assert Counter(m["openid"] for m in templates) == Counter({f"oKill{i}": 1 for i in range(len(keys))})
    assert sorted(m["client_msg_id"] for m in templates) == sorted(keys)
    engine.dispose()
