"""bangban demo: a realistic month of demo cases (re-runnable), optionally delivered through the local
WeChat emulator and served."""
from __future__ import annotations

import json
import sys

from bot.platform.config import load_settings
from bot.vocabulary import OPEN_STATES, CaseState, ItemState, NotificationState, RectificationState, Role

from .serve import _serve
from .staff import _staff_db

_DEMO_PREFIX = "demo-"  # submission_key of every demo case: what makes a second run add nothing
_DEMO_COMPANIES = {  # fictitious enterprises and projects of each jurisdiction
    "jiangbei": ("500105", [("重庆江北示例置业有限公司", "观音桥示例商业综合体"), ("重庆渝北示例机电有限公司", "鱼嘴示例智能装备厂房"),
                            ("重庆两江示例物流有限公司", "寸滩示例冷链仓储中心"), ("重庆江北示例医疗科技有限公司", "示例医疗器械研发楼")]),
    "yanjin": ("410726", [("延津县示例面业有限公司", "示例小麦深加工项目"), ("河南示例新材料有限公司", "延津示例新材料产业园一期"),
                          ("延津示例食品有限公司", "示例冷链食品加工车间")]),
    "yueyang": ("430602", [("岳阳示例石化设备有限公司", "云溪示例化工装备厂房"), ("湖南示例文旅发展有限公司", "南湖示例文旅街区"),
                           ("岳阳示例港务有限公司", "城陵矶示例港口仓储项目")]),
    "county_city": ("320581", [("示例市兴业纺织有限公司", "示例高端纺织智能车间"), ("示例市城投建设有限公司", "示例市人才公寓"),
                               ("示例电子科技有限公司", "示例电子元器件生产基地")]),
    "donghu": ("420117", [("武汉光谷示例科技有限公司", "光谷示例研发楼"), ("武汉示例光电股份有限公司", "示例光电子产业园二期"),
                          ("武汉示例生物医药有限公司", "光谷示例生物医药孵化器"), ("武汉东湖示例数据有限公司", "示例数据中心")]),
}
_DEMO_STAGE_ITEMS = {
    "1": ["project_filing", "land_preapproval_siting", "land_use_planning_permit", "eia"],
    "2": ["design_scheme_review", "construction_planning_permit"],
    "3": ["drawing_review", "fire_design_review", "construction_permit"],
    "4": ["planning_verification", "fire_acceptance", "joint_acceptance", "completion_filing"],
}
_DEMO_CONTACTS = ["陈明", "李娜", "王磊", "张静", "刘洋", "杨帆", "赵敏", "黄涛", "周婷", "吴刚"]
# (final state, how many days ago it was submitted (range), the story's twist)
_DEMO_STORIES = [
    (CaseState.APPLIED, (0, 1), None), (CaseState.ACCEPTED, (1, 3), None), (CaseState.IN_PROGRESS, (2, 6), None),
    (CaseState.IN_PROGRESS, (3, 6), "correction"), (CaseState.IN_PROGRESS, (18, 26), "overdue"),
    (CaseState.COMPLETED, (10, 20), None), (CaseState.DELIVERED, (12, 22), None), (CaseState.RATED, (15, 28), "good"),
    (CaseState.ARCHIVED, (20, 30), "good"), (CaseState.ARCHIVED, (18, 29), "bad"),
    (CaseState.TERMINATED, (8, 25), None), (CaseState.ARCHIVED, (22, 30), "good"), (CaseState.RATED, (6, 14), "good"),
]
_DEMO_BAD_REGIONS = ("jiangbei", "yueyang", "donghu")  # a few bad ratings, not one in every region
_DEMO_GOOD_COMMENTS = ["专员全程跟进，材料一次就过了", "响应很快，少跑了好几趟", "服务热情，解释清楚", None]
_DEMO_BAD_COMMENTS = ["专员回复太慢，催了几次才有进展", "补正材料说了两次才说清楚"]


def _demo_credit_code(rng, area: str) -> str:
    """A well-formed 统一社会信用代码 (GB 32100 / GB 11714 check characters) of a fictitious company."""
    from bot.identifiers import _credit_code_check_char, _org_code_check_char

    body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = "91" + area + body + _org_code_check_char(body)
    return first17 + _credit_code_check_char(first17)


