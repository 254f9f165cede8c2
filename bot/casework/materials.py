"""Photos and files the enterprise sends in the chat, kept as material of its case (issue 16).

Three steps, each safe to repeat and to interrupt:

1. `receive` (the webhook's transaction, before the reply): the message becomes a CaseMaterial
   row of the sender's open case — the one waiting for 补正 first — with its ledger line (收到材料,
   on the 补正 item when there is one). Nothing WeChat delivered is lost on a restart: the row
   exists before the user reads 「已收到」.
2. `download_due` (a scheduler job): each pending row's media is fetched through the API
   (media/get) and put in the store (bot/casework/materials_store.py), outbox-style: claimed with
   a lease, retried with backoff, a permanent failure recorded (40007: the media_id is invalid or
   expired; WeChat keeps temporary media 3 days) with its own ledger line.
3. `notify_batches` (the same job): the commissioner hears of a case's new material once per
   batch, when none came for `material_quiet_s`, not once per photo.

A WeChat file message (MsgType file: Title, FileKey, FileMd5, FileTotalLen) carries no media_id,
and no documented API returns a file by its FileKey: such a file is kept as a listed material
(name, size, MD5), for the commissioner to collect, unless the message did carry a MediaId.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from bot.casework import cases
from bot.models import Case, CaseItem, CaseMaterial, Staff, utcnow
from bot.people import users
from bot.platform.clock import as_utc
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.push import notify
from bot.vocabulary import OPEN_STATES, ActorKind, ItemState

logger = logging.getLogger(__name__)

RECEIVED = "material:received"  # 收到材料
FAILED = "material:failed"  # 材料未能保存

PENDING, STORED, FAILED_STATE, LISTED = "pending", "stored", "failed", "listed"
STATE_NAMES = {PENDING: "接收中", STORED: "已保存", FAILED_STATE: "未能保存", LISTED: "已登记（待专员收取原件）"}
KIND_NAMES = {"image": "图片", "file": "文件"}

# WeChat keeps temporary media (what a user sends) for 3 days.
MEDIA_LIFETIME = timedelta(days=3)
LEASE = timedelta(minutes=2)
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0
MAX_ATTEMPTS = 10
BATCH = 20
# media/get answers that no retry can change.
PERMANENT_ERRCODES = {40007: "媒体文件ID无效或已过期（40007）", 41006: "缺少媒体文件ID（41006）"}
# How a permanent failure begins (CaseMaterial.last_error), and what the sender is told of it.
WRONG_TYPE, TOO_LARGE = "文件类型不在允许范围", "文件超过"
EXPIRED = "超过微信临时素材的3天有效期，未能下载"


def reason_for_the_sender(last_error: str | None) -> str:
    error = last_error or ""
    if error.startswith(WRONG_TYPE):
        return "格式不支持"
    if error.startswith(TOO_LARGE):
        return error.split("（", 1)[0].replace(TOO_LARGE, "超过").replace(" 的上限", "").strip()
    return "微信已不再提供该文件"


CONTENT_TYPES = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/png": "png", "image/gif": "gif",
                 "image/bmp": "bmp", "application/pdf": "pdf"}


@dataclass(frozen=True)
class Receipt:
    """What `receive` did, for the chat's answer (dialogs/texts/materials.py)."""

    outcome: str  # kept | no_case | form_open | refused_type | refused_size
    kind: str
    case_number: str | None = None
    count: int = 0  # the case's materials, this one included (failed ones not counted)
    correction_items: tuple[str, ...] = ()
    limit_mb: int = 0
    allowed: tuple[str, ...] = field(default_factory=tuple)
    listed: bool = False  # a file WeChat gives no download for: registered, the commissioner collects it


def extension(name: str | None) -> str:
    match = re.search(r"\.([A-Za-z0-9]{1,8})$", (name or "").strip())
    return match.group(1).lower() if match else ""


