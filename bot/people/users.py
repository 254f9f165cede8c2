"""The enterprise user's profile: follow state, region, when they last wrote."""
from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.models import WechatUser, utcnow


def user_ref(openid: str) -> str:
    """A stable pseudonym for logs and analytics: the openid itself never leaves the users table."""
    return hashlib.sha256(openid.encode("utf-8")).hexdigest()[:16]


def touch(session: Session, openid: str, *, subscribed: bool | None = None) -> WechatUser:
    """Record that the user wrote (opens WeChat's 48-hour customer-service window)."""
    user = session.get(WechatUser, openid)
    now = utcnow()
    if user is None:
        user = WechatUser(openid=openid, subscribed=True if subscribed is None else subscribed,
                          first_seen_at=now)
        session.add(user)
    if subscribed is not None:
        user.subscribed = subscribed
    user.last_message_at = now
    return user


def region_of(session: Session, openid: str) -> str | None:
    return session.scalar(sa.select(WechatUser.region).where(WechatUser.openid == openid))


def set_region(session: Session, openid: str, region: str) -> None:
    user = session.get(WechatUser, openid) or touch(session, openid)
    user.region = region


def mark_form(session: Session, openid: str, is_open: bool) -> None:
    """Note that the user opened (or finished) an application form: see WechatUser.form_started_at."""
    user = session.get(WechatUser, openid) or touch(session, openid)
    user.form_started_at = utcnow() if is_open else None


def form_started_at(session: Session, openid: str):
    return session.scalar(sa.select(WechatUser.form_started_at).where(WechatUser.openid == openid))
