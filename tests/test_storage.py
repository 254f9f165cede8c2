"""Storage against the embedded defaults and the real servers: migrations, profiles, the KV store."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from bot import kb_log, users
from bot.db import (
    alembic_config,
    current_revision,
    make_engine,
    make_sessionmaker,
    transaction,
    upgrade,
)
from bot.kv import LockTimeout, MemoryKV, RedisKV


def test_migrations_reach_head_and_are_idempotent(database_url):
    upgrade(database_url)
    upgrade(database_url)  # a second start must be a no-op
    from alembic.script import ScriptDirectory

    engine = make_engine(database_url)
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert current_revision(engine) == head
    names = set(sa.inspect(engine).get_table_names())
    assert {"wechat_users", "kb_queries", "cases", "case_items", "ledger", "staff", "notifications", "alembic_version"} <= names
    engine.dispose()


def test_profile_and_gaps_round_trip(database_url):
    upgrade(database_url)
    sessions = make_sessionmaker(make_engine(database_url))
    with transaction(sessions) as db:
        users.touch(db, "oA", subscribed=True)
        users.set_region(db, "oA", "donghu")
        for q in ("社保怎么交", "社保怎么交", "护照去哪办"):
            kb_log.record(db, "oA", q, q, "unsure", None, 0.1)
        kb_log.record(db, "oA", "施工证材料", "施工证材料", "answered", "materials.x", 0.9)
    with transaction(sessions) as db:
        assert users.region_of(db, "oA") == "donghu"
        gaps = kb_log.gaps(db)
    assert [(g.question, g.times) for g in gaps] == [("社保怎么交", 2), ("护照去哪办", 1)]


def test_failed_transaction_changes_nothing(database_url):
    upgrade(database_url)
    sessions = make_sessionmaker(make_engine(database_url))
    with pytest.raises(RuntimeError):
        with transaction(sessions) as db:
            users.touch(db, "oRollback")
            db.flush()
            raise RuntimeError("boom")
    with transaction(sessions) as db:
        assert users.region_of(db, "oRollback") is None
        assert db.get(users.WechatUser, "oRollback") is None


@pytest.fixture(params=["memory", "redis"])
def kv(request):
    if request.param == "memory":
        return MemoryKV()
    return RedisKV(request.getfixturevalue("redis_client"))


def test_kv_set_nx_and_expiry(kv):
    assert kv.set("k", "v", ttl=0.2, nx=True)
    assert not kv.set("k", "other", ttl=0.2, nx=True)
    assert kv.get("k") == b"v"
    time.sleep(0.3)
    assert kv.get("k") is None
    assert kv.set("k", "again", nx=True)
    kv.delete("k")
    assert kv.get("k") is None


def test_kv_lock_excludes_and_times_out(kv):
    held = threading.Event()
    release = threading.Event()

    def holder():
        with kv.lock("res", timeout=5, wait=1):
            held.set()
            release.wait(2)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(2)
    with pytest.raises(LockTimeout):
        with kv.lock("res", timeout=5, wait=0.1):
            pass
    release.set()
    t.join()
    with kv.lock("res", timeout=5, wait=1):
        pass
