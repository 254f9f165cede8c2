"""The /api/v1 JSON API as the 工程建设项目审批管理系统 calls it, on SQLite and the real
PostgreSQL: bearer tokens with scopes, the console's role and region rules, and item updates with
the console's rules and pushes."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import CAL, DRAWINGS, PERMIT, STAFF_PASSWORD, db_of

from bot.casework import cases
from bot.models import ApiToken, Notification, Staff
from bot.people import staff as staff_module
from bot.platform.clock import today as china_today

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

@pytest.fixture()
def app(console_app):
    return console_app



def staff_named(db, username) -> Staff:
    return db.scalar(sa.select(Staff).where(Staff.username == username))


def token_for(app, username="donghu-1", scopes=("read", "write")) -> str:
    with db_of(app) as db:
        return staff_module.mint_token(db, staff_named(db, username), label="审批系统对接", scopes=scopes)


def new_case(app, region="donghu", commissioner="donghu-1", openid="oApiEnt", accept=True,
             items=(PERMIT, DRAWINGS)) -> str:
    with db_of(app) as db:
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
            credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region=region,
            investment_type="社会投资", stage="3", contact_name="陈经理", contact_phone="13800000000",
            items=tuple(items)), CAL)
        case.commissioner_id = staff_named(db, commissioner).id
        if accept:
            cases.transition(db, case, "accepted", actor_kind="commissioner", actor_id=commissioner)
        return case.number


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def counts(app, number):
    with db_of(app) as db:
        case = cases.by_number(db, number)
        return (tuple(i.state for i in cases.items_of(db, case)), len(cases.ledger_of(db, case)),
                db.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.case_id == case.id)))


# -- auth ---------------------------------------------------------------------------------

def test_missing_malformed_or_invalid_token_is_401(app):
    number = new_case(app)
    client = app.test_client()
    good = token_for(app)
    for headers in ({}, {"Authorization": good}, {"Authorization": f"Basic {good}"}, auth(""), auth("bbt_wrong"),
                    auth(good[:-1] + ("A" if good[-1] != "A" else "B"))):
        r = client.get(f"/api/v1/cases/{number}", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert r.get_json()["error"] == "unauthorized"
    assert client.get(f"/api/v1/cases/{number}", headers=auth(good)).status_code == 200


def test_console_session_does_not_open_the_api(app):
    """The API answers bearer tokens only, so a browser's cookie cannot be ridden (no CSRF)."""
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/console/login", data={"username": "donghu-lead", "password": STAFF_PASSWORD,
                                               "csrf_token": token}).status_code == 303
    assert client.get("/api/v1/cases").status_code == 401


def test_revoked_token_and_inactive_staff_are_refused(app):
    token = token_for(app, "donghu-1")
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=auth(token)).status_code == 200
    with db_of(app) as db:
        staff_named(db, "donghu-1").active = False
    assert client.get("/api/v1/cases", headers=auth(token)).status_code == 401
    with db_of(app) as db:
        staff_named(db, "donghu-1").active = True
        row = db.scalar(sa.select(ApiToken))
        assert staff_module.revoke_token(db, row.id)
    assert client.get("/api/v1/cases", headers=auth(token)).status_code == 401


def test_tokens_are_stored_hashed_and_record_their_last_use(app):
    token = token_for(app)
    with db_of(app) as db:
        row = db.scalar(sa.select(ApiToken))
        assert token not in (row.token_hash, row.prefix) and row.prefix == token[:12]
        assert row.last_used_at is None and row.label == "审批系统对接"
    app.test_client().get("/api/v1/cases", headers=auth(token))
    with db_of(app) as db:
        assert db.scalar(sa.select(ApiToken)).last_used_at is not None


# -- reading ------------------------------------------------------------------------------

def test_get_case_by_number_with_items(app):
    number = new_case(app)
    r = app.test_client().get(f"/api/v1/cases/{number.lower()}", headers=auth(token_for(app)))
    assert r.status_code == 200
    body = r.get_json()
    assert (body["number"], body["state"], body["state_label"]) == (number, "accepted", "已受理")
    assert body["commissioner"] == "田雅琪"
    assert [(i["code"], i["state"], i["overdue"]) for i in body["items"]] == [
        ("construction_permit", "pending", False), ("drawing_review", "pending", False)]
    assert "applicant_openid" not in body and "contact_phone" not in body  # not the system's business


