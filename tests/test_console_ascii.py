"""No English or internal codes on the console's Chinese screens (issue 15, item 2, "done when"):
a headless-Chromium pass over every console page, as a commissioner and as a supervisor, on the
demo's month of cases (`bangban demo`, run here in-process) plus what the demo does not make
(转人工, failed and stuck pushes, a 重新发送, 提请协调, an open 整改 with its 回访, the SLA sweep, the
approval system's updates, a deactivated account), and after the actions people take (flash
messages, refusals, error pages). It reads what a person can read: the page's text (hidden parts
too: a closed <details>, a form not shown yet), titles, placeholders, labels, button captions,
table headers, select options and chart labels; and every cell of the three Excel workbooks.

Every ASCII word found must be one of the things that are legitimately written so: a number, a
URL, a case number (BD-2026-000123), a record number (H12 转人工, E3 协调, Z3 整改), a 统一社会信用代码,
a 快递单号, a staff login name, or a word of the short allow-list below. Anything else (a state
code, an English label, a WeChat error, a field name) fails the test with the page and context.
"""
from __future__ import annotations

import contextlib
import io
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from browser import CHROMIUM, launch, served
from db_templates import cheap_password_hash

from bot.identifiers import check_credit_code
from bot.people import staff as staff_module

PASSWORD = staff_module.DEMO_PASSWORD
REGION = "donghu"
COMMISSIONER, SUPERVISOR = "donghu-1", "donghu-lead"

# Words allowed as they are, each with its reason. Keep it short: a new entry needs a reason a
# Chinese-speaking clerk would accept.
ALLOWED_WORDS = {
    # The exports are .xlsx files that people open in Excel (or WPS, which reads them the same):
    # 「导出 Excel」 is the name they look for; 「电子表格」 alone would not say which file.
    "Excel": "the spreadsheet format, by the name people use for it",
}
# Things written in ASCII by nature, each a pattern with its reason.
ALLOWED_PATTERNS = {
    r"BD-\d{4}-\d{6}": "case number (案件编号)",
    r"[HEZ]\d+": "record numbers: H12 转人工, E3 提请协调, Z3 整改",
    r"GD-\d{4}-\d{6}": "archive number (归档编号, issue 17 item 5)",
    r"M\d+": "a material received in the chat (M12, as the case page numbers them)",
    r"https?://\S+": "a URL",
    r"[A-Z]{2}\d{10,14}": "a 快递单号 (waybill number) typed by staff",
}
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.:/@%?=&#+]*")
HAS_LETTER = re.compile(r"[A-Za-z]")


def judged(token: str, usernames: set[str]) -> bool:
    """Whether an ASCII word may stand on a Chinese screen."""
    token = token.rstrip(".:-/?&#=")
    if not HAS_LETTER.search(token) or token in ALLOWED_WORDS or token in usernames:
        return True
    if any(re.fullmatch(p, token) for p in ALLOWED_PATTERNS):
        return True
    return len(token) == 18 and check_credit_code(token).ok  # 统一社会信用代码, as the enterprise gave it


def offenders(text: str, usernames: set[str]) -> dict[str, str]:
    """Each word that may not stand there, with a little of what surrounds it."""
    found = {}
    for m in WORD.finditer(text):
        if not judged(m.group(), usernames):
            found.setdefault(m.group(), text[max(0, m.start() - 15):m.end() + 15].replace("\n", " ⏎ "))
    return found


def test_the_judge_itself():
    users = {"donghu-1"}
    assert offenders("BD-2026-000123 已受理（H12、E3、Z3）；统一社会信用代码 91350100M000100Y43；"
                     "快递单号 SF715246230740；donghu-1；导出 Excel；2026-12-03 10:01；48 小时；"
                     "https://bangban.example.gov.cn/console", users) == {}
    found = offenders("状态 in_progress；发送失败：custom: 40003 invalid openid；Page 2；91350100M000100Y44", users)
    assert set(found) == {"in_progress", "custom:", "invalid", "openid", "Page", "91350100M000100Y44"}


