"""挂图作战 as a supervisor sees it, on SQLite and the real PostgreSQL: the page's figures against
a small seeded region, who may see it, the three Excel exports, raising and resolving an
escalation with its ledger lines, and (where Chromium and Playwright are installed) the page in a
real headless browser."""
from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from browser import CHROMIUM, launch, served
from conftest import CAL, DRAWINGS, FLASH, PERMIT, STAFF_PASSWORD, db_of
from openpyxl import load_workbook

from bot.casework import cases
from bot.models import Case, Escalation, LedgerEntry, Rating, Rectification, Staff, utcnow
from bot.platform.clock import today as china_today

PASSWORD = STAFF_PASSWORD

pytestmark = pytest.mark.usefixtures("fast_password_hashes")


@pytest.fixture()
def app(console_app):
    return console_app



# -- a small, realistic region ------------------------------------------------------------

class Seed:
    """donghu: five cases of two commissioners (two overdue items, one due soon, one rated badly
    with 整改 open, one escalated); jiangbei: one case with an overdue item, a rating and an
    escalation that donghu's supervisor must never see."""

    def __init__(self, app):
        today = china_today()
        now = utcnow()
        self.today = today
        with db_of(app) as db:
            staff = {s.username: s for s in db.scalars(sa.select(Staff))}
            self.staff = {u: s.id for u, s in staff.items()}

            def submit(commissioner, items, region="donghu", company="武汉光谷示例科技有限公司", project="研发楼"):
                case = cases.submit(db, cases.Application(
                    mode="帮办", applicant_openid=f"o{len(items)}{company}", company_name=company,
                    credit_code="91350100M000100Y43", project_name=project, region=region,
                    investment_type="社会投资", stage="3", contact_name="陈经理", contact_phone="13800000000",
                    items=tuple(items)), CAL)
                case.commissioner_id = staff[commissioner].id
                case.created_at = now - timedelta(days=20)
                return case

            def items(case):
                return {i.item_code: i for i in cases.items_of(db, case)}

            # A: 田雅琪, in progress; permit 5 days overdue, drawings due in 2 working days; escalated.
            a = submit("donghu-1", (PERMIT, DRAWINGS), company="光谷甲公司", project="甲研发楼")
            a.state, a.accepted_at = "in_progress", a.created_at + timedelta(days=1)
            ia = items(a)
            ia["construction_permit"].state, ia["construction_permit"].due_date = "reviewing", today - timedelta(days=5)
            ia["drawing_review"].state, ia["drawing_review"].due_date = "submitted", CAL.add_workdays(today, 2)
            db.add(Escalation(case_id=a.id, level="联席会议", note="消防审验意见与规划条件冲突", raised_by=staff["donghu-lead"].id))
            # B: 龚志勇, in progress; permit 10 days overdue; drawings done long ago (not overdue).
            b = submit("donghu-2", (PERMIT, DRAWINGS), company="光谷乙公司", project="乙厂房")
            b.state, b.accepted_at = "in_progress", b.created_at + timedelta(days=1)
            ib = items(b)
            ib["construction_permit"].state, ib["construction_permit"].due_date = "accepted", today - timedelta(days=10)
            ib["drawing_review"].state, ib["drawing_review"].due_date = "done", today - timedelta(days=30)
            # C: 田雅琪, rated 不满意 with 整改 open; accepted after 2 days, completed 8 days later;
            # its permit went 已申报 → 已受理 (1 day) → 审批中 (1 day) → 已办结 (2 days).
            c = submit("donghu-1", (PERMIT,), company="光谷丙公司", project="丙仓库")
            c.state, c.accepted_at = "rated", c.created_at + timedelta(days=2)
            c.closed_at = c.accepted_at + timedelta(days=8)
            ic = items(c)["construction_permit"]
            ic.state = "done"
            t0 = c.accepted_at + timedelta(days=1)
            for offset, action in ((0, "submitted"), (1, "accepted"), (2, "reviewing"), (4, "done")):
                db.add(LedgerEntry(case_id=c.id, case_item_id=ic.id, at=t0 + timedelta(days=offset),
                                   actor_kind="commissioner", actor_id="donghu-1", action=f"item:{action}",
                                   detail=f"{ic.name}：{cases.ITEM_STATES[action]}"))
            db.flush()
            bad = Rating(case_id=c.id, openid="oC", level=2, comment="跑了三趟才办完", created_at=now)
            db.add(bad)
            db.flush()
            db.add(Rectification(case_id=c.id, rating_id=bad.id, supervisor_id=staff["donghu-lead"].id,
                                 due_date=today + timedelta(days=5)))
            # D: 龚志勇, delivered, rated 非常满意; accepted after 3 days, completed 6 days later.
            d = submit("donghu-2", (PERMIT,), company="光谷丁公司", project="丁办公楼")
            d.state, d.accepted_at = "delivered", d.created_at + timedelta(days=3)
            d.closed_at = d.accepted_at + timedelta(days=6)
            items(d)["construction_permit"].state = "done"
            db.add(Rating(case_id=d.id, openid="oD", level=5, created_at=now))
            # E: 田雅琪, just applied; its item is due in 7 working days (neither overdue nor due soon).
            e = submit("donghu-1", (PERMIT,), company="光谷戊公司", project="戊车间")
            # J: another region, overdue, rated, escalated.
            j = submit("jiangbei-1", (PERMIT,), region="jiangbei", company="江北己公司", project="己项目")
            j.state, j.accepted_at = "in_progress", j.created_at + timedelta(days=1)
            items(j)["construction_permit"].due_date = today - timedelta(days=3)
            db.add(Rating(case_id=j.id, openid="oJ", level=1, created_at=now))
            db.add(Escalation(case_id=j.id, level="工改领导小组", note="江北的问题", raised_by=staff["jiangbei-lead"].id))
            self.numbers = {k: v.number for k, v in dict(a=a, b=b, c=c, d=d, e=e, j=j).items()}
        self.query = f"from={(today - timedelta(days=60)).isoformat()}&to={today.isoformat()}"


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def signed_in(app, username):
    client = app.test_client()
    token = csrf_token(client.get("/console/login").get_data(as_text=True))
    r = client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    return client


