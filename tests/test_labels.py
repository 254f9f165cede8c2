"""What people read is Beijing time, Chinese and named: the ledger's embedded times, the 台账's
动作, 404/405 pages and the icon, one numbering of 整改, dates with their year, the archive rule,
and dashboard charts drawn at a readable size (region names: test_region_names.py). On the
embedded SQLite and the real PostgreSQL where a database is involved."""
from __future__ import annotations

import re
import struct
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import CAL, PERMIT, db_of
from test_dashboard import Seed, rows_after_header, signed_in, table, workbook_of

from bot.casework import cases
from bot.casework.cases import ACTION_NAMES, CASE_STATES, ITEM_STATES, CaseError
from bot.models import Case, KbQuery, Rectification, Staff
from bot.platform import clock
from bot.supervision import ratings

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
ROOT = Path(__file__).resolve().parents[1]
CONSENTED = datetime(2026, 12, 2, 13, 57, tzinfo=timezone.utc)  # 21:57 in Beijing


@pytest.fixture()
def app(console_app):
    return console_app


def _daiban(db, openid="oAgree", region="donghu", consented=CONSENTED) -> Case:
    return cases.submit(db, cases.Application(
        mode="代办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
        credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region=region,
        investment_type="社会投资", stage="3", contact_name="陈经理", items=(PERMIT,),
        agreement_consented_at=consented), CAL)


# -- Beijing time -------------------------------------------------------------------------

def test_clock_writes_beijing_time_and_the_year_only_when_it_is_not_this_one():
    assert clock.stamp(CONSENTED) == "2026-12-02 21:57"
    assert clock.stamp(CONSENTED.replace(tzinfo=None)) == "2026-12-02 21:57"  # SQLite's naive UTC
    assert clock.stamp(None) == ""
    # 16:30 UTC on New Year's Eve is already next year in Beijing
    assert clock.stamp(datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc)) == "2027-01-01 00:30"
    assert clock.date_text(date(2026, 3, 5), current=date(2026, 12, 31)) == "03月05日"
    assert clock.date_text(date(2027, 1, 5), current=date(2026, 12, 31)) == "2027年01月05日"
    assert clock.date_text(date(2025, 12, 30), current=date(2026, 1, 2)) == "2025年12月30日"
    this_year = datetime(clock.today().year, 6, 1, 1, 0, tzinfo=timezone.utc)
    assert clock.local_text(this_year) == "06月01日 09:00"
    assert clock.local_text(this_year.replace(year=this_year.year - 1)) == f"{this_year.year - 1}年06月01日 09:00"


# The 台账 line names the 委托协议 version agreed (issue 17 item 2, config/agreements/donghu/v1.yaml) and who.
AGREED_LINE = "企业确认代办委托协议《武汉东湖新技术开发区投资项目帮办代办服务申请表》第1版（2026-01-01起施行）（2026-12-02 21:57，陈经理）"


def test_the_agreement_line_carries_beijing_time_in_the_console_and_both_exports(app):
    with db_of(app) as db:
        number = _daiban(db).number
    with db_of(app) as db:
        entries = cases.ledger_of(db, cases.by_number(db, number))
        [line] = [e.detail for e in entries if e.action == "agreement_consented"]
    assert line == AGREED_LINE

    supervisor = signed_in(app, "donghu-lead")
    page = supervisor.get(f"/console/cases/{number}").get_data(as_text=True)
    assert AGREED_LINE in page and "13:57" not in page
    today = clock.today()
    period = f"from={today - timedelta(days=1)}&to={today}"
    ledger = workbook_of(supervisor.get(f"/console/export/ledger.xlsx?{period}"))
    _, rows = rows_after_header(ledger["服务记录台账"], "时间")
    [agreed] = [r for r in rows if r[7] == "确认委托协议"]
    assert agreed[8] == AGREED_LINE
    archive = workbook_of(supervisor.get(f"/console/cases/{number}/archive.xlsx"))
    _, facts = rows_after_header(archive["案件信息"], "项目")
    assert dict(facts)["委托协议确认"] == "2026-12-02 21:57"
    _, rows = rows_after_header(archive["服务记录台账"], "时间")
    assert AGREED_LINE in [r[8] for r in rows]