def _demo_seed_case(db, kb, calendar, settings, rng, region, n, story, now, lead):
    """One demo case through the real services, replayed on a plausible timeline of the past month."""
    from datetime import timedelta, timezone

    import sqlalchemy as sa

    from bot.models import Case, CaseItem, LedgerEntry, Notification
    from bot.platform.clock import SERVICE_TZ

    final, (lo, hi), twist = story
    days_ago = rng.uniform(lo, hi) if hi > lo else lo
    start = (now - timedelta(days=days_ago)).astimezone(SERVICE_TZ)
    start = start.replace(hour=rng.randint(9, 16), minute=rng.randint(0, 59))
    # Stored in UTC (SQLite keeps naive datetimes, which everything reads as UTC).
    start = min(start, now - timedelta(minutes=30)).astimezone(timezone.utc)
    end = now - timedelta(minutes=rng.randint(10, 90))
    # Events follow each other between the submission and (nearly) now, in office hours.
    clock_ = {"t": start}

    def step(fraction: float):
        t = clock_["t"] + (end - clock_["t"]) * fraction
        local = t.astimezone(SERVICE_TZ)
        if local.hour < 9 or local.hour >= 18:
            morning = (local + timedelta(days=1 if local.hour >= 18 else 0)).replace(
                hour=9, minute=rng.randint(0, 59))
            if morning < end:
                t = morning.astimezone(timezone.utc)
        clock_["t"] = max(t, clock_["t"] + timedelta(minutes=7))
        return clock_["t"]

    def stamp(case, t, item=None):
        """Write what the last service call did; its ledger lines and pushes happened at `t`."""
        db.flush()
        if item is not None:
            item.updated_at = t

    def backdate(session, _context, _instances):
        # The ledger is append-only (a trigger refuses updates), so new rows get their time
        # before they are inserted: the time of the step being replayed.
        for obj in session.new:
            if isinstance(obj, LedgerEntry) and obj.at is None:
                obj.at = clock_["t"]
            elif isinstance(obj, Notification) and obj.created_at is None:
                obj.created_at = clock_["t"]
            elif isinstance(obj, Case) and obj.created_at is None:
                obj.created_at = clock_["t"]
            elif isinstance(obj, CaseItem) and obj.updated_at is None:
                obj.updated_at = clock_["t"]

    sa.event.listen(db, "before_flush", backdate)
    try:
        return _demo_story(db, kb, calendar, settings, rng, region, n, story, lead, start, clock_, step, stamp)
    finally:
        db.flush()
        sa.event.remove(db, "before_flush", backdate)


