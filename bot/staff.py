"""Staff accounts: commissioners and supervisors, their passwords and their API tokens.

Passwords are kept as werkzeug hashes (scrypt); API tokens as SHA-256 of a long random secret,
shown once when minted. Nothing here knows about HTTP: the console and the API call in.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .models import ApiToken, Staff, utcnow

ROLES = {"commissioner": "帮代办专员", "supervisor": "主管"}
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "bbt_"
# Writing last_used_at on every API call would turn each read into a write; once a minute is
# plenty to see whether a token is still in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# Checked when the username is unknown, so a wrong username costs as long as a wrong password
# and the response time does not tell which usernames exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password-just-timing")


class StaffError(ValueError):
    """A refused staff change (duplicate username, weak password...), in Chinese."""


def create_staff(session: Session, *, username: str, name: str, role: str, region: str,
                 password: str | None = None, wechat_openid: str | None = None) -> Staff:
    username = normalize_username(username)
    if not username:
        raise StaffError("用户名不能为空")
    if role not in ROLES:
        raise StaffError(f"角色只能是 {' / '.join(ROLES)}")
    if session.scalar(sa.select(Staff.id).where(Staff.username == username)) is not None:
        raise StaffError(f"用户名 {username} 已存在")
    staff = Staff(username=username, name=name.strip(), role=role, region=region.strip(),
                  wechat_openid=wechat_openid)
    if password is not None:
        set_password(staff, password)
    session.add(staff)
    session.flush()
    return staff


def set_password(staff: Staff, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    staff.password_hash = generate_password_hash(password)


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()


def authenticate(session: Session, username: str, password: str) -> Staff | None:
    """The active staff member with this username and password, else None (no reason given:
    the caller must not tell "no such user" from "wrong password")."""
    staff = session.scalar(sa.select(Staff).where(Staff.username == normalize_username(username)))
    if staff is None or not staff.password_hash or not staff.active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(staff.password_hash, password or ""):
        return None
    return staff


# -- API tokens ---------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mint_token(session: Session, staff: Staff, label: str = "") -> str:
    """A new API token for `staff`; the plain token is returned once and never stored."""
    if not staff.active:
        raise StaffError("该账号已停用，不能签发令牌")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_token_hash(token), prefix=token[:12], staff_id=staff.id,
                         label=label.strip()[:80]))
    session.flush()
    return token


def verify_token(session: Session, token: str) -> Staff | None:
    """The active staff member a live token acts for, else None. Records when it was last used."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    digest = _token_hash(token)
    row = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by hash, so timing reveals nothing of the secret; the compare is belt and braces.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    staff = session.get(Staff, row.staff_id)
    if staff is None or not staff.active:
        return None
    now = utcnow()
    last = row.last_used_at
    if last is not None and last.tzinfo is None:  # SQLite hands back naive UTC
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or now - last >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return staff


def revoke_token(session: Session, token_id: int) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def tokens_of(session: Session, staff: Staff) -> list[ApiToken]:
    return list(session.scalars(sa.select(ApiToken).where(ApiToken.staff_id == staff.id).order_by(ApiToken.id)))


# -- demo roster --------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoStaff:
    username: str
    name: str
    role: str
    region: str


# Fictitious people, two commissioners and one supervisor per jurisdiction of the seed documents.
DEMO_ROSTER: tuple[DemoStaff, ...] = (
    DemoStaff("jiangbei-1", "周晓岚", "commissioner", "jiangbei"),
    DemoStaff("jiangbei-2", "何俊峰", "commissioner", "jiangbei"),
    DemoStaff("jiangbei-lead", "谭明远", "supervisor", "jiangbei"),
    DemoStaff("yanjin-1", "郭雨晴", "commissioner", "yanjin"),
    DemoStaff("yanjin-2", "孟凡超", "commissioner", "yanjin"),
    DemoStaff("yanjin-lead", "宋立新", "supervisor", "yanjin"),
    DemoStaff("yueyang-1", "彭思远", "commissioner", "yueyang"),
    DemoStaff("yueyang-2", "易婷婷", "commissioner", "yueyang"),
    DemoStaff("yueyang-lead", "欧阳华", "supervisor", "yueyang"),
    DemoStaff("county_city-1", "陆佳怡", "commissioner", "county_city"),
    DemoStaff("county_city-2", "顾文博", "commissioner", "county_city"),
    DemoStaff("county_city-lead", "沈国平", "supervisor", "county_city"),
    DemoStaff("donghu-1", "田雅琪", "commissioner", "donghu"),
    DemoStaff("donghu-2", "龚志勇", "commissioner", "donghu"),
    DemoStaff("donghu-lead", "万海燕", "supervisor", "donghu"),
)
DEMO_PASSWORD = "bangban-demo"


def seed_demo_roster(session: Session, password: str = DEMO_PASSWORD,
                     with_openids: bool = True) -> list[Staff]:
    """Create the demo roster; usernames that exist already are kept as they are (re-runnable)."""
    existing = {s.username: s for s in session.scalars(
        sa.select(Staff).where(Staff.username.in_([d.username for d in DEMO_ROSTER])))}
    roster = []
    for demo in DEMO_ROSTER:
        staff = existing.get(demo.username)
        if staff is None:
            openid = f"oStaff_{demo.username.replace('-', '_')}" if with_openids else None
            staff = create_staff(session, username=demo.username, name=demo.name, role=demo.role,
                                 region=demo.region, password=password, wechat_openid=openid)
        roster.append(staff)
    return roster
