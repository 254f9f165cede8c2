"""Domain tables (SQLAlchemy 2). Schema changes go through Alembic in bot/migrations/."""
from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.vocabulary import ItemState

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class WechatUser(Base):
    """Someone who follows or writes to the Official Account (an enterprise clerk, usually)."""

    __tablename__ = "wechat_users"

    openid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(default=True)
    region: Mapped[str | None] = mapped_column(sa.String(32))
    first_seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # The 48-hour customer-service window opens with the user's last message.
    last_message_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # When an application form was opened and is not yet submitted or cancelled. The form's answers
    # live in Redis; this survives Redis restarting empty, so the user can be told to start again.
    form_started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class KbQuery(Base):
    """One consultation question and how the knowledge base fared: curators read the gaps."""

    __tablename__ = "kb_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    asked_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    user_ref: Mapped[str] = mapped_column(sa.String(16))  # hashed openid, never the openid
    question: Mapped[str] = mapped_column(sa.String(500))
    normalized: Mapped[str] = mapped_column(sa.String(500), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16), index=True)  # answered|clarified|unsure
    topic: Mapped[str | None] = mapped_column(sa.String(80))
    confidence: Mapped[float] = mapped_column(default=0.0)


class Staff(Base):
    """A 帮代办专员 (commissioner) or a supervisor (大厅管理/营建办) of one jurisdiction."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(16))  # commissioner | supervisor
    region: Mapped[str] = mapped_column(sa.String(32), index=True)
    wechat_openid: Mapped[str | None] = mapped_column(sa.String(64))  # where alerts go
    wecom_userid: Mapped[str | None] = mapped_column(sa.String(64))  # 企业微信 UserID: alerts go there first
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Every console session carries the generation it was signed in under; signing out, a new
    # password or deactivation moves it on, and every cookie of the old one stops working.
    session_generation: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class CaseCounter(Base):
    """Per-year sequence behind case numbers like BD-2026-000123 (row-locked on increment)."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class Case(Base):
    """One 帮办/代办 request, from the chat application to the archive."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    mode: Mapped[str] = mapped_column(sa.String(8))  # 帮办 | 代办
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    applicant_openid: Mapped[str] = mapped_column(sa.String(64), index=True)
    company_name: Mapped[str] = mapped_column(sa.String(120))
    credit_code: Mapped[str] = mapped_column(sa.String(18), index=True)
    project_name: Mapped[str] = mapped_column(sa.String(200))
    project_code: Mapped[str | None] = mapped_column(sa.String(32))
    region: Mapped[str] = mapped_column(sa.String(32), index=True)
    investment_type: Mapped[str] = mapped_column(sa.String(16))  # 社会投资 | 政府投资
    key_project: Mapped[bool] = mapped_column(default=False)
    project_kind: Mapped[str | None] = mapped_column(sa.String(32))  # e.g. 工业, 经营性房地产开发
    stage: Mapped[str] = mapped_column(sa.String(16))
    contact_name: Mapped[str] = mapped_column(sa.String(64))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(32))
    agreement_consented_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    commissioner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    accepted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    termination_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # Idempotency for the chat submission: a retried "确认" never makes a second case.
    submission_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # 服务选项 where the region offers them (config/region_service.yaml; 延津: 24小时帮办代办,
    # 分阶段帮办代办, 全程帮办代办), chosen in the form or by the commissioner who opened the case.
    service_option: Mapped[str | None] = mapped_column(sa.String(16))


class CaseItem(Base):
    """One approval item (审批事项) tracked inside a case, with its committed due date."""

    __tablename__ = "case_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    item_code: Mapped[str] = mapped_column(sa.String(64))  # knowledge items.yaml id
    name: Mapped[str] = mapped_column(sa.String(120))
    department: Mapped[str] = mapped_column(sa.String(120))
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    time_limit_wd: Mapped[int | None] = mapped_column()
    due_date: Mapped[date | None] = mapped_column(sa.Date, index=True)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # 一企一策 plan (issue 17, item 10): the date agreed for this item, proposed on 受理 from the
    # time limits and working days, editable by the commissioner (ledger 计划调整). bot/casework/plans.py.
    planned_date: Mapped[date | None] = mapped_column(sa.Date)

    # 超期 (overdue), the one definition: not 办结 and its committed date is before `today` (a
    # service-time date, bot.platform.clock.today()). An item due today is not overdue yet, and an item
    # without a published time limit never is. Whether the case is still open is the caller's
    # filter (a closed case's items are nobody's to chase). In Python on a row, in SQL on the
    # class: `CaseItem.overdue_on(today)` is a WHERE condition.
    @hybrid_method
    def overdue_on(self, today: date) -> bool:
        return self.state != ItemState.DONE and self.due_date is not None and self.due_date < today

    @overdue_on.expression
    def overdue_on(cls, today: date) -> sa.ColumnElement[bool]:
        return sa.and_(cls.state != ItemState.DONE, cls.due_date < today)  # NULL < today is not true


class LedgerEntry(Base):
    """服务记录台账: every action on a case, append-only (nothing is updated or deleted)."""

    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    case_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_items.id"))
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))  # enterprise | commissioner | supervisor | system
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    attachments: Mapped[list | None] = mapped_column(sa.JSON)


class Notification(Base):
    """Transactional outbox: written with the change that causes it, sent by the dispatcher."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    # The Official Account address; None for staff reached only through WeCom.
    recipient_openid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    recipient_wecom_userid: Mapped[str | None] = mapped_column(sa.String(64))  # staff's 企业微信 UserID
    # The colleague a staff push is for: the dispatcher sends to their WeCom UserID as it is when
    # sent (corrected after a failure, a 重新发送 goes to the right one).
    recipient_staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    recipient_kind: Mapped[str] = mapped_column(sa.String(16))  # enterprise | staff
    purpose: Mapped[str] = mapped_column(sa.String(32))  # assignment, accepted, progress, ...
    text: Mapped[str] = mapped_column(sa.Text)  # the customer-service message form
    template: Mapped[str | None] = mapped_column(sa.String(32))  # template key for the fallback form
    data: Mapped[dict | None] = mapped_column(sa.JSON)  # template fields
    url: Mapped[str | None] = mapped_column(sa.String(500))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(12), default="pending", index=True)  # pending|sent|dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    channel: Mapped[str | None] = mapped_column(sa.String(16))  # how it finally went: custom|template|subscribe|wecom
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # A template message's msgid, and what WeChat's TEMPLATESENDJOBFINISH event said of it
    # ("success", "failed:user block", "failed: system failed"), bot/push/receipts.py.
    msgid: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    receipt: Mapped[str | None] = mapped_column(sa.String(40))
    receipt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token for the 工程建设项目审批管理系统 API, acting for one staff member with the
    console's role and region rules, limited further by its scopes.

    Only a SHA-256 of the token is kept: the token is random and long, so a fast hash is enough
    and lets a request be looked up by hash; a leaked table does not leak usable tokens.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))  # first characters, to tell tokens apart in lists
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(80), default="")
    # Space-separated, as in OAuth: "read" (cases) or "read write" (also item progress).
    scopes: Mapped[str] = mapped_column(sa.String(40), default="read")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Handoff(Base):
    """转人工: a question the bot could not answer, waiting for a person of the user's region."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(sa.String(64), index=True)
    region: Mapped[str | None] = mapped_column(sa.String(32), index=True)  # None: any supervisor may take it
    # From a user with a case: that case (its region is the handoff's) and its commissioner then.
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    commissioner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    question: Mapped[str] = mapped_column(sa.Text)
    asked_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    state: Mapped[str] = mapped_column(sa.String(12), default="open", index=True)  # open | answered
    answered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Rating(Base):
    """好差评 for one case (一事一评): the national five levels plus 效率/态度/廉洁 (seed 001)."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    openid: Mapped[str] = mapped_column(sa.String(64), index=True)
    level: Mapped[int] = mapped_column()  # 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意
    efficiency: Mapped[int | None] = mapped_column()  # the same 1-5 scale, optional
    attitude: Mapped[int | None] = mapped_column()
    integrity: Mapped[int | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class Rectification(Base):
    """整改 after a bad rating, with its 回访 (return visit): assigned to a supervisor, due, closed."""

    __tablename__ = "rectifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id"), unique=True)
    supervisor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    due_date: Mapped[date] = mapped_column(sa.Date, index=True)
    state: Mapped[str] = mapped_column(sa.String(12), default="open", index=True)  # open | visited | closed
    visit_note: Mapped[str | None] = mapped_column(sa.Text)  # what the 回访 found
    outcome: Mapped[str | None] = mapped_column(sa.Text)  # what was rectified
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Escalation(Base):
    """A case problem raised to 联席会议 or 工改领导小组 (seeds 000-004), tracked to resolution."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    level: Mapped[str] = mapped_column(sa.String(16))  # a tier of the region's escalation_ladder (older rows: 联席会议 | 工改领导小组)
    note: Mapped[str] = mapped_column(sa.Text)
    raised_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    raised_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(sa.String(12), default="open", index=True)  # open | resolved | moved_up
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    resolved_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # -- escalation tiers per region (issue 17 item 7; bot/supervision/escalations.py) --
    # The answer is due by this working day (the tier's due_workdays); rows from before have none.
    due_date: Mapped[date | None] = mapped_column(sa.Date, index=True)
    # The lower tier this one was moved up from (that row's state is then moved_up).
    previous_id: Mapped[int | None] = mapped_column(sa.ForeignKey("escalations.id"))
    skip_reason: Mapped[str | None] = mapped_column(sa.Text)  # why a tier was skipped, when one was
    # 「告知企业」 ticked on raise / on resolve: the enterprise was pushed it and 「我的申请」 shows it.
    tell_enterprise: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    resolution_told: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    resolved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    # When the due-passed line was written: the scheduler's once-only guard.
    overdue_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class CaseMaterial(Base):
    """A photo or file the enterprise sent in the chat as material of its case (issue 16).

    The row is written in the webhook's transaction, before the reply: what WeChat delivered is
    never lost, and the download (bot/casework/materials.py, a scheduler job) resumes after a
    restart. WeChat keeps temporary media 3 days, so it is fetched at once and retried until then.
    """

    __tablename__ = "case_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    # The 补正 item waiting for material when it arrived, if any.
    case_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_items.id"))
    sender_openid: Mapped[str] = mapped_column(sa.String(64), index=True)
    # The message it came in (sender + MsgId): WeChat's retries store it once.
    message_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # image | file
    media_id: Mapped[str | None] = mapped_column(sa.String(128))
    file_name: Mapped[str | None] = mapped_column(sa.String(200))
    content_type: Mapped[str | None] = mapped_column(sa.String(80))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    md5: Mapped[str | None] = mapped_column(sa.String(32))
    received_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # pending (to download) | stored | failed (permanent: last_error says why) | listed (a file
    # message WeChat gives no download for: its name, size and MD5 are kept)
    state: Mapped[str] = mapped_column(sa.String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    storage_key: Mapped[str | None] = mapped_column(sa.String(300))
    stored_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # When the commissioner's push covering it was queued (one push per batch).
    notified_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), index=True)


class WechatQrCode(Base):
    """A 带参数二维码 minted by `bangban wechat qr region` (a region's 帮代办窗口 poster, permanent) or
    `bangban staff bind-qr` (one staff member's binding code: temporary, used once). A binding
    code's scene carries an unguessable token; only its hash is kept."""

    __tablename__ = "wechat_qr_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # QrKind: region | staff_bind
    region: Mapped[str | None] = mapped_column(sa.String(32))  # a poster's region
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"), index=True)  # whom a binding code binds
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)  # sha256 of a binding code's token
    ticket: Mapped[str | None] = mapped_column(sa.String(255))
    url: Mapped[str | None] = mapped_column(sa.String(1024))  # showqrcode?ticket=...
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))  # None: permanent
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    used_by: Mapped[str | None] = mapped_column(sa.String(64))  # the openid that scanned it