def _demo_story(db, kb, calendar, settings, rng, region, n, story, lead, start, clock_, step, stamp):
    from datetime import timedelta

    from bot.casework import case_actions, cases, completion
    from bot.identifiers import check_credit_code, check_project_code
    from bot.models import Staff
    from bot.people import users
    from bot.platform import region_service
    from bot.platform.clock import SERVICE_TZ
    from bot.supervision import ratings
    from dialogs.notice import item_plans


    final, _, twist = story
    if twist == "bad" and region not in _DEMO_BAD_REGIONS:
        twist = "good"
    area, companies = _DEMO_COMPANIES[region]
    company, project = companies[n % len(companies)]
    stage = "3" if twist == "overdue" else rng.choice(list(_DEMO_STAGE_ITEMS))
    pool = [c for c in _DEMO_STAGE_ITEMS[stage] if c in kb.items]
    codes = ["construction_permit", "drawing_review"] if twist == "overdue" else \
        sorted(rng.sample(pool, k=min(len(pool), rng.randint(1, 3))), key=pool.index)
    openid = f"oDemo_{region}_{n:02d}"
    mode = "代办" if rng.random() < 0.35 else "帮办"
    credit = _demo_credit_code(rng, area)
    assert check_credit_code(credit).ok, credit
    pcode = f"{start.year}-{area}-{rng.choice(['47', '48', '70', '34'])}-0{rng.choice([1, 3])}-{rng.randint(100000, 999999)}"
    pcode = pcode if check_project_code(pcode).ok else None
    app = cases.Application(
        mode=mode, applicant_openid=openid, company_name=company, credit_code=credit,
        project_name=project, region=region, investment_type="政府投资" if "城投" in company else "社会投资",
        stage=stage, contact_name=rng.choice(_DEMO_CONTACTS),
        contact_phone=f"1{rng.choice([38, 39, 58, 86])}{rng.randint(10000000, 99999999)}",
        items=tuple(item_plans(kb, codes)), project_code=pcode, key_project=rng.random() < 0.3,
        project_kind="工业" if "厂" in project or "车间" in project else None,
        agreement_consented_at=start if mode == "代办" else None,
        submission_key=f"{_DEMO_PREFIX}{region}-{n:02d}",
        # 服务选项 where the region offers them (issue 17; 延津), in turn, without drawing from rng
        service_option=(lambda o: o[n % len(o)] if o else None)(region_service.for_region(region).service_options),
    )
    user = users.touch(db, openid)
    users.set_region(db, openid, region)
    user.first_seen_at = user.last_message_at = start
    case = cases.submit(db, app, calendar, today=start.astimezone(SERVICE_TZ).date(),
                        console_url=settings.public_url)
    case.created_at = start
    stamp(case, start)
    if final == CaseState.APPLIED:
        return case
    commissioner = db.get(Staff, case.commissioner_id)
    actor = case_actions.Actor.person(commissioner)
    t = step(0.08)
    case_actions.accept(db, case, actor, calendar, kb.items, today=t.astimezone(SERVICE_TZ).date())  # its 一企一策 plan from then
    case.accepted_at = t
    stamp(case, t)
    t = step(0.05)
    case_actions.add_note(db, case, rng.choice(["电话联系企业经办人，告知材料清单并约定上门时间",
                                                "上门走访项目现场，梳理审批事项和办理顺序",
                                                "组织企业与审批部门会商，明确申报路径"]), actor)
    stamp(case, t)
    if final == CaseState.ACCEPTED:
        return case
    items = cases.items_of(db, case)
    finished = final not in (CaseState.IN_PROGRESS, CaseState.TERMINATED)
    for k, item in enumerate(items):
        path = [ItemState.SUBMITTED, ItemState.ACCEPTED, ItemState.REVIEWING, ItemState.DONE]
        if not finished:
            path = path[:rng.randint(1, 3)] if twist != "overdue" else path[:3]
        for to in path:
            t = step(rng.uniform(0.04, 0.12))
            if to == ItemState.REVIEWING and ((twist == "correction" and k == 0) or (finished and rng.random() < 0.25)):
                due = (t + timedelta(days=5)).astimezone(SERVICE_TZ).date()
                case_actions.request_correction(db, case, item.id, rng.choice(
                    ["建设资金落实承诺书（需法定代表人签字）", "施工合同副本缺少骑缝章", "总平面图比例不符合要求，请重新出图",
                     "质量安全监督手续回执"]), due, actor, today=t.astimezone(SERVICE_TZ).date(),
                    console_url=settings.public_url)
                stamp(case, t, item)
                if twist == "correction" and not finished:
                    break  # still waiting for the enterprise's material
                t = step(rng.uniform(0.04, 0.1))
            case_actions.move_item(db, case, item.id, to, actor, console_url=settings.public_url)
            stamp(case, t, item)
    if final == CaseState.IN_PROGRESS:
        return case
    if final == CaseState.TERMINATED:
        t = step(0.3)
        case_actions.terminate(db, case, rng.choice(["项目不具备条件", "企业主动终止"]), actor)
        case.closed_at = t
        stamp(case, t)
        _demo_file(db, kb, case, actor, lead, step, stamp)  # 立卷归档 as staff do it (issue 17 item 5)
        return case
    t = step(0.15)
    if not case_actions.complete(db, case, actor):  # 县级市: the enterprise confirms its 办结 (issue 17)
        completion.confirm(db, case, openid)
    case.closed_at = t
    stamp(case, t)
    if final == CaseState.COMPLETED:
        return case
    t = step(0.2)
    method = rng.choice(["上门", "邮寄", "电子证照"])
    case_actions.deliver(db, case, method, actor,
                         tracking_number=f"SF{rng.randint(10**11, 10**12 - 1)}" if method == "邮寄" else "")
    stamp(case, t)
    if final == CaseState.DELIVERED:
        return case
    t = step(0.25)
    level = rng.choice([4, 5, 5, 5]) if twist == "good" else rng.choice([1, 2])
    near = lambda: max(1, min(5, level + rng.choice([-1, 0, 0, 1])))  # noqa: E731
    comment = rng.choice(_DEMO_GOOD_COMMENTS if level >= 3 else _DEMO_BAD_COMMENTS)
    # Rated as the chat rates (a bad rating opens its 整改).
    ratings.record(db, case, openid, level, settings=settings, calendar=calendar, efficiency=near(),
                   attitude=near(), integrity=max(level, 4), comment=comment, now=t, console_url=settings.public_url)
    stamp(case, t)
    return _demo_archive(db, case, actor, final, step, stamp, lead, kb)


