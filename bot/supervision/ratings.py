"""好差评 (事后评价, seeds 000/001): one rating per case, 整改 + 回访 after a bad one, reminders.

- A case is rated once (一事一评) after 送达 or 终止, on the national five levels (5 非常满意 …
  1 非常不满意), with optional 效率/态度/廉洁 (seed 001: 服务效率、服务态度和廉洁情况) and a comment.
- The level may be changed within `Settings.rating_correction_hours` of the first rating; after
  that a change is refused politely. Filling in a dimension or comment left empty is always allowed.
- 不满意/非常不满意 opens a Rectification for the region's supervisor, due in
  `Settings.rectification_due_workdays` working days; the supervisor is alerted (outbox) and the
  caller tells the enterprise who will call and by when. The supervisor records the 回访, then
  closes the 整改 with what was done; the enterprise is told (反馈).
- `remind_unrated` re-invites unrated delivered/terminated cases, at most twice, spaced by
  `Settings.rating_reminder_hours` (idempotency keys make re-runs harmless).

Every change writes its ledger line in the caller's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from bot.casework import cases
from bot.casework.cases import CaseError
from bot.identifiers import rectification_number
from bot.models import Case, LedgerEntry, Notification, Rating, Rectification, Staff, WechatUser
from bot.people import region_staff
from bot.platform import clock, region_tiers
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.platform.text_safety import xml_safe
from bot.platform.workdays import WorkCalendar
from bot.push import notify
from bot.vocabulary import CASE_STATES, RATING_LEVELS, ActorKind, CaseState, RectificationState

LEVELS = RATING_LEVELS
DIMENSIONS = {"efficiency": "效率", "attitude": "态度", "integrity": "廉洁"}
BAD_AT_MOST = 2  # 不满意 and 非常不满意 are 差评
AWAITING_STATES = (CaseState.DELIVERED, CaseState.TERMINATED)
MAX_REMINDERS = 2
MAX_COMMENT = 500


class RatingError(CaseError):
    """A refused rating or 整改 step, with a message fit for the person who tried."""


@dataclass
class Outcome:
    rating: Rating
    changed: bool  # an earlier rating of the case was corrected
    rectification: Rectification | None = None  # the 整改 this rating opened, if any
    supervisor: Staff | None = None  # who will call back (None: nobody named in the region)


def level_name(level: int | None) -> str:
    return LEVELS.get(level or 0, "")


def is_bad(level: int) -> bool:
    return level <= BAD_AT_MOST


def summary(rating: Rating) -> str:
    """「满意（效率5 态度4 廉洁5）」."""
    dims = " ".join(f"{label}{getattr(rating, key)}" for key, label in DIMENSIONS.items()
                    if getattr(rating, key) is not None)
    return level_name(rating.level) + (f"（{dims}）" if dims else "")


# -- lookups ------------------------------------------------------------------------------

def awaiting(session: Session, openid: str) -> list[Case]:
    """The user's delivered or terminated cases that have no rating yet, newest first."""
    rated = sa.select(Rating.id).where(Rating.case_id == Case.id).exists()
    return list(session.scalars(sa.select(Case).where(
        Case.applicant_openid == openid, Case.state.in_(AWAITING_STATES), ~rated)
        .order_by(Case.created_at.desc(), Case.id.desc())))


def rated_cases(session: Session, openid: str) -> list[tuple[Case, Rating]]:
    return list(session.execute(sa.select(Case, Rating).join(Rating, Rating.case_id == Case.id)
                                .where(Case.applicant_openid == openid)
                                .order_by(Rating.created_at.desc(), Rating.id.desc())).all())


def rating_of(session: Session, case: Case) -> Rating | None:
    return session.scalar(sa.select(Rating).where(Rating.case_id == case.id))


def correction_deadline(rating: Rating, settings: Settings) -> datetime:
    return clock.as_utc(rating.created_at) + timedelta(hours=settings.rating_correction_hours)


def may_correct(rating: Rating, settings: Settings, now: datetime | None = None) -> bool:
    return (now or clock.now()) < correction_deadline(rating, settings)


def region_supervisor(session: Session, region: str) -> Staff | None:
    # Regions in tiers: a 镇 without supervisors of its own has its 县's (or 市's) do the 回访.
    return next(iter(region_staff.nearest_supervisors(session, region)), None)