class CaseInvitation(Base):
    """提前介入 (seeds 001, 004): a commissioner opened the case before the enterprise applied and
    invites it; the enterprise accepts (「确认」) or declines (「不需要」) in the chat. Until then the
    case has no applicant: `openid`, or failing that `phone` (matched against the contact phones
    of the user's earlier cases), says whom the invitation is for."""

    __tablename__ = "case_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    openid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    invited_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    invited_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(sa.String(12), default="pending", index=True)  # InvitationState
    answered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    answered_openid: Mapped[str | None] = mapped_column(sa.String(64))


class CompletionConfirmation(Base):
    """办结 the enterprise confirms (issue 17 item 3; 县级市 seed 003 「委托代办事项经投资者确认后办结」):
    where the region asks for it (config/region_service.yaml), the commissioner's 办结 waits for the
    enterprise's 「确认办结」 in the chat, or its 「有问题」 with a reason (the case stays open), until
    `deadline`, after which the scheduler counts it as confirmed. One row per request."""

    __tablename__ = "completion_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    requested_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    deadline: Mapped[date] = mapped_column(sa.Date, index=True)  # the last day to answer (service time)
    state: Mapped[str] = mapped_column(sa.String(12), default="pending", index=True)  # CompletionState
    answered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    answered_openid: Mapped[str | None] = mapped_column(sa.String(64))
    objection: Mapped[str | None] = mapped_column(sa.Text)