def _demo_archive(db, case, actor, final, step, stamp, lead, kb):
    import sqlalchemy as sa

    from bot.models import Rectification
    from bot.supervision import ratings

    if final == CaseState.ARCHIVED:
        # A bad rating's 整改 is followed up before the record is archived (archiving waits for it).
        for rect_id in db.scalars(sa.select(Rectification.id).where(
                Rectification.case_id == case.id, Rectification.state != RectificationState.CLOSED)):
            t = step(0.2)
            ratings.record_visit(db, rect_id, lead, "电话回访企业经办人，了解问题经过并致歉", now=t)
            stamp(case, t)
            t = step(0.2)
            ratings.close_rectification(db, rect_id, lead, "已约谈专员并明确补正材料一次告知，企业表示认可", now=t)
            stamp(case, t)
        _demo_file(db, kb, case, actor, lead, step, stamp)
    return case


def _demo_file(db, kb, case, actor, lead, step, stamp):
    """立卷归档 through the console's action (bot/casework/archiving.py), so a demo archive has its
    completeness check: a 代办 or terminated case's materials are handed back first (a 帮办
    enterprise kept its own: 「无需退还」); where the enterprise's rating is still possible the
    region's supervisor archives with a reason, as the check allows."""
    from bot.casework import archiving, handbacks
    from bot.platform.clock import SERVICE_TZ

    returned = False
    if case.mode == "代办" or case.state == CaseState.TERMINATED:
        listed = handbacks.checklist(db, case, {code: tuple(item.materials or ()) for code, item in kb.items.items()})
        if listed:
            t = step(0.2)
            day = t.astimezone(SERVICE_TZ).date()
            handbacks.record(db, case, returned=listed[:3], allowed=listed, method="当面", returned_on=day,
                             signed_by=case.contact_name, actor_kind=actor.kind, actor_id=actor.id, staff=actor.staff,
                             today=day)
            stamp(case, t)
            returned = True
    t = step(0.4)
    checks = archiving.check(db, case, today=t.astimezone(SERVICE_TZ).date(), no_return_needed=not returned)
    missing = [c for c in checks if not c.ok]
    by = lead if missing and lead is not None and not any(c.required for c in missing) else actor.staff
    archiving.archive(db, case, by, no_return_needed=not returned, now=t,
                      reason="企业评价期限未满，先行立卷归档，评价结果另行跟踪" if by is lead else "")
    stamp(case, t)


def _demo_emulator(settings, sessions, port: int):
    """The WeChat emulator the demo's pushes go to, made the demo's account: the one already at
    WECHAT_API_BASE when an emulator answers there, else a new one served from this process on
    `port` (any free port if that one is taken). A context manager yielding (settings, base URL)."""
    from contextlib import contextmanager

    from bot.emulator import EmulatorControl, demo_wechat, serve
    from bot.push.wechat_api import REAL_API_BASE

    @contextmanager
    def running():
        base = settings.wechat_api_base.rstrip("/")
        control = EmulatorControl.find(base) if base != REAL_API_BASE else None
        if control is not None:
            yield control
            return
        try:
            served = serve(port=port)
            url = served.__enter__()
        except OSError:  # the port is taken (another emulator, another program): any free one
            served = serve()
            url = served.__enter__()
        try:
            yield EmulatorControl(url)
        finally:
            served.__exit__(None, None, None)

    @contextmanager
    def account():
        with running() as control:
            registered = demo_wechat.register(control, sessions)
            print(f"  WeChat emulator at {control.base_url}: {registered.followers} followers and "
                  f"{registered.templates} templates registered for the demo")
            yield demo_wechat.settings_for(settings, control.base_url), control.base_url

    return account()