# -- the demo, and what it does not make ---------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory, kb, retriever):
    """`bangban demo` on a fresh SQLite file (in-process, cheap password hashes), then the app on it
    with an Official Account configured (its API unreachable: nothing is sent, pushes keep the
    states set here), and the extras the pass needs, written through the app's own services."""
    from bot.emulator import DEFAULT_APPID, DEFAULT_SECRET
    from bot.models import Staff
    from bot.platform.config import Settings
    from bot.platform.kv import MemoryKV
    from dialogs import build_manager
    from webhook import cli, create_app

    tmp = tmp_path_factory.mktemp("ascii")
    url = f"sqlite:///{tmp / 'demo.sqlite3'}"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("REDIS_URL", "WECHAT_APPID", "WECHAT_SECRET", "WECHAT_API_BASE", "WECHAT_TEMPLATE_IDS",
                     "PUBLIC_URL", "BANGBAN_REGION_NAMES"):
            mp.delenv(name, raising=False)
        mp.setenv("DATABASE_URL", url)
        mp.setattr(staff_module, "generate_password_hash", cheap_password_hash)
        mp.chdir(tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["demo"]) == 0
    settings = Settings(database_url=url, wechat_appid=DEFAULT_APPID, wechat_secret=DEFAULT_SECRET,
                        wechat_api_base="http://127.0.0.1:9", wechat_templates={"accepted": "tpl-accepted"})
    manager = build_manager(settings, kb=kb, kv=MemoryKV(), retriever=retriever)
    app = create_app(settings, manager=manager)
    numbers = _extras(app, manager, settings)
    with manager.sessions() as db:
        usernames = set(db.scalars(sa.select(Staff.username)))
    yield SimpleNamespace(app=app, numbers=numbers, usernames=usernames, settings=settings)
    manager.sessions.kw["bind"].dispose()


