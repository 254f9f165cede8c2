"""The services a process runs on are built once and handed on (issue 14, item 2): create_app
keeps the ones its dialog manager runs on for the console, an action handed its services uses
those whatever was built after it, each dialog manager runs its actions on its own services (no
module-global runtime in process), and both retry guards answer the same Protocol."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CAL, PERMIT, fill_database, fixture_retriever

from bot.casework import cases
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.platform.kv import MemoryKV
from dialogs import build_manager, build_services, texts
from dialogs.actions import runtime
from dialogs.actions.service import ActionCaseProgress, ActionUrge
from dialogs.forms import run_action
from knowledge import load
from webhook import create_app
from webhook.retry_guard import RecognisedInTurn, ReplyGuard, RetryGuard

FIXTURE_KB = Path(__file__).with_name("kb_fixture")


@pytest.fixture(scope="module")
def fixture_kb():
    return load(FIXTURE_KB)


def services_on(url: str, kb):
    fill_database(url)
    return build_services(Settings(database_url=url), kb=kb, kv=MemoryKV(), retriever=fixture_retriever(kb))


def a_case(services, openid: str) -> str:
    application = cases.Application(
        mode="帮办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
        credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region="donghu",
        investment_type="社会投资", stage="3", contact_name="陈经理", items=(PERMIT,))
    with transaction(services.sessions) as db:
        return cases.submit(db, application, CAL).number


def test_the_app_keeps_the_services_its_manager_runs_on(sqlite_url, fixture_kb):
    services = services_on(sqlite_url, fixture_kb)
    manager = build_manager(services=services)
    app = create_app(services.settings, manager=manager)
    assert app.extensions["bangban_services"] is services is manager.services
    assert manager.sessions is services.sessions and manager.store is services.store
    assert app.extensions["bangban_retry_guard"].kv is services.kv
    with app.app_context():
        from webhook.console import services as console_services
        from webhook.console import sessions as console_sessions

        assert console_services() is services and console_sessions() is services.sessions


def test_an_action_handed_its_services_reads_them_whatever_was_built_after(tmp_path, fixture_kb, monkeypatch):
    first = services_on(f"sqlite:///{tmp_path / 'first.sqlite3'}", fixture_kb)
    number = a_case(first, "oFirst")
    later = services_on(f"sqlite:///{tmp_path / 'later.sqlite3'}", fixture_kb)
    build_manager(services=later)
    # The action server's own services (what rasa-sdk's executor's actions, built without, use).
    monkeypatch.setattr(runtime, "_current", later)

    messages, _ = run_action(ActionCaseProgress(first), "oFirst", {})
    assert messages[0].startswith(f"{number}（帮办）")
    messages, _ = run_action(ActionCaseProgress(), "oFirst", {})  # no services handed: the fallback's
    assert messages == [texts.NO_CASE]

    messages, _ = run_action(ActionUrge(first), "oFirst", {})
    assert messages == [texts.URGE_RECORDED.format(when=messages[0].split("（")[1].split("）")[0])]
    with transaction(first.sessions) as db:
        assert [e.action for e in cases.ledger_of(db, cases.by_number(db, number))].count("urged") == 1
    with transaction(later.sessions) as db:
        assert cases.cases_of_applicant(db, "oFirst") == []


def test_two_managers_built_one_after_the_other_each_run_their_own_actions(tmp_path, fixture_kb, monkeypatch):
    first = services_on(f"sqlite:///{tmp_path / 'first.sqlite3'}", fixture_kb)
    second = services_on(f"sqlite:///{tmp_path / 'second.sqlite3'}", fixture_kb)
    number = a_case(first, "oFirst")
    other = a_case(second, "oSecond")
    monkeypatch.setattr(runtime, "_current", None)
    one = build_manager(services=first)
    two = build_manager(services=second)
    assert runtime._current is None  # building a manager sets no process-wide services

    # Every action a manager runs is built on its own services: case service, the form, the rating.
    for manager, services in ((one, first), (two, second)):
        actions = [*manager.service_actions.values(), manager.form.validator, manager.form.submitter, manager.rating]
        assert all(action.services is services for action in actions)

    # 查进度 through each manager reads its own database, the first's after the second was built.
    assert one.handle_text("oFirst", "我的申请进度").reply.startswith(f"{number}（帮办）")
    assert two.handle_text("oFirst", "我的申请进度").reply == texts.NO_CASE
    assert two.handle_text("oSecond", "我的申请进度").reply.startswith(f"{other}（帮办）")
    assert one.handle_text("oSecond", "我的申请进度").reply == texts.NO_CASE
    assert runtime._current is None  # nor does running their actions


def test_both_retry_guards_are_reply_guards():
    for guard in (RetryGuard(MemoryKV(), ttl_s=60, wait_s=0.1), RecognisedInTurn()):
        assert isinstance(guard, ReplyGuard)
    assert RecognisedInTurn().claim("k") and RecognisedInTurn().earlier_reply("k") is None
