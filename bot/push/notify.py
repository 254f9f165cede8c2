"""Every push the service sends, as one named function per event, each queueing its
Notification(s) through the outbox (bot/push/outbox.py).

Called inside the transaction that makes the change, so the push exists exactly when the change
does. Every text says the case number, what happened and what to do next; the idempotency key
names the event, so calling a function twice for the same event queues one push.

`template` is the key the dispatcher maps to a template id (Settings.wechat_templates), the
purpose unless a function names another; `data` holds that fallback form's fields, each cut to
its WeChat type's limit (bot/push/templates.py lists each template's fields and their types: a
thing 20 characters, a character_string 32, a phrase 5 …, cut with 「…」 where the type allows).
A staff push carries the person's WeCom UserID too (Staff.wecom_userid): the dispatcher tries
企业微信 first (bot/push/wecom.py); a colleague with neither an openid nor a WeCom id gets none.

The one exception is the SLA sweep's pushes (临期提醒, 催办, 超期汇总, 致歉, 升级): a sweep may queue
tens of thousands at once, so bot/supervision/sla.py writes each kind as a single INSERT … SELECT, its text
built in SQL.
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.models import Case, CaseItem, Handoff, Notification, Rectification, Staff
from bot.platform import clock
from bot.push import outbox, templates
from bot.vocabulary import ITEM_STATES, RATING_LEVELS, CaseState, ItemState, RecipientKind

if TYPE_CHECKING:
    from bot.supervision.digest import RegionFigures

DELIVERY_METHODS = ("上门", "邮寄", "电子证照")


def _data(**fields: object) -> dict:
    """Template fields as text ("" for None); each is cut to its type's limit when queued."""
    return {k: "" if v is None else str(v) for k, v in fields.items()}


def _to_enterprise(session: Session, case: Case, *, key: str, purpose: str, text: str,
                   data: dict, template: str | None = None) -> Notification | None:
    if not case.applicant_openid:  # a 提前介入 case the enterprise has not confirmed yet: nobody to tell
        return None
    template = template or purpose
    return outbox.enqueue(session, key=key, recipient=case.applicant_openid, recipient_kind=RecipientKind.ENTERPRISE,
                          purpose=purpose, text=text, template=template, data=templates.fit_all(template, data),
                          case_id=case.id)


def reachable(staff: Staff) -> bool:
    """Whether alerts can reach this colleague at all: an Official Account openid or a WeCom id."""
    return bool(staff.wechat_openid or staff.wecom_userid)


def _to_colleague(session: Session, staff: Staff, *, key: str, purpose: str, text: str, template: str,
                  data: dict, url: str | None, case_id: int | None) -> Notification | None:
    if not reachable(staff):  # nothing bound: the console is where they will see it
        return None
    return outbox.enqueue(session, key=key, recipient=staff.wechat_openid, recipient_kind=RecipientKind.STAFF,
                          purpose=purpose, text=text, template=template, data=templates.fit_all(template, data),
                          url=url, case_id=case_id, wecom_userid=staff.wecom_userid, staff_id=staff.id)


def _to_staff(session: Session, case: Case, staff: Staff, *, key: str, purpose: str, text: str,
              data: dict, console_url: str = "", page: str = "", template: str | None = None) -> Notification | None:
    """To a staff member about `case`, linking the console's `page` (default: the case's page)."""
    url = f"{console_url.rstrip('/')}/console/{page or f'cases/{case.number}'}" if console_url else None
    return _to_colleague(session, staff, key=key, purpose=purpose, text=text, template=template or purpose,
                         data=data, url=url, case_id=case.id)


# -- to the enterprise ----------------------------------------------------------------------

def accepted(session: Session, case: Case, commissioner: Staff) -> Notification | None:
    text = (f"【已受理】{case.number}\n您的{case.mode}申请已受理，由帮代办专员{commissioner.name}一对一为您服务。\n"
            f"专员会与您联系并告知材料准备；有问题可直接在本公众号留言。")
    return _to_enterprise(session, case, key=f"accepted:{case.number}", purpose="accepted", text=text,
                          data=_data(number=case.number, commissioner=commissioner.name, mode=case.mode))


