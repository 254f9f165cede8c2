"""Outages as an applicant meets them (issue 13, items 4 and 5): PostgreSQL away, Redis down, hung
or restarted empty. Consultation keeps answering; every form message gets a true, polite reply;
the applicant always knows whether the application went in; nothing submitted is lost.

PostgreSQL "goes away" behind a TCP relay the test owns (the shared server keeps running for
everyone else); Redis is the real one (flushed, as after an empty restart), a closed port (down),
or a listener that never answers (hung)."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import sqlalchemy as sa
from conftest import fill_database, migrated
from test_application import BANGBAN_ANSWERS, cases_of, seed_staff

from bot.models import WechatUser
from bot.platform.config import Settings
from bot.platform.kv import MemoryKV, RedisKV
from dialogs import build_manager, texts

FEE_QUESTION = "代办要收费吗"


class Relay:
    """A TCP relay to PostgreSQL that can be cut (every connection dropped, new ones refused)."""

    def __init__(self, target=("127.0.0.1", 5432)):
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.conns: list[socket.socket] = []
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self):
        self.open = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self.conns.clear()

    def restore(self):
        self.open = True

    def close(self):
        self.cut()
        self.listener.close()


@pytest.fixture()
def relayed_db(postgres_url):
    fill_database(postgres_url)
    relay = Relay()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    assert url != postgres_url
    yield relay, url
    relay.close()


def _manager(url, kb, retriever, kv=None):
    m = build_manager(Settings(database_url=migrated(url)), kb=kb, kv=kv or MemoryKV(), retriever=retriever)
    return m


def _to_confirmation(m, user):
    replies = [m.handle_text(user, a).reply for a in BANGBAN_ANSWERS]
    assert "请核对您的帮办申请" in replies[-1]


# -- PostgreSQL away ---------------------------------------------------------------------------

def test_a_new_user_is_answered_while_postgres_is_away(relayed_db, kb, retriever):
    relay, url = relayed_db
    m = _manager(url, kb, retriever)
    relay.cut()
    turn = m.handle_text("oNewcomer", FEE_QUESTION)  # users.touch used to make this a 500
    assert turn.topic == "service.fee" and "来源" in turn.reply
    assert m.handle_text("oNewcomer", "我要申请帮办").reply == texts.DB_DOWN
    assert m.handle_text("oNewcomer", "我的申请").reply == texts.DB_DOWN


def test_confirming_while_postgres_is_away_keeps_the_form_and_submits_once_it_is_back(relayed_db, kb, retriever):
    relay, url = relayed_db
    m = _manager(url, kb, retriever)
    seed_staff(m.sessions)
    _to_confirmation(m, "oPgDown")
    relay.cut()
    assert m.handle_text("oPgDown", "确认").reply == texts.DB_DOWN_IN_FORM
    assert m.handle_text("oPgDown", FEE_QUESTION).topic == "service.fee"  # questions still answered
    relay.restore()
    done = m.handle_text("oPgDown", "确认")
    assert done.intent == "submitted"
    [case] = cases_of(m, "oPgDown")
    assert case.number in done.reply
    with m.sessions() as s:
        assert s.get(WechatUser, "oPgDown").form_started_at is None


# -- Redis restarted empty, down, hung -----------------------------------------------------------

def test_after_redis_restarts_empty_the_applicant_is_told_to_start_again(sqlite_url, kb, retriever, redis_client):
    m = _manager(sqlite_url, kb, retriever, RedisKV(redis_client))
    seed_staff(m.sessions)
    for answer in BANGBAN_ANSWERS[:4]:
        m.handle_text("oFlushed", answer)
    redis_client.flushdb()  # what an empty restart leaves
    turn = m.handle_text("oFlushed", BANGBAN_ANSWERS[4])  # the project name, into a form that is gone
    assert turn.reply == texts.FORM_LOST
    assert cases_of(m, "oFlushed") == []
    again = m.handle_text("oFlushed", "我要申请帮办")  # told once; starting again works
    assert texts.FORM_LOST not in again.reply and "form" in m.store.load("oFlushed")


def test_a_question_after_the_empty_restart_is_answered_with_the_news(sqlite_url, kb, retriever, redis_client):
    m = _manager(sqlite_url, kb, retriever, RedisKV(redis_client))
    m.handle_text("oFlushed2", "我要申请代办")
    redis_client.flushdb()
    turn = m.handle_text("oFlushed2", "代办要收费吗？")
    assert turn.reply.startswith(texts.FORM_LOST) and turn.topic == "service.fee"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture()
def hung_redis():
    """A Redis that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    for c in held:
        c.close()
    listener.close()


@pytest.mark.parametrize("outage", ["down", "hung"])
def test_form_messages_while_redis_is_away_get_a_true_reply(sqlite_url, kb, retriever, redis_client, outage,
                                                            request):
    up = _manager(sqlite_url, kb, retriever, RedisKV(redis_client))
    seed_staff(up.sessions)
    _to_confirmation(up, "oRedisAway")
    url = f"redis://127.0.0.1:{_closed_port()}/0" if outage == "down" else request.getfixturevalue("hung_redis")
    away = _manager(sqlite_url, kb, retriever, RedisKV.from_url(url))
    t0 = time.monotonic()
    for message in ("确认", "好的", "陈明"):  # were 「只供帮代办专员使用」, 「不客气」, a guess
        reply = away.handle_text("oRedisAway", message).reply
        assert reply == texts.FORM_PAUSED, (message, reply)
    assert time.monotonic() - t0 < 12  # a hung Redis costs its timeout, not WeChat's whole budget each time
    assert away.handle_text("oRedisAway", FEE_QUESTION + "？").reply.startswith(texts.FORM_PAUSED)
    assert cases_of(up, "oRedisAway") == []
    # Redis back (with its data): the form goes on where it was, and goes in once.
    done = up.handle_text("oRedisAway", "确认")
    assert done.intent == "submitted" and len(cases_of(up, "oRedisAway")) == 1


def test_while_redis_is_away_a_submitted_application_is_confirmed_as_in(sqlite_url, kb, retriever, redis_client):
    up = _manager(sqlite_url, kb, retriever, RedisKV(redis_client))
    seed_staff(up.sessions)
    _to_confirmation(up, "oWentIn")
    up.handle_text("oWentIn", "确认")
    [case] = cases_of(up, "oWentIn")
    # The marker was not cleared (say the database blinked right after the submission).
    with up.sessions.begin() as s:
        s.execute(sa.update(WechatUser).where(WechatUser.openid == "oWentIn")
                  .values(form_started_at=case.created_at))
    away = _manager(sqlite_url, kb, retriever, RedisKV.from_url(f"redis://127.0.0.1:{_closed_port()}/0"))
    reply = away.handle_text("oWentIn", "确认").reply
    assert case.number in reply and "已经提交成功" in reply
