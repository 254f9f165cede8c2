"""How a push reads to a person: its Chinese name, and why it failed or still waits, with what to do.

The dispatcher keeps WeChat's own words in Notification.last_error ("custom: 40003 invalid
openid", "no channel left: …", "gave up after 8 attempts; last: …"): that is for the log and the
operator. Staff in the console read this instead. What to do depends on who the push was for:
an enterprise that cannot be reached is phoned; a colleague who cannot be reached is told in
person, and nobody is told to phone the enterprise about a push that was meant for staff.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.platform.clock import as_utc, local_text
from bot.vocabulary import NOTIFICATION_STATES, RecipientKind

PURPOSE_NAMES = {
    # to the enterprise
    "accepted": "受理通知", "progress": "进度通知", "correction": "补正通知", "completed": "办结通知",
    "delivered": "送达通知", "terminated": "终止通知", "rating": "评价邀请", "rating_reminder": "评价提醒",
    "sla_apology": "逾期致歉", "handoff_answer": "专员答复", "late_reply": "延迟答复",
    "rectification_feedback": "整改反馈", "plan_changed": "计划调整通知",
    # to staff
    "assignment": "分派提醒", "assignment_reminder": "待受理提醒", "accept_escalation": "受理超时提醒",
    "item_reported": "审批系统同步", "urge": "企业催办", "handoff": "转人工提醒", "rectification": "差评整改",
    "sla_warn": "临期提醒", "sla_urge": "超期催办", "sla_overdue": "超期汇总", "sla_escalate": "超期升级",
    "digest": "每日简报", "materials": "收到材料",
    # issue 17: contact changes, 重点项目, 提前介入
    "contact_changed": "联系人变更", "key_project": "重点项目提醒", "invitation": "提前介入邀请",
    "invitation_answered": "提前介入答复",
    # issue 17: 办结 the enterprise confirms, materials handed back
    "completion_confirm": "请确认办结", "completion_objected": "办结有异议", "materials_returned": "材料交还",
    # issue 17 item 7: escalation tiers
    "escalation": "提请协调", "escalation_overdue": "协调超期", "escalation_resolved": "协调结果",
    "escalation_told": "协调告知", "escalation_result": "协调结果告知",
    # issue 17 item 1: 上门受理 and 窗口预约
    "appointment": "预约通知", "appointment_reminder": "预约提醒", "appointment_cancelled": "预约取消",
    "appointment_answered": "预约答复", "appointment_staff_reminder": "明日预约提醒",
}
RECIPIENT_NAMES = {RecipientKind.ENTERPRISE: "企业", RecipientKind.STAFF: "工作人员"}
STATE_NAMES = NOTIFICATION_STATES
CHANNEL_NAMES = {"custom": "客服消息", "template": "模板消息", "subscribe": "订阅消息", "wecom": "企业微信"}
# What WeChat's TEMPLATESENDJOBFINISH event said of a template message (Notification.receipt).
RECEIPT_BLOCKED = "failed:user block"
RECEIPT_SYSTEM_FAILED = "failed: system failed"
RECEIPT_NAMES = {"success": "已送达", RECEIPT_BLOCKED: "用户拒收", RECEIPT_SYSTEM_FAILED: "微信未送达"}
# The last_error a failed receipt leaves on the push (bot/push/receipts.py), read back here.
RECEIPT_ERROR_PREFIX = "template: receipt "

# A push nobody has tried this long after it fell due is waiting for a dispatcher that is not
# there (the dispatcher looks every few seconds).
STALLED_AFTER = timedelta(minutes=2)


def purpose_name(purpose: str | None) -> str:
    return PURPOSE_NAMES.get(purpose or "", "系统通知")


def recipient_name(kind: str | None) -> str:
    return RECIPIENT_NAMES.get(kind or "", "工作人员")


def receipt_name(receipt: str | None) -> str | None:
    """「用户拒收」 for a template message the user blocked; None before WeChat said anything."""
    if not receipt:
        return None
    return RECEIPT_NAMES.get(receipt, "微信未送达" if receipt.startswith("failed") else receipt)


@dataclass(frozen=True)
class Explanation:
    reason: str  # what happened, in the reader's words
    advice: str  # what to do now

    def __str__(self) -> str:
        return f"{self.reason}。{self.advice}。"


# -- reading last_error ---------------------------------------------------------------------
_GAVE_UP = re.compile(r"^gave up after (\d+) attempts; last: ")
_CODE = re.compile(r"(?:^|: )(-?\d+)\b")  # "template: 40037 invalid…", "43004: require…"
_NO_ANSWER = ("network error", "token store error", "HTTP", "no response", "not JSON")

_TOKEN_CODES = {40001, 40002, 40013, 40014, 40125, 41001, 41002, 41004, 42001}
_RETRYABLE_CODES = {-1, 45011}
# WeCom (企业微信): the person is not reachable through the app; the app's configuration is wrong.
_WECOM_UNREACHABLE_USER = {81013, 60111, 82001}
_WECOM_CONFIG = {40001, 40013, 40014, 40056, 41001, 42001, 301002, 60020}


def _diagnose(last_error: str) -> tuple[str, int | None]:
    """(kind, errcode) of the failure that decided the row's fate: the last step recorded."""
    text = last_error or ""
    gave_up = _GAVE_UP.match(text)
    if gave_up:
        text = text[gave_up.end():]
    if "internal error" in text:
        return "internal", None
    final = text.rsplit("; ", 1)[-1]  # earlier steps are fallbacks the dispatcher moved past
    if final.startswith(RECEIPT_ERROR_PREFIX):
        status = final[len(RECEIPT_ERROR_PREFIX):]
        return ("blocked" if status == RECEIPT_BLOCKED else "not_delivered"), None
    if "no channel left" in final:
        return "no_channel", None
    match = _CODE.search(final)
    code = int(match.group(1)) if match else None
    if final.startswith("wecom:"):
        if code in _WECOM_UNREACHABLE_USER:
            return "wecom_user", code
        if code in _WECOM_CONFIG:
            return "wecom_config", code
        if code in _RETRYABLE_CODES or code in (45009, 45033) or (code is None and (gave_up or any(
                w in final for w in _NO_ANSWER))):
            return "wecom_unreachable", code
        return "wecom", code
    if code == 45009:
        return "quota", code
    if code in _TOKEN_CODES:
        return "credentials", code
    if code in _RETRYABLE_CODES or (code is None and (gave_up or any(w in final for w in _NO_ANSWER))):
        return "unreachable", code
    if code is None:
        return "unknown", None
    return "wechat", code