def target_case(session: Session, openid: str) -> tuple[Case, list[CaseItem]] | None:
    """The case a material from `openid` belongs to: of their open cases, the newest one waiting
    for 补正, else the newest; with its items now 需补正."""
    open_cases = list(session.scalars(sa.select(Case).where(Case.applicant_openid == openid,
                                                            Case.state.in_(OPEN_STATES))
                                      .order_by(Case.created_at.desc(), Case.id.desc())))
    if not open_cases:
        return None
    waiting = {}
    for item in session.scalars(sa.select(CaseItem).where(CaseItem.case_id.in_([c.id for c in open_cases]),
                                                          CaseItem.state == ItemState.CORRECTION)
                                .order_by(CaseItem.id)):
        waiting.setdefault(item.case_id, []).append(item)
    for case in open_cases:
        if case.id in waiting:
            return case, waiting[case.id]
    return open_cases[0], []


def count_of(session: Session, case_id: int) -> int:
    return session.scalar(sa.select(sa.func.count(CaseMaterial.id)).where(
        CaseMaterial.case_id == case_id, CaseMaterial.state != FAILED_STATE)) or 0


def receive(session: Session, settings: Settings, *, openid: str, message_key: str, kind: str,
            media_id: str | None = None, file_name: str | None = None, size: int | None = None,
            md5: str | None = None, now: datetime | None = None) -> Receipt:
    """Keep one image or file message as material of the sender's open case (see the module)."""
    now = now or utcnow()
    users.touch(session, openid)  # a photo is a message too: WeChat's 48-hour window opens with it
    found = target_case(session, openid)
    if found is None:
        started = users.form_started_at(session, openid)
        if started is not None and (now - as_utc(started)).total_seconds() < settings.conversation_ttl_s:
            return Receipt("form_open", kind)  # applying right now: the case does not exist yet
        return Receipt("no_case", kind)
    case, waiting = found
    earlier = session.scalar(sa.select(CaseMaterial).where(CaseMaterial.message_key == message_key))
    if earlier is not None:  # WeChat delivered it again: the first receipt stands
        return Receipt("kept", kind, case.number, count_of(session, earlier.case_id),
                       tuple(i.name for i in waiting), listed=earlier.state == LISTED)
    if kind == "file":
        ext = extension(file_name)
        if ext not in settings.material_file_types:
            return Receipt("refused_type", kind, case.number, allowed=settings.material_file_types)
        if size is not None and size > settings.material_file_max_bytes:
            return Receipt("refused_size", kind, case.number, limit_mb=settings.material_file_max_bytes // 2**20)
    item = waiting[0] if waiting else None
    row = CaseMaterial(case_id=case.id, case_item_id=item.id if item else None, sender_openid=openid,
                       message_key=message_key[:120], kind=kind, media_id=media_id or None,
                       file_name=(file_name or None) and file_name.strip()[:200], size=size, md5=(md5 or None) and md5[:32],
                       received_at=now, next_attempt_at=now, state=PENDING if media_id else LISTED)
    session.add(row)
    session.flush()
    what = KIND_NAMES.get(kind, "材料") + (f"《{row.file_name}》" if row.file_name else "")
    detail = f"企业在微信中发来{what}（材料 M{row.id}）"
    if item is not None:
        detail += f"：「{item.name}」的补正材料已收到"
    if row.state == LISTED:
        detail += "；微信不提供该文件的下载，请向企业收取原件"
    cases.log(session, case, RECEIVED, detail, actor_kind=ActorKind.ENTERPRISE, actor_id=openid, item=item,
              attachments=[{"material": row.id, "kind": kind}])
    return Receipt("kept", kind, case.number, count_of(session, case.id), tuple(i.name for i in waiting),
                   listed=row.state == LISTED)


def of_case(session: Session, case: Case) -> list[CaseMaterial]:
    return list(session.scalars(sa.select(CaseMaterial).where(CaseMaterial.case_id == case.id)
                                .order_by(CaseMaterial.received_at, CaseMaterial.id)))


# -- downloading ---------------------------------------------------------------------------------

@dataclass
class Counts:
    claimed: int = 0
    stored: int = 0
    retried: int = 0
    failed: int = 0
    notified: int = 0

    def as_dict(self) -> dict:
        return dict(vars(self))


class _Permanent(Exception):
    pass


class _Transient(Exception):
    pass


def storage_key(case_number: str, material_id: int, ext: str) -> str:
    return f"{case_number}/M{material_id}.{ext or 'bin'}"


def _claim(sessions: sessionmaker[Session], now: datetime, batch: int) -> list[tuple[int, str, datetime, str, str]]:
    with transaction(sessions) as db:
        due = (sa.select(CaseMaterial.id).where(CaseMaterial.state == PENDING, CaseMaterial.next_attempt_at <= now)
               .order_by(CaseMaterial.next_attempt_at, CaseMaterial.id).limit(batch))
        if db.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        # A lease: a crashed downloader's rows come back when it runs out. The conditions are
        # repeated in the UPDATE, so a downloader that read the same rows (SQLite has no SKIP
        # LOCKED) claims none of those another one took first.
        seen = list(db.scalars(due))
        if not seen:
            return []
        ids = list(db.scalars(
            sa.update(CaseMaterial)
            .where(CaseMaterial.id.in_(seen), CaseMaterial.state == PENDING, CaseMaterial.next_attempt_at <= now)
            .values(attempts=CaseMaterial.attempts + 1, next_attempt_at=now + LEASE)
            .returning(CaseMaterial.id)))
        if not ids:
            return []
        return [tuple(r) for r in db.execute(
            sa.select(CaseMaterial.id, CaseMaterial.media_id, CaseMaterial.received_at, CaseMaterial.kind,
                      Case.number).join(Case, Case.id == CaseMaterial.case_id)
            .where(CaseMaterial.id.in_(ids)).order_by(CaseMaterial.id))]


def _fetch(client, media_id: str, kind: str, settings: Settings) -> tuple[bytes, str, str]:
    """media/get: the bytes, their content type and extension, or _Permanent / _Transient."""
    import requests
    from wechatpy.exceptions import WeChatClientException

    from bot.push.wechat_api import PERMANENT, classify, classify_http_status

    try:
        res = client.media.download(media_id)
    except WeChatClientException as err:
        if err.errcode in PERMANENT_ERRCODES:
            raise _Permanent(PERMANENT_ERRCODES[err.errcode]) from err
        status = getattr(getattr(err, "response", None), "status_code", None) if err.errcode is None else None
        verdict = classify(err.errcode) if err.errcode is not None else classify_http_status(status)
        raise (_Permanent if verdict == PERMANENT else _Transient)(f"{err.errcode}: {err.errmsg}") from err
    except requests.RequestException as err:
        raise _Transient(f"{err.__class__.__name__}") from err
    if isinstance(res, dict):  # JSON without an errcode: not a file
        raise _Permanent("微信返回的不是文件")
    if res.status_code >= 400:
        verdict = classify_http_status(res.status_code)
        raise (_Permanent if verdict == PERMANENT else _Transient)(f"HTTP {res.status_code}")
    data = res.content
    content_type = (res.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    disposition = res.headers.get("Content-disposition") or res.headers.get("Content-Disposition") or ""
    name = re.search(r'filename="?([^";]+)"?', disposition)
    ext = CONTENT_TYPES.get(content_type) or extension(name.group(1) if name else "")
    if kind == "image":
        allowed, limit = settings.material_image_types, settings.material_image_max_bytes
    else:
        allowed, limit = settings.material_file_types, settings.material_file_max_bytes
    if ext not in allowed:
        raise _Permanent(f"{WRONG_TYPE}（{ext or content_type or '未知'}；允许 {'/'.join(allowed)}）")
    if len(data) > limit:
        raise _Permanent(f"{TOO_LARGE} {_size(limit)} 的上限（{_size(len(data))}）")
    return data, content_type or "application/octet-stream", ext


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB".replace(".0 MB", " MB") if n >= 2**20 else f"{max(1, n // 1024)} KB"


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


def _fail(db: Session, row: CaseMaterial, why: str) -> None:
    row.state, row.last_error = FAILED_STATE, why[:300]
    case = db.get(Case, row.case_id)
    item = db.get(CaseItem, row.case_item_id) if row.case_item_id else None
    cases.log(db, case, FAILED, f"材料 M{row.id}（{KIND_NAMES.get(row.kind, '材料')}）未能保存：{why}"[:500],
              item=item, attachments=[{"material": row.id, "kind": row.kind}])


def download_due(sessions: sessionmaker[Session], client, store, settings: Settings,
                 now: datetime | None = None, batch: int = BATCH) -> Counts:
    """Fetch and store the pending materials that are due (safe to run in several processes)."""
    counts = Counts()
    clock_given = now is not None
    now = now or utcnow()
    for material_id, media_id, received_at, kind, number in _claim(sessions, now, batch):
        counts.claimed += 1
        outcome: tuple[str, object]
        if now - as_utc(received_at) >= MEDIA_LIFETIME:
            outcome = ("failed", EXPIRED)
        else:
            try:
                data, content_type, ext = _fetch(client, media_id, kind, settings)
                key = storage_key(number, material_id, ext)
                store.put(key, data, content_type)
                outcome = ("stored", (key, content_type, len(data)))
            except _Permanent as err:
                outcome = ("failed", str(err))
            except Exception as err:  # noqa: BLE001 - anything else may pass: try again later
                outcome = ("retry", str(err) or err.__class__.__name__)
        at = now if clock_given else utcnow()
        with transaction(sessions) as db:
            row = db.get(CaseMaterial, material_id, with_for_update=db.get_bind().dialect.name == "postgresql")
            if row is None or row.state != PENDING:
                continue
            if outcome[0] == "stored":
                row.storage_key, row.content_type, row.size = outcome[1]
                row.state, row.stored_at, row.last_error = STORED, at, None
                counts.stored += 1
            elif outcome[0] == "failed" or row.attempts >= MAX_ATTEMPTS:
                why = outcome[1] if outcome[0] == "failed" else f"重试{row.attempts}次仍失败：{outcome[1]}"
                _fail(db, row, str(why))
                counts.failed += 1
            else:
                row.last_error = str(outcome[1])[:300]
                row.next_attempt_at = at + _backoff(row.attempts)
                counts.retried += 1
                logger.info("material M%s: download failed, retrying (%s)", material_id, outcome[1])
    return counts


# -- telling the commissioner -------------------------------------------------------------------

def notify_batches(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> int:
    """One push per case and batch: when a case's newest unannounced material is `material_quiet_s`
    old, its downloaded (or failed, or listed) materials are announced together."""
    now = now or utcnow()
    quiet = timedelta(seconds=settings.material_quiet_s)
    queued = 0
    with transaction(sessions) as db:
        ready = list(db.scalars(
            sa.select(CaseMaterial.case_id).where(CaseMaterial.notified_at.is_(None))
            .group_by(CaseMaterial.case_id).having(sa.func.max(CaseMaterial.received_at) <= now - quiet)))
        for case_id in ready:
            rows = list(db.scalars(sa.select(CaseMaterial).where(
                CaseMaterial.case_id == case_id, CaseMaterial.notified_at.is_(None), CaseMaterial.state != PENDING)
                .order_by(CaseMaterial.id)))
            if not rows:
                continue  # still downloading: announced when they are in
            case = db.get(Case, case_id)
            commissioner = db.get(Staff, case.commissioner_id) if case.commissioner_id else None
            items = sorted({i.name for i in db.scalars(sa.select(CaseItem).where(
                CaseItem.id.in_([r.case_item_id for r in rows if r.case_item_id])))})
            failed = [r for r in rows if r.state == FAILED_STATE]
            queued += len(notify.materials_received(
                db, case, commissioner, received=len(rows), failed=len(failed),
                listed=sum(r.state == LISTED for r in rows), items="、".join(items), last_id=rows[-1].id,
                not_saved=tuple(reason_for_the_sender(r.last_error) for r in failed), console_url=settings.public_url))
            for r in rows:
                r.notified_at = now
    return queued