def test_tokens_see_what_the_console_shows_their_staff(app):
    """A commissioner's token reads that commissioner's cases, a supervisor's the region's: the
    console's case_scope, not the whole region for everyone."""
    mine = [new_case(app), new_case(app, accept=False)]
    colleagues = new_case(app, commissioner="donghu-2", accept=False)
    elsewhere = new_case(app, region="jiangbei", commissioner="jiangbei-1")
    client = app.test_client()
    token = token_for(app, "donghu-1", scopes=("read",))
    body = client.get("/api/v1/cases", headers=auth(token)).get_json()
    assert body["total"] == 2 and {c["number"] for c in body["cases"]} == set(mine)
    for hidden in (colleagues, elsewhere):
        assert client.get(f"/api/v1/cases/{hidden}", headers=auth(token)).status_code == 404
    assert {c["number"] for c in client.get("/api/v1/cases?state=applied", headers=auth(token))
            .get_json()["cases"]} == {mine[1]}
    assert client.get("/api/v1/cases?limit=1&offset=1", headers=auth(token)).get_json()["cases"][0]["number"] == mine[0]
    r = client.get("/api/v1/cases?state=bogus", headers=auth(token))
    assert r.status_code == 400 and "open" in r.get_json()["allowed"]

    lead = auth(token_for(app, "donghu-lead", scopes=("read",)))
    assert {c["number"] for c in client.get("/api/v1/cases", headers=lead).get_json()["cases"]} == {*mine, colleagues}
    assert client.get(f"/api/v1/cases/{colleagues}", headers=lead).status_code == 200
    assert client.get(f"/api/v1/cases/{elsewhere}", headers=lead).status_code == 404
    jiangbei = client.get("/api/v1/cases", headers=auth(token_for(app, "jiangbei-lead"))).get_json()
    assert [c["number"] for c in jiangbei["cases"]] == [elsewhere]


def test_a_read_token_cannot_write_and_scopes_are_checked_when_minted(app):
    number = new_case(app)
    client = app.test_client()
    reader = auth(token_for(app, "donghu-1", scopes=("read",)))
    before = counts(app, number)
    r = client.post(item_url(app, number), json={"state": "submitted"}, headers=reader)
    assert r.status_code == 403 and r.get_json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert counts(app, number) == before
    assert client.get(f"/api/v1/cases/{number}", headers=reader).status_code == 200
    with db_of(app) as db:
        row = db.scalar(sa.select(ApiToken).order_by(ApiToken.id.desc()))
        assert row.scopes == "read"
        with pytest.raises(staff_module.StaffError, match="read"):
            staff_module.mint_token(db, staff_named(db, "donghu-1"), scopes=("admin",))
        staff_module.mint_token(db, staff_named(db, "donghu-1"), scopes=("write",))
        assert db.scalar(sa.select(ApiToken).order_by(ApiToken.id.desc())).scopes == "read write"  # write reads too


# -- item updates -------------------------------------------------------------------------

def item_url(app, number, index=0):
    with db_of(app) as db:
        item = cases.items_of(db, cases.by_number(db, number))[index]
    return f"/api/v1/cases/{number}/items/{item.id}/status"


def test_item_update_follows_the_console_rules_and_pushes(app):
    number = new_case(app, openid="oApiStory")
    client = app.test_client()
    headers = auth(token_for(app))
    url = item_url(app, number)

    r = client.post(url, json={"state": "submitted"}, headers=headers)
    assert r.status_code == 200 and r.get_json()["changed"] is True
    body = r.get_json()["case"]
    assert body["state"] == "in_progress" and body["items"][0]["state"] == "submitted"

    before = counts(app, number)
    r = client.post(url, json={"state": "done"}, headers=headers)  # 已申报 cannot jump to 已办结
    assert r.status_code == 409
    assert r.get_json()["message"] == "事项「建筑工程施工许可证核发」当前为「已申报」，不能变更为「已办结」"
    assert counts(app, number) == before

    r = client.post(url, json={"state": "submitted"}, headers=headers)  # a retried call
    assert r.status_code == 200 and r.get_json()["changed"] is False
    assert counts(app, number) == before

    due = china_today() + timedelta(days=3)
    assert client.post(url, json={"state": "correction", "missing": "施工合同"}, headers=headers).status_code == 400
    r = client.post(url, json={"state": "correction", "missing": "", "due": due.isoformat()}, headers=headers)
    assert r.status_code == 409 and r.get_json()["message"] == "请填写需补正的材料"
    r = client.post(url, json={"state": "correction", "missing": "施工合同（双方盖章）", "due": due.isoformat()},
                    headers=headers)
    assert r.status_code == 200 and r.get_json()["case"]["items"][0]["state"] == "correction"

    with db_of(app) as db:
        to_enterprise = [(n.purpose, n.text) for n in db.scalars(sa.select(Notification).where(
            Notification.recipient_openid == "oApiStory").order_by(Notification.id))]
        to_commissioner = [n.purpose for n in db.scalars(sa.select(Notification).where(
            Notification.recipient_openid == "oStaff_donghu_1").order_by(Notification.id))]
        ledger = cases.ledger_of(db, cases.by_number(db, number))
    assert [p for p, _ in to_enterprise] == ["progress", "correction"]
    assert "需补正：施工合同（双方盖章）" in to_enterprise[1][1] and f"{due:%Y年%m月%d日}" in to_enterprise[1][1]
    assert [p for p in to_commissioner if p != "assignment"] == ["item_reported", "item_reported"]
    assert (ledger[-1].actor_kind, ledger[-1].actor_id) == ("system", "api:donghu-1")


