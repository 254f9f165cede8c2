"""The knowledge-base query log: buffered in process, written in batches off the request path."""
from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import fill_database

from bot.models import KbQuery
from bot.people.users import user_ref
from bot.platform.clock import as_utc
from bot.platform.config import Settings
from bot.platform.db import make_engine, make_sessionmaker
from bot.platform.kv import MemoryKV
from bot.supervision import kb_log
from dialogs import build_manager, texts

# Nothing listens on port 1: connecting is refused at once, like a database that is down.
DOWN_URL = "postgresql+psycopg://postgres@127.0.0.1:1/down"
NEVER = 3600.0  # a flush interval no test waits for: only an explicit flush, a wake or close writes


@pytest.fixture()
def query_logs(db_sessions):
    """Builds QueryLogs on the test database and closes them afterwards."""
    made = []

    def make(**kw) -> kb_log.QueryLog:
        made.append(kb_log.QueryLog(db_sessions, **kw))
        return made[-1]

    yield make
    for q in made:
        q.close()


def count(sessions) -> int:
    with sessions() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(KbQuery))


def eventually(check, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"not within {within_s} s"
        time.sleep(0.01)


def test_rows_wait_for_a_flush_which_writes_them_all_as_asked(db_sessions, query_logs, monkeypatch):
    asked = datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)
    monkeypatch.setattr(kb_log, "utcnow", lambda: asked)
    qlog = query_logs(flush_every_s=NEVER)
    qlog.add("oAsker", "社保怎么交" * 200, "社保怎么交", "unsure", None, 0.1)
    for i in range(4):
        qlog.add("oAsker", f"施工许可证材料{i}", f"施工许可证材料{i}", "answered", "materials.x", 0.9)
    monkeypatch.undo()  # a row stamped at write time would now get the real clock
    assert count(db_sessions) == 0
    qlog.flush()
    with db_sessions() as s:
        rows = s.scalars(sa.select(KbQuery).order_by(KbQuery.id)).all()
    assert len(rows) == 5
    assert {as_utc(r.asked_at) for r in rows} == {asked}
    assert {r.user_ref for r in rows} == {user_ref("oAsker")} != {"oAsker"}
    assert len(rows[0].question) == 500 and rows[0].outcome == "unsure" and rows[0].topic is None
    assert (rows[1].topic, rows[1].confidence) == ("materials.x", 0.9)


def test_the_writer_thread_flushes_on_its_own(db_sessions, query_logs):
    qlog = query_logs(flush_every_s=0.05)
    qlog.add("oA", "护照去哪办", "护照去哪办", "unsure", None, 0.0)
    eventually(lambda: count(db_sessions) == 1)


def test_a_full_buffer_wakes_the_writer_early(db_sessions, query_logs):
    qlog = query_logs(flush_every_s=NEVER, max_buffered=3)
    for i in range(2):
        qlog.add("oA", f"问题{i}", f"问题{i}", "unsure", None, 0.0)
    assert count(db_sessions) == 0
    qlog.add("oA", "问题2", "问题2", "unsure", None, 0.0)
    eventually(lambda: count(db_sessions) == 3)


def test_rows_that_fail_to_write_are_kept_for_the_next_flush_up_to_a_cap(db_sessions, query_logs, caplog):
    qlog = query_logs(flush_every_s=NEVER, max_buffered=2)  # keeps at most 20 while the database is down
    down = make_sessionmaker(make_engine(DOWN_URL))
    arriving: list[str] = []

    class Down:
        """The database is down, and more questions are asked while a write is failing."""

        @staticmethod
        def begin():
            while arriving:
                q = arriving.pop(0)
                qlog.add("oA", q, q, "unsure", None, 0.0)
            return down.begin()

    qlog.sessions = Down
    caplog.set_level(logging.WARNING, logger="bot.supervision.kb_log")
    # The second add wakes the writer too, so its failing flushes may interleave with these adds
    # and this flush: what is kept and how many are reported dropped must not depend on that.
    for i in range(20):
        qlog.add("oA", f"问题{i}", f"问题{i}", "unsure", None, 0.0)
    arriving.extend(f"问题{i}" for i in range(20, 40))
    qlog.flush()
    assert "could not write" in caplog.text
    dropped = [re.search(r"dropped the (\d+) oldest", r.getMessage()) for r in caplog.records]
    assert sum(int(m[1]) for m in dropped if m) == 20
    qlog.sessions = db_sessions  # the database is back
    qlog.flush()
    with db_sessions() as s:
        questions = s.scalars(sa.select(KbQuery.question).order_by(KbQuery.id)).all()
    assert questions == [f"问题{i}" for i in range(20, 40)]


def test_close_writes_the_tail_and_stops_the_writer(db_sessions, query_logs):
    qlog = query_logs(flush_every_s=NEVER)
    qlog.add("oA", "护照去哪办", "护照去哪办", "unsure", None, 0.0)
    writer = qlog._thread
    assert writer.is_alive()
    qlog.close()
    assert count(db_sessions) == 1 and not writer.is_alive()


def test_a_normal_exit_writes_the_tail(sqlite_url):
    fill_database(sqlite_url)
    script = ("from bot.supervision import kb_log; from bot.platform.db import open_database; "
              f"kb_log.QueryLog(open_database({sqlite_url!r}), flush_every_s={NEVER})"
              ".add('oA', '护照去哪办', '护照去哪办', 'unsure', None, 0.0)")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=Path(__file__).parents[1])
    assert count(make_sessionmaker(make_engine(sqlite_url))) == 1


def test_a_question_asked_mid_form_is_logged(sqlite_url, kb, retriever):
    fill_database(sqlite_url)
    manager = build_manager(Settings(database_url=sqlite_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    try:
        assert manager.handle_text("oForm", "我要申请帮办").intent == "apply_bangban"  # now asks for the region
        turn = manager.handle_text("oForm", "施工许可证需要哪些材料？")
        assert turn.intent == "consult" and texts.FORM_RESUME in turn.reply
        manager.query_log.flush()
        with manager.sessions() as s:
            row = s.scalars(sa.select(KbQuery)).one()
        assert (row.question, row.outcome, row.topic) == ("施工许可证需要哪些材料？", "answered", turn.topic)
        assert row.user_ref == user_ref("oForm")
    finally:
        manager.query_log.close()
        manager.sessions.kw["bind"].dispose()