_TELL_ENTERPRISE = "请电话联系企业告知"
_TELL_COLLEAGUE = "紧急事项请当面或电话告知该工作人员"


def explain_failure(last_error: str | None, recipient_kind: str, template: str | None = None,
                    attempts: int = 0) -> Explanation:
    """Why a dead push failed and what the reader should do, for a push meant for `recipient_kind`."""
    enterprise = recipient_kind == RecipientKind.ENTERPRISE
    tell = _TELL_ENTERPRISE if enterprise else _TELL_COLLEAGUE
    who = "企业" if enterprise else "该工作人员"
    template_name = f"「{purpose_name(template)}」" if template else "这类"
    kind, code = _diagnose(last_error or "")
    if kind == "blocked":
        return Explanation(f"用户拒收：{who}已设置拒收本公众号的模板消息，微信没有送达",
                           f"{tell}；{who}在公众号中重新允许接收消息后，可点「重新发送」")
    if kind == "not_delivered":
        return Explanation("微信受理了这条模板消息，但因微信系统原因没有送达", f"可点「重新发送」；{tell}")
    if kind == "wecom_user":
        return Explanation(f"企业微信里找不到该工作人员，或其不在本应用的可见范围内（{code}）",
                           f"请管理员在企业微信管理后台把其加入应用可见范围，或核对其企业微信账号"
                           f"（bangban staff wecom）后点「重新发送」；{tell}")
    if kind == "wecom_config":
        return Explanation(f"企业微信应用的企业ID、Secret 或 AgentId 配置有误，企业微信拒绝了发送（{code}）",
                           f"请管理员核对企业微信配置后点「重新发送」；{tell}")
    if kind == "wecom_unreachable":
        tries = f"（已尝试 {attempts} 次）" if attempts else ""
        return Explanation(f"企业微信接口多次繁忙或连接不上{tries}", f"可稍后点「重新发送」；{tell}")
    if kind == "wecom":
        return Explanation(f"企业微信拒绝了这条消息（{code}）", f"请管理员查看日志后点「重新发送」；{tell}")
    if kind == "no_channel":
        return Explanation(
            f"{who}超过 48 小时没有在公众号留言，客服消息发不出去，也没有配置{template_name}模板消息",
            f"{tell}；管理员配置该模板消息后，可点「重新发送」")
    if kind == "credentials":
        return Explanation("公众号的开发者账号或密码配置有误，微信拒绝了发送",
                           f"请管理员核对公众号配置后点「重新发送」；{tell}")
    if kind == "unreachable":
        tries = f"（已尝试 {attempts} 次）" if attempts else ""
        return Explanation(f"微信接口多次繁忙或连接不上{tries}", f"可稍后点「重新发送」；{tell}")
    if kind == "internal":
        return Explanation("系统发送时出错", f"请管理员查看日志后点「重新发送」；{tell}")
    if code == 40003:
        if enterprise:
            return Explanation("本公众号找不到这位企业用户（微信账号标识无效）",
                               f"{tell}；企业重新关注公众号并留言后，可点「重新发送」")
        return Explanation("该工作人员绑定的微信账号无效",
                           f"请管理员为其重新绑定微信后点「重新发送」；{tell}")
    if code == 43004:
        if enterprise:
            return Explanation("企业已取消关注公众号，收不到消息", f"{tell}；企业重新关注后可点「重新发送」")
        return Explanation("该工作人员没有关注公众号", f"请提醒其关注公众号后点「重新发送」；{tell}")
    if code == 43101:
        return Explanation(f"{who}没有订阅此类消息", tell)
    if code == 40037:
        return Explanation(f"公众号后台没有{template_name}所配置的模板（模板编号无效）",
                           f"请管理员核对模板配置后点「重新发送」；{tell}")
    if code in (47001, 47003):
        return Explanation(f"消息内容不符合{template_name}模板的字段要求",
                           f"请管理员核对模板字段后点「重新发送」；{tell}")
    if code in (44002, 44004, 45002):
        return Explanation("消息内容为空或超出微信的长度限制", f"请管理员查看日志；{tell}")
    return Explanation("微信拒绝了这条消息", f"请管理员查看日志后点「重新发送」；{tell}")