class MaterialHandback(Base):
    """Materials handed back to the enterprise on 办结 or 终止 (issue 17 item 4; seed 003 「将涉及项目
    的有关资料及时交还投资者」): what (a checklist from the 一次性告知 and the chat's materials), how
    (当面/邮寄), when, signed for by whom; the enterprise confirms receipt in the chat."""

    __tablename__ = "material_handbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    occasion: Mapped[str] = mapped_column(sa.String(8))  # 办结 | 终止
    materials: Mapped[list] = mapped_column(sa.JSON)  # the names of what was returned
    method: Mapped[str] = mapped_column(sa.String(8))  # 当面 | 邮寄
    returned_on: Mapped[date] = mapped_column(sa.Date)
    signed_by: Mapped[str] = mapped_column(sa.String(64))  # who signed for it (签收人)
    tracking_number: Mapped[str | None] = mapped_column(sa.String(40))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    confirmed_openid: Mapped[str | None] = mapped_column(sa.String(64))


class CaseAgreement(Base):
    """The 委托协议 a case agreed to (issue 17, item 2): which region's text and version, a copy of
    that text as agreed, when and by whom (the form's openid, name and phone). The texts live in
    config/agreements/<region>/<version>.yaml (bot/casework/agreements.py); a new version file
    never changes this row."""

    __tablename__ = "case_agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    region: Mapped[str] = mapped_column(sa.String(32))  # the folder the text came from (a region, or default)
    version: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(200))
    effective_from: Mapped[date] = mapped_column(sa.Date)
    text: Mapped[str] = mapped_column(sa.Text)  # the whole text as agreed
    sha256: Mapped[str] = mapped_column(sa.String(64))
    agreed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    agreed_openid: Mapped[str] = mapped_column(sa.String(64))
    agreed_name: Mapped[str] = mapped_column(sa.String(64))
    agreed_phone: Mapped[str | None] = mapped_column(sa.String(32))


