"""Issue 17 item 6: regions in tiers, 市 → 县/区 → 镇/园区 (config/region_tiers.yaml, seeds 002 「分级负责、
属地服务」 and 县（市、区）帮代办中心, 003 「项目所在镇（区）代办机构」, 001 「属地项目」). A supervisor of a
higher tier sees and supervises the tiers below (cases, case page, 挂图作战 with a 地区 selector and a
下级地区 table, exports, escalations, accounts); an application naming a 镇 goes to that 镇's
commissioners, else up to its 县, then its 市; accounts are made for any tier, the code checked.
On SQLite and the real PostgreSQL."""
from __future__ import annotations

import argparse
import re

import pytest
import sqlalchemy as sa
from conftest import CAL, PERMIT, db_of, fill_database
from test_dashboard import csrf_token, rows_after_header, signed_in, workbook_of

from bot.casework import case_actions, cases
from bot.casework.case_actions import Actor
from bot.models import Case, Staff
from bot.people import staff as accounts
from bot.platform import region_service, region_tiers
from bot.vocabulary import Role

pytestmark = pytest.mark.usefixtures("fast_password_hashes")
CODE = "91430621MA4XYZ0016"
TOWN, OTHER_TOWN, COUNTY = "yyx_rongjiawan", "yyx_xinqiang", "yy_yueyang_county"


# -- the hierarchy ------------------------------------------------------------------------

def test_the_five_document_regions_stay_top_level_and_the_tiers_below_them_are_configured():
    for code in ("jiangbei", "yanjin", "yueyang", "county_city", "donghu"):
        assert region_tiers.known(code) and region_tiers.get(code).parent is None
        assert region_tiers.root(code) == code and region_tiers.chain(code) == (code,)
    assert region_tiers.chain(TOWN) == (TOWN, COUNTY, "yueyang")
    assert region_tiers.root(TOWN) == "yueyang"
    assert {TOWN, OTHER_TOWN, COUNTY} <= set(region_tiers.subtree("yueyang"))
    assert set(region_tiers.subtree(COUNTY)) == {COUNTY, TOWN, OTHER_TOWN}
    assert region_tiers.subtree(TOWN) == (TOWN,)
    assert [r.code for r in region_tiers.children(COUNTY)] == [TOWN, OTHER_TOWN]
    assert region_tiers.children("jiangbei") == ()  # seed 000 implies no lower level
    assert all(r.example for r in region_tiers.children("donghu"))  # 园区: our example, not the document's
    # a code the file does not name is its own one-node tree: flat codes keep working
    assert region_tiers.subtree("somewhere") == ("somewhere",) and region_tiers.root("somewhere") == "somewhere"


def test_an_address_names_the_lowest_region_inside_the_chosen_one():
    assert region_tiers.find_place("岳阳县荣家湾镇工业园") == TOWN
    assert region_tiers.find_place("岳阳县城区", within="yueyang") == COUNTY
    assert region_tiers.find_place("荣家湾镇", within="donghu") is None  # another region's 镇 is not this one's
    assert region_tiers.find_place("光谷生物城B区", within="donghu") == "dh_biolake"
    assert region_tiers.find_place("光谷示例研发楼", within="donghu") is None


def test_a_sub_region_takes_its_document_regions_service_and_agreement():
    from bot.casework import agreements

    assert region_service.for_region("yanjin_chengguan") == region_service.for_region("yanjin")
    assert region_service.for_region("yanjin_chengguan").service_options  # 延津's 服务选项 in its 镇 too
    assert agreements.folder_of(TOWN) == agreements.folder_of("yueyang")