def _extras(app, manager, settings) -> dict[str, str]:
    """What the demo does not make, so that its labels are read too. Returns the region's case
    numbers by what they show."""
    from bot.casework import case_actions, cases, handoffs, resend
    from bot.models import Case, Notification, Rectification, Staff, utcnow
    from bot.platform.db import transaction
    from bot.platform.workdays import load_calendar
    from bot.scheduler import Jobs
    from bot.supervision import dashboard as figures
    from bot.supervision import ratings

    calendar = load_calendar()
    sessions = manager.sessions
    with transaction(sessions) as db:
        person = {s.username: s for s in db.scalars(sa.select(Staff).where(Staff.region == REGION))}
        mine = person[COMMISSIONER]
        by_state = defaultdict(list)
        for case in db.scalars(sa.select(Case).where(Case.region == REGION).order_by(Case.id)):
            by_state[case.state].append(case)
        applied, accepted = by_state["applied"][0], by_state["accepted"][0]
        working = by_state["in_progress"]
        completed, delivered = by_state["completed"][0], by_state["delivered"][0]
        for case in (applied, accepted, *working, completed, delivered):
            case.commissioner_id = mine.id  # the commissioner of the pass may act on each
        numbers = {"applied": applied.number, "accepted": accepted.number, "working": working[0].number,
                   "pushes": working[1].number, "escalated": working[2].number, "completed": completed.number,
                   "delivered": delivered.number}
        applicants = {k: db.scalar(sa.select(Case.applicant_openid).where(Case.number == n)) for k, n in numbers.items()}

        # The approval system moves an item (the ledger says 「（审批系统）」).
        item = next(i for i in cases.items_of(db, working[0]) if i.state != "done")
        nxt = next(s for s in cases.ITEM_TRANSITIONS[item.state] if s not in ("correction",))
        case_actions.move_item(db, working[0], item.id, nxt, case_actions.Actor.approval_system(mine),
                               console_url=settings.public_url)

        # Pushes in every state and failure the console explains.
        rows = list(db.scalars(sa.select(Notification).where(Notification.case_id == working[1].id)
                               .order_by(Notification.id)))
        staff_rows = [n for n in rows if n.recipient_kind == "staff"]
        ent_rows = [n for n in rows if n.recipient_kind == "enterprise"]
        now = utcnow()
        failures = ["custom: 40003 invalid openid", "template: 43004 require subscribe",
                    "no channel left: outside the 48 h customer-service window and no template or subscribe "
                    "message configured for 'progress'",
                    "gave up after 8 attempts; last: network error: ConnectionError: HTTPConnectionPool",
                    "template: 40037 invalid template_id", "template: 99999 something new"]
        for n, error in zip(ent_rows + staff_rows, failures + failures[:2]):
            n.state, n.last_error, n.attempts = "dead", error, 8
        waiting = [n for n in ent_rows + staff_rows if n.state != "dead"]
        if len(waiting) < 3:  # more rows to show the waiting states on
            for k in range(3):
                db.add(Notification(idempotency_key=f"ascii-pending-{k}", recipient_openid=applicants["pushes"],
                                    recipient_kind="enterprise", purpose="progress", text="【进度通知】测试",
                                    template="progress", case_id=working[1].id))
            db.flush()
            waiting = list(db.scalars(sa.select(Notification).where(Notification.idempotency_key.like("ascii-%"))))
        for n, (error, attempts) in zip(waiting, [("template: 45009 reach max api daily quota limit", 1),
                                                  ("custom: -1 system error", 2), (None, 0)]):
            n.state, n.last_error, n.attempts = "pending", error, attempts
            n.next_attempt_at = now + timedelta(minutes=5) if error else now - timedelta(hours=1)
        sent = [n for n in rows if n.state == "sent"] or [n for n in rows if n.state == "pending"][-1:]
        for n, channel in zip(sent, ["template", "custom"]):
            n.state, n.channel, n.sent_at = "sent", channel, now
        db.flush()
        resend.resend(db, working[1], ent_rows[0].id, case_actions.Actor.person(mine))

        # 提请协调: one open, one resolved.
        lead = person[SUPERVISOR]
        # None: the first tier of the region's escalation ladder (bot/supervision/escalations.py)
        figures.raise_escalation(db, working[2], None, "施工许可卡在用地手续", lead)
        done = figures.raise_escalation(db, working[1], None, "管线迁改协调", lead)
        figures.resolve_escalation(db, done, working[1], "已由住建局牵头解决", lead)

    # An open 整改 with its 回访 (a bad rating of the delivered case).
    with transaction(sessions) as db:
        case = cases.by_number(db, numbers["delivered"])
        ratings.record(db, case, applicants["delivered"], 1, settings=settings, calendar=calendar,
                       efficiency=1, attitude=2, integrity=4, comment="补正材料说了两次才说清楚",
                       console_url=settings.public_url)
    with transaction(sessions) as db:
        rect = db.scalar(sa.select(Rectification).join(Case, Case.id == Rectification.case_id)
                         .where(Case.number == numbers["delivered"]))
        ratings.record_visit(db, rect.id, db.get(Staff, lead.id), "电话回访企业经办人，了解问题经过")

    # 转人工: about a case, answered; about a case, open; from someone with no case.
    manager.handle_text(applicants["working"], "转人工：施工许可证什么时候能批下来")
    manager.handle_text(applicants["completed"], "转人工：证照送达要多久")
    manager.handle_text("oAsciiVisitor", "我们是东湖的企业")
    manager.handle_text("oAsciiVisitor", "转人工：厂区道路开口要去哪个部门办")
    with transaction(sessions) as db:
        h = handoffs.open_for(db, applicants["completed"])
        handoffs.answer(db, h, db.get(Staff, mine.id), "送达前我会电话联系您。")

    # The scheduler's jobs: the SLA sweep, unaccepted cases.
    jobs = Jobs(settings, sessions=sessions, calendar=calendar)
    jobs.sla_sweep()
    jobs.unaccepted_assignments(now=utcnow() + timedelta(days=2))

    # A case with items still to move, for the actions.
    with transaction(sessions) as db:
        numbers["items"] = next(c.number for c in db.scalars(sa.select(Case).where(
            Case.number.in_([numbers["escalated"], numbers["working"], numbers["pushes"]])))
            if sum(i.state not in ("done", "correction") for i in cases.items_of(db, c)) >= 1)

    # A second commissioner account, deactivated (the staff page says so).
    with transaction(sessions) as db:
        gone = staff_module.create_staff(db, username="donghu-9", name="离岗专员", role="commissioner",
                                         region=REGION, password="x-" * 6)
        staff_module.deactivate(db, gone)
    return numbers


# -- the browser --------------------------------------------------------------------------------

# What a person can read on the page: its text (hidden parts too), the words in attributes that
# show (tooltips, placeholders, accessible names), button captions and filled-in fields, select
# options, table headers and the charts' labels.
READ_PAGE = """() => {
  const out = [document.title, document.body.innerText];
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('script, style, template').forEach(e => e.remove());
  out.push(copy.textContent);
  for (const el of document.querySelectorAll('[title], [placeholder], [aria-label], [alt]'))
    for (const a of ['title', 'placeholder', 'aria-label', 'alt']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
  for (const el of document.querySelectorAll('input, textarea')) {
    if (['submit', 'button', 'reset'].includes(el.type)) out.push(el.value);
    else if (!['hidden', 'password', 'radio', 'checkbox'].includes(el.type) && el.value) out.push(el.value);
  }
  for (const el of document.querySelectorAll('button, th, option, optgroup, label, legend, caption, summary, svg text, svg title'))
    out.push(el.getAttribute('label') || '', el.textContent);
  return out.join('\\n');
}"""