def item_progress(session: Session, case: Case, item: CaseItem, before: str, event_id: int) -> Notification | None:
    """An approval item moved (已申报, 已受理, 审批中, 已办结 ...). `event_id` is the ledger line."""
    state = ITEM_STATES[item.state]
    next_step = {
        ItemState.SUBMITTED: "材料已递交审批部门，请保持电话畅通。",
        ItemState.ACCEPTED: "审批部门已受理，专员会持续跟踪催办。",
        ItemState.REVIEWING: "正在审批中，专员会持续跟踪催办。",
        ItemState.DONE: "该事项已办结，结果文件将统一送达。",
        ItemState.CORRECTION: "请按专员要求补正材料。",
        ItemState.PENDING: "专员会告知下一步安排。",
    }[item.state]
    text = (f"【办理进度】{case.number}\n事项：{item.name}\n状态：{ITEM_STATES.get(before, before)} → {state}\n"
            f"{next_step}")
    return _to_enterprise(session, case, key=f"progress:{case.number}:{event_id}", purpose="progress", text=text,
                          data=_data(number=case.number, item=item.name, state=state))


def plan_changed(session: Session, case: Case, item: CaseItem, before: date | None, new: date, reason: str,
                 event_id: int) -> Notification | None:
    """计划调整 (issue 17 item 10): an item's planned date in the 一企一策 plan moved (`event_id`: the ledger line)."""
    was = f"{before:%Y-%m-%d} → " if before else ""
    text = (f"【计划调整】{case.number}\n事项：{item.name}\n计划办结日：{was}{new:%Y-%m-%d}"
            + (f"\n原因：{reason}" if reason else "") + "\n回复「我的申请」可查看计划与进度。")
    return _to_enterprise(session, case, key=f"plan:{case.number}:{event_id}", purpose="plan_changed", text=text,
                          template="progress", data=_data(number=case.number, item=item.name,
                                                          state=f"计划调整为{new:%Y-%m-%d}"))


def correction_requested(session: Session, case: Case, item: CaseItem, missing: str, due: date,
                         commissioner: Staff | None, event_id: int) -> Notification | None:
    """补正: exactly what is missing and by when, so the enterprise can act on this one message."""
    who = f"帮代办专员{commissioner.name}" if commissioner else "帮代办专员"
    text = (f"【需补正材料】{case.number}\n事项：{item.name}\n需补正：{missing}\n"
            f"请于{due:%Y年%m月%d日}前将补正材料交给{who}，逾期可能影响审批时限。")
    return _to_enterprise(session, case, key=f"correction:{case.number}:{event_id}", purpose="correction",
                          text=text, data=_data(number=case.number, item=item.name, missing=missing,
                                                due=f"{due:%Y-%m-%d}"))


def completed(session: Session, case: Case) -> Notification | None:
    text = (f"【已办结】{case.number}\n您委托的审批事项已全部办结。专员将统一送达结果文件（上门、邮寄或电子证照），"
            f"送达时会再通知您。")
    return _to_enterprise(session, case, key=f"completed:{case.number}", purpose="completed", text=text,
                          data=_data(number=case.number, project=case.project_name))


def delivered(session: Session, case: Case, method: str, tracking_number: str | None = None,
              note: str = "") -> Notification | None:
    if method == "邮寄":
        how = f"结果文件已邮寄，快递单号：{tracking_number}，请注意查收。"
    elif method == "上门":
        how = "结果文件已由专员上门当面递交，请妥善保管。"
    else:
        how = "结果已生成电子证照，您可自行登录审批系统下载。"
    text = f"【已送达】{case.number}\n{how}" + (f"\n说明：{note}" if note else "")
    return _to_enterprise(session, case, key=f"delivered:{case.number}", purpose="delivered", text=text,
                          data=_data(number=case.number, method=method, tracking=tracking_number or ""))


def terminated(session: Session, case: Case, reason: str) -> Notification | None:
    text = (f"【已终止】{case.number}\n本次{case.mode}服务已终止。原因：{reason}\n"
            f"您提交的材料将由专员退还；如情况变化，可随时重新申请。")
    return _to_enterprise(session, case, key=f"terminated:{case.number}", purpose="terminated", text=text,
                          data=_data(number=case.number, reason=reason))


def rating_invitation(session: Session, case: Case) -> Notification | None:
    """事后评价 after 送达 or 终止: one invitation per case."""
    text = (f"【服务评价】{case.number}\n请为本次{case.mode}服务评价：回复「评价」，就效率、态度、廉洁选择"
            f"{'/'.join(RATING_LEVELS.values())}。评价结果纳入专员考核。")
    return _to_enterprise(session, case, key=rating_invitation_key(case.number), purpose="rating", text=text,
                          data=_data(number=case.number, project=case.project_name))