def test_a_broken_hierarchy_file_is_refused_naming_what_is_wrong(tmp_path, monkeypatch):
    bad = tmp_path / "tiers.yaml"
    monkeypatch.setenv("BANGBAN_REGION_TIERS", str(bad))
    for text, says in [
        ("regions:\n  - {code: a, name: 甲, tier: city}\n  - {code: b, name: 乙, tier: town, parent: zz}\n", "zz"),
        ("regions:\n  - {code: a, name: 甲, tier: town}\n  - {code: b, name: 乙, tier: city, parent: a}\n",
         "lower tier"),
        ("regions:\n  - {code: A-1, name: 甲, tier: city}\n", "A-1"),
        ("regions:\n  - {code: a, name: 甲, tier: city}\n  - {code: a, name: 乙, tier: city}\n", "twice"),
    ]:
        bad.write_text(text, encoding="utf-8")
        region_tiers._cached.cache_clear()
        with pytest.raises(ValueError, match=says):
            region_tiers.hierarchy()
    region_tiers._cached.cache_clear()


# -- routing ------------------------------------------------------------------------------

def application(area=None, project="示例冷链仓储项目", openid="oTier", region="yueyang"):
    return cases.Application(
        mode="帮办", applicant_openid=openid, company_name="岳阳县示例农产品加工有限公司", credit_code=CODE,
        project_name=project, region=region, investment_type="社会投资", stage="3", contact_name="李经理",
        contact_phone="13907300016", items=(PERMIT,), area=area)


def test_routing_takes_the_lowest_tier_with_commissioners_and_walks_up(db_sessions):
    with db_sessions.begin() as db:
        town, county, city = (accounts.create_staff(db, username=u, name=n, role="commissioner", region=r)
                              for u, n, r in (("rjw", "镇专员", TOWN), ("yyx", "县专员", COUNTY),
                                              ("yy", "市专员", "yueyang")))
        first = cases.submit(db, application(area=TOWN), CAL)
        assert (first.region, first.commissioner_id) == (TOWN, town.id)
        assert cases.ledger_of(db, first)[-1].detail == "分派给帮代办专员 镇专员"
        # the project's name names the 镇 when the 属地 answer named only the city
        named = cases.submit(db, application(project="荣家湾镇农产品冷链仓储项目", openid="oTier2"), CAL)
        assert (named.region, named.commissioner_id) == (TOWN, town.id)
        # the other 镇 has no commissioner: its 县's takes it, and the case stays the 镇's
        other = cases.submit(db, application(area=OTHER_TOWN, openid="oTier3"), CAL)
        assert (other.region, other.commissioner_id) == (OTHER_TOWN, county.id)
        assert cases.ledger_of(db, other)[-1].detail == "分派给帮代办专员 县专员（新墙镇暂无帮代办专员，由岳阳县承办）"
        county.active = False
        db.flush()
        up = cases.submit(db, application(area=OTHER_TOWN, openid="oTier4"), CAL)
        assert up.commissioner_id == city.id
        # a 镇 of another region is no place in this one: the region itself
        stray = cases.submit(db, application(area="dh_biolake", openid="oTier5"), CAL)
        assert (stray.region, stray.commissioner_id) == ("yueyang", city.id)
        # a supervisor may hand a 镇's case to the 县's or 市's commissioner, never to another region's
        lead = accounts.create_staff(db, username="yyl", name="市主管", role="supervisor", region="yueyang")
        county.active = True
        case_actions.assign(db, first, county.id, Actor.person(lead))
        assert first.commissioner_id == county.id
        elsewhere = db.scalar(sa.select(Staff).where(Staff.region == "donghu")) or accounts.create_staff(
            db, username="dh", name="东湖专员", role="commissioner", region="donghu")
        with pytest.raises(cases.CaseError, match="本地区"):
            case_actions.assign(db, first, elsewhere.id, Actor.person(lead))


