"""带参数二维码 (QR codes with a scene): what each scene means and what scanning it does.

Two kinds (bot.vocabulary.QrKind):
- a region's 帮代办窗口 poster, scene ``region:<region id>``: permanent, anyone may scan it any
  number of times; scanning presets the scanner's region.
- a staff member's binding code, scene ``bind:<token>``: temporary (WeChat stops recognising
  it after its expiry, and so do we), used once; scanning binds the scanning WeChat account to
  that staff record (Staff.wechat_openid), where alerts then go. The token is unguessable
  (secrets.token_urlsafe) and only its SHA-256 is stored, as with API tokens.

Nothing here talks to WeChat: `bangban wechat qr` / `bangban staff bind-qr` mint the code through
the API client and record it here; the dialogs call `redeem` when a scan event arrives.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.models import Staff, WechatQrCode, utcnow
from bot.platform import clock
from bot.vocabulary import QrKind

REGION_PREFIX = "region:"
BIND_PREFIX = "bind:"
SCENE_STR_MAX = 64  # WeChat's limit on scene_str
DEFAULT_BIND_TTL_S = 30 * 60
MAX_TEMPORARY_TTL_S = 2_592_000  # WeChat's longest temporary code: 30 days


class Scanned(StrEnum):
    BOUND = "bound"
    EXPIRED = "expired"
    USED = "used"  # used before, by another account (or an inactive staff record)
    ALREADY = "already"  # the same account scanned its own used code again: nothing changes
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Scene:
    kind: QrKind
    value: str  # the region id, or the binding token


@dataclass(frozen=True)
class BindResult:
    outcome: Scanned
    staff_name: str | None = None
    region: str | None = None


def region_scene(region: str) -> str:
    return f"{REGION_PREFIX}{region}"


def parse_scene(scene: str | None) -> Scene | None:
    """The scene of a scan event's EventKey (WeChat's `qrscene_` prefix already taken off)."""
    scene = (scene or "").strip().removeprefix("qrscene_")
    if scene.startswith(REGION_PREFIX) and len(scene) > len(REGION_PREFIX):
        return Scene(QrKind.REGION, scene[len(REGION_PREFIX):])
    if scene.startswith(BIND_PREFIX) and len(scene) > len(BIND_PREFIX):
        return Scene(QrKind.STAFF_BIND, scene[len(BIND_PREFIX):])
    return None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_binding(session: Session, staff: Staff, ttl_s: int = DEFAULT_BIND_TTL_S) -> tuple[WechatQrCode, str]:
    """A binding code's record and its scene (``bind:<token>``); the token itself is not stored."""
    if not 60 <= ttl_s <= MAX_TEMPORARY_TTL_S:
        raise ValueError(f"expiry must be between 60 s and {MAX_TEMPORARY_TTL_S} s")
    token = secrets.token_urlsafe(24)  # 32 characters, 192 bits
    row = WechatQrCode(kind=QrKind.STAFF_BIND, staff_id=staff.id, region=staff.region, token_hash=_hash(token),
                       created_at=utcnow(), expires_at=utcnow() + timedelta(seconds=ttl_s))
    session.add(row)
    session.flush()
    return row, f"{BIND_PREFIX}{token}"


def new_poster(session: Session, region: str) -> WechatQrCode:
    row = WechatQrCode(kind=QrKind.REGION, region=region, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def record_ticket(row: WechatQrCode, ticket: str, url: str) -> None:
    row.ticket, row.url = ticket, url


def redeem_binding(session: Session, token: str, openid: str, now: datetime | None = None) -> BindResult:
    """Bind `openid` to the staff member whose code carries `token`, once. Row-locked, so two
    deliveries of the same scan (or two phones at once) bind at most one account."""
    now = now or utcnow()
    row = session.scalar(sa.select(WechatQrCode).where(WechatQrCode.token_hash == _hash(token),
                                                       WechatQrCode.kind == QrKind.STAFF_BIND).with_for_update())
    if row is None:
        return BindResult(Scanned.UNKNOWN)
    staff = session.get(Staff, row.staff_id)
    if row.used_at is not None:
        if row.used_by == openid and staff is not None and staff.wechat_openid == openid:
            return BindResult(Scanned.ALREADY, staff.name, staff.region)
        return BindResult(Scanned.USED)
    if row.expires_at is None or clock.as_utc(row.expires_at) <= clock.as_utc(now):
        return BindResult(Scanned.EXPIRED)
    if staff is None or not staff.active:
        return BindResult(Scanned.USED)
    # One WeChat account alerts one staff record: an account bound to someone else moves here.
    for other in session.scalars(sa.select(Staff).where(Staff.wechat_openid == openid, Staff.id != staff.id)):
        other.wechat_openid = None
    staff.wechat_openid = openid
    row.used_at, row.used_by = now, openid
    return BindResult(Scanned.BOUND, staff.name, staff.region)
