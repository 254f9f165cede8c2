"""Storage against the embedded defaults and the real servers: migrations, profiles, the KV store."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from bot.people import users
from bot.platform.db import alembic_config, current_revision, make_engine, make_sessionmaker, transaction, upgrade
from bot.platform.kv import LockTimeout, MemoryKV, RedisKV
from bot.supervision import kb_log


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
    queries = kb_log.QueryLog(sessions)
    for q in ("社保怎么交", "社保怎么交", "护照去哪办"):
        queries.add("oA", q, q, "unsure", None, 0.1)
    queries.add("oA", "施工证材料", "施工证材料", "answered", "materials.x", 0.9)
    queries.close()
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


def test_locked_read_modify_write_is_serialised(kv):
    """Two threads incrementing one counter under `locked` never lose an update, and the value
    written with the release is what the next holder reads."""
    kv.delete("counter")

    def bump(n):
        for _ in range(n):
            with kv.locked("counter", ["counter"], timeout=5, wait=5) as (held,):
                held.put(str(int(held.value or b"0") + 1), ttl=60)

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kv.get("counter") == b"100"


def test_locked_put_none_deletes_and_failure_saves_nothing(kv):
    kv.set("doc", "old", ttl=60)
    with pytest.raises(ZeroDivisionError):
        with kv.locked("doc", ["doc"], timeout=5, wait=1) as (held,):
            held.put("new", ttl=60)
            1 / 0
    assert kv.get("doc") == b"old"  # the turn failed: its change is not written
    with kv.locked("doc", ["doc"], timeout=5, wait=1) as (held,):  # and the lock was freed
        assert held.value == b"old"
        held.put(None)
    assert kv.get("doc") is None
    with kv.locked("doc", ["doc"], timeout=5, wait=1) as (held,):
        assert held.value is None  # nothing put: nothing written


def test_locked_reads_and_writes_several_keys_each_with_its_own_expiry(kv):
    kv.set("k-state", "s0", ttl=60)
    kv.delete("k-missing")
    kv.set("k-kept", "unchanged", ttl=60)
    with kv.locked("multi", ["k-state", "k-missing", "k-kept"], timeout=5, wait=1) as (state, missing, kept):
        assert (state.value, missing.value, kept.value) == (b"s0", None, b"unchanged")
        state.put("s1", ttl=60)
        missing.put("short-lived", ttl=0.3)
    assert (kv.get("k-state"), kv.get("k-missing"), kv.get("k-kept")) == (b"s1", b"short-lived", b"unchanged")
    deadline = time.monotonic() + 5
    while kv.get("k-missing") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kv.get("k-missing") is None and kv.get("k-state") == b"s1"  # each key kept its own TTL
    with kv.locked("multi", ["k-state", "k-kept"], timeout=5, wait=1) as (state, kept):
        kept.put(None)
    assert kv.get("k-kept") is None and kv.get("k-state") == b"s1"


@pytest.mark.parametrize("take", [
    lambda kv, wait: kv.lock("res", timeout=5, wait=wait),
    lambda kv, wait: kv.locked("res", ["res-doc"], timeout=5, wait=wait),
], ids=["lock", "locked"])
def test_a_held_lock_excludes_times_out_and_frees(kv, take):
    held, release = threading.Event(), threading.Event()

    def holder():
        with take(kv, 1):
            held.set()
            release.wait(2)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(2)
    with pytest.raises(LockTimeout):
        with take(kv, 0.1):
            pass
    release.set()
    t.join()
    with take(kv, 1):
        pass