def rating_invitation_key(number: str) -> str:
    """The invitation's idempotency key: bot.supervision.ratings times the reminders from that push."""
    return f"rating-invite:{number}"


def rating_reminder_key(number: str, nth: int) -> str:
    return f"rating-remind:{number}:{nth}"


def rating_reminder(session: Session, case: Case, nth: int, final: bool) -> Notification | None:
    """The `nth` re-invitation of an unrated case (bot.supervision.ratings.remind_unrated); `final`: the last one."""
    what = "送达" if case.state == CaseState.DELIVERED else "终止"
    scale = " ".join(f"{n} {name}" for n, name in RATING_LEVELS.items())
    text = (f"【评价提醒】{case.number}\n您的{case.mode}服务已{what}，还没有收到您的评价。"
            f"直接回复数字即可（{scale}），也可以附上意见，如「5 服务很周到」。"
            + ("这是最后一次提醒。" if final else ""))
    return _to_enterprise(session, case, key=rating_reminder_key(case.number, nth), purpose="rating_reminder",
                          template="rating", text=text,
                          data=_data(number=case.number, project=case.project_name))


def rectification_feedback(session: Session, case: Case, rect: Rectification, outcome: str) -> Notification | None:
    """整改办结: the enterprise hears what was done about its bad rating (反馈)."""
    text = (f"【整改反馈】{case.number}\n感谢您的评价和意见。针对您反映的问题，我们已整改：{outcome[:300]}\n"
            f"如仍有意见，可直接在本公众号留言。")
    return _to_enterprise(session, case, key=f"rectification-closed:{case.number}:{rect.id}",
                          purpose="rectification_feedback", template="rectification_feedback", text=text,
                          data=_data(number=case.number, outcome=outcome))


def handoff_answered(session: Session, handoff: Handoff, staff: Staff, answer: str) -> Notification | None:
    """A person answered a 转人工 question in the console: the answer goes back into the chat."""
    return outbox.enqueue(session, key=f"handoff-answer:{handoff.id}", recipient=handoff.openid,
                          recipient_kind=RecipientKind.ENTERPRISE, purpose="handoff_answer", template="handoff_answer",
                          text=f"【专员答复】{staff.name}：\n{answer}\n\n（您的问题：{handoff.question[:100]}）",
                          data=templates.fit_all("handoff_answer", _data(name=staff.name, answer=answer)),
                          case_id=handoff.case_id)


def late_reply(session: Session, openid: str, message_key: str, text: str) -> Notification | None:
    """A turn too slow for WeChat's passive reply: its answer, as a customer-service message
    (webhook/wechat.py; `message_key` names the message, so a retry queues it once)."""
    return outbox.enqueue(session, key=f"late:{message_key}", recipient=openid,
                          recipient_kind=RecipientKind.ENTERPRISE, purpose="late_reply", text=text)


# -- to the commissioner --------------------------------------------------------------------

def new_application(session: Session, case: Case, commissioner: Staff, console_url: str = "") -> Notification | None:
    """The first assignment, at submission (bot.casework.cases.submit); a reassignment is `assigned`."""
    text = (f"【新{case.mode}申请】{case.number}\n{case.company_name}·{case.project_name}\n"
            f"联系人：{case.contact_name}\n请尽快受理：回复「受理 {case.number}」或在工作台处理。")
    return _to_staff(session, case, commissioner, key=f"assign:{case.number}:{commissioner.id}", purpose="assignment",
                     text=text, console_url=console_url,
                     data=_data(number=case.number, company=case.company_name, mode=case.mode))


def assignment_reminder(session: Session, case: Case, commissioner: Staff, waited_minutes: int,
                        console_url: str = "") -> Notification | None:
    """The case is still not accepted `waited_minutes` after its assignment (bot.scheduler)."""
    text = (f"【待受理提醒】{case.number} 分派给您已超过{waited_minutes}分钟仍未受理\n"
            f"{case.company_name}·{case.project_name}\n请尽快受理：回复「受理 {case.number}」或在工作台处理。")
    return _to_staff(session, case, commissioner, key=f"accept-remind:{case.number}:{commissioner.id}",
                     purpose="assignment_reminder", template="assignment",  # the first alert's fields: its template
                     text=text, console_url=console_url,
                     data=_data(number=case.number, company=case.company_name, mode=case.mode))