# -- rating -------------------------------------------------------------------------------

def _check_score(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or not 1 <= value <= 5:
        raise RatingError(f"{what}请用 1-5 分（5 非常满意 … 1 非常不满意）")
    return value


def _clean_comment(comment: str | None) -> str | None:
    text = xml_safe(comment or "").strip()
    return text[:MAX_COMMENT] if text else None


def record(session: Session, case: Case, openid: str, level: int, *, settings: Settings,
           calendar: WorkCalendar, efficiency: int | None = None, attitude: int | None = None,
           integrity: int | None = None, comment: str | None = None, now: datetime | None = None,
           console_url: str = "") -> Outcome:
    """Rate a case, or change its rating within the correction window."""
    now = now or clock.now()
    _check_score(level, "评价等级")
    if level is None:
        raise RatingError("请选择评价等级")
    scores = {"efficiency": _check_score(efficiency, "效率"), "attitude": _check_score(attitude, "态度"),
              "integrity": _check_score(integrity, "廉洁")}
    comment = _clean_comment(comment)
    # Lock the case: two messages racing to rate it make one rating, not two.
    case = session.scalar(sa.select(Case).where(Case.id == case.id).with_for_update()) or case
    if case.applicant_openid != openid:
        raise RatingError("只有申请企业本人可以评价该服务")
    if case.state == CaseState.ARCHIVED:  # issue 17 item 5: the archived record is closed
        raise RatingError(f"{case.number}{cases.ARCHIVED_MESSAGE}评价，感谢您的关注")
    rating = rating_of(session, case)
    if rating is None:
        if case.state not in AWAITING_STATES:
            raise RatingError(f"{case.number}目前「{CASE_STATES[case.state]}」，服务送达或终止后才能评价")
        rating = Rating(case_id=case.id, openid=openid, level=level, comment=comment, created_at=now,
                        updated_at=now, **scores)
        session.add(rating)
        session.flush()
        if case.state == CaseState.DELIVERED:
            cases.transition(session, case, CaseState.RATED, actor_kind=ActorKind.ENTERPRISE, actor_id=openid,
                             detail=f"企业评价：{summary(rating)}")
        cases.log(session, case, "rated", _rating_detail(rating), actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
        outcome = Outcome(rating, changed=False)
    else:
        if not may_correct(rating, settings, now):
            raise RatingError(correction_closed_text(case, rating, settings))
        before = summary(rating)
        rating.level = level
        for key, value in scores.items():
            if value is not None:
                setattr(rating, key, value)
        if comment:
            rating.comment = comment
        rating.updated_at = now
        cases.log(session, case, "rating_changed", f"企业修改评价：{before} → {summary(rating)}"
                  + (f"；意见：{rating.comment}" if comment else ""), actor_kind=ActorKind.ENTERPRISE, actor_id=openid)
        outcome = Outcome(rating, changed=True)
    if is_bad(rating.level):
        existing = session.scalar(sa.select(Rectification).where(Rectification.rating_id == rating.id))
        if existing is None:
            outcome.rectification, outcome.supervisor = open_rectification(
                session, case, rating, settings=settings, calendar=calendar, now=now, console_url=console_url)
        else:
            outcome.supervisor = session.get(Staff, existing.supervisor_id) if existing.supervisor_id else None
    return outcome


def add_details(session: Session, case: Case, openid: str, *, settings: Settings, efficiency: int | None = None,
                attitude: int | None = None, integrity: int | None = None, comment: str | None = None,
                now: datetime | None = None) -> Rating:
    """The optional part of a rating given after the level (效率/态度/廉洁, a comment). Filling an
    empty field is always fine; changing one already given needs the correction window."""
    now = now or clock.now()
    rating = rating_of(session, case)
    if rating is None or rating.openid != openid:
        raise RatingError("请先选择评价等级")
    if case.state == CaseState.ARCHIVED:  # issue 17 item 5: the archived record is closed
        raise RatingError(f"{case.number}{cases.ARCHIVED_MESSAGE}评价，感谢您的关注")
    given = {"efficiency": _check_score(efficiency, "效率"), "attitude": _check_score(attitude, "态度"),
             "integrity": _check_score(integrity, "廉洁"), "comment": _clean_comment(comment)}
    given = {k: v for k, v in given.items() if v is not None}
    changes = {k: v for k, v in given.items() if getattr(rating, k) != v}
    if any(getattr(rating, k) is not None for k in changes) and not may_correct(rating, settings, now):
        raise RatingError(correction_closed_text(case, rating, settings))
    if not changes:
        return rating
    for key, value in changes.items():
        setattr(rating, key, value)
    rating.updated_at = now
    parts = [f"{DIMENSIONS[k]}{v}" for k, v in changes.items() if k in DIMENSIONS]
    if "comment" in changes:
        parts.append(f"意见：{changes['comment']}")
    cases.log(session, case, "rating_detail", "企业补充评价：" + " ".join(parts), actor_kind=ActorKind.ENTERPRISE,
              actor_id=openid)
    return rating


def _rating_detail(rating: Rating) -> str:
    return f"企业评价：{summary(rating)}" + (f"；意见：{rating.comment}" if rating.comment else "")


def correction_closed_text(case: Case, rating: Rating, settings: Settings) -> str:
    hours = settings.rating_correction_hours
    span = f"{hours:g}小时" if hours < 48 or hours % 24 else f"{int(hours // 24)}天"
    return (f"{case.number}已于{clock.local_text(rating.created_at)}评价为「{summary(rating)}」。"
            f"评价提交{span}后不能再修改，感谢理解。如还有意见，可回复「转人工」留言，我们会认真处理。")


# -- 整改 and 回访 --------------------------------------------------------------------------

def open_rectification(session: Session, case: Case, rating: Rating, *, settings: Settings,
                       calendar: WorkCalendar, now: datetime | None = None,
                       console_url: str = "") -> tuple[Rectification, Staff | None]:
    now = now or clock.now()
    today = clock.to_local(now).date()
    supervisor = region_supervisor(session, case.region)
    due = calendar.add_workdays(today, settings.rectification_due_workdays)
    rect = Rectification(case_id=case.id, rating_id=rating.id, supervisor_id=supervisor.id if supervisor else None,
                         due_date=due, state=RectificationState.OPEN, created_at=now)
    session.add(rect)
    session.flush()
    who = supervisor.name if supervisor else "主管（待指定）"
    cases.log(session, case, "rectification_opened",
              f"差评（{summary(rating)}）转整改 {rectification_number(rect.id)}，回访人：{who}，期限 {due:%Y-%m-%d}")
    if supervisor is not None:
        notify.rectification_opened(session, case, rect, supervisor, rating_summary=summary(rating),
                                    level=level_name(rating.level), comment=rating.comment, today=today,
                                    console_url=console_url)
    return rect, supervisor


def rectifications_of_region(session: Session, region: str, include_closed: bool = False) -> list[tuple]:
    """(Rectification, Case, Rating, supervisor or None) of the region, earliest due first: the
    open ones (待回访, 已回访), and with `include_closed` the 已办结 ones too."""
    stmt = (sa.select(Rectification, Case, Rating, Staff).join(Case, Case.id == Rectification.case_id)
            .join(Rating, Rating.id == Rectification.rating_id)
            .outerjoin(Staff, Staff.id == Rectification.supervisor_id)
            .where(Case.region.in_(region_tiers.subtree(region))))  # and the tiers below it
    if not include_closed:
        stmt = stmt.where(Rectification.state != RectificationState.CLOSED)
    return list(session.execute(stmt.order_by(Rectification.due_date, Rectification.id)).all())


def _rectification_in(session: Session, rect_id: int, region: str) -> tuple[Rectification, Case]:
    row = session.execute(sa.select(Rectification, Case).join(Case, Case.id == Rectification.case_id)
                          .where(Rectification.id == rect_id, Case.region.in_(region_tiers.subtree(region)))
                          .with_for_update(of=Rectification)).first()
    if row is None:
        raise RatingError("没有找到该整改记录")
    return row[0], row[1]


def record_visit(session: Session, rect_id: int, staff: Staff, note: str, now: datetime | None = None) -> Rectification:
    """回访: what the supervisor learned calling the enterprise back. May be recorded again
    (a second call) until the 整改 is closed."""
    rect, case = _rectification_in(session, rect_id, staff.region)
    note = xml_safe(note or "").strip()
    if not note:
        raise RatingError("请填写回访情况")
    if rect.state == RectificationState.CLOSED:
        raise RatingError("该整改已办结，不能再登记回访")
    rect.visit_note = (f"{rect.visit_note}\n{note}" if rect.visit_note else note)[:4000]
    rect.state = RectificationState.VISITED
    if rect.supervisor_id is None:
        rect.supervisor_id = staff.id
    cases.log(session, case, "revisited", f"回访（{rectification_number(rect.id)}）：{note[:MAX_COMMENT]}",
              actor_kind=staff.role, actor_id=staff.username)
    return rect


def close_rectification(session: Session, rect_id: int, staff: Staff, outcome: str,
                        now: datetime | None = None) -> Rectification:
    """整改办结, after the 回访; the enterprise hears what was done (反馈)."""
    rect, case = _rectification_in(session, rect_id, staff.region)
    outcome = xml_safe(outcome or "").strip()
    if rect.state == RectificationState.CLOSED:
        raise RatingError("该整改已办结")
    if rect.state != RectificationState.VISITED:
        raise RatingError("请先登记回访情况，再办结整改")
    if not outcome:
        raise RatingError("请填写整改结果")
    rect.outcome = outcome[:4000]
    rect.state = RectificationState.CLOSED
    rect.closed_at = now or clock.now()
    cases.log(session, case, "rectification_closed",
              f"整改办结（{rectification_number(rect.id)}）：{outcome[:MAX_COMMENT]}",
              actor_kind=staff.role, actor_id=staff.username)
    notify.rectification_feedback(session, case, rect, outcome)
    return rect


# -- reminders ----------------------------------------------------------------------------

def _reference_times(session: Session, unrated: list[Case]) -> dict[int, datetime]:
    """When each case was invited to rate: the invitation, else its 送达/终止 ledger line."""
    numbers = {notify.rating_invitation_key(c.number): c.id for c in unrated}
    found = {numbers[key]: at for key, at in session.execute(
        sa.select(Notification.idempotency_key, Notification.created_at)
        .where(Notification.idempotency_key.in_(list(numbers))))}
    missing = [c.id for c in unrated if c.id not in found]
    if missing:
        for case_id, at in session.execute(
                sa.select(LedgerEntry.case_id, sa.func.max(LedgerEntry.at))
                .where(LedgerEntry.case_id.in_(missing), LedgerEntry.action.in_(["state:delivered", "state:terminated"]))
                .group_by(LedgerEntry.case_id)):
            found[case_id] = at
    return {k: clock.as_utc(v) for k, v in found.items() if v is not None}


def remind_unrated(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> int:
    """Re-invite unrated delivered/terminated cases: reminder 1 `rating_reminder_hours` after the
    invitation, reminder 2 as long after reminder 1, never more. Returns the reminders queued."""
    now = clock.as_utc(now or clock.now())
    gap = timedelta(hours=settings.rating_reminder_hours)
    queued = 0
    with transaction(sessions) as db:
        rated = sa.select(Rating.id).where(Rating.case_id == Case.id).exists()
        unsubscribed = sa.select(WechatUser.openid).where(WechatUser.openid == Case.applicant_openid,
                                                          WechatUser.subscribed.is_(False)).exists()
        unrated = list(db.scalars(sa.select(Case).where(Case.state.in_(AWAITING_STATES), ~rated, ~unsubscribed)
                                  .order_by(Case.id)))
        if not unrated:
            return 0
        refs = _reference_times(db, unrated)
        keys = [notify.rating_reminder_key(c.number, n) for c in unrated for n in range(1, MAX_REMINDERS + 1)]
        sent = {key: clock.as_utc(at) for key, at in db.execute(
            sa.select(Notification.idempotency_key, Notification.created_at)
            .where(Notification.idempotency_key.in_(keys)))}
        for case in unrated:
            last = refs.get(case.id)
            if last is None:
                continue
            for nth in range(1, MAX_REMINDERS + 1):
                key = notify.rating_reminder_key(case.number, nth)
                if key in sent:
                    last = sent[key]
                    continue
                if now - last >= gap:  # one reminder per case per run, spaced from the previous one
                    n = notify.rating_reminder(db, case, nth, final=nth >= MAX_REMINDERS)
                    if n is not None:
                        n.created_at = now
                        cases.log(db, case, "rating_reminded", f"第{nth}次评价提醒")
                        queued += 1
                break
    return queued


def due_text(day: date) -> str:
    return f"{day:%Y年%m月%d日}".replace("年0", "年").replace("月0", "月")
