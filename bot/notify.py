"""The pushes a case event causes: one function per event, each queueing its Notification(s).

Called inside the transaction that makes the change, so the push exists exactly when the change
does. Every text says the case number, what happened and what to do next; the idempotency key
names the event, so calling a function twice for the same event queues one push.

`template` is the purpose key the dispatcher maps to a template id (Settings.wechat_templates);
`data` holds short fields (≤ 20 characters, WeChat's template limit) for that fallback form.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from . import outbox
from .cases import ITEM_STATES
from .models import Case, CaseItem, Handoff, Notification, Staff

FIELD_MAX = 20
DELIVERY_METHODS = ("上门", "邮寄", "电子证照")
RATING_LEVELS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")


def _short(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= FIELD_MAX else text[: FIELD_MAX - 1] + "…"


def _data(**fields: object) -> dict:
    return {k: _short(v) for k, v in fields.items()}


def _to_enterprise(session: Session, case: Case, *, key: str, purpose: str, text: str,
                   data: dict) -> Notification | None:
    return outbox.enqueue(session, key=key, recipient=case.applicant_openid, recipient_kind="enterprise",
                          purpose=purpose, text=text, template=purpose, data=data, case_id=case.id)


def _to_staff(session: Session, case: Case, staff: Staff, *, key: str, purpose: str, text: str,
              data: dict, console_url: str = "") -> Notification | None:
    if not staff.wechat_openid:  # no WeChat bound: the console is where they will see it
        return None
    url = f"{console_url.rstrip('/')}/console/cases/{case.number}" if console_url else None
    return outbox.enqueue(session, key=key, recipient=staff.wechat_openid, recipient_kind="staff",
                          purpose=purpose, text=text, template=purpose, data=data, url=url, case_id=case.id)


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
        "submitted": "材料已递交审批部门，请保持电话畅通。",
        "accepted": "审批部门已受理，专员会持续跟踪催办。",
        "reviewing": "正在审批中，专员会持续跟踪催办。",
        "done": "该事项已办结，结果文件将统一送达。",
        "correction": "请按专员要求补正材料。",
        "pending": "专员会告知下一步安排。",
    }[item.state]
    text = (f"【办理进度】{case.number}\n事项：{item.name}\n状态：{ITEM_STATES.get(before, before)} → {state}\n"
            f"{next_step}")
    return _to_enterprise(session, case, key=f"progress:{case.number}:{event_id}", purpose="progress", text=text,
                          data=_data(number=case.number, item=item.name, state=state))


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
            f"{'/'.join(RATING_LEVELS)}。评价结果纳入专员考核。")
    return _to_enterprise(session, case, key=f"rating-invite:{case.number}", purpose="rating", text=text,
                          data=_data(number=case.number, project=case.project_name))


# -- to the commissioner --------------------------------------------------------------------

def assigned(session: Session, case: Case, commissioner: Staff, event_id: int,
             console_url: str = "") -> Notification | None:
    """A supervisor (re)assigned the case; the first assignment at submission is sent by
    bot.cases.submit with the key assign:{number}:{staff id}."""
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
            + ("\n请及时告知企业补正要求。" if item.state == "correction" else ""))
    return _to_staff(session, case, commissioner, key=f"reported:{case.number}:{event_id}", purpose="item_reported",
                     text=text, console_url=console_url,
                     data=_data(number=case.number, item=item.name, state=state))


def handoff_opened(session: Session, handoff: Handoff, staff: Staff, case: Case | None,
                   console_url: str = "") -> Notification | None:
    """转人工 reached this person: who asks (the company and case, when there is one) and what."""
    if not staff.wechat_openid:  # no WeChat bound: the console's 转人工 list is where they will see it
        return None
    about = f"企业：{case.company_name}（{case.number}）\n" if case else ""
    text = (f"【企业转人工】H{handoff.id}\n{about}问题：{handoff.question[:200]}\n"
            f"请在工作台「转人工」中答复，答复会推送给企业。")
    return outbox.enqueue(session, key=f"handoff:{handoff.id}:{staff.id}", recipient=staff.wechat_openid,
                          recipient_kind="staff", purpose="handoff", template="handoff", text=text,
                          data=_data(number=f"H{handoff.id}", question=handoff.question),
                          url=f"{console_url.rstrip('/')}/console/handoffs#h{handoff.id}" if console_url else None,
                          case_id=case.id if case else None)