def urged(session: Session, case: Case, staff: Staff, items: str, today: date,
          console_url: str = "") -> Notification | None:
    """The enterprise's 催办 (bot.casework.case_actions.urge), once a day per case and person."""
    text = f"【企业催办】{case.number} {case.company_name}\n待办事项：{items}\n请尽快跟进并反馈企业。"
    return _to_staff(session, case, staff, key=f"urge:{case.number}:{today.isoformat()}:{staff.id}", purpose="urge", template="urge",
                     text=text, console_url=console_url, data=_data(number=case.number, items=items))

def assigned(session: Session, case: Case, commissioner: Staff, event_id: int,
             console_url: str = "") -> Notification | None:
    """A supervisor (re)assigned the case; the first assignment at submission is sent by
    bot.casework.cases.submit with the key assign:{number}:{staff id}."""
    text = (f"【分派】{case.number}\n{case.company_name}·{case.project_name}\n主管已将此案件分派给您，"
            f"请尽快受理。")
    return _to_staff(session, case, commissioner, key=f"assign:{case.number}:{commissioner.id}:{event_id}",
                     purpose="assignment", text=text, console_url=console_url,
                     data=_data(number=case.number, company=case.company_name, mode=case.mode))


def item_reported(session: Session, case: Case, item: CaseItem, commissioner: Staff, before: str,
                  event_id: int, console_url: str = "") -> Notification | None:
    """The approval system changed an item's state: the commissioner should know at once."""
    state = ITEM_STATES[item.state]
    text = (f"【审批系统同步】{case.number}\n{item.name}：{ITEM_STATES.get(before, before)} → {state}"
            + ("\n请及时告知企业补正要求。" if item.state == ItemState.CORRECTION else ""))
    return _to_staff(session, case, commissioner, key=f"reported:{case.number}:{event_id}", purpose="item_reported",
                     text=text, console_url=console_url,
                     data=_data(number=case.number, item=item.name, state=state))


def handoff_opened(session: Session, handoff: Handoff, staff: Staff, case: Case | None,
                   console_url: str = "") -> Notification | None:
    """转人工 reached this person: who asks (the company and case, when there is one) and what."""
    about = f"企业：{case.company_name}（{case.number}）\n" if case else ""
    text = (f"【企业转人工】H{handoff.id}\n{about}问题：{handoff.question[:200]}\n"
            f"请在工作台「转人工」中答复，答复会推送给企业。")
    # Nothing bound: the console's 转人工 list is where they will see it.
    return _to_colleague(session, staff, key=f"handoff:{handoff.id}:{staff.id}", purpose="handoff",
                         template="handoff", text=text,
                         data=_data(number=f"H{handoff.id}", question=handoff.question),
                         url=f"{console_url.rstrip('/')}/console/handoffs#h{handoff.id}" if console_url else None,
                         case_id=case.id if case else None)


def materials_received(session: Session, case: Case, commissioner: Staff | None, *, received: int, failed: int,
                       listed: int, items: str, last_id: int, not_saved: tuple[str, ...] = (),
                       console_url: str = "") -> list[Notification]:
    """A batch of photos or files the enterprise sent in the chat was taken in (bot/casework/materials.py):
    one push to the commissioner however many arrived, and, when some could not be saved, one to
    the enterprise saying why (`not_saved`: 「超过 10 MB」, 「格式不支持」 …) so it sends them again.
    `last_id` (the batch's newest material) names the batch."""
    queued = []
    if commissioner is not None:
        text = (f"【收到材料】{case.number} {case.company_name}\n企业在微信中发来{received}份材料"
                + (f"（{failed}份未能保存）" if failed else "")
                + (f"\n补正事项：{items}" if items else "")
                + (f"\n其中{listed}份文件微信不提供下载，请向企业收取原件。" if listed else "")
                + "\n请在工作台案件页查看。")
        queued.append(_to_staff(session, case, commissioner, key=f"materials:{case.number}:{last_id}",
                                purpose="materials", template="item_reported", text=text, console_url=console_url,
                                data=_data(number=case.number, item=items or "案件材料", state=f"收到{received}份材料")))
    if failed:
        why = "、".join(dict.fromkeys(not_saved)) or "微信未能提供文件"
        text = (f"【材料未能保存】{case.number}\n您在微信中发来的材料有{failed}份没能保存（{why}）。"
                f"请重新发送，或直接交给帮代办专员。")
        queued.append(_to_enterprise(session, case, key=f"materials-failed:{case.number}:{last_id}",
                                     purpose="materials", template="progress", text=text,
                                     data=_data(number=case.number, item="微信发来的材料", state=f"{failed}份未能保存")))
    return [n for n in queued if n is not None]