@pytest.fixture(scope="module")
def browser(demo):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (Debian package `chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

    with served(demo.app) as base, sync_api.sync_playwright() as pw:
        chromium = launch(pw)
        try:
            yield SimpleNamespace(chromium=chromium, base=base)
        finally:
            chromium.close()


class Reader:
    """One person's browser: visits pages and keeps what was read on each."""

    def __init__(self, browser, demo, who: str | None):
        self.base, self.demo, self.who = browser.base, demo, who or "未登录"
        self.context = browser.chromium.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.read: list[tuple[str, int, str]] = []  # (what, status, text)
        self.visited: set[str] = set()  # endpoints
        self.said: list[list[str]] = []  # the flash messages after each form sent
        if who:
            self.visit("/console/login")
            self.page.fill("#username", who)
            self.page.fill("#password", PASSWORD)
            self.page.click("button[type=submit]")
            self.page.wait_for_url(f"{self.base}/console/cases")
            self.take("登录后")

    def take(self, what: str, status: int = 200) -> str:
        self.page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        text = self.page.evaluate(READ_PAGE)
        self.read.append((f"{what} [{self.page.url.removeprefix(self.base)}]", status, text))
        endpoint = self.demo.app.url_map.bind("x").match(self.page.url.removeprefix(self.base).split("?")[0],
                                                         method="GET", return_rule=True) if status < 400 else None
        if endpoint:
            self.visited.add(endpoint[0].endpoint)
        return text

    def visit(self, path: str, expect: int | None = None) -> str:
        response = self.page.goto(self.base + path)
        status = response.status if response else 0
        if expect is not None:
            assert status == expect, (path, status)
        return self.take(path, status)

    def submit(self, path: str, form: str, fields: dict | None = None, what: str = "") -> str:
        """Fill and send one of the page's forms (by a selector of the form): the page after it,
        its flash message included."""
        self.visit(path)
        scope = self.page.locator(form).first
        assert self.page.locator(form).count(), f"no {form} on {path}"
        for selector, value in (fields or {}).items():
            target = scope.locator(selector).first
            if value is True:
                target.check()
            elif isinstance(value, dict):
                target.select_option(**value)
            elif target.evaluate("el => el.tagName") == "SELECT":
                target.select_option(value)
            else:
                target.fill(value)
        with self.page.expect_navigation():
            scope.locator("button[type=submit], input[type=submit]").first.click()
        said = self.page.locator("p.flash").all_inner_texts()
        assert said, f"{what or form}: the page after it says nothing"
        self.said.append(said)
        return self.take(what or f"{path} → {form}")

    def close(self):
        self.context.close()


def assert_chinese(readers, usernames):
    bad: dict[str, list[str]] = defaultdict(list)
    for reader in readers:
        for what, status, text in reader.read:
            for word, around in offenders(text, usernames).items():
                bad[word].append(f"{reader.who} {what} ({status}): …{around}…")
    report = "\n".join(f"{word!r}:\n    " + "\n    ".join(places[:4]) + (f"\n    (+{len(places) - 4} more)" if len(places) > 4 else "")
                       for word, places in sorted(bad.items()))
    assert not bad, f"ASCII words on Chinese screens:\n{report}"


def region_cases(demo, who: str) -> list[str]:
    """The cases `who` may open: the region's for its supervisor, their own for a commissioner."""
    from bot.models import Case, Staff

    with demo.app.extensions["bangban_dialogs"].sessions() as db:
        query = sa.select(Case.number).where(Case.region == REGION).order_by(Case.id)
        if who != SUPERVISOR:
            query = query.join(Staff, Staff.id == Case.commissioner_id).where(Staff.username == who)
        return list(db.scalars(query))


def agreed_cases(demo, who: str) -> list[str]:
    """The cases of region_cases with a 委托协议 kept (bot/casework/agreements.py)."""
    from bot.models import Case, CaseAgreement

    with demo.app.extensions["bangban_dialogs"].sessions() as db:
        agreed = set(db.scalars(sa.select(Case.number).join(CaseAgreement, CaseAgreement.case_id == Case.id)))
    return [n for n in region_cases(demo, who) if n in agreed]


def archivable_cases(demo, who: str) -> list[str]:
    """Of region_cases, a few closed ones: archived (the record and its check) and not yet (the form)."""
    from bot.models import Case

    with demo.app.extensions["bangban_dialogs"].sessions() as db:
        closed = set(db.scalars(sa.select(Case.number).where(Case.state.in_(
            ("delivered", "rated", "terminated", "archived", "completed")))))
    return [n for n in region_cases(demo, who) if n in closed][:4]


def console_pages(demo) -> set[str]:
    """The console blueprint's pages (GET routes that answer with HTML)."""
    return {r.endpoint for r in demo.app.url_map.iter_rules()
            if r.endpoint.startswith("console.") and "GET" in r.methods and not r.rule.endswith(".xlsx")
            and r.endpoint not in ("console.static", "console.material_file")}  # a material is its own file


# -- the pass -----------------------------------------------------------------------------------

def test_every_console_page_reads_in_chinese(demo, browser):
    n = demo.numbers
    anonymous = Reader(browser, demo, None)
    anonymous.visit("/console/login", expect=200)
    anonymous.page.fill("#username", COMMISSIONER)
    anonymous.page.fill("#password", "wrong-password")
    with anonymous.page.expect_navigation():
        anonymous.page.click("button[type=submit]")
    anonymous.take("登录失败")
    anonymous.visit("/console/cases")  # sent to the sign-in page
    anonymous.visit("/no-such-page", expect=404)  # outside the console: the app's short page
    anonymous.visit("/chat", expect=200)  # the web chat a newcomer tries the bot in
    anonymous.visit(f"/agreements/{REGION}", expect=200)  # the 委托协议 text the chat links to (issue 17)

    readers = [anonymous]
    for who in (COMMISSIONER, SUPERVISOR):
        r = Reader(browser, demo, who)
        readers.append(r)
        r.visit("/console/")
        for state in ("", "open", "archived"):  # the list's rows name every state already
            r.visit(f"/console/cases?state={state}")
        r.visit("/console/cases?q=光谷")
        r.visit("/console/cases?q=没有这家公司")  # nothing found
        r.visit("/console/cases?page=2")
        for number in region_cases(demo, who):  # open and closed, with 整改, pushes, 协调, 转人工
            r.visit(f"/console/cases/{number}", expect=200)
        for number in agreed_cases(demo, who):  # the printable 委托书 of each 代办 (issue 17)
            r.visit(f"/console/cases/{number}/agreement", expect=200)
        for number in archivable_cases(demo, who):  # 立卷归档's completeness check, before and after (issue 17)
            r.visit(f"/console/cases/{number}/archive", expect=200)
        r.visit("/console/handoffs")
        r.visit("/console/handoffs?show=all")
        r.visit("/console/cases/early")  # 提前介入 (issue 17)
        r.visit("/console/password")
        r.submit("/console/password", "form.stack", {"#current": "wrong-password", "#new": "another-pass-12",
                                                     "#confirm": "another-pass-12"}, what="改密码失败")
        # error pages
        r.visit("/console/no-such-page", expect=404)
        r.visit("/console/cases/BD-1999-000001", expect=404)
        r.visit(f"/console/cases/{n['applied']}/accept", expect=405)
        r.visit(f"/console/cases/{n['working']}/materials/999999", expect=404)  # a material that is not there
        r.visit("/console/dashboard?from=1000-01-01", expect=400 if who == SUPERVISOR else 403)
        r.visit("/console/cases?page=abc")  # unreadable: the first page
        r.visit(f"/console/cases?page={10 ** 20}", expect=400)
        if who == SUPERVISOR:
            r.visit("/console/dashboard")
            with demo.app.extensions["bangban_dialogs"].sessions() as db:
                from bot.models import Staff
                mine = db.scalar(sa.select(Staff.id).where(Staff.username == COMMISSIONER))
            r.visit(f"/console/dashboard?commissioner={mine}&from=2026-01-01&due=10")
            r.visit("/console/rectifications")
            r.visit("/console/staff")
        else:
            for path in ("/console/dashboard", "/console/rectifications", "/console/staff"):
                r.visit(path, expect=403)
    # A form sent without its CSRF token (an expired page): the console's own page says so.
    page = readers[1].page
    response = page.request.post(f"{browser.base}/console/cases/{n['working']}/notes", form={"text": "x"})
    assert response.status == 400
    page.set_content(response.text())
    readers[1].take("CSRF 失效", 400)

    visited = set().union(*(r.visited for r in readers))
    missing = console_pages(demo) - visited - {"console.home"}  # home only redirects to the list
    assert not missing, f"console pages the pass did not read: {missing}"
    assert_chinese(readers, demo.usernames)
    for r in readers:
        r.close()


def test_what_actions_say_reads_in_chinese(demo, browser):
    """Flash messages and refusals after the actions of both roles, through the pages' own forms."""
    n = demo.numbers
    c = Reader(browser, demo, COMMISSIONER)
    case = lambda key: f"/console/cases/{n[key]}"  # noqa: E731
    c.submit(case("applied"), "form[action$='/accept']", what="受理")
    c.submit(case("accepted"), "form[action$='/complete']", what="办结被拒")
    c.submit(case("working"), "form[action$='/notes']", {"textarea": "电话联系企业，约定明天上门"}, what="写入台账")
    c.submit(case("items"), "form[action*='/items/'][action$='/state']", what="事项更新")
    due = (date.today() + timedelta(days=7)).isoformat()
    c.submit(case("items"), "form[action$='/correction']", {"textarea[name=missing]": "施工合同副本",
                                                              "input[name=due]": due}, what="请求补正")
    c.submit(case("completed"), "form[action$='/deliver']", {"input[value='邮寄']": True}, what="送达缺快递单号")
    c.submit(case("completed"), "form[action$='/deliver']", {"input[value='邮寄']": True,
                                                            "#tracking_number": "SF123456789012"}, what="送达")
    c.submit(case("pushes"), "form.push-resend", what="重新发送")
    c.submit(case("accepted"), "form[action$='/terminate']", {"select[name=reason]": "企业主动终止"}, what="终止")
    c.submit(case("delivered") + "/archive", "form[action$='/archive']", what="立卷归档被拒")  # its 整改 is open
    c.submit("/console/handoffs", "form[action$='/answer']", {"textarea": "已帮您联系审批科室。"}, what="答复转人工")

    s = Reader(browser, demo, SUPERVISOR)
    s.submit(case("working"), "form[action$='/assign']", {"select": {"index": 1}}, what="分派")
    s.submit("/console/dashboard", "form[action='/console/escalate']",
             {"input[name=number]": n["working"], "textarea[name=note]": "用地手续需市里协调"}, what="提请协调")
    s.submit("/console/dashboard", "form[action='/console/escalate']",
             {"input[name=number]": "BD-1999-000001", "textarea[name=note]": "编号写错"}, what="提请协调被拒")
    s.submit("/console/dashboard", "form[action$='/resolve']", {"input[name=resolution]": "已协调解决"},
             what="协调结果")
    s.submit("/console/rectifications", "form[action$='/visit']", {"textarea[name=note]": "再次电话回访"}, what="回访")
    s.submit("/console/rectifications", "form[action$='/close']", {"textarea[name=outcome]": "已约谈专员，企业认可"},
             what="整改办结")
    s.submit("/console/staff", "form[action$='/deactivate']", what="停用账号")
    said = [m for r in (c, s) for messages in r.said for m in messages]
    assert "已受理。已通知企业。" in said and "请填写快递单号" in said, said  # a success and a refusal among them
    assert_chinese([c, s], demo.usernames)
    c.close()
    s.close()


def test_the_excel_exports_read_in_chinese(demo, browser):
    """The three workbooks a supervisor downloads: every sheet name and cell."""
    from openpyxl import load_workbook

    from bot.casework.cases import OPEN_STATES
    from bot.models import Case, Rectification

    with demo.app.extensions["bangban_dialogs"].sessions() as db:  # closed, with its 整改 and 回访
        closed = db.scalar(sa.select(Case.number).join(Rectification, Rectification.case_id == Case.id)
                           .where(Case.region == REGION, Case.state.not_in(OPEN_STATES)).order_by(Case.id).limit(1))
    s = Reader(browser, demo, SUPERVISOR)
    texts = []
    for path in ("/console/export/ledger.xlsx?from=2026-01-01", "/console/export/dashboard.xlsx",
                 f"/console/cases/{closed}/archive.xlsx"):
        response = s.page.request.get(browser.base + path)
        assert response.status == 200, path
        wb = load_workbook(io.BytesIO(response.body()))
        cells = [ws.title for ws in wb] + [str(v) for ws in wb for row in ws.iter_rows(values_only=True)
                                           for v in row if isinstance(v, str)]
        texts.append((path, 200, "\n".join(cells)))
    s.read = texts
    assert_chinese([s], demo.usernames)
    s.close()
