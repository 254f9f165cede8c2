"""The words the service's records are written in: case and item states, staff roles, who acts
and who is told. One StrEnum each, with the name people read.

A StrEnum member is its string (`CaseState.APPLIED == "applied"`, the same hash, formatted and
stored as the plain value), so the database, templates, JSON and tests keep reading the strings;
code names the member, so a typo is an AttributeError rather than a state nobody ever reaches.
"""
from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    APPLIED = "applied"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DELIVERED = "delivered"
    RATED = "rated"
    ARCHIVED = "archived"
    TERMINATED = "terminated"


class ItemState(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    CORRECTION = "correction"
    REVIEWING = "reviewing"
    DONE = "done"


class Role(StrEnum):
    """A staff member's role (Staff.role)."""

    COMMISSIONER = "commissioner"
    SUPERVISOR = "supervisor"


class ActorKind(StrEnum):
    """Who wrote a ledger line (LedgerEntry.actor_kind): the enterprise, a staff member in their
    role, or the system (the approval system's API, the scheduler's sweeps)."""

    ENTERPRISE = "enterprise"
    COMMISSIONER = "commissioner"
    SUPERVISOR = "supervisor"
    SYSTEM = "system"


class RecipientKind(StrEnum):
    """Whom a push is for (Notification.recipient_kind)."""

    ENTERPRISE = "enterprise"
    STAFF = "staff"


class QrKind(StrEnum):
    """What a 带参数二维码 is for (WechatQrCode.kind, and the prefix of its scene)."""

    REGION = "region"  # a region's 帮代办窗口 poster: permanent, scanned by anyone
    STAFF_BIND = "staff_bind"  # binds the scanning WeChat account to one staff member: temporary, once


class NotificationState(StrEnum):
    """A push in the outbox (Notification.state): waiting or retrying, delivered, failed for good."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class HandoffState(StrEnum):
    """A 转人工 question (Handoff.state): waiting for a person, or answered."""

    OPEN = "open"
    ANSWERED = "answered"


class RectificationState(StrEnum):
    """A 差评整改 (Rectification.state): opened by a bad rating, 回访 done, then 办结."""

    OPEN = "open"
    VISITED = "visited"
    CLOSED = "closed"


class EscalationState(StrEnum):
    """A 协调事项 raised to a tier of the region's escalation ladder (Escalation.state)."""

    OPEN = "open"
    RESOLVED = "resolved"
    MOVED_UP = "moved_up"  # raised on to the next tier (issue 17 item 7): that row carries on


# What people read for each state (console, exports, chat, pushes), in the state machine's order.
CASE_STATES: dict[CaseState, str] = {
    CaseState.APPLIED: "已申请", CaseState.ACCEPTED: "已受理", CaseState.IN_PROGRESS: "办理中",
    CaseState.COMPLETED: "已办结", CaseState.DELIVERED: "已送达", CaseState.RATED: "已评价",
    CaseState.ARCHIVED: "已归档", CaseState.TERMINATED: "已终止",
}
ITEM_STATES: dict[ItemState, str] = {
    ItemState.PENDING: "待申报", ItemState.SUBMITTED: "已申报", ItemState.ACCEPTED: "已受理",
    ItemState.CORRECTION: "需补正", ItemState.REVIEWING: "审批中", ItemState.DONE: "已办结",
}
ACTOR_KINDS: dict[ActorKind, str] = {
    ActorKind.ENTERPRISE: "企业", ActorKind.COMMISSIONER: "专员", ActorKind.SUPERVISOR: "主管",
    ActorKind.SYSTEM: "系统",
}

# A case still being handled: the service's promises (due dates, 催办, the SLA sweep) apply.
OPEN_STATES: tuple[CaseState, ...] = (CaseState.APPLIED, CaseState.ACCEPTED, CaseState.IN_PROGRESS)
ROLES: dict[Role, str] = {Role.COMMISSIONER: "帮代办专员", Role.SUPERVISOR: "主管"}

# 好差评's national five levels (5 best), as the rating asks and every report shows them.
RATING_LEVELS: dict[int, str] = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
RECTIFICATION_STATES: dict[RectificationState, str] = {
    RectificationState.OPEN: "待回访", RectificationState.VISITED: "已回访", RectificationState.CLOSED: "已办结",
}
ESCALATION_STATES: dict[EscalationState, str] = {EscalationState.OPEN: "待解决", EscalationState.RESOLVED: "已解决",
                                                 EscalationState.MOVED_UP: "已上报上一级"}


class InvitationState(StrEnum):
    """A 提前介入 invitation (CaseInvitation.state)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class CompletionState(StrEnum):
    """The enterprise's answer to a 办结 awaiting its confirmation (CompletionConfirmation.state;
    issue 17 item 3, 县级市 seed 003 「委托代办事项经投资者确认后办结」)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DEEMED = "deemed"  # the deadline passed without an answer: counts as confirmed
    OBJECTED = "objected"
    WITHDRAWN = "withdrawn"  # the case was terminated while the enterprise was asked