# -- to the supervisors ---------------------------------------------------------------------

def acceptance_escalated(session: Session, case: Case, supervisor: Staff, why: str,
                         console_url: str = "") -> Notification | None:
    """Nobody accepted the case in time, or nobody can (bot.scheduler): `why` says which."""
    return _to_staff(session, case, supervisor, key=f"accept-escalate:{case.number}:{supervisor.id}",
                     purpose="accept_escalation", template="accept_escalation", console_url=console_url,
                     text=f"【受理超时】{case.number}（{case.company_name}·{case.project_name}）{why}。",
                     data=_data(number=case.number, company=case.company_name, reason=why))


def rectification_opened(session: Session, case: Case, rect: Rectification, supervisor: Staff, *,
                         rating_summary: str, level: str, comment: str | None, today: date,
                         console_url: str = "") -> Notification | None:
    """A bad rating opened a 整改: the supervisor calls the enterprise back by its due date."""
    text = (f"【差评整改】{case.number} {case.company_name}\n评价：{rating_summary}"
            + (f"\n意见：{comment[:200]}" if comment else "")
            + f"\n请于{clock.date_text(rect.due_date, today)}前回访企业（{case.contact_name}）并整改，在工作台「整改」中登记。")
    return _to_staff(session, case, supervisor, key=f"rectification:{case.number}:{rect.id}", purpose="rectification",
                     template="rectification",
                     text=text, console_url=console_url, page="rectifications",
                     data=_data(number=case.number, level=level, due=f"{rect.due_date:%Y-%m-%d}"))


def daily_digest(session: Session, supervisor: Staff, today: date, region: str, figures: RegionFigures,
                 console_url: str) -> Notification | None:
    """每日简报: the supervisor's region in four figures, once a day (bot.scheduler)."""
    url = f"{console_url}/console"
    text = (f"【每日简报】{today:%Y-%m-%d} {region}\n"
            f"在办案件：{figures.open_cases}件（待分派{figures.unassigned}件）\n"
            f"超期事项：{figures.overdue_items}项\n"
            f"发送失败的通知：{figures.dead_notifications}条\n"
            f"详情请登录工作台：{url}")
    return _to_colleague(
        session, supervisor, key=f"digest:{today}:{supervisor.id}", purpose="digest", text=text, template="digest",
        url=url, case_id=None,
        data=_data(date=today.isoformat(), region=region, open=figures.open_cases, overdue=figures.overdue_items,
                   unassigned=figures.unassigned, dead=figures.dead_notifications))


# -- issue 17: contact changes, 重点项目 and 提前介入 ----------------------------------------------

def contact_changed(session: Session, case: Case, commissioner: Staff, change: str, event_id: int,
                    console_url: str = "") -> Notification | None:
    """The enterprise changed its 联系人 or 联系电话 in the chat after submitting (`change`: what
    became what, as the ledger line says it)."""
    text = (f"【联系人变更】{case.number} {case.company_name}\n企业在微信中修改了联系方式：{change}\n"
            f"请以新的联系方式与企业联系。")
    return _to_staff(session, case, commissioner, key=f"contact:{case.number}:{event_id}", purpose="contact_changed",
                     template="item_reported", text=text, console_url=console_url,
                     data=_data(number=case.number, item="联系人信息", state="已变更"))


def key_project_assigned(session: Session, case: Case, supervisor: Staff, commissioner: Staff | None,
                         event_id: int, console_url: str = "") -> Notification | None:
    """A 重点项目 (绿色通道) was assigned: the region's supervisor follows it on the 重点项目 panel."""
    who = commissioner.name if commissioner else "待分派"
    text = (f"【重点项目】{case.number}\n{case.company_name}·{case.project_name}\n已分派帮代办专员：{who}\n"
            f"已列入重点项目挂图作战，请关注办理进度。")
    return _to_staff(session, case, supervisor, key=f"key-project:{case.number}:{event_id}:{supervisor.id}",
                     purpose="key_project", template="assignment", text=text, console_url=console_url,
                     data=_data(number=case.number, company=case.company_name, mode=case.mode))


