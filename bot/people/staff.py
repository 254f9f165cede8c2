"""Staff accounts: commissioners and supervisors, their passwords and their API tokens.

Passwords are kept as werkzeug hashes (scrypt); API tokens as SHA-256 of a long random secret,
shown once when minted, with scopes (read, write). What a token may see and move beyond its
scopes is the console's rule for its staff member (webhook/console/auth.py). Nothing here knows
about HTTP: the console, the API and the CLI call in.
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

from bot.models import ApiToken, Case, Staff, utcnow
from bot.platform import region_tiers
from bot.vocabulary import OPEN_STATES, ROLES, Role

# What a token may do, beyond what its staff member may do in the console. Writing answers with
# the case it changed, so "write" includes "read".
SCOPES = {"read": "读取案件", "write": "更新事项进度"}
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


class WrongPassword(StaffError):
    """The current password given to change it was not the account's (a guess, to be counted)."""


def create_staff(session: Session, *, username: str, name: str, role: str, region: str,
                 password: str | None = None, wechat_openid: str | None = None) -> Staff:
    username = normalize_username(username)
    if not username:
        raise StaffError("用户名不能为空")
    if role not in ROLES:
        raise StaffError(f"角色只能是 {' / '.join(ROLES)}")
    if problem := region_tiers.problem(region):  # a region of config/region_tiers.yaml, at any tier
        raise StaffError(problem)
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
    """A new password also ends every console session of the account (whoever knew the old one
    may be signed in)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    staff.password_hash = generate_password_hash(password)
    end_sessions(staff)


def end_sessions(staff: Staff) -> None:
    """Every console session of this account stops working (they carry the old generation)."""
    staff.session_generation = (staff.session_generation or 0) + 1


def change_password(staff: Staff, current: str, new: str) -> None:
    """The signed-in person's own change: the current password first, so a session left open
    on a shared computer cannot be turned into the account."""
    if not staff.password_hash or not check_password_hash(staff.password_hash, current or ""):
        raise WrongPassword("当前密码不正确")
    set_password(staff, new)


def by_username(session: Session, username: str) -> Staff | None:
    return session.scalar(sa.select(Staff).where(Staff.username == normalize_username(username)))


def deactivate(session: Session, staff: Staff) -> int:
    """Stop an account: no sign-in, no session, no API, no new assignments; its tokens are revoked so that
    reactivating it later does not bring old tokens back. Returns how many open cases still
    name this person, for a supervisor to reassign."""
    staff.active = False
    end_sessions(staff)
    now = utcnow()
    for token in tokens_of(session, staff):
        if token.revoked_at is None:
            token.revoked_at = now
    return session.scalar(sa.select(sa.func.count(Case.id)).where(
        Case.commissioner_id == staff.id, Case.state.in_(OPEN_STATES))) or 0


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


def normalize_scopes(scopes) -> frozenset[str]:
    wanted = frozenset(scopes or ("read",))
    unknown = wanted - SCOPES.keys()
    if unknown:
        raise StaffError(f"令牌权限只能是 {' / '.join(SCOPES)}（不认识：{'、'.join(sorted(unknown))}）")
    return wanted | {"read"}


@dataclass(frozen=True)
class Grant:
    """What a verified token lets its bearer do: act as `staff`, within `scopes`."""

    staff: Staff
    scopes: frozenset[str]


def mint_token(session: Session, staff: Staff, label: str = "", scopes=("read",)) -> str:
    """A new API token for `staff`; the plain token is returned once and never stored."""
    if not staff.active:
        raise StaffError("该账号已停用，不能签发令牌")
    granted = normalize_scopes(scopes)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_token_hash(token), prefix=token[:12], staff_id=staff.id,
                         label=label.strip()[:80], scopes=" ".join(s for s in SCOPES if s in granted)))
    session.flush()
    return token


def verify_token(session: Session, token: str) -> Grant | None:
    """Who a live token acts for and its scopes, else None. Records when it was last used."""
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
    return Grant(staff, frozenset(row.scopes.split()))


def revoke_token(session: Session, token_id: int) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def tokens_of(session: Session, staff: Staff | None = None) -> list[ApiToken]:
    """`staff`'s tokens, or everyone's, oldest first (revoked ones included: the list is a record)."""
    stmt = sa.select(ApiToken).order_by(ApiToken.id)
    if staff is not None:
        stmt = stmt.where(ApiToken.staff_id == staff.id)
    return list(session.scalars(stmt))


# -- demo roster --------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoStaff:
    username: str
    name: str
    role: Role
    region: str


# Fictitious people, two commissioners and one supervisor per jurisdiction of the seed documents.
DEMO_ROSTER: tuple[DemoStaff, ...] = (
    DemoStaff("jiangbei-1", "周晓岚", Role.COMMISSIONER, "jiangbei"),
    DemoStaff("jiangbei-2", "何俊峰", Role.COMMISSIONER, "jiangbei"),
    DemoStaff("jiangbei-lead", "谭明远", Role.SUPERVISOR, "jiangbei"),
    DemoStaff("yanjin-1", "郭雨晴", Role.COMMISSIONER, "yanjin"),
    DemoStaff("yanjin-2", "孟凡超", Role.COMMISSIONER, "yanjin"),
    DemoStaff("yanjin-lead", "宋立新", Role.SUPERVISOR, "yanjin"),
    DemoStaff("yueyang-1", "彭思远", Role.COMMISSIONER, "yueyang"),
    DemoStaff("yueyang-2", "易婷婷", Role.COMMISSIONER, "yueyang"),
    DemoStaff("yueyang-lead", "欧阳华", Role.SUPERVISOR, "yueyang"),
    DemoStaff("county_city-1", "陆佳怡", Role.COMMISSIONER, "county_city"),
    DemoStaff("county_city-2", "顾文博", Role.COMMISSIONER, "county_city"),
    DemoStaff("county_city-lead", "沈国平", Role.SUPERVISOR, "county_city"),
    DemoStaff("donghu-1", "田雅琪", Role.COMMISSIONER, "donghu"),
    DemoStaff("donghu-2", "龚志勇", Role.COMMISSIONER, "donghu"),
    DemoStaff("donghu-lead", "万海燕", Role.SUPERVISOR, "donghu"),
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