COMPLETION_STATES: dict[CompletionState, str] = {
    CompletionState.PENDING: "待企业确认办结", CompletionState.CONFIRMED: "企业确认办结",
    CompletionState.DEEMED: "逾期视为确认", CompletionState.OBJECTED: "企业对办结有异议",
    CompletionState.WITHDRAWN: "案件终止，办结确认撤回",
}
# How materials are handed back to the enterprise on 办结 or 终止 (MaterialHandback.method; seed 003).
HANDBACK_METHODS: tuple[str, ...] = ("当面", "邮寄")
NOTIFICATION_STATES: dict[NotificationState, str] = {
    NotificationState.PENDING: "待发送", NotificationState.SENT: "已发送", NotificationState.DEAD: "发送失败",
}


# -- issue 17 item 1: 上门受理 and 窗口预约 (bot/casework/appointments.py) ----------------------------

class AppointmentKind(StrEnum):
    """What a commissioner proposes (Appointment.kind): 江北 seed 000 「上门受理」 — the 代办专员
    goes to the enterprise; 东湖 seed 004 「预约企业上门」 — the enterprise comes to the 帮代办窗口."""

    VISIT = "visit"
    WINDOW = "window"


class AppointmentState(StrEnum):
    """An appointment (Appointment.state), from the proposal to what happened."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    RESCHEDULE_REQUESTED = "reschedule_requested"  # the enterprise asked for another time, in its words
    CANCELLED = "cancelled"  # by the commissioner, or replaced by a new proposal
    DONE = "done"
    MISSED = "missed"


APPOINTMENT_KINDS: dict[AppointmentKind, str] = {AppointmentKind.VISIT: "上门受理", AppointmentKind.WINDOW: "窗口预约"}
APPOINTMENT_STATES: dict[AppointmentState, str] = {
    AppointmentState.PROPOSED: "待企业确认", AppointmentState.CONFIRMED: "企业已确认",
    AppointmentState.RESCHEDULE_REQUESTED: "企业请求改期", AppointmentState.CANCELLED: "已取消",
    AppointmentState.DONE: "已完成", AppointmentState.MISSED: "未能进行",
}
# The states of an appointment still ahead: shown in 「我的预约」, reminded the day before.
ACTIVE_APPOINTMENT_STATES: tuple[AppointmentState, ...] = (
    AppointmentState.PROPOSED, AppointmentState.CONFIRMED, AppointmentState.RESCHEDULE_REQUESTED)


# -- issue 17 item 5: 立卷归档 as an action (bot/casework/archiving.py) --------------------------

class ArchiveCheck(StrEnum):
    """One point of the completeness check before 立卷归档 (seed 004 「对帮办代办服务过程中申报材料及
    证照结果进行立卷归档」, seed 003 「终止及办结的代办项目…及时归档，并将…资料及时交还投资者」)."""

    AGREEMENT = "agreement"  # 委托协议 agreed (代办)
    RESULTS = "results"  # every item has its result, or the case was terminated
    DELIVERY = "delivery"  # how the results were delivered (送达)
    RATING = "rating"  # 好差评, or its recorded absence (企业未评价)
    HANDBACK = "handback"  # materials handed back, or 无需退还
    MATERIALS = "materials"  # photos and files from the chat all downloaded
    RECTIFICATION = "rectification"  # every 整改 closed
    ESCALATION = "escalation"  # every 协调事项 resolved


ARCHIVE_CHECKS: dict[ArchiveCheck, str] = {
    ArchiveCheck.AGREEMENT: "委托协议", ArchiveCheck.RESULTS: "事项办理结果", ArchiveCheck.DELIVERY: "送达记录",
    ArchiveCheck.RATING: "服务评价", ArchiveCheck.HANDBACK: "材料退还", ArchiveCheck.MATERIALS: "微信材料下载",
    ArchiveCheck.RECTIFICATION: "差评整改", ArchiveCheck.ESCALATION: "协调事项",
}