def invitation(session: Session, case: Case, openid: str, commissioner: Staff | None,
               invitation_id: int) -> Notification | None:
    """提前介入: the commissioner opened a case for the enterprise's project and invites it."""
    who = f"帮代办专员{commissioner.name}" if commissioner else "帮代办专员"
    text = (f"【提前介入邀请】{case.number}\n{who}已为贵单位的项目「{case.project_name}」提前开通免费{case.mode}服务。\n"
            f"回复「确认」接受服务，回复「不需要」谢绝。")
    return outbox.enqueue(session, key=f"invite:{case.number}:{invitation_id}", recipient=openid,
                          recipient_kind=RecipientKind.ENTERPRISE, purpose="invitation", text=text, template="progress",
                          data=templates.fit_all("progress", _data(number=case.number, item=case.project_name,
                                                                   state="待确认")),
                          case_id=case.id)


def invitation_answered(session: Session, case: Case, commissioner: Staff, accepted: bool, event_id: int,
                        console_url: str = "") -> Notification | None:
    """The enterprise accepted or declined a 提前介入 invitation."""
    outcome = "已确认接受服务，请尽快受理" if accepted else "谢绝了服务，案件已终止"
    text = f"【提前介入】{case.number} {case.company_name}\n企业{outcome}。"
    return _to_staff(session, case, commissioner, key=f"invite-answer:{case.number}:{event_id}",
                     purpose="invitation_answered", template="item_reported", text=text, console_url=console_url,
                     data=_data(number=case.number, item="提前介入邀请", state="已确认" if accepted else "已谢绝"))


# -- issue 17 item 7: escalation tiers (bot/supervision/escalations.py) ------------------------

def escalation_raised(session: Session, case: Case, staff: Staff, escalation_id: int, level: str, who: str,
                      due: date, note: str, previous: str | None = None, console_url: str = "") -> Notification | None:
    """A case problem was raised to `level` (or moved up to it from `previous`): to each colleague told."""
    how = f"由{previous}上报至{level}" if previous else f"已提交{level}"
    text = (f"【提请协调】{case.number} {case.company_name}\n{how}（E{escalation_id}），协调单位：{who}\n"
            f"问题：{note[:300]}\n请于{clock.date_text(due)}前答复，结果在工作台「挂图作战 · 协调事项」中登记。")
    return _to_staff(session, case, staff, key=f"escalation:{escalation_id}:raised:{staff.id}", purpose="escalation",
                     template="item_reported", text=text, console_url=console_url, page="dashboard",
                     data=_data(number=case.number, item=f"协调·{level}", state="待答复"))


def escalation_overdue(session: Session, case: Case, staff: Staff, escalation_id: int, level: str, due: date,
                       next_level: str | None, console_url: str = "") -> Notification | None:
    """The tier's answer is past due (the scheduler's escalation-deadlines job): offer the next tier."""
    offer = (f"可在工作台「挂图作战 · 协调事项」中上报{next_level}，或登记协调结果。" if next_level
             else f"{level}已是本地区最高协调层级，请督促答复并登记协调结果。")
    text = f"【协调超期】{case.number} {case.company_name}\n{level}（E{escalation_id}）答复期限{clock.date_text(due)}已过，尚未解决。\n{offer}"
    return _to_staff(session, case, staff, key=f"escalation:{escalation_id}:overdue:{staff.id}",
                     purpose="escalation_overdue", template="item_reported", text=text, console_url=console_url,
                     page="dashboard", data=_data(number=case.number, item=f"协调·{level}", state="已超期"))


def escalation_resolved(session: Session, case: Case, staff: Staff, escalation_id: int, level: str,
                        resolution: str, console_url: str = "") -> Notification | None:
    """The tier answered: the case's commissioner carries the result on."""
    text = f"【协调结果】{case.number} {case.company_name}\n{level}（E{escalation_id}）：{resolution[:300]}"
    return _to_staff(session, case, staff, key=f"escalation:{escalation_id}:resolved:{staff.id}",
                     purpose="escalation_resolved", template="item_reported", text=text, console_url=console_url,
                     data=_data(number=case.number, item=f"协调·{level}", state="已解决"))


def escalation_to_enterprise(session: Session, case: Case, escalation_id: int, level: str,
                             due: date) -> Notification | None:
    """「告知企业」 ticked on raise (or carried on to the next tier): the problem is being coordinated."""
    text = (f"【协调中】{case.number}\n{case.project_name}\n您的项目办理中遇到的问题已提交{level}协调，"
            f"预计{clock.date_text(due)}前答复。有结果后会再通知您；回复「我的申请」可随时查看。")
    return _to_enterprise(session, case, key=f"escalation:{escalation_id}:enterprise", purpose="escalation_told",
                          template="progress", text=text,
                          data=_data(number=case.number, item=f"提交{level}协调", state="协调中"))