def _demo_deliver(emulated, sessions) -> str:
    """Send every queued push through the real dispatcher (the scheduler's outbox job)."""
    from bot.scheduler import Jobs

    counts = Jobs(emulated, sessions=sessions).dispatch_outbox()
    return f"{counts.sent} sent, {counts.dead} failed, {counts.retried} to retry"


def _demo_wechat_native(emulated) -> list[str]:
    """A voice question, the custom menu, a region poster, a commissioner bound by QR and a 补正 photo, through the
    bot's own /wechat endpoint and the emulator (webhook/wechat_demo.py); a line each."""
    from webhook import create_app
    from webhook.media_demo import attach_demo_photo
    from webhook.wechat_demo import show_wechat_native

    app = create_app(emulated)
    lines = []
    for show in (lambda: show_wechat_native(app, emulated), lambda: [attach_demo_photo(app, emulated)]):
        try:
            lines += show()
        except Exception as err:  # noqa: BLE001 - the demo's data is seeded either way
            lines.append(f"WeChat-native demo not shown: {err.__class__.__name__}: {err}")
    return lines


def _demo_server_env(emulated) -> str:
    """The environment a separate `bangban serve` needs to keep sending to this emulator."""
    import shlex

    return " ".join(f"{k}={shlex.quote(v)}" for k, v in (
        ("WECHAT_API_BASE", emulated.wechat_api_base), ("WECHAT_APPID", emulated.wechat_appid),
        ("WECHAT_SECRET", emulated.wechat_secret),
        ("WECHAT_TEMPLATE_IDS", json.dumps(emulated.wechat_templates, separators=(",", ":"))),
        *((("WECOM_API_BASE", emulated.wecom_api_base), ("WECOM_CORPID", emulated.wecom_corpid),
           ("WECOM_SECRET", emulated.wecom_secret), ("WECOM_AGENTID", emulated.wecom_agentid))
          if emulated.wecom_configured else ())))


def _demo_first_commissioner_next(db, region: str, lead, settings) -> int:
    """Hand open cases over until the region's first commissioner (donghu-1 …) is the one the next
    new case is assigned to, so the README's 「sign in as donghu-1」 shows a newcomer's own case.
    Done the way a supervisor does it (the console's 分派, ledger line and alert included), only
    when needed: a rerun moves nothing. Returns how many cases moved."""
    import sqlalchemy as sa

    from bot.casework import case_actions, cases
    from bot.models import Case, Staff

    first = db.scalar(sa.select(Staff).where(Staff.region == region, Staff.role == Role.COMMISSIONER,
                                             Staff.active.is_(True), Staff.username == f"{region}-1"))
    if first is None or lead is None:
        return 0
    moved = 0
    while (picked := cases.pick_commissioner(db, region)) is not None and picked.id != first.id:
        # The first commissioner's newest open case that is not yet accepted, else the newest one.
        case = db.scalar(sa.select(Case).where(Case.commissioner_id == first.id, Case.state.in_(OPEN_STATES))
                         .order_by((Case.state == CaseState.APPLIED).desc(), Case.created_at.desc()).limit(1))
        if case is None:
            break
        case_actions.assign(db, case, picked.id, case_actions.Actor.person(lead), console_url=settings.public_url)
        db.flush()
        moved += 1
    return moved