def test_an_application_naming_a_town_goes_to_its_commissioner_through_the_signed_webhook(sqlite_url, kb, retriever):
    from test_application import BANGBAN_ANSWERS, cases_of

    from bot.platform.config import Settings
    from bot.platform.kv import MemoryKV
    from dialogs import build_manager
    from webhook import create_app
    from webhook.simulator import WeChatServer, reply_fields, text_xml

    fill_database(sqlite_url)
    settings = Settings(wechat_token="t0k", database_url=sqlite_url)
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
    with manager.sessions.begin() as db:
        db.add_all([Staff(username="dh1", name="周专员", role="commissioner", region="donghu"),
                    Staff(username="bio1", name="生物城专员", role="commissioner", region="dh_biolake")])
    client = create_app(settings, manager=manager).test_client()
    wx = WeChatServer("t0k")
    answers = list(BANGBAN_ANSWERS)
    answers[1] = "东湖高新区光谷生物城"  # the 属地 question, answered with the 园区
    replies = []
    for i, message in enumerate(answers + ["确认"]):
        cb = wx.callback(text_xml("oTownApplicant", message, msg_id=7100 + i))
        replies.append(reply_fields(client.post(cb.path, data=cb.body, content_type="text/xml")
                                    .get_data(as_text=True))["Content"])
    assert "光谷生物城" in replies[-2]  # the summary to confirm names the 园区
    assert "生物城专员" in replies[-1]
    [case] = cases_of(manager, "oTownApplicant")
    assert case.region == "dh_biolake"


# -- what each tier's supervisor sees -----------------------------------------------------

@pytest.fixture()
def app(console_app):
    return console_app


def tiered(app) -> dict[str, str]:
    """岳阳: a 县 supervisor, a 镇 supervisor and commissioner of 荣家湾镇, a case in each of two 镇."""
    with db_of(app) as db:
        for username, name, role, region in (("yyx-lead", "县主管", "supervisor", COUNTY),
                                             ("rjw-lead", "镇主管", "supervisor", TOWN),
                                             ("rjw-1", "镇专员", "commissioner", TOWN)):
            accounts.create_staff(db, username=username, name=name, role=role, region=region,
                                  password="correct-horse-9")
        here = cases.submit(db, application(area=TOWN, openid="oHere"), CAL)
        there = cases.submit(db, application(area=OTHER_TOWN, project="新墙镇示例仓储", openid="oThere"), CAL)
        return {"here": here.number, "there": there.number}


def test_a_town_supervisor_sees_only_the_town_and_a_county_supervisor_all_its_towns(app):
    n = tiered(app)
    town = signed_in(app, "rjw-lead")
    listing = town.get("/console/cases").get_data(as_text=True)
    assert n["here"] in listing and n["there"] not in listing
    assert town.get(f"/console/cases/{n['there']}").status_code == 404
    assert town.get(f"/console/cases/{n['here']}").status_code == 200
    for lead in ("yyx-lead", "yueyang-lead"):
        client = signed_in(app, lead)
        listing = client.get("/console/cases").get_data(as_text=True)
        assert n["here"] in listing and n["there"] in listing, lead
        assert f'data-region="{TOWN}">荣家湾镇<' in listing  # the case list names the 镇 below the supervisor
        assert client.get(f"/console/cases/{n['there']}").status_code == 200
    assert n["here"] not in signed_in(app, "donghu-lead").get("/console/cases").get_data(as_text=True)


def test_the_dashboard_filters_to_a_subordinate_region_and_counts_each_one(app):
    n = tiered(app)
    city = signed_in(app, "yueyang-lead")
    page = city.get("/console/dashboard").get_data(as_text=True)
    assert 'id="f-area"' in page and "岳阳县" in page and "荣家湾镇" in page
    table = page[page.index('id="t-subregions"'):]
    table = table[:table.index("</table>")]
    county_row = re.search(r'data-region="yy_yueyang_county">(.*?)</tr>', table, re.S).group(1)
    cells = re.findall(r"<td>(\d+)</td>", county_row)
    assert cells[:3] == ["2", "2", "0"], county_row  # applied, open, unassigned
    assert 'id="fig-cases">2<' in page
    narrowed = city.get(f"/console/dashboard?area={TOWN}").get_data(as_text=True)
    assert 'id="fig-cases">1<' in narrowed and "t-subregions" not in narrowed  # a 镇 has nothing below it
    # a region outside the supervisor's own is ignored, never shown
    county = signed_in(app, "yyx-lead")
    assert 'id="fig-cases">2<' in county.get("/console/dashboard?area=donghu").get_data(as_text=True)
    wb = workbook_of(city.get("/console/export/dashboard.xlsx"))
    header, rows = rows_after_header(wb["下级地区"], "地区")
    assert header[:4] == ("地区", "层级", "期间内申请", "未结案件")
    assert ("岳阳县", "县/区", 2, 2) in [r[:4] for r in rows]
    town_wb = workbook_of(city.get(f"/console/export/dashboard.xlsx?area={TOWN}"))
    assert "下级地区" not in town_wb.sheetnames
    ledger = workbook_of(county.get("/console/export/ledger.xlsx"))
    numbers = {r[1] for r in ledger["服务记录台账"].iter_rows(values_only=True)}
    assert {n["here"], n["there"]} <= numbers