def escalation_result_to_enterprise(session: Session, case: Case, escalation_id: int, level: str,
                                    resolution: str) -> Notification | None:
    """「告知企业」 ticked on resolve: what the tier decided."""
    text = f"【协调结果】{case.number}\n{case.project_name}\n{level}协调结果：{resolution[:300]}\n如有疑问，请直接留言。"
    return _to_enterprise(session, case, key=f"escalation:{escalation_id}:enterprise-result",
                          purpose="escalation_result", template="progress", text=text,
                          data=_data(number=case.number, item=f"{level}协调", state="已有结果"))


# -- issue 17: 办结 the enterprise confirms, materials handed back ------------------------------

def completion_confirmation_requested(session: Session, case: Case, request_id: int,
                                      deadline: date) -> Notification | None:
    """The commissioner reports every item 办结 where the region asks the enterprise to confirm (县级市)."""
    text = (f"【请确认办结】{case.number}\n{case.project_name}\n专员报告您委托的审批事项已全部办结。"
            f"请回复「确认办结」确认；如有问题，请回复「有问题」并写明原因（如「有问题 施工许可证还没拿到」）。\n"
            f"{clock.date_text(deadline)}前未答复的，视为确认办结。")
    return _to_enterprise(session, case, key=f"completion-request:{case.number}:{request_id}", purpose="completion_confirm",
                          template="progress", text=text,
                          data=_data(number=case.number, item="全部委托事项", state="待您确认办结"))


def completion_objected(session: Session, case: Case, commissioner: Staff, reason: str, request_id: int,
                        console_url: str = "") -> Notification | None:
    """The enterprise answered 「有问题」 to the 办结: the case stays open, back with the commissioner."""
    text = (f"【办结有异议】{case.number} {case.company_name}\n企业对办结有异议：{reason[:300]}\n"
            f"案件仍在办理中，请与企业联系处理后再办结。")
    return _to_staff(session, case, commissioner, key=f"completion-objected:{case.number}:{request_id}",
                     purpose="completion_objected", template="item_reported", text=text, console_url=console_url,
                     data=_data(number=case.number, item="办结确认", state="企业有异议"))


def materials_returned(session: Session, case: Case, handback_id: int, occasion: str, materials: list[str],
                       method: str, returned_on: date, signed_by: str,
                       tracking_number: str | None = None) -> Notification | None:
    """The commissioner recorded the materials handed back on 办结 or 终止 (seed 003)."""
    listed = "、".join(materials[:10]) + ("等" if len(materials) > 10 else "")
    how = f"邮寄（快递单号 {tracking_number}）" if method == "邮寄" and tracking_number else method
    text = (f"【材料交还】{case.number}\n案件{occasion}，专员已交还您的材料：{listed}\n"
            f"交还方式：{how}；日期：{clock.date_text(returned_on)}；签收人：{signed_by}\n"
            f"收到后请回复「已收到材料」确认；如有缺少，请直接留言。")
    return _to_enterprise(session, case, key=f"handback:{case.number}:{handback_id}", purpose="materials_returned",
                          template="progress", text=text,
                          data=_data(number=case.number, item="交还材料", state=f"已{method}交还"))


# -- issue 17 item 1: 上门受理 and 窗口预约 (bot/casework/appointments.py) ----------------------------

WEEKDAYS = "一二三四五六日"


def appointment_time(starts_at) -> str:
    """「12月08日（周二）09:30」: the date people plan by, its weekday, and the hour (service time)."""
    local = clock.to_local(starts_at)
    return f"{clock.date_text(local.date())}（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def _short_time(kind: str, starts_at) -> str:
    """「上门受理 12-08 09:30」: a template's 20-character field."""
    return f"{kind} {clock.to_local(starts_at):%m-%d %H:%M}"


def _appointment_lines(kind: str, starts_at, place: str, bring: str | None, note: str | None) -> str:
    return (f"类型：{kind}\n时间：{appointment_time(starts_at)}\n地点：{place}"
            + (f"\n请准备：{'、'.join(bring.splitlines())}" if bring else "") + (f"\n说明：{note}" if note else ""))


