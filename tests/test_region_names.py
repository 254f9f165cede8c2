"""Regions are called by their display names (bot.platform.config.REGION_NAMES, BANGBAN_REGION_NAMES) on
the console, in exports and in pushes: the county-level city's placeholder 某县级市 never shows.
And every closed case's page links its 立卷归档 export for the supervisor. On the embedded SQLite
and the real PostgreSQL where a database is involved."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from conftest import CAL, db_of, migrated
from test_dashboard import Seed, signed_in, workbook_of
from test_labels import _daiban

from bot.casework import cases
from bot.models import Staff
from bot.platform import clock
from bot.platform.config import REGION_NAMES, Settings, load_settings

pytestmark = pytest.mark.usefixtures("fast_password_hashes")


@pytest.fixture()
def app(console_app):
    return console_app


def test_every_region_has_a_display_name_and_the_unnamed_city_reads_as_a_name(kb):
    assert set(kb.regions) <= set(REGION_NAMES)
    name = REGION_NAMES["county_city"]
    assert "某" not in name and re.fullmatch(r"[\u4e00-\u9fff]{2,4}市（示例）", name)
    assert Settings().region_name("county_city") == name and Settings().region_name("elsewhere") == "elsewhere"


def test_a_deployment_names_its_regions(monkeypatch):
    monkeypatch.setenv("BANGBAN_REGION_NAMES", '{"county_city": " 宜兴市 "}')
    settings = load_settings()
    assert settings.region_name("county_city") == "宜兴市" and settings.region_name("donghu") == "东湖高新区"
    monkeypatch.setenv("BANGBAN_REGION_NAMES", '["宜兴市"]')
    with pytest.raises(ValueError, match="BANGBAN_REGION_NAMES"):
        load_settings()


def test_the_console_exports_and_digest_use_the_display_name(app):
    with db_of(app) as db:
        number = _daiban(db, openid="oCounty", region="county_city").number
        lead = db.scalar(sa.select(Staff).where(Staff.region == "county_city", Staff.role == "supervisor"))
        lead.wechat_openid = "oCountyLead"
        username = lead.username
    client = signed_in(app, username)
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "青禾市（示例）" in page and "某县级市" not in page and "county_city" not in page
    export = client.get(f"/console/export/dashboard.xlsx?from={clock.today()}&to={clock.today()}")
    assert "county_city" not in export.headers["Content-Disposition"]
    wb = workbook_of(export)
    assert "青禾市（示例）" in wb["案件状态"]["A1"].value

    from bot.models import Notification
    from bot.scheduler import Jobs

    manager = app.extensions["bangban_dialogs"]
    assert Jobs(app.config["BANGBAN_SETTINGS"], manager.sessions, client=object(), calendar=CAL).daily_digest() >= 1
    with db_of(app) as db:
        push = db.scalar(sa.select(Notification).where(Notification.recipient_openid == "oCountyLead",
                                                      Notification.purpose == "digest"))
    assert "青禾市（示例）" in push.text and "county_city" not in push.text
    assert push.data["region"] == "青禾市（示例）"



def test_every_closed_case_page_links_its_archive_export(app):
    seed = Seed(app)
    client = signed_in(app, "donghu-lead")
    with db_of(app) as db:
        states = {k: cases.by_number(db, n).state for k, n in seed.numbers.items() if k != "j"}
    for key, state in states.items():
        page = client.get(f"/console/cases/{seed.numbers[key]}").get_data(as_text=True)
        link = f'href="/console/cases/{seed.numbers[key]}/archive.xlsx"'
        assert (link in page) == (state not in cases.OPEN_STATES), (key, state)
    closed = next(k for k, s in states.items() if s not in cases.OPEN_STATES)
    assert client.get(f"/console/cases/{seed.numbers[closed]}/archive.xlsx").status_code == 200
    commissioner = signed_in(app, "donghu-1").get(f"/console/cases/{seed.numbers['c']}").get_data(as_text=True)
    assert "archive.xlsx" not in commissioner  # the export is the supervisors' (a commissioner would get 403)


def test_the_chat_calls_the_unnamed_city_by_its_display_name_and_understands_it_typed(sqlite_url, kb, retriever):
    from bot.platform.kv import MemoryKV
    from dialogs import build_manager

    migrated(sqlite_url)

    def chat_as(names: dict | None):
        settings = Settings(database_url=sqlite_url) if names is None else \
            Settings(database_url=sqlite_url, region_names={**REGION_NAMES, **names})
        return build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)

    m = chat_as(None)
    turn = m.handle_text("oCity1", "某县级市镇里代办员最少几个人")
    assert turn.topic == "service.staffing" and "青禾市（示例）" in turn.reply and "某县级市" not in turn.reply
    typed = m.handle_text("oCity2", "青禾市代办要钱吗")   # the name people read, typed back
    assert typed.topic == "service.fee" and "无偿代办" in typed.reply and "某县级市" not in typed.reply
    named = chat_as({"county_city": "宜兴市"}).handle_text("oCity3", "宜兴市的代办流程是怎样的")
    assert named.topic == "service.process" and "宜兴市的代办流程" in named.reply and "某县级市" not in named.reply