def test_item_update_refusals(app):
    not_accepted = new_case(app, accept=False)
    client = app.test_client()
    headers = auth(token_for(app))
    before = counts(app, not_accepted)
    r = client.post(item_url(app, not_accepted), json={"state": "submitted"}, headers=headers)
    assert r.status_code == 409 and r.get_json()["message"] == "请先受理案件，再更新事项进度"
    assert counts(app, not_accepted) == before

    r = client.post(item_url(app, not_accepted), json={"state": "已受理"}, headers=headers)
    assert r.status_code == 400 and "reviewing" in r.get_json()["allowed"]
    assert client.post(item_url(app, not_accepted), data="state=submitted", headers=headers).status_code == 400

    other = new_case(app)
    wrong_item = item_url(app, other).replace(other, not_accepted)  # an item of another case
    assert client.post(wrong_item, json={"state": "submitted"}, headers=headers).status_code == 404
    elsewhere = new_case(app, region="jiangbei", commissioner="jiangbei-1")
    before = counts(app, elsewhere)
    r = client.post(item_url(app, elsewhere), json={"state": "submitted"}, headers=headers)
    assert r.status_code == 404 and counts(app, elsewhere) == before


def test_a_token_moves_only_what_its_staff_may_move_in_the_console(app):
    """A supervisor oversees (console: note and assign only), so a supervisor's token, even with
    the write scope, moves no item; a commissioner's token does not reach a colleague's case."""
    number = new_case(app)
    colleagues = new_case(app, commissioner="donghu-2")
    client = app.test_client()
    before = counts(app, number)
    lead = auth(token_for(app, "donghu-lead"))
    for body in ({"state": "submitted"}, {"state": "correction", "missing": "施工合同", "due": "2099-01-01"}):
        r = client.post(item_url(app, number), json=body, headers=lead)
        assert r.status_code == 403 and r.get_json()["error"] == "forbidden", body
    assert counts(app, number) == before

    before = counts(app, colleagues)
    r = client.post(item_url(app, colleagues), json={"state": "submitted"}, headers=auth(token_for(app, "donghu-1")))
    assert r.status_code == 404 and counts(app, colleagues) == before
    r = client.post(item_url(app, colleagues), json={"state": "submitted"}, headers=auth(token_for(app, "donghu-2")))
    assert r.status_code == 200 and r.get_json()["changed"] is True


def test_tokens_are_listed_and_revoked(app):
    first = token_for(app, "donghu-1", scopes=("read",))
    second = token_for(app, "donghu-1")
    token_for(app, "donghu-2")
    with db_of(app) as db:
        listed = staff_module.tokens_of(db, staff_named(db, "donghu-1"))
        assert [(t.prefix, t.scopes) for t in listed] == [(first[:12], "read"), (second[:12], "read write")]
        assert len(staff_module.tokens_of(db)) == 3  # everyone's, for `bangban staff token --list`
        assert staff_module.revoke_token(db, listed[0].id) and not staff_module.revoke_token(db, listed[0].id)
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=auth(first)).status_code == 401
    assert client.get("/api/v1/cases", headers=auth(second)).status_code == 200


def test_tokens_minted_before_scopes_keep_read_and_write(database_url):
    """The migration gives existing tokens the powers they had (now bounded by the role rules);
    new tokens default to read."""
    from bot.platform.db import make_engine, make_sessionmaker, transaction, upgrade

    upgrade(database_url, "0005")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("insert into staff (username, name, role, region, active, created_at) "
                             "values ('old', '老专员', 'commissioner', 'donghu', true, current_timestamp)"))
        conn.execute(sa.text("insert into api_tokens (token_hash, prefix, staff_id, label, created_at) "
                             "select 'h', 'bbt_old', id, '', current_timestamp from staff"))
    upgrade(database_url)
    with transaction(make_sessionmaker(engine)) as db:
        assert db.scalar(sa.select(ApiToken.scopes)) == "read write"
        person = db.scalar(sa.select(Staff))
        staff_module.mint_token(db, person)
        assert db.scalar(sa.select(ApiToken.scopes).order_by(ApiToken.id.desc())) == "read"
    engine.dispose()