def test_a_county_supervisor_manages_its_towns_accounts_and_a_town_supervisor_not_the_countys(app):
    tiered(app)
    with db_of(app) as db:
        county_staff = accounts.create_staff(db, username="yyx-1", name="县专员", role="commissioner", region=COUNTY)
        town_staff = accounts.by_username(db, "rjw-1")
        ids = county_staff.id, town_staff.id
    county = signed_in(app, "yyx-lead")
    page = county.get("/console/staff").get_data(as_text=True)
    assert "镇专员" in page and "县专员" in page
    r = county.post(f"/console/staff/{ids[1]}/deactivate", data={"csrf_token": csrf_token(page)})
    assert r.status_code == 303
    town = signed_in(app, "rjw-lead")
    page = town.get("/console/staff").get_data(as_text=True)
    assert "县专员" not in page
    assert town.post(f"/console/staff/{ids[0]}/deactivate", data={"csrf_token": csrf_token(page)}).status_code == 404
    with db_of(app) as db:
        assert db.get(Staff, ids[0]).active and not db.get(Staff, ids[1]).active


# -- accounts for any tier ----------------------------------------------------------------

def test_staff_add_takes_a_sub_region_and_refuses_an_unknown_code(sqlite_url, monkeypatch, capsys):
    from webhook.cli.staff import cmd_staff_add, cmd_staff_regions

    fill_database(sqlite_url)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)

    def add(username, region):
        return cmd_staff_add(argparse.Namespace(username=username, name="测试", role="commissioner", region=region,
                                                password="long-enough-1", openid=None, wecom_userid=None))

    assert add("town-1", TOWN) == 0
    assert add("nowhere-1", "rongjiawan") == 1
    err = capsys.readouterr().err
    assert "没有地区代码 rongjiawan" in err
    from bot.platform.db import open_database

    with open_database(sqlite_url)() as db:
        assert db.scalar(sa.select(Staff.region).where(Staff.username == "town-1")) == TOWN
        assert db.scalar(sa.select(Staff.id).where(Staff.username == "nowhere-1")) is None
    assert cmd_staff_regions(argparse.Namespace()) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^    yyx_rongjiawan\s+镇/园区\s+荣家湾镇", listing, re.M)


def test_a_supervisor_adds_a_commissioner_of_a_region_below_them_in_the_console(app):
    tiered(app)
    county = signed_in(app, "yyx-lead")
    page = county.get("/console/staff").get_data(as_text=True)
    assert 'name="region"' in page and f'value="{TOWN}"' in page and 'value="yueyang"' not in page
    form = {"csrf_token": csrf_token(page), "username": "xq-1", "name": "新墙专员", "region": OTHER_TOWN,
            "password": "long-enough-1"}
    r = county.post("/console/staff/new", data=form)
    assert r.status_code == 303
    for bad, says in [({"region": "yueyang"}, "只能为本人所在地区或其下级地区"), ({"username": "xq-1"}, "已存在"),
                      ({"password": "short"}, "密码至少")]:
        r = county.post("/console/staff/new", data={**form, "username": "xq-2", **bad})
        assert r.status_code == 400 and says in r.get_data(as_text=True), bad
    with db_of(app) as db:
        added = accounts.by_username(db, "xq-1")
        assert (added.region, added.role) == (OTHER_TOWN, Role.COMMISSIONER)
        assert accounts.by_username(db, "xq-2") is None
        # and the next application of 新墙镇 is theirs
        case = cases.submit(db, application(area=OTHER_TOWN, openid="oNext"), CAL)
        assert case.commissioner_id == added.id
        assert db.scalar(sa.select(Case.region).where(Case.id == case.id)) == OTHER_TOWN