def figure(html: str, name: str) -> str:
    match = re.search(rf'id="fig-{name}">([^<]*)<', html)
    assert match, f"no figure {name}"
    return match.group(1)


def table(html: str, table_id: str) -> list[list[str]]:
    """The body rows of a table as lists of cell texts (tags stripped, whitespace squeezed)."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)
        rows.append([re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in cells])
    return rows


# -- the figures --------------------------------------------------------------------------

def test_dashboard_figures_match_the_seeded_region(app):
    seed = Seed(app)
    client = signed_in(app, "donghu-lead")
    r = client.get(f"/console/dashboard?{seed.query}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    n = seed.numbers
    assert figure(html, "cases") == "5"
    assert figure(html, "overdue") == "2"
    assert figure(html, "due-soon") == "1"
    assert figure(html, "escalations") == "1"
    assert figure(html, "rectifications") == "1"
    assert figure(html, "satisfaction") == "50.0%"

    states = {row[0]: row[1] for row in table(html, "t-state")}
    assert states == {"已申请": "1", "已受理": "0", "办理中": "2", "已办结": "0", "已送达": "1", "已评价": "1",
                      "已归档": "0", "已终止": "0", "合计": "5"}
    assert table(html, "t-stage") == [["施工许可", "5", "3"]] or table(html, "t-stage")[0][1:] == ["5", "3"]

    overdue = table(html, "t-overdue")
    assert [row[0].split()[0] for row in overdue] == [n["b"], n["a"]]  # longest overdue first
    assert overdue[0][5].startswith("10 天") and overdue[1][5].startswith("5 天")
    assert f'href="/console/cases/{n["a"]}"' in html
    due = table(html, "t-due-soon")
    assert len(due) == 1 and due[0][0].startswith(n["a"]) and due[0][1] == "施工图审查"
    assert "2 个工作日" in due[0][5]

    load = {row[0]: row[1:] for row in table(html, "t-load")}
    assert load == {"田雅琪": ["2", "3", "1", "1"], "龚志勇": ["1", "1", "1", "0"]}

    durations = table(html, "t-durations")
    assert len(durations) == 1
    assert durations[0][1].startswith("1.5 天") and "样本 4" in durations[0][1]  # accepted after 1,1,2,3 days
    assert durations[0][2].startswith("7.0 天") and "样本 2" in durations[0][2]  # completed after 8 and 6 days
    assert durations[0][3].startswith("4.0 天") and "样本 1" in durations[0][3]
    dwell = {row[0]: row[1:] for row in table(html, "t-dwell")}
    assert dwell["已申报"] == ["1.0 天", "1"] and dwell["审批中"] == ["2.0 天", "1"] and dwell["需补正"] == ["—", "0"]

    month = china_today().strftime("%Y-%m")
    ratings = table(html, "t-ratings")
    assert ratings[0] == [month, "1", "0", "0", "1", "0", "2", "50.0%"]
    assert ratings[-1][0] == "合计"

    assert "消防审验意见与规划条件冲突" in html and "江北的问题" not in html
    assert "跑了三趟才办完" in html
    for hidden in ("江北己公司", n["j"]):
        assert hidden not in html
    # charts are there, each with a title for screen readers
    assert html.count('<svg class="chart" role="img"') == 7
    assert "<title" in html


def test_commissioner_performance_for_assessment(app):
    """考核: cases handled and closed, items done by their committed date (from the ledger),
    average rating, bad ratings and the state of their 整改."""
    seed = Seed(app)
    with db_of(app) as db:
        tian = db.get(Staff, seed.staff["donghu-1"]).name
        gong = db.get(Staff, seed.staff["donghu-2"]).name
    html = signed_in(app, "donghu-lead").get(f"/console/dashboard?{seed.query}").get_data(as_text=True)
    rows = {r[0]: r[1:] for r in table(html, "t-performance")}
    # 田雅琪: A, C, E; C closed and rated 不满意 with its 整改 open; C's permit done before its due date.
    assert rows[tian] == ["3", "1", "100% （1/1）", "2.0 （1条）", "1", "1 / 0"]
    # 龚志勇: B, D; D delivered and rated 非常满意; no item has a 已办结 ledger line, so no rate.
    assert rows[gong] == ["2", "1", "— （0/0）", "5.0 （1条）", "0", "0 / 0"]
    assert list(rows) == [tian, gong]  # most cases first; jiangbei's people never appear
    export = signed_in(app, "donghu-lead").get(f"/console/export/dashboard.xlsx?{seed.query}")
    values = [[c.value for c in row] for row in load_workbook(io.BytesIO(export.data))["专员考核"].iter_rows()]
    header = next(i for i, v in enumerate(values) if v[0] == "帮代办专员")
    assert values[header][:6] == ["帮代办专员", "承办案件", "已办结", "已办结事项", "按时办结事项", "按时办结率"]
    assert values[header + 1] == [tian, 3, 1, 1, 1, 1.0, 1, 2.0, 1, 1, 0]


def test_filters_by_commissioner_and_period(app):
    seed = Seed(app)
    client = signed_in(app, "donghu-lead")
    html = client.get(f"/console/dashboard?{seed.query}&commissioner={seed.staff['donghu-2']}").get_data(as_text=True)
    assert figure(html, "cases") == "2" and figure(html, "overdue") == "1" and figure(html, "due-soon") == "0"
    assert figure(html, "satisfaction") == "100.0%" and figure(html, "rectifications") == "0"
    assert [row[0] for row in table(html, "t-load")] == ["龚志勇"]
    # a period before everything: no cases applied, no ratings; "now" figures stay
    old = (seed.today - timedelta(days=400)).isoformat()
    html = client.get(f"/console/dashboard?from={old}&to={old}").get_data(as_text=True)
    assert figure(html, "cases") == "0" and figure(html, "satisfaction") == "—"
    assert figure(html, "overdue") == "2"
    # another region's commissioner is ignored, not an error
    html = client.get(f"/console/dashboard?{seed.query}&commissioner={seed.staff['jiangbei-1']}").get_data(as_text=True)
    assert figure(html, "cases") == "5"


def test_commissioners_are_refused_and_regions_are_separate(app):
    seed = Seed(app)
    commissioner = signed_in(app, "donghu-1")
    for url in ("/console/dashboard", "/console/export/ledger.xlsx", "/console/export/dashboard.xlsx",
                f"/console/cases/{seed.numbers['a']}/archive.xlsx"):
        assert commissioner.get(url).status_code == 403, url
    page = commissioner.get("/console/cases").get_data(as_text=True)
    assert "挂图作战" not in page  # no nav link for commissioners
    token = csrf_token(page)
    r = commissioner.post(f"/console/cases/{seed.numbers['a']}/escalate",
                          data={"level": "联席会议", "note": "x", "csrf_token": token})
    assert r.status_code == 403

    jiangbei = signed_in(app, "jiangbei-lead")
    html = jiangbei.get("/console/dashboard").get_data(as_text=True)
    assert "挂图作战" in html and figure(html, "overdue") == "1" and figure(html, "escalations") == "1"
    assert "光谷甲公司" not in html and "消防审验意见" not in html
    assert jiangbei.get(f"/console/cases/{seed.numbers['a']}/archive.xlsx").status_code == 404
    with db_of(app) as db:
        donghu_escalation = db.scalar(sa.select(Escalation.id).where(Escalation.note.like("消防%")))
    token = csrf_token(html)
    r = jiangbei.post(f"/console/escalations/{donghu_escalation}/resolve", data={"resolution": "x", "csrf_token": token})
    assert r.status_code == 404


# -- exports ------------------------------------------------------------------------------

def workbook_of(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    return load_workbook(io.BytesIO(response.data))


def rows_after_header(ws, header_first: str):
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] == header_first)
    return rows[start], rows[start + 1:]


def test_ledger_export(app):
    seed = Seed(app)
    client = signed_in(app, "donghu-lead")
    wb = workbook_of(client.get(f"/console/export/ledger.xlsx?{seed.query}"))
    ws = wb["服务记录台账"]
    header, rows = rows_after_header(ws, "时间")
    assert header == ("时间", "案件编号", "项目单位", "项目名称", "审批事项", "记录人类别", "记录人", "动作", "内容")
    assert ws.freeze_panes == "A4"
    assert ws.column_dimensions["I"].width > ws.column_dimensions["F"].width
    with db_of(app) as db:
        expected = db.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).join(Case, Case.id == LedgerEntry.case_id)
                             .where(Case.region == "donghu"))
    assert len(rows) == expected
    assert {r[1] for r in rows} == {seed.numbers[k] for k in "abcde"}
    assert not any(r[6] and r[6].startswith("o") for r in rows)  # never an openid
    assert any(r[4] == "建筑工程施工许可证核发" and r[7] == "事项已办结" and r[6] == "田雅琪" for r in rows)
    assert not any(":" in r[7] or r[7].isascii() for r in rows)  # 动作 in Chinese, never the stored code


def test_dashboard_export_has_the_page_tables(app):
    seed = Seed(app)
    client = signed_in(app, "donghu-lead")
    wb = workbook_of(client.get(f"/console/export/dashboard.xlsx?{seed.query}"))
    assert wb.sheetnames == ["案件状态", "案件阶段", "逾期事项", "临期事项", "专员工作量", "专员考核", "办理用时", "事项环节停留",
                             "好差评", "协调事项", "整改", "重点项目", "计划与进度", "待企业确认办结",
                             "下级地区",  # 东湖's 园区 (config/region_tiers.yaml)
                             "近期预约", "待立卷归档"]  # 上门受理 / 窗口预约, 立卷归档 (tests/test_appointments.py, test_archiving.py)
    header, rows = rows_after_header(wb["逾期事项"], "案件编号")
    assert header[-2:] == ("逾期天数", "逾期工作日")
    assert [(r[0], r[8]) for r in rows] == [(seed.numbers["b"], 10), (seed.numbers["a"], 5)]
    header, rows = rows_after_header(wb["专员工作量"], "帮代办专员")
    assert ("田雅琪", 2, 3, 1, 1) in rows
    header, rows = rows_after_header(wb["好差评"], "月份")
    assert header[-1] == "满意率" and rows[-1][0] == "合计" and rows[-1][-1] == 0.5  # a number, shown as 50.0%
    assert all(c.number_format == "0.0%" for c in next(wb["好差评"].iter_cols(min_col=len(header), min_row=4)))
    header, rows = rows_after_header(wb["专员考核"], "帮代办专员")
    rate = header.index("按时办结率")
    assert any(isinstance(r[rate], (int, float)) and 0 <= r[rate] <= 1 for r in rows)
    assert all(row[rate].number_format == "0.0%" for row in wb["专员考核"].iter_rows(min_row=4) if row[rate].value is not None)
    _, rows = rows_after_header(wb["案件状态"], "状态")
    assert ("合计", 5) in rows
    _, rows = rows_after_header(wb["协调事项"], "编号")
    assert len(rows) == 1 and rows[0][4] == "联席会议"
    for ws in wb.worksheets:
        assert ws.freeze_panes is not None


def test_archive_contains_the_full_record(app):
    seed = Seed(app)
    client = signed_in(app, "donghu-lead")
    number = seed.numbers["c"]
    wb = workbook_of(client.get(f"/console/cases/{number}/archive.xlsx"))
    assert wb.sheetnames[:4] == ["案件信息", "审批事项", "服务记录台账", "评价与整改"]
    _, facts = rows_after_header(wb["案件信息"], "项目")
    facts = dict(facts)
    assert facts["案件编号"] == number and facts["项目单位"] == "光谷丙公司" and facts["帮代办专员"] == "田雅琪"
    _, items = rows_after_header(wb["审批事项"], "审批事项")
    assert items[0][0] == "建筑工程施工许可证核发" and items[0][2] == "已办结"
    assert items[0][5].count("\n") == 3  # its four transitions
    _, ledger = rows_after_header(wb["服务记录台账"], "时间")
    with db_of(app) as db:
        entries = cases.ledger_of(db, cases.by_number(db, number))
    assert [r[8] for r in ledger] == [e.detail for e in entries]  # every line, in order
    _, rating = rows_after_header(wb["评价与整改"], "项目")
    rating = dict(rating)
    assert rating["评价"] == "不满意" and rating["评价意见"] == "跑了三趟才办完" and rating["整改状态"] == "待回访"
    assert wb["服务记录台账"].print_title_rows is not None


# -- escalation ---------------------------------------------------------------------------

def test_raise_and_resolve_escalation_with_ledger_lines(app):
    seed = Seed(app)
    number = seed.numbers["b"]
    client = signed_in(app, "donghu-lead")
    token = csrf_token(client.get("/console/dashboard").get_data(as_text=True))
    # 东湖's ladder has one tier, its document's 协调会议 (config/region_service.yaml; tests/test_escalation_tiers.py)
    r = client.post(f"/console/cases/{number}/escalate",
                    data={"level": "协调会议", "note": "施工许可卡在用地手续", "csrf_token": token},
                    follow_redirects=True)
    kind, text = FLASH.findall(r.get_data(as_text=True))[0]
    assert kind == "success" and text.startswith(f"已将 {number} 提交协调会议（E")
    html = r.get_data(as_text=True)
    assert figure(html, "escalations") == "2" and "施工许可卡在用地手续" in html
    # the same level again while open is refused; a bad level too; a case in another region is 404
    r = client.post(f"/console/cases/{number}/escalate",
                    data={"level": "协调会议", "note": "再提一次", "csrf_token": token}, follow_redirects=True)
    assert FLASH.findall(r.get_data(as_text=True))[0][0] == "error"
    r = client.post(f"/console/cases/{number}/escalate", data={"level": "市长", "note": "x", "csrf_token": token},
                    follow_redirects=True)
    assert FLASH.findall(r.get_data(as_text=True))[0][0] == "error"
    assert client.post(f"/console/cases/{seed.numbers['j']}/escalate",
                       data={"level": "联席会议", "note": "x", "csrf_token": token}).status_code == 404
    # by number from the dashboard's form; unknown numbers are told, not crashed on
    r = client.post("/console/escalate", data={"number": seed.numbers["e"].lower(), "level": "协调会议",
                                               "note": "用地预审意见迟迟未出", "csrf_token": token}, follow_redirects=True)
    assert FLASH.findall(r.get_data(as_text=True))[0][0] == "success"
    r = client.post("/console/escalate", data={"number": "BD-1999-000001", "level": "联席会议", "note": "x",
                                               "csrf_token": token}, follow_redirects=True)
    assert FLASH.findall(r.get_data(as_text=True))[0] == ("error", "本地区没有案件 BD-1999-000001，请核对编号")

    with db_of(app) as db:
        escalation = db.scalar(sa.select(Escalation).where(Escalation.note == "施工许可卡在用地手续"))
        assert escalation.state == "open" and escalation.raised_by == seed.staff["donghu-lead"]
        escalation_id = escalation.id
    r = client.post(f"/console/escalations/{escalation_id}/resolve",
                    data={"resolution": "领导小组协调自然资源局三日内出具意见", "csrf_token": token,
                          "back": f"/console/dashboard?{seed.query}"})
    assert r.status_code == 303 and r.headers["Location"] == f"/console/dashboard?{seed.query}"
    r = client.post(f"/console/escalations/{escalation_id}/resolve",
                    data={"resolution": "again", "csrf_token": token, "back": "https://evil.example/"},
                    follow_redirects=False)
    assert r.headers["Location"] == "/console/dashboard"
    with db_of(app) as db:
        escalation = db.get(Escalation, escalation_id)
        assert escalation.state == "resolved" and escalation.resolution.startswith("领导小组协调")
        lines = [(e.action, e.actor_kind, e.actor_id, e.detail) for e in cases.ledger_of(db, cases.by_number(db, number))
                 if e.action in ("escalation:raised", "escalation:resolved")]
    assert lines == [
        ("escalation:raised", "supervisor", "donghu-lead", f"提交协调会议协调（E{escalation_id}）：施工许可卡在用地手续"),
        ("escalation:resolved", "supervisor", "donghu-lead",
         f"协调会议协调结果（E{escalation_id}）：领导小组协调自然资源局三日内出具意见"),
    ]
    # the case page shows the lines with the supervisor's name
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "施工许可卡在用地手续" in page and "万海燕" in page


def test_the_console_finds_a_case_typed_as_people_type_it(app):
    """「bd 2026 000123」 or full-width digits name the case in the console as in the chat."""
    seed = Seed(app)
    number = seed.numbers["e"]  # BD-YYYY-NNNNNN
    _, year, serial = number.split("-")
    client = signed_in(app, "donghu-lead")
    token = csrf_token(client.get("/console/dashboard").get_data(as_text=True))
    typed = f"bd {year} {serial}"
    r = client.post("/console/escalate", data={"number": typed, "level": "协调会议",
                                               "note": "用地预审意见迟迟未出", "csrf_token": token}, follow_redirects=True)
    kind, text = FLASH.findall(r.get_data(as_text=True))[0]
    assert kind == "success" and text.startswith(f"已将 {number} 提交协调会议（E")
    wide = f"ＢＤ－{year}－{serial}".translate({ord(d): chr(ord(d) + 0xFEE0) for d in "0123456789"})
    page = client.get(f"/console/cases/{wide}")
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    with db_of(app) as db:
        assert cases.by_number(db, typed).number == number


# -- a real browser -----------------------------------------------------------------------

def test_dashboard_renders_in_headless_chromium(app, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (Debian package `chromium`); the lead decides about CI")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

    seed = Seed(app)
    errors: list[str] = []
    with served(app) as base:
        with sync_api.sync_playwright() as pw:
            browser = launch(pw)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                # Every failure counts, the browser's request for /favicon.ico too.
                page.on("console", lambda msg: errors.append(f"{msg.text} {msg.location.get('url', '')}")
                        if msg.type == "error" else None)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{base}/console/login")
                page.fill("#username", "donghu-lead")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/console/cases")
                page.goto(f"{base}/console/dashboard?{seed.query}")
                assert page.locator("#fig-overdue").inner_text() == "2"
                charts = page.locator("svg.chart")
                assert charts.count() == 7
                for i in range(charts.count()):
                    box = charts.nth(i).bounding_box()
                    assert box and box["width"] > 100 and box["height"] > 20
                    assert charts.nth(i).locator("rect, circle").count() > 0
                # the stylesheet applied (tiles laid out as a grid)
                assert page.eval_on_selector(".tiles", "el => getComputedStyle(el).display") == "grid"
                page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            finally:
                browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    assert errors == []
