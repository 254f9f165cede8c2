"""Odd input gets a 400 (or the 404 of a thing that cannot exist), never a server error: numbers
beyond 64 bits, dates at the ends of the calendar, JSON nested thousands deep, CR/LF in the
login's `next`. The web chat page may not be framed and is rate-limited per address as well as
per cookie; `bangban kb gaps` prints what people typed without letting a terminal act on it
(issue #13, item 10)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from conftest import CAL, PERMIT, STAFF_PASSWORD, db_of, fill_database, fixture_kb_retriever

from bot.casework import cases
from bot.models import Staff
from bot.people import staff as staff_module

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

HUGE = "9" * 30  # far beyond 64 bits
JUST_OVER = str(2**63)  # one more than the largest integer SQLite and PostgreSQL keep
DEEP = "[" * 20_000 + "]" * 20_000  # 40 KB: under the body cap, far over json's recursion


@pytest.fixture()
def app(console_app):
    return console_app


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, username):
    client = app.test_client()
    token = _token(client.get("/console/login").get_data(as_text=True))
    r = client.post("/console/login", data={"username": username, "password": STAFF_PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    return client


def new_case(app, commissioner="donghu-1") -> str:
    with db_of(app) as db:
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid="oOdd", company_name="武汉光谷示例科技有限公司",
            credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region="donghu",
            investment_type="社会投资", stage="3", contact_name="陈经理", contact_phone="13800000000",
            items=(PERMIT,)), CAL)
        case.commissioner_id = db.scalar(sa.select(Staff.id).where(Staff.username == commissioner))
        return case.number


def api_token(app, username="donghu-1") -> dict:
    with db_of(app) as db:
        staff = db.scalar(sa.select(Staff).where(Staff.username == username))
        token = staff_module.mint_token(db, staff, label="odd", scopes=("read", "write"))
    return {"Authorization": f"Bearer {token}"}


# -- numbers ------------------------------------------------------------------------------

def test_paging_beyond_64_bits_is_a_bad_request(app):
    client = signed_in(app, "donghu-lead")
    for page in (HUGE, JUST_OVER, str(2**63 // 30 + 1)):  # the last one's offset is past 64 bits
        assert client.get(f"/console/cases?page={page}").status_code == 400, page
    assert client.get(f"/console/cases?page=-{HUGE}").status_code == 200  # the first page, as before
    api, headers = app.test_client(), api_token(app)
    for offset in (HUGE, JUST_OVER):
        r = api.get(f"/api/v1/cases?offset={offset}", headers=headers)
        assert r.status_code == 400 and r.get_json()["error"] == "bad_request"
    for limit in (HUGE, f"-{HUGE}"):  # clamped to 1-100, as before
        assert api.get(f"/api/v1/cases?limit={limit}", headers=headers).status_code == 200


def test_ids_beyond_any_table_are_not_found(app):
    number = new_case(app)
    commissioner, lead = signed_in(app, "donghu-1"), signed_in(app, "donghu-lead")
    token = _token(commissioner.get(f"/console/cases/{number}").get_data(as_text=True))
    for big in (HUGE, JUST_OVER, str(2**31)):  # 2**31: past PostgreSQL's INTEGER ids
        for path in (f"/console/cases/{number}/items/{big}/state", f"/console/cases/{number}/items/{big}/correction"):
            assert commissioner.post(path, data={"to": "submitted", "csrf_token": token}).status_code == 404, path
        lead_token = _token(lead.get(f"/console/cases/{number}").get_data(as_text=True))
        for path in (f"/console/handoffs/{big}/answer", f"/console/rectifications/{big}/visit",
                     f"/console/rectifications/{big}/close", f"/console/escalations/{big}/resolve"):
            assert lead.post(path, data={"text": "x", "csrf_token": lead_token}).status_code == 404, path
        r = app.test_client().post(f"/api/v1/cases/{number}/items/{big}/status", json={"state": "submitted"},
                                   headers=api_token(app))
        assert r.status_code == 404 and r.get_json()["error"] == "not_found"
        r = lead.post(f"/console/cases/{number}/assign", data={"commissioner_id": big, "csrf_token": lead_token})
        assert r.status_code in (303, 400), r.status_code


# -- dates --------------------------------------------------------------------------------

PERIOD_PAGES = ("/console/dashboard", "/console/export/ledger.xlsx", "/console/export/dashboard.xlsx")


def test_dates_at_the_ends_of_the_calendar_are_a_bad_request(app):
    client = signed_in(app, "donghu-lead")
    for page in PERIOD_PAGES:
        for period in ("from=0001-01-01", "to=9999-12-31", "from=0001-01-01&to=9999-12-31",
                       "from=9999-12-31&to=0001-01-01"):
            r = client.get(f"{page}?{period}")
            assert r.status_code == 400, (page, period)
            assert "日期超出范围" in r.get_data(as_text=True)


def test_an_ordinary_period_still_works(app):
    client = signed_in(app, "donghu-lead")
    for page in PERIOD_PAGES:
        assert client.get(f"{page}?from=2025-01-01&to=2026-12-31").status_code == 200
        assert client.get(f"{page}?from=garbage").status_code == 200  # unreadable: the default period, as before


# -- JSON ---------------------------------------------------------------------------------

def test_deeply_nested_json_is_a_bad_request(app):
    number = new_case(app)
    r = app.test_client().post(f"/api/v1/cases/{number}/items/1/status", data=DEEP,
                               content_type="application/json", headers=api_token(app))
    assert r.status_code == 400 and r.get_json()["error"] == "bad_request"


@pytest.fixture()
def chat_app(sqlite_url):
    """The web chat needs no staff or PostgreSQL: the embedded defaults and the fixture KB."""
    from bot.platform.config import Settings
    from bot.platform.kv import MemoryKV
    from dialogs import build_manager
    from webhook import create_app

    fill_database(sqlite_url)
    settings = Settings(database_url=sqlite_url)
    retriever = fixture_kb_retriever()
    manager = build_manager(settings, kb=retriever.kb, kv=MemoryKV(), retriever=retriever)
    yield create_app(settings, manager=manager)
    manager.sessions.kw["bind"].dispose()


def test_deeply_nested_json_to_the_chat_is_a_bad_request(chat_app):
    app = chat_app
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/chat").get_data(as_text=True))[1]
    r = client.post("/chat/api/messages", data=DEEP, content_type="application/json", headers={"X-CSRFToken": token})
    assert r.status_code == 400 and r.get_json()["reply"]
    r = client.post("/chat/api/messages", data='{"text": "\\ud800"}', content_type="application/json",
                    headers={"X-CSRFToken": token})  # a lone surrogate: valid JSON, not encodable text
    assert r.status_code in (200, 400)


# -- the login's next ---------------------------------------------------------------------

def test_line_breaks_in_next_never_reach_a_header(app):
    for target in ("/console/cases\r\nSet-Cookie: pwned=1", "/console/cases%0d%0aX: y",
                   "/console/cases\nX-Injected: 1", "/console/\x00cases"):
        client = app.test_client()
        html = client.get("/console/login", query_string={"next": target})
        assert html.status_code == 200
        r = client.post("/console/login", data={"username": "donghu-1", "password": STAFF_PASSWORD, "next": target,
                                                "csrf_token": _token(html.get_data(as_text=True))})
        assert r.status_code == 303, target
        assert "\r" not in r.headers["Location"] and "\n" not in r.headers["Location"]
        assert "pwned" not in r.headers.get("Set-Cookie", "") and "X-Injected" not in r.headers


# -- the web chat page --------------------------------------------------------------------

def test_the_chat_page_has_a_content_security_policy_and_may_not_be_framed(chat_app):
    app = chat_app
    r = app.test_client().get("/chat")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_the_chat_rate_limit_is_per_address_as_well_as_per_cookie(chat_app, monkeypatch):
    """A script that drops its cookie gets a fresh visitor each time; its address stays the same."""
    app = chat_app
    from webhook import chat

    monkeypatch.setattr(chat, "RATE_LIMIT_PER_ADDRESS", 4)

    def fresh_visitor(address):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/chat").get_data(as_text=True))[1]
        return client.post("/chat/api/messages", json={"text": "你好"}, headers={"X-CSRFToken": token})

    assert [fresh_visitor("198.51.100.7").status_code for _ in range(5)] == [200, 200, 200, 200, 429]
    assert fresh_visitor("198.51.100.8").status_code == 200  # another address is not held back


# -- bangban kb gaps ----------------------------------------------------------------------

def test_kb_gaps_prints_questions_without_terminal_escapes(sqlite_url, monkeypatch, capsys):
    from bot.models import KbQuery
    from bot.platform.db import open_database, transaction
    from webhook import cli

    fill_database(sqlite_url)
    with transaction(open_database(sqlite_url)) as db:
        db.add(KbQuery(user_ref="u1", question="\x1b[2J\x1b]0;pwned\x07社保\x9b31m怎么交\u202e", normalized="社保怎么交",
                       outcome="unsure"))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert cli.main(["kb", "gaps"]) == 0
    out = capsys.readouterr().out
    assert "社保" in out and "怎么交" in out
    assert not any(ch in out for ch in "\x1b\x07\x9b\u202e")
    assert "\\x1b[2J" in out  # shown, not obeyed
