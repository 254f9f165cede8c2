"""`bangban demo` as someone trying the product runs it: a real subprocess in a fresh directory,
on the embedded default and on the real PostgreSQL; a month of cases in all five regions, written
by the app's own services, and a second run that adds nothing."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

BANGBAN = str(Path(sys.executable).with_name("bangban"))
REGIONS = {"jiangbei", "yanjin", "yueyang", "county_city", "donghu"}


@pytest.fixture(autouse=True)
def _ready_knowledge_index(kb_cache_dir, monkeypatch):
    """The run's knowledge index (the file `bangban` itself writes), as test_cli gives it: the
    demo's bot (--serve) then loads it instead of building it (~8 s); a cold start is test_cli's."""
    monkeypatch.setenv("BANGBAN_CACHE_DIR", kb_cache_dir)


def run_demo(cwd, database_url=None, *extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    if database_url:
        env["DATABASE_URL"] = database_url
    started = time.monotonic()
    r = subprocess.run([BANGBAN, "demo", *extra], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    return r, time.monotonic() - started


def figures(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            q = lambda sql: c.execute(sa.text(sql)).all()  # noqa: E731
            return {
                "cases": q("select count(*) from cases")[0][0],
                "regions": {r for (r,) in q("select distinct region from cases")},
                "states": {s: n for s, n in q("select state, count(*) from cases group by state")},
                "ratings": [lvl for (lvl,) in q("select level from ratings")],
                "ledger": q("select count(*) from ledger")[0][0],
                "span_days": q("select min(created_at), max(created_at) from cases")[0],
                "corrections": q("select count(*) from ledger where action = 'item:correction'")[0][0],
                "notifications": {s: n for s, n in q("select state, count(*) from notifications group by state")},
                "staff": q("select count(*) from staff")[0][0],
            }
    finally:
        engine.dispose()


def next_commissioners(url) -> dict[str, str]:
    """Who the next new case of each region is assigned to (the app's own rule)."""
    from bot.casework import cases
    from bot.platform.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as db:
            return {r: cases.pick_commissioner(db, r).username for r in REGIONS}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def target(request, tmp_path):
    """(working directory, DATABASE_URL to pass or None, URL to inspect)."""
    if request.param == "sqlite":
        return tmp_path, None, f"sqlite:///{tmp_path / 'var' / 'bangban.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    return tmp_path, url, url


def test_demo_seeds_a_month_of_cases_in_every_region_once(target):
    cwd, database_url, inspect_url = target
    force = ("--force",) if database_url else ()  # PostgreSQL is refused without it
    r, _ = run_demo(cwd, database_url, *force)  # how long it takes is bench/startup.py's business, not a test's
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    assert "/console" in out and "bangban-demo" in out and "donghu-lead" in out and "bangban serve" in out

    first = figures(inspect_url)
    # and the case of an example 镇 (regions in tiers, webhook/cli/demo_region_tiers.py)
    assert first["regions"] == REGIONS | {"yyx_rongjiawan"}
    assert "routed to 荣家湾镇's 黎晓东 (yyx-rjw-1)" in out and "went elsewhere" not in out
    assert first["cases"] >= 40
    assert {"applied", "accepted", "in_progress", "completed", "delivered", "rated", "archived"} <= set(first["states"])
    assert len(first["ratings"]) >= 10
    good = sum(1 for lvl in first["ratings"] if lvl >= 4)
    bad = sum(1 for lvl in first["ratings"] if lvl <= 2)
    assert good > 3 * bad > 0  # mostly good, a few bad
    assert first["corrections"] >= 5 and first["ledger"] > 5 * first["cases"]
    assert first["staff"] == 15 + 2  # the roster, and 荣家湾镇's commissioner and 岳阳县's supervisor
    oldest, newest = first["span_days"]
    oldest, newest = (datetime.fromisoformat(v) if isinstance(v, str) else v for v in (oldest, newest))
    assert (newest - oldest).days >= 20  # spread over the last month, not all "now"
    assert "overdue items: 0;" not in out
    assert next_commissioners(inspect_url) == {r: f"{r}-1" for r in REGIONS}  # README: 「sign in as donghu-1」

    again, _ = run_demo(cwd, database_url, *force)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already seeded" in again.stdout
    second = figures(inspect_url)
    assert second == first  # nothing added twice


def test_demo_with_emulator_delivers_the_pushes(tmp_path):
    import socket

    with socket.socket() as s:  # not the default 8765: a developer's own `bangban demo --serve` may hold it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r, _ = run_demo(tmp_path, None, "--with-emulator", "--emulator-port", str(port))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "sent" in r.stdout
    states = figures(f"sqlite:///{tmp_path / 'var' / 'bangban.sqlite3'}")["notifications"]
    assert states.get("sent", 0) > 100 and not states.get("pending") and not states.get("dead"), states


def test_demo_refuses_postgresql_without_force(postgres_url, tmp_path):
    """PostgreSQL is where production lives: fictitious cases and staff with a published
    password must not land there by a mistyped DATABASE_URL."""
    r, _ = run_demo(tmp_path, postgres_url)
    assert r.returncode == 1 and "--force" in r.stderr and "PostgreSQL" in r.stderr
    engine = sa.create_engine(postgres_url)
    try:
        assert "cases" not in sa.inspect(engine).get_table_names()  # not even migrated
    finally:
        engine.dispose()


def test_demo_refuses_a_database_with_real_cases_without_force(tmp_path):
    from conftest import CAL, PERMIT

    from bot.casework import cases
    from bot.platform.db import open_database, transaction

    url = f"sqlite:///{tmp_path / 'var' / 'bangban.sqlite3'}"
    sessions = open_database(url)
    with transaction(sessions) as db:
        cases.submit(db, cases.Application(
            mode="帮办", applicant_openid="oRealEnterprise", company_name="真实企业有限公司",
            credit_code="91350100M000100Y43", project_name="真实项目", region="donghu", investment_type="社会投资",
            stage="3", contact_name="王经理", contact_phone="13800000000", items=(PERMIT,)), CAL)
    sessions.kw["bind"].dispose()
    r, _ = run_demo(tmp_path)
    assert r.returncode == 1 and "1 real case" in r.stderr and "--force" in r.stderr
    assert figures(url)["cases"] == 1 and figures(url)["staff"] == 0
    r, _ = run_demo(tmp_path, None, "--force")
    assert r.returncode == 0, r.stderr[-2000:]
    assert figures(url)["cases"] > 40


def test_demo_with_a_running_emulator_gives_it_the_demo_account(tmp_path):
    """The README's recipe: an emulator started by hand knows nobody; `bangban demo --with-emulator`
    registers the demo's users and templates in it, so the backlog arrives and so do later pushes
    a `bangban serve` started with the printed environment sends."""
    import json
    import shlex

    from conftest import CAL, PERMIT

    from bot.casework import cases
    from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET, EmulatorControl, serve
    from bot.models import Staff
    from bot.platform.config import Settings
    from bot.platform.db import open_database, transaction
    from bot.scheduler import Jobs

    with serve() as base:
        control = EmulatorControl(base)
        env = {"WECHAT_API_BASE": base, "WECHAT_APPID": DEFAULT_APPID, "WECHAT_SECRET": DEFAULT_SECRET}
        os_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        r = subprocess.run([BANGBAN, "demo", "--with-emulator"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120, env={**os_env, **env})
        assert r.returncode == 0, r.stderr[-2000:]
        url = f"sqlite:///{tmp_path / 'var' / 'bangban.sqlite3'}"
        states = figures(url)["notifications"]
        assert states.get("sent", 0) > 100 and not states.get("dead") and not states.get("pending"), states
        assert len(control.messages()) == states["sent"]  # they went to this emulator, not one of its own

        served = next(line for line in r.stdout.splitlines() if "bangban serve" in line and "WECHAT_TEMPLATE_IDS=" in line)
        printed = dict(word.split("=", 1) for word in shlex.split(served) if "=" in word)
        assert printed["WECHAT_API_BASE"] == base
        settings = Settings(database_url=url, wechat_api_base=base, wechat_appid=printed["WECHAT_APPID"],
                            wechat_secret=printed["WECHAT_SECRET"],
                            wechat_templates=json.loads(printed["WECHAT_TEMPLATE_IDS"]))
        sessions = open_database(url)
        with transaction(sessions) as db:  # a newcomer applies: the alert goes to donghu-1
            case = cases.submit(db, cases.Application(
                mode="帮办", applicant_openid="oDemo_donghu_00", company_name="武汉新来企业有限公司",
                credit_code="91350100M000100Y43", project_name="新项目", region="donghu", investment_type="社会投资",
                stage="3", contact_name="王经理", contact_phone="13800000000", items=(PERMIT,)), CAL)
            assert db.get(Staff, case.commissioner_id).username == "donghu-1"
        counts = Jobs(settings, sessions=sessions).dispatch_outbox()
        sessions.kw["bind"].dispose()
        assert (counts.sent, counts.dead) == (1, 0)
        assert control.messages()[-1]["openid"] == "oStaff_donghu_1"


def test_demo_serve_runs_the_bot_on_the_emulator(tmp_path):
    """`bangban demo --serve`: one command, and pushes are delivered as they happen; the web chat
    shows the visitor's."""
    import re
    import socket

    import requests

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL",
                                                             "WECHAT_API_BASE")}
    proc = subprocess.Popen([BANGBAN, "demo", "--serve", "--emulator-port", str(emulator_port)], cwd=tmp_path,
                            env={**env, "PORT": str(port)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("bangban demo --serve did not start")
        chat = requests.Session()
        html = chat.get(f"{base}/chat", timeout=5).text
        assert 'data-pushes="/chat/api/pushes"' in html
        assert chat.get(f"{base}/chat/api/pushes", timeout=5).json() == {"available": True, "pushes": []}
        messages = requests.get(f"http://127.0.0.1:{emulator_port}/_emulator/messages", timeout=5).json()
        assert len(messages) > 100  # the backlog went out before the bot started serving
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"console   http://127.0.0.1:{port}/console" in out  # PUBLIC_URL follows PORT
    assert re.search(r"\d+ sent, 0 failed", out), out[-2000:]


def test_demo_serve_with_the_bot_and_the_emulator_on_one_port_says_so_before_seeding(tmp_path):
    """PORT=8765 is the emulator's default port: it used to seed for a minute, then fail with
    「Address already in use」 from the second server."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL",
                                                             "WECHAT_API_BASE")}
    out = subprocess.run([BANGBAN, "demo", "--serve"], cwd=tmp_path, env={**env, "PORT": "8765"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "8765" in out.stderr and "another port" in out.stderr
    assert "demo data" not in out.stdout
    assert not list(tmp_path.rglob("*.sqlite3"))  # refused before the database is even opened