def test_kb_gaps_shows_when_a_question_was_last_asked_in_beijing_time(db_sessions):
    from bot.supervision import kb_log

    with db_sessions.begin() as db:
        db.add(KbQuery(user_ref="u1", question="社保每个月交多少", normalized="社保每个月交多少", outcome="unsure",
                       topic=None, confidence=0.1, asked_at=CONSENTED))
    with db_sessions() as db:
        [gap] = kb_log.gaps(db)
    assert gap.last_asked == "2026-12-02 21:57"


# -- 台账 动作 -----------------------------------------------------------------------------

def test_every_ledger_action_the_code_writes_has_a_chinese_name():
    written = set()
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("dialogs/**/*.py")]:
        written |= set(re.findall(r'\blog\(\s*\w+,\s*\w+,\s*"([a-z_:]+)"', path.read_text(encoding="utf-8")))
        written |= set(re.findall(r'action\s*==\s*"([a-z_:]+)"', path.read_text(encoding="utf-8")))
    written |= {f"state:{s}" for s in CASE_STATES if s != "applied"}
    written |= {f"item:{s}" for s in ITEM_STATES if s != "pending"}
    assert len(written) > 20
    missing = {code for code in written if code not in ACTION_NAMES}
    assert not missing, missing
    assert all(re.fullmatch(r"[\u4e00-\u9fff]+", name) for name in ACTION_NAMES.values())
    assert cases.action_name("state:accepted") == "受理" and cases.action_name("item:submitted") == "事项已申报"
    assert cases.action_name("something_new") == "其他记录"  # never the code itself


# -- 404 / 405 and the icon ---------------------------------------------------------------

def test_unknown_addresses_and_methods_are_answered_in_chinese(app):
    client = app.test_client()
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "页面不存在" in html and 'lang="zh-CN"' in html and "Not Found" not in html
    assert 'href="/chat"' in html

    asked_json = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert asked_json.status_code == 404 and asked_json.get_json()["error"] == "not_found"
    assert "没有找到" in asked_json.get_json()["message"]

    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.get_json() == {"error": "not_found", "message": "没有找到该案件或事项"}

    console = client.get("/console/no-such-page").get_data(as_text=True)
    assert "未找到" in console and "帮代办工作台" in console and "Not Found" not in console

    wrong = client.post("/healthz")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    said = wrong.get_data(as_text=True)
    assert "不支持这种访问方式" in said and "Method Not Allowed" not in said
    api_wrong = client.delete("/api/v1/cases")
    assert api_wrong.status_code == 405 and api_wrong.get_json()["error"] == "method_not_allowed"
    assert client.put("/console/cases").status_code == 405


def test_a_number_out_of_range_is_named_as_the_page_names_it(app):
    """「页码超出范围」, not the query parameter's name (「page 超出范围」); also for 分派's 专员."""
    client = signed_in(app, "donghu-lead")
    r = client.get(f"/console/cases?page={10 ** 20}")
    said = re.search(r"<h1>请求未完成</h1>\s*<p>([^<]*)</p>", r.get_data(as_text=True))
    assert r.status_code == 400 and said and said[1] == "页码超出范围，请返回后重试。"
    with db_of(app) as db:
        number = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid="oRange", company_name="武汉光谷示例科技有限公司",
            credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region="donghu",
            investment_type="社会投资", stage="3", contact_name="陈经理", items=(PERMIT,)), CAL).number
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    r = client.post(f"/console/cases/{number}/assign", data={"commissioner_id": str(2 ** 31), "csrf_token": token})
    assert r.status_code == 400 and "所选专员超出范围" in r.get_data(as_text=True)
    assert "commissioner_id" not in r.get_data(as_text=True)


def test_the_site_icon_is_served(app):
    r = app.test_client().get("/favicon.ico")
    assert r.status_code == 200 and r.mimetype == "image/x-icon"
    reserved, kind, count = struct.unpack("<HHH", r.data[:6])
    assert (reserved, kind, count) == (0, 1, 1)  # an ICO with one image
    assert r.data[22:30] == b"\x89PNG\r\n\x1a\n" and r.cache_control.max_age >= 86400


# -- 整改: one numbering, and none left open in an archived case ------------------------------