def _demo_refusal(url: str, force: bool) -> str | None:
    """Why demo data must not go into this database, or None. The demo adds fictitious cases and
    fifteen staff whose password is published; a production database (PostgreSQL, or any holding
    real cases) gets them only when someone says --force."""
    if force:
        return None
    if not url.startswith("sqlite"):
        return ("refusing to seed demo data into PostgreSQL (production lives there): the demo adds "
                "fictitious cases and staff with the published password; pass --force if this database is for trying")
    import sqlalchemy as sa

    from bot.platform.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if "cases" not in sa.inspect(conn).get_table_names():
                return None
            real = conn.scalar(sa.text("select count(*) from cases where submission_key is null "
                                       "or submission_key not like :demo"), {"demo": _DEMO_PREFIX + "%"})
    finally:
        engine.dispose()
    if real:
        return (f"refusing to seed demo data: this database holds {real} real case(s), and the demo would add "
                "fictitious cases and staff with the published password; pass --force to add them anyway")
    return None


def cmd_demo(args) -> int:
    """A realistic month of cases in all five regions, written by the app's own services."""
    import random
    import time

    import sqlalchemy as sa

    from bot.models import Case, CaseItem, Notification, Rating, Staff, utcnow
    from bot.people import staff
    from bot.platform import clock
    from bot.platform.db import transaction
    from bot.platform.workdays import load_calendar
    from knowledge import load

    started = time.monotonic()
    settings = load_settings()
    if args.serve and settings.port == args.emulator_port:  # said now, not after a minute of seeding
        print(f"the bot (PORT) and the WeChat emulator (--emulator-port) would both listen on {settings.port}: "
              "give one of them another port", file=sys.stderr)
        return 2
    if refusal := _demo_refusal(settings.database_url, args.force):
        print(refusal, file=sys.stderr)
        return 1
    sessions = _staff_db()
    kb = load()
    calendar = load_calendar()
    regions = [r for r in _DEMO_COMPANIES if r in kb.regions]
    with transaction(sessions) as db:
        roster = staff.seed_demo_roster(db)
        existing = set(db.scalars(sa.select(Case.submission_key).where(Case.submission_key.like(_DEMO_PREFIX + "%"))))
    now = utcnow()
    added = 0
    for region in regions:
        rng = random.Random(f"bangban-demo-{region}")
        lead = next((s for s in roster if s.region == region and s.role == Role.SUPERVISOR), None)
        for n, story in enumerate(_DEMO_STORIES):
            # Every case draws from its own seeded generator, so a rerun fills gaps identically.
            case_rng = random.Random(f"{region}-{n}-{rng.random()}")
            if f"{_DEMO_PREFIX}{region}-{n:02d}" in existing:
                continue
            with transaction(sessions) as db:
                _demo_seed_case(db, kb, calendar, settings, case_rng, region, n, story, now, lead)
            added += 1
        with transaction(sessions) as db:
            _demo_first_commissioner_next(db, region, db.get(Staff, lead.id) if lead else None, settings)
    from .demo_case_details import seed as seed_case_details

    case_details_said = seed_case_details(sessions, settings)  # issue 17: 提前介入, 修改联系人
    from .demo_completion import seed as seed_completion

    completion_said = seed_completion(sessions, settings, kb, calendar)  # issue 17: 确认办结, 材料交还
    from .demo_agreements_plans import seed as seed_agreements_plans

    plans_said = seed_agreements_plans(sessions, settings)  # issue 17: 委托协议 versions, 一企一策 plans
    from .demo_escalations import seed as seed_escalations

    escalations_said = seed_escalations(sessions, settings, calendar)  # issue 17 item 7: escalation tiers
    from .demo_archiving import summary as archiving_summary

    archiving_said = archiving_summary(sessions)  # issue 17 item 5: 立卷归档 with its completeness check
    from .demo_appointments import seed as seed_appointments

    appointments_said = seed_appointments(sessions, settings, calendar)  # issue 17 item 1: 上门受理, 窗口预约
    from .demo_region_tiers import seed as seed_region_tiers

    tiers_said = seed_region_tiers(sessions, settings, kb, calendar)  # issue 17: a 镇's commissioner, a 县's supervisor
    with transaction(sessions) as db:
        demo = Case.submission_key.like(_DEMO_PREFIX + "%")
        total = db.scalar(sa.select(sa.func.count(Case.id)).where(demo))
        states = dict(db.execute(sa.select(Case.state, sa.func.count(Case.id)).where(demo).group_by(Case.state)).all())
        overdue = db.scalar(sa.select(sa.func.count(CaseItem.id)).join(Case, Case.id == CaseItem.case_id).where(
            demo, Case.state.in_((CaseState.ACCEPTED, CaseState.IN_PROGRESS)), CaseItem.overdue_on(clock.today())))
        ratings = db.execute(sa.select(Rating.level).join(Case, Case.id == Rating.case_id).where(demo)).scalars().all()
        pending = db.scalar(sa.select(sa.func.count(Notification.id)).where(Notification.state == NotificationState.PENDING))
    if added:
        print(f"demo data: added {added} cases ({total} in all) across {len(regions)} regions in "
              f"{time.monotonic() - started:.1f} s")
    else:
        print(f"demo data already seeded: {total} cases across {len(regions)} regions (nothing added)")
    print("  states: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    print(f"  overdue items: {overdue}; ratings: {len(ratings)} "
          f"({sum(1 for r in ratings if r >= 4)} good, {sum(1 for r in ratings if r <= 2)} bad)")
    print(f"  service depth: {case_details_said}")
    print(f"  办结确认 and 材料交还: {completion_said}")
    print(f"  委托协议 and 一企一策: {plans_said}")
    print(f"  协调事项 (escalation tiers): {escalations_said}")
    print(f"  立卷归档: {archiving_said}")
    print(f"  上门受理 and 窗口预约: {appointments_said}")
    print(f"  regions in tiers: {tiers_said}")
    look = [
        f"  console   {settings.public_url}/console   (web chat: {settings.public_url}/chat)",
        "  sign in as a commissioner (e.g. donghu-1, jiangbei-1) or a supervisor (e.g. donghu-lead),",
        f"  password {staff.DEMO_PASSWORD!r}; usernames: " + ", ".join(s.username for s in staff.DEMO_ROSTER),
        "  a case applied for in the web chat goes to its region's first commissioner (东湖: donghu-1)",
    ]
    if not (args.with_emulator or args.serve):
        print(f"  {pending} pushes queued (no WeChat account configured; `bangban demo --serve` delivers them "
              "through the local WeChat emulator)")
        print()
        print("Look at it:")
        print("  .venv/bin/bangban serve")
        print("\n".join(look))
        return 0
    with _demo_emulator(settings, sessions, args.emulator_port) as (emulated, base):
        print("  pushes via the local WeChat emulator: " + _demo_deliver(emulated, sessions))
        for line in _demo_wechat_native(emulated):
            print("  " + line)
        if not args.serve:
            print()
            if base == settings.wechat_api_base.rstrip("/"):  # an emulator that outlives this command
                print("Start the bot on this emulator (its account now has the demo's users and templates):")
                print(f"  {_demo_server_env(emulated)} .venv/bin/bangban serve")
            else:
                print("The emulator started here stops with this command. To watch pushes arrive in the web chat")
                print("and the console, run the emulator and the bot together:  .venv/bin/bangban demo --serve")
            print("\n".join(look))
            return 0
        print()
        print("Look at it (Ctrl-C stops the bot and the emulator):")
        print("\n".join(look))
        print(f"  pushes to a web-chat visitor appear in the chat; the emulator's log: {base}/_emulator/messages")
        print(flush=True)
        return _serve(emulated, settings.host)


def register(sub) -> None:
    s = sub.add_parser("demo", help="seed a realistic month of demo cases (re-runnable), then say how to look")
    s.add_argument("--with-emulator", action="store_true",
                   help="deliver the queued pushes through the local WeChat emulator (the one at WECHAT_API_BASE "
                        "if one answers there, else one started here), its account given the demo's users and templates")
    s.add_argument("--serve", action="store_true",
                   help="with the emulator: then serve the bot on it (console, web chat), pushes delivered as they happen")
    s.add_argument("--emulator-port", type=int, default=8765, help="port of the emulator started here (default 8765)")
    s.add_argument("--force", action="store_true",
                   help="seed even into PostgreSQL or a database that holds real cases")
    s.set_defaults(func=cmd_demo)