def explain_waiting(*, attempts: int, last_error: str | None, next_attempt_at: datetime | None,
                    configured: bool, now: datetime) -> str | None:
    """Why a pending push has not gone out yet, or None while it is simply next in line."""
    if not configured:
        return "本系统尚未接入微信公众号，消息会一直待发送，接入后自动发出"
    due = as_utc(next_attempt_at) if next_attempt_at else None
    when = local_text(due) if due else ""
    if last_error:
        kind, code = _diagnose(last_error)
        if kind == "quota":
            return f"今日模板消息额度已用完，将于 {when} 后自动重发"
        why = {"credentials": "公众号凭证被微信拒绝", "unreachable": "微信接口繁忙或连接不上",
               "internal": "系统发送时出错", "wecom_unreachable": "企业微信接口繁忙或连接不上",
               "wecom_config": "企业微信凭证被拒绝"}.get(kind, "微信暂时没有接收")
        return f"第 {attempts} 次发送未成功（{why}），将于 {when} 自动重试"
    if due is not None and now - due > STALLED_AFTER:
        return "发送程序还没有处理这条消息，可能没有在运行：请管理员确认服务（含后台任务）已启动"
    return None


# -- after a console action: will the push just queued reach its person? --------------------
def reach_notice(obstacle: str, audience: RecipientKind, template: str | None, *, contact: str = "",
                 phone: str = "") -> str:
    """What to say for a push that cannot reach its recipient (bot.push.dispatcher.obstacles)."""
    template_name = f"「{purpose_name(template)}」" if template else "相应的"
    if audience == RecipientKind.ENTERPRISE:
        who = "、".join(p for p in (contact, phone) if p)
        tell = f"请电话告知企业{f'（{who}）' if who else ''}。"
        why = {
            "unconfigured": "本系统尚未接入微信公众号，通知暂存待发送，",
            "unsubscribed": "企业已取消关注公众号，收不到微信通知，",
            "no_channel": f"企业超过 48 小时没有在公众号留言，且未配置{template_name}模板消息，微信通知发不出去，",
        }.get(obstacle, "微信通知暂时发不出去，")
        return why + tell
    why = {
        "unconfigured": "本系统尚未接入微信公众号，提醒暂存待发送，",
        "unsubscribed": "该专员未关注公众号，收不到微信提醒，",
        "no_channel": f"该专员超过 48 小时没有在公众号留言，且未配置{template_name}模板消息，微信提醒发不出去，",
    }.get(obstacle, "微信提醒暂时发不出去，")
    return why + "请另行告知专员。"


def nobody_queued(audience: RecipientKind) -> str:
    """No push was queued for `audience`: for staff, the person has no WeChat bound."""
    return "" if audience == RecipientKind.ENTERPRISE else "该专员未绑定微信，收不到提醒，请另行告知。"