def test_rectifications_are_numbered_alike_in_the_console_the_ledger_and_excel(app):
    seed = Seed(app)
    with db_of(app) as db:
        rect_id = db.scalar(sa.select(Rectification.id).join(Case, Case.id == Rectification.case_id)
                            .where(Case.number == seed.numbers["c"]))
    number = ratings.rectification_number(rect_id)
    client = signed_in(app, "donghu-lead")
    listing = client.get("/console/rectifications").get_data(as_text=True)
    assert f"<strong>{number}</strong>" in listing
    dashboard = client.get(f"/console/dashboard?{seed.query}").get_data(as_text=True)
    assert table(dashboard, "t-rect")[0][0] == number
    wb = workbook_of(client.get(f"/console/export/dashboard.xlsx?{seed.query}"))
    _, rows = rows_after_header(wb["整改"], "编号")
    assert [r[0] for r in rows] == [number]
    archive = workbook_of(client.get(f"/console/cases/{seed.numbers['c']}/archive.xlsx"))
    _, facts = rows_after_header(archive["评价与整改"], "项目")
    assert dict(facts)["整改编号"] == number


def test_a_case_with_an_open_rectification_is_not_archived_until_it_is_closed(app):
    seed = Seed(app)
    with db_of(app) as db:
        case = cases.by_number(db, seed.numbers["c"])  # rated 不满意, its 整改 open
        rect_id = db.scalar(sa.select(Rectification.id).where(Rectification.case_id == case.id))
        lines = len(cases.ledger_of(db, case))
        with pytest.raises(CaseError, match=rf"未办结的整改（{ratings.rectification_number(rect_id)}）"):
            cases.transition(db, case, "archived", actor_kind="supervisor", actor_id="donghu-lead")
        assert case.state == "rated" and len(cases.ledger_of(db, case)) == lines
    with db_of(app) as db:
        lead = db.scalar(sa.select(Staff).where(Staff.username == "donghu-lead"))
        ratings.record_visit(db, rect_id, lead, "电话回访，企业反映补正说明不清")
        ratings.close_rectification(db, rect_id, lead, "已约谈专员，补正要求一次写清")
    with db_of(app) as db:
        case = cases.by_number(db, seed.numbers["c"])
        cases.transition(db, case, "archived", actor_kind="supervisor", actor_id="donghu-lead")
        assert case.state == "archived"
        names = [cases.action_name(e.action) for e in cases.ledger_of(db, case)]
        assert names[-3:] == ["整改回访", "整改办结", "立卷归档"]


# -- dates in the chat --------------------------------------------------------------------

def test_the_one_time_notice_gives_the_year_of_a_date_in_another_year(kb):
    from dialogs.notice import one_time_notice

    year = clock.today().year
    late = one_time_notice(kb, ["construction_permit"], "3", date(year, 12, 28), CAL)
    assert re.search(rf"预计{year + 1}年\d\d月\d\d日前办结", late)
    early = one_time_notice(kb, ["construction_permit"], "3", date(year, 1, 5), CAL)
    assert re.search(r"，预计\d\d月\d\d日前办结）", early) and not re.search(r"，预计\d{4}年\d\d月\d\d日前办结）", early)


# -- dashboard charts ---------------------------------------------------------------------

def test_dashboard_charts_are_drawn_at_their_size_with_one_readable_label_size(app):
    seed = Seed(app)
    html = signed_in(app, "donghu-lead").get(f"/console/dashboard?{seed.query}").get_data(as_text=True)
    svgs = re.findall(r"<svg class=\"chart\"[^>]*>", html)
    assert len(svgs) == 7
    sizes = set()
    for tag in svgs:
        _, _, vw, vh = (float(v) for v in re.search(r'viewBox="([^"]+)"', tag).group(1).split())
        # drawn 1:1: a chart scaled to its column would print its 13 px text at 9 px (or 20 px)
        assert float(re.search(r' width="([\d.]+)"', tag).group(1)) == vw
        assert float(re.search(r' height="([\d.]+)"', tag).group(1)) == vh
        sizes.add(float(re.search(r'font-size="([\d.]+)"', tag).group(1)))
    assert len(sizes) == 1 and sizes.pop() >= 12
    charts = re.findall(r"<svg class=\"chart\".*?</svg>", html, re.S)
    assert not any("font-size" in body[body.index(">"):] for body in charts)  # no label of its own size
    css = (ROOT / "webhook/console/static/dashboard.css").read_text(encoding="utf-8")
    rule = re.search(r"svg\.chart\s*\{([^}]*)\}", css).group(1)
    assert "max-width" not in rule and "height: auto" not in rule  # nothing shrinks it to fit
    month = clock.today().month
    assert f">{month}月</text>" in html and f">{clock.today().year}</text>" in html  # months fit, year shown once