def test_the_sla_summaries_reach_the_supervisors_of_every_tier_above_a_towns_case(db_sessions):
    """A 镇 with no supervisor of its own: its overdue items are in its 县's and its 市's 超期汇总 and 升级
    summaries (each counting its own 辖区), never in another region's."""
    from datetime import date

    from test_sla import ITEMS, SETTINGS, make_case, run_sweep, sla_pushes

    from bot.platform.db import transaction

    with transaction(db_sessions) as db:
        db.add_all([Staff(username="rjw", name="镇专员", role="commissioner", region=TOWN, wechat_openid="oTownC"),
                    Staff(username="xian", name="县主管", role="supervisor", region=COUNTY, wechat_openid="oCounty"),
                    Staff(username="shi", name="市主管", role="supervisor", region="yueyang", wechat_openid="oCity"),
                    Staff(username="dh", name="东湖主管", role="supervisor", region="donghu", wechat_openid="oDh")])
    make_case(db_sessions, region=TOWN)
    make_case(db_sessions, openid="oEnt2", region="yueyang",  # one more at the city's own level
              items={"市级超期事项": (date(2026, 11, 17), "reviewing")})
    run_sweep(db_sessions)
    summaries = {(n.recipient_openid, n.purpose): n for n in sla_pushes(db_sessions)
                 if n.purpose in ("sla_overdue", "sla_escalate")}
    assert set(summaries) == {("oCounty", "sla_overdue"), ("oCounty", "sla_escalate"),
                              ("oCity", "sla_overdue"), ("oCity", "sla_escalate")}
    overdue_in_town = sum(1 for _, (due, state) in ITEMS.items() if state != "done" and due < date(2026, 11, 18))
    assert summaries[("oCounty", "sla_overdue")].data["count"] == str(overdue_in_town)
    assert summaries[("oCity", "sla_overdue")].data["count"] == str(overdue_in_town + 1)
    assert SETTINGS.sla_escalate_workdays == 3


def test_the_daily_digest_of_a_county_counts_its_towns(db_sessions):
    from bot.supervision.digest import region_figures

    with db_sessions.begin() as db:
        cases.submit(db, application(area=TOWN), CAL)  # nobody serves 岳阳 here: unassigned
        cases.submit(db, application(area=OTHER_TOWN, openid="oTier2"), CAL)
        figures = region_figures(db, CAL.add_workdays(cases.clock.today(), 0))
    assert (figures[TOWN].open_cases, figures[TOWN].unassigned) == (1, 1)
    assert (figures[COUNTY].open_cases, figures["yueyang"].unassigned) == (2, 2)
    assert "donghu" not in figures


def test_a_bare_town_name_as_the_属地_answer_finds_its_region_and_its_commissioner(sqlite_url, kb, retriever):
    from test_application import BANGBAN_ANSWERS, cases_of

    from bot.platform.config import Settings
    from bot.platform.kv import MemoryKV
    from dialogs import build_manager

    fill_database(sqlite_url)
    manager = build_manager(Settings(database_url=sqlite_url), kb=kb, kv=MemoryKV(), retriever=retriever)
    with manager.sessions.begin() as db:
        db.add_all([Staff(username="yy1", name="市专员", role="commissioner", region="yueyang"),
                    Staff(username="rjw1", name="荣家湾专员", role="commissioner", region=TOWN)])
    first = manager.handle_text("oBareTown", BANGBAN_ANSWERS[0]).reply
    assert "县区、镇或园区" in first  # the 属地 question says a 镇 may be typed
    answers = ["荣家湾镇", *BANGBAN_ANSWERS[2:], "确认"]
    replies = [manager.handle_text("oBareTown", m).reply for m in answers]
    assert "岳阳市（荣家湾镇）" in replies[-2] and "荣家湾专员" in replies[-1]
    [case] = cases_of(manager, "oBareTown")
    assert case.region == TOWN