def appointment_proposed(session: Session, case: Case, appointment_id: int, kind: str, starts_at, place: str,
                         bring: str | None, note: str | None, commissioner: Staff | None,
                         replaces: bool = False) -> Notification | None:
    """The commissioner proposes a 上门受理 or a 窗口预约 (`kind`: its display name); the enterprise
    confirms it, or asks for another time, in the chat."""
    who = f"帮代办专员{commissioner.name}" if commissioner else "帮代办专员"
    head = "【预约改期】" if replaces else "【预约通知】"
    text = (f"{head}{case.number}\n{who}与您约定{kind}：\n{_appointment_lines(kind, starts_at, place, bring, note)}\n"
            f"时间合适请回复「确认预约」；不方便请回复「改个时间」并写明您方便的时间（如「改个时间 下周二上午」）。")
    return _to_enterprise(session, case, key=f"appointment:{case.number}:{appointment_id}", purpose="appointment",
                          template="progress", text=text,
                          data=_data(number=case.number, item=_short_time(kind, starts_at), state="待确认"))


def appointment_reminder(session: Session, case: Case, appointment_id: int, kind: str, starts_at, place: str,
                         bring: str | None, confirmed: bool) -> Notification | None:
    """The day before: what, when, where and what to bring (once per appointment: keyed by it)."""
    ask = "" if confirmed else "\n您还没有确认这次预约：时间合适请回复「确认预约」，不方便请回复「改个时间」。"
    text = (f"【预约提醒】{case.number}\n明天有一次{kind}：\n{_appointment_lines(kind, starts_at, place, bring, None)}"
            f"{ask}\n如有变化请直接留言。")
    return _to_enterprise(session, case, key=f"appointment-remind:{appointment_id}", purpose="appointment_reminder",
                          template="progress", text=text,
                          data=_data(number=case.number, item=_short_time(kind, starts_at), state="明日预约"))


def appointment_cancelled(session: Session, case: Case, appointment_id: int, kind: str, starts_at,
                          reason: str) -> Notification | None:
    text = (f"【预约取消】{case.number}\n原定{appointment_time(starts_at)}的{kind}已取消。"
            + (f"\n原因：{reason}" if reason else "") + "\n专员会与您另行约定；有疑问可直接留言。")
    return _to_enterprise(session, case, key=f"appointment-cancel:{appointment_id}", purpose="appointment_cancelled",
                          template="progress", text=text,
                          data=_data(number=case.number, item=_short_time(kind, starts_at), state="已取消"))


APPOINTMENT_ANSWERS = {"confirmed": "已确认", "reschedule": "请求改期", "cancelled": "企业取消"}


def appointment_answered(session: Session, case: Case, commissioner: Staff, appointment_id: int, kind: str,
                         starts_at, answer: str, note: str | None, event_id: int,
                         console_url: str = "") -> Notification | None:
    """The enterprise confirmed the appointment, asked for another time (`note`: the time it wishes,
    in its words), or called it off (`note`: why, when it said)."""
    when = appointment_time(starts_at)
    if answer == "confirmed":
        what = f"企业已确认{when}的{kind}。"
    elif answer == "cancelled":
        what = f"企业已取消{when}的{kind}" + (f"：{note[:200]}" if note else "。") + "\n如仍需上门或预约，请与企业另行商定。"
    else:
        what = f"企业希望改期（原定{when}的{kind}）：{(note or '未写明时间')[:200]}\n请与企业商定后在工作台重新约定。"
    text = f"【预约答复】{case.number} {case.company_name}\n{what}"
    return _to_staff(session, case, commissioner, key=f"appointment-answer:{case.number}:{appointment_id}:{event_id}",
                     purpose="appointment_answered", template="item_reported", text=text, console_url=console_url,
                     data=_data(number=case.number, item=kind, state=APPOINTMENT_ANSWERS[answer]))


def appointment_staff_reminder(session: Session, case: Case, commissioner: Staff, appointment_id: int, kind: str,
                               starts_at, place: str, confirmed: bool, console_url: str = "") -> Notification | None:
    """The day before, the commissioner too: a 上门受理 is their trip, a 窗口预约 their morning."""
    state = "企业已确认" if confirmed else "企业尚未确认"
    text = (f"【明日预约】{case.number} {case.company_name}\n{kind}：{appointment_time(starts_at)}\n地点：{place}\n"
            f"{state}；联系人 {case.contact_name}。")
    return _to_staff(session, case, commissioner, key=f"appointment-remind-staff:{appointment_id}",
                     purpose="appointment_staff_reminder", template="item_reported", text=text, console_url=console_url,
                     data=_data(number=case.number, item=_short_time(kind, starts_at), state="明日预约"))