class Appointment(Base):
    """上门受理 or 窗口预约 (issue 17 item 1; 江北 seed 000 代办 「上门受理」, 东湖 seed 004 「预约企业上门」):
    the commissioner proposes a time and place and what to bring; the enterprise confirms it or
    asks for another time (its words kept) in the chat; a reminder goes out the day before
    (`reminded_at`: once); afterwards the commissioner records what happened (done / missed)."""

    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # AppointmentKind: visit | window
    starts_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    place: Mapped[str] = mapped_column(sa.String(200))
    bring: Mapped[str | None] = mapped_column(sa.Text)  # what the enterprise should have ready
    note: Mapped[str | None] = mapped_column(sa.String(200))
    state: Mapped[str] = mapped_column(sa.String(24), default="proposed", index=True)  # AppointmentState
    proposed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    proposed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    enterprise_note: Mapped[str | None] = mapped_column(sa.String(300))  # 「改个时间 下周二上午」: the time it asked for
    reminded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(sa.String(500))  # what was received, or why it did not happen
    outcome_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class CaseArchive(Base):
    """立卷归档 (issue 17 item 5; seed 004 「对帮办代办服务过程中申报材料及证照结果进行立卷归档」): who
    archived the case and when, the completeness check as it stood then (bot/casework/archiving.py),
    and a supervisor's reason for archiving with a non-essential part missing. One per case: an
    archived case is read-only."""

    __tablename__ = "case_archives"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)  # 归档编号 GD-2026-000123 (the case's BD number)
    archived_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    actor_kind: Mapped[str] = mapped_column(sa.String(16))  # commissioner | supervisor
    archived_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    checklist: Mapped[list] = mapped_column(sa.JSON)  # [{key, title, ok, required, detail}, ...] at archiving
    reason: Mapped[str | None] = mapped_column(sa.String(300))  # why archived with something missing (主管)
    no_return_needed: Mapped[bool] = mapped_column(default=False)  # 「无需退还」 ticked
    rating_absent: Mapped[bool] = mapped_column(default=False)  # 「企业未评价」 recorded
