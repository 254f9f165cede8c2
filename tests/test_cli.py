"""`bangban` as a newcomer runs it: a real subprocess, the embedded defaults, a fresh directory.

A fresh directory has no knowledge index yet, and building it takes ~8 s: the first test runs
exactly that way (and checks the index is kept), the others are given the run's ready index
(BANGBAN_CACHE_DIR, the file `bangban` itself would have written) and start in ~2 s."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BANGBAN = str(Path(sys.executable).with_name("bangban"))


def run(args, cwd, stdin=None, cold=False):
    # A newcomer's shell: embedded defaults, nothing pointing at shared servers; `cold`: not even
    # the run's knowledge index.
    drop = ("DATABASE_URL", "REDIS_URL", *(("BANGBAN_CACHE_DIR",) if cold else ()))
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run([BANGBAN, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture(autouse=True)
def _ready_knowledge_index(kb_cache_dir, monkeypatch):
    monkeypatch.setenv("BANGBAN_CACHE_DIR", kb_cache_dir)


@pytest.fixture()
def workdir(tmp_path):
    return tmp_path


def test_ask_answers_a_seed_question_with_its_source(workdir):
    r = run(["ask", "代办服务收费吗"], workdir, cold=True)
    assert r.returncode == 0, r.stderr
    assert "免费" in r.stdout and "来源：《" in r.stdout
    assert (workdir / "var" / "bangban.sqlite3").exists()  # embedded database made on first use
    assert list((workdir / "var" / "cache").glob("retriever-*.pickle"))  # and the index, kept


def test_ask_json_has_reply_intent_topic_confidence(workdir):
    r = run(["ask", "--json", "施工许可证需要准备哪些材料"], workdir)
    data = json.loads(r.stdout)
    assert data["intent"] == "consult" and data["topic"] == "materials.construction_permit"
    assert "建设工程规划许可证" in data["reply"] and 0 < data["confidence"] <= 1


def test_chat_keeps_state_between_lines(workdir):
    r = run(["chat", "--user", "oPipe"], workdir, stdin="你好\n我要申请帮办\n算了\n")
    replies = [p.strip() for p in r.stdout.split("---") if p.strip()]
    assert len(replies) == 3
    assert "帮办通" in replies[0] and "项目在哪个地区" in replies[1] and "已取消本次申请" in replies[2]


@pytest.mark.parametrize("message", ["", "🙂🙂🙂", "施工" * 2500, "Hello, how to get 施工许可证 materials list?",
                                     "\x07\x1b[31m控制字符\x08", "<xml>&lt;</xml>"])
def test_bad_input_gets_a_polite_answer_never_a_traceback(workdir, message):
    r = run(["ask", "--json", message], workdir)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert json.loads(r.stdout)["reply"].strip()


def test_kb_tools(workdir):
    assert "knowledge base OK" in run(["kb", "check"], workdir).stdout
    stats = run(["kb", "stats"], workdir).stdout
    assert "entries:" in stats and "approval items:" in stats
    run(["ask", "社保每个月交多少"], workdir)
    run(["ask", "社保每个月交多少"], workdir)
    gaps = run(["kb", "gaps"], workdir).stdout
    assert "社保每个月交多少" in gaps and gaps.splitlines()[1].split()[0] == "2"


def test_db_upgrade(workdir):
    r = run(["db", "upgrade"], workdir)
    assert r.returncode == 0 and "database at head" in r.stdout


def test_staff_roster_and_api_token(workdir):
    r = run(["staff", "add", "zhou", "--name", "周专员", "--role", "commissioner", "--region", "donghu",
             "--password", "s3cret-pass"], workdir)
    assert r.returncode == 0 and "added commissioner zhou" in r.stdout
    again = run(["staff", "add", "zhou", "--name", "周", "--role", "commissioner", "--region", "donghu",
                 "--password", "x"], workdir)
    assert again.returncode == 1 and "已存在" in again.stderr
    assert run(["staff", "seed-demo"], workdir).returncode == 0
    roster = run(["staff", "list"], workdir).stdout
    assert "zhou" in roster and "donghu-lead" in roster
    token = run(["staff", "token", "zhou"], workdir).stdout.strip()
    assert token.startswith("bbt_")


def test_staff_tokens_listed_revoked_and_accounts_managed(workdir):
    import sqlalchemy as sa

    from bot.people import staff
    from bot.platform.db import make_engine, make_sessionmaker, transaction

    assert run(["staff", "add", "zhou", "--name", "周专员", "--role", "commissioner", "--region", "donghu",
                "--password", "s3cret-pass"], workdir).returncode == 0
    reader = run(["staff", "token", "zhou", "--label", "审批系统"], workdir).stdout.strip()
    writer = run(["staff", "token", "zhou", "--scope", "write"], workdir).stdout.strip()
    assert run(["staff", "token", "zhou", "--scope", "admin"], workdir).returncode == 2
    listing = run(["staff", "token", "--list"], workdir)
    assert listing.returncode == 0
    lines = [line for line in listing.stdout.splitlines() if "zhou" in line]
    assert len(lines) == 2 and reader[:12] in lines[0] and writer[:12] in lines[1]
    assert "审批系统" in lines[0] and "read" in lines[0] and "read write" in lines[1] and "active" in lines[0]
    first_id = lines[0].split()[0]
    r = run(["staff", "token", "--revoke", first_id], workdir)
    assert r.returncode == 0 and f"revoked token {first_id}" in r.stdout
    assert run(["staff", "token", "--revoke", first_id], workdir).returncode == 1  # already revoked
    assert "revoked" in run(["staff", "token", "--list", "zhou"], workdir).stdout.splitlines()[1]

    r = run(["staff", "passwd", "zhou", "--password", "another-pass-1"], workdir)
    assert r.returncode == 0 and "password changed for zhou" in r.stdout
    assert run(["staff", "passwd", "zhou", "--password", "short"], workdir).returncode == 1
    r = run(["staff", "deactivate", "zhou"], workdir)
    assert r.returncode == 0 and "deactivated zhou" in r.stdout
    assert "(inactive)" in run(["staff", "list"], workdir).stdout
    assert run(["staff", "deactivate", "nobody"], workdir).returncode == 1

    engine = make_engine(f"sqlite:///{workdir / 'var' / 'bangban.sqlite3'}")
    with transaction(make_sessionmaker(engine)) as db:
        person = db.scalar(sa.select(staff.Staff).where(staff.Staff.username == "zhou"))
        person.active = True  # to see which password now opens it
        assert staff.authenticate(db, "zhou", "another-pass-1") is not None
        assert staff.authenticate(db, "zhou", "s3cret-pass") is None
        assert staff.verify_token(db, writer) is None  # deactivation revoked every token
    engine.dispose()


# -- starting a server with the development SECRET_KEY -------------------------------------

def test_the_default_secret_key_is_refused_where_others_can_reach_the_server():
    from bot.platform.config import Settings, refuse_to_serve

    pg = "postgresql+psycopg://bangban@db.internal/bangban"
    dev = Settings(database_url=pg)
    assert refuse_to_serve(dev, ["127.0.0.1"]) is None and refuse_to_serve(dev, ["localhost", "::1"]) is None
    assert refuse_to_serve(Settings(), ["0.0.0.0"]) is None  # the embedded default (SQLite) on any address
    assert refuse_to_serve(dev.with_(secret_key="a-real-secret-of-some-length"), ["0.0.0.0"]) is None
    for settings, hosts in [(dev, ["0.0.0.0"]), (dev, ["127.0.0.1", "10.0.0.5"]), (dev, ["unix:/run/bangban.sock"]),
                            # loopback behind nginx is public all the same
                            (dev.with_(trusted_proxies=1), ["127.0.0.1"]),
                            (dev.with_(public_url="https://bangban.example.gov.cn"), ["127.0.0.1"])]:
        assert "SECRET_KEY" in (refuse_to_serve(settings, hosts) or ""), (settings, hosts)


def _env_without_secret(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                                             "PUBLIC_URL", "TRUSTED_PROXIES")}
    # Nothing listens there: the refusal must come before any connection is tried.
    return {**env, "DATABASE_URL": "postgresql+psycopg://bangban@127.0.0.1:1/bangban", **extra}


def test_serve_and_gunicorn_refuse_the_default_secret_key_on_a_public_address(workdir):
    r = subprocess.run([BANGBAN, "serve", "--host", "0.0.0.0", "--port", "18999"], cwd=workdir,
                       capture_output=True, text=True, timeout=60, env=_env_without_secret())
    assert r.returncode == 2 and "SECRET_KEY" in r.stderr, r.stderr[-2000:]
    gunicorn = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(Path(__file__).parents[1] / "gunicorn.conf.py"),
                               "--bind", "0.0.0.0:18998", "webhook.wsgi:app"], cwd=Path(__file__).parents[1],
                              capture_output=True, text=True, timeout=60, env=_env_without_secret())
    assert gunicorn.returncode != 0 and "SECRET_KEY" in gunicorn.stderr, gunicorn.stderr[-2000:]


def test_the_collector_is_off_during_a_commands_start_up_and_on_again_after(monkeypatch):
    """bench/startup.py: a cold `bangban ask` spent ~10 % in the cyclic collector walking what
    start-up builds; main turns it off for the command and on again however it ends."""
    import gc

    from webhook import cli

    seen = []
    args = cli.build_parser().parse_args(["kb", "check"])
    monkeypatch.setattr(cli, "build_parser", lambda: type("P", (), {"parse_args": lambda self, argv: args})())
    args.func = lambda a: seen.append(gc.isenabled()) or 0
    assert cli.main(["kb", "check"]) == 0 and seen == [False] and gc.isenabled()
    args.func = lambda a: 1 / 0
    with pytest.raises(ZeroDivisionError):
        cli.main(["kb", "check"])
    assert gc.isenabled()


def test_the_process_entry_freezes_what_the_command_built_before_exiting(monkeypatch):
    """The interpreter's last collection at exit walked everything start-up built again: 0.2-0.5 s
    of a cold `bangban ask` (bench/startup.py). run() freezes it first, and exits with main's code."""
    import gc

    from webhook import cli

    monkeypatch.setattr(cli, "main", lambda: 3)
    gc.unfreeze()  # whatever an earlier in-process command froze
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.run()
        assert exit_.value.code == 3 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on: let the collector see its objects again
