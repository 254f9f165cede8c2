"""Outbox dispatcher: delivers pending Notification rows to WeChat.

How a row travels
  1. claim (one short transaction): pick due rows, bump `attempts`, push `next_attempt_at` one
     lease ahead, COMMIT. On PostgreSQL the pick is `FOR UPDATE SKIP LOCKED`, so any number of
     dispatchers share the table without waiting on each other or taking the same row; on SQLite
     the engine's BEGIN IMMEDIATE already serialises writers, a plain select is enough. After the
     commit nothing is locked: the lease alone keeps other dispatchers off the row, and a
     dispatcher killed with -9 mid-batch loses nothing, its rows fall due again when the lease
     ends.
  2. send (no transaction open): the channel is chosen per row, see `channels_for`.
  3. record: sent / retry later / dead. A customer-service or subscribe message is written down
     the moment its send returns (with any outcomes still unwritten); template sends and failures
     are written together at the end of the batch: losing those to a crash costs only a resend
     WeChat deduplicates (below), and it halves the dispatcher's database round trips. Retry and
     dead updates are fenced on the `attempts` value the claim wrote, so a dispatcher whose lease
     ran out never overwrites the row another dispatcher has claimed since.

Channels
  enterprise, inside 48 h of WechatUser.last_message_at → customer-service text (`text`);
  outside the window, or when the text answers 45015/45047 → the template message configured for
  `template` in Settings.wechat_templates (`data`, `url`), else the subscribe message in
  Settings.wechat_subscribe_templates, else 'dead' with the reason. Staff → template if
  configured, else customer-service text. Staff with a WeCom UserID, when WeCom is configured
  (Settings.wecom_*) → the WeCom application message first (`wecom`, bot/push/wecom.py), then
  the Official Account channels only if WeCom answers that the person is not reachable through
  the app (81013) and they have an openid: WeCom precedes the Official Account, it does not
  replace it. Without an Official Account configured only WeCom rows are claimed; the rest wait.

Outcomes
  retry (-1, 5xx, network, token trouble) → exponential back-off with jitter, capped; after
  `dispatch_max_attempts` → dead. 45009 (daily template quota) → wait for the quota's reset at
  midnight Beijing time, a WARNING for the operator, and the attempt is refunded (the message is fine,
  the account's day is used up). Permanent → dead at once, last_error = "code message".

Duplicates after a crash
  A crash between a send and its record leaves the row pending, and it is sent again when the
  lease ends (at-least-once: losing a 催办 is worse than repeating one).
  - template messages carry client_msg_id = idempotency_key; WeChat answers a repeat within
    10 minutes with the first msgid and sends nothing. The lease (60 s by default) keeps the
    resend well inside those 10 minutes, so a template message is never duplicated.
  - customer-service and subscribe messages have no idempotency key: these can still arrive
    twice. The window is kept to the one message in flight per dispatcher: each is recorded the
    moment its send returns (not at the end of the batch), and no send starts once the lease is
    close to running out (the rest of the batch is released), so a slow batch never overlaps
    another dispatcher's re-claim. A repeated short text is an acceptable cost for never losing
    one (a 催办 or 送达 notice that never arrives is the worse failure).
"""
from __future__ import annotations

import argparse
import logging
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Notification, Staff, WechatUser, utcnow
from bot.platform.clock import as_utc
from bot.platform.config import Settings
from bot.platform.db import transaction
from bot.push import templates, wechat_api, wecom
from bot.push.wechat_api import FALLBACK, RETRY, SendResult
from bot.vocabulary import NotificationState, RecipientKind

logger = logging.getLogger(__name__)

SERVICE_WINDOW = timedelta(hours=48)
QUOTA_ERRCODE = 45009
WECHAT_QUOTA_TZ = ZoneInfo("Asia/Shanghai")  # WeChat's day, whatever the service's zone
# Stop starting sends this long before the lease ends: one send may take the HTTP timeout, and a
# token refresh in front of it another one.
LEASE_SAFETY_S = 2 * wechat_api.HTTP_TIMEOUT_SECONDS + 5
# After a quota reset, spread the waiting rows over a few minutes instead of one burst.
QUOTA_RESET_JITTER_S = 600
LAST_ERROR_MAX = 300
DEAD_LOGGED = 3  # dead rows named in full in the one warning a write logs

CUSTOM, TEMPLATE, SUBSCRIBE, WECOM = "custom", "template", "subscribe", "wecom"
# Channels WeChat cannot deduplicate (template messages carry client_msg_id, these do not).
NO_IDEMPOTENCY_KEY = frozenset({CUSTOM, SUBSCRIBE, WECOM})


@dataclass(frozen=True)
class Claimed:
    """A snapshot of a claimed row: everything needed to send it without an open session."""

    id: int
    idempotency_key: str
    recipient_openid: str | None
    recipient_kind: str
    purpose: str
    text: str
    template: str | None
    data: dict | None
    url: str | None
    attempts: int  # after the claim's bump: the fence for recording the outcome
    recipient_wecom_userid: str | None = None
    window_open: bool = False


@dataclass(frozen=True)
class Outcome:
    state: str  # sent | retry | dead
    channel: str | None = None
    error: str | None = None
    quota: bool = False
    msgid: int | None = None  # a template message's: its TEMPLATESENDJOBFINISH names it


@dataclass
class DispatchCounts:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0  # claimed but not tried: the lease was running out
    by_channel: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"claimed": self.claimed, "sent": self.sent, "retried": self.retried,
                "dead": self.dead, "released": self.released, **{f"sent_{k}": v for k, v in self.by_channel.items()}}


# ---------------------------------------------------------------------------------------------
# Back-off
# ---------------------------------------------------------------------------------------------
def backoff_seconds(attempt: int, base: float, cap: float, rand=random.random) -> float:
    """Exponential back-off with "equal jitter": half the step is fixed, half random, so retries
    after a WeChat hiccup spread out instead of returning as one herd."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + rand() * ceiling / 2


def quota_reset_after(now: datetime, rand=random.random) -> datetime:
    """WeChat's daily quotas reset at midnight Beijing time: come back a little after it."""
    local = now.astimezone(WECHAT_QUOTA_TZ)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(timezone.utc) + timedelta(seconds=rand() * QUOTA_RESET_JITTER_S)


def _clip(text: str) -> str:
    return text if len(text) <= LAST_ERROR_MAX else text[:LAST_ERROR_MAX - 1] + "…"


# ---------------------------------------------------------------------------------------------
# 1. Claim
# ---------------------------------------------------------------------------------------------
def claim_batch(sessions: sessionmaker[Session], now: datetime, batch: int,
                lease_s: float, wecom_only: bool = False) -> list[Claimed]:
    """Lease up to `batch` due rows to this dispatcher and commit before anything is sent.
    `wecom_only`: no Official Account is configured, only rows WeCom can carry are taken."""
    with transaction(sessions) as db:
        due = (sa.select(Notification.id)
               .where(Notification.state == NotificationState.PENDING, Notification.next_attempt_at <= now)
               .order_by(Notification.next_attempt_at, Notification.id)
               .limit(batch))
        if wecom_only:
            due = due.where(Notification.recipient_kind != RecipientKind.ENTERPRISE, sa.or_(
                Notification.recipient_wecom_userid.is_not(None),
                Notification.recipient_staff_id.in_(sa.select(Staff.id).where(Staff.wecom_userid.is_not(None)))))
        if db.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        rows = db.execute(
            sa.update(Notification)
            .where(Notification.id.in_(due))
            .values(attempts=Notification.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=lease_s))
            .returning(Notification.id, Notification.idempotency_key, Notification.recipient_openid,
                       Notification.recipient_kind, Notification.purpose, Notification.text,
                       Notification.template, Notification.data, Notification.url,
                       Notification.attempts, Notification.recipient_wecom_userid,
                       Notification.recipient_staff_id)
            .execution_options(synchronize_session=False)
        ).all()
        enterprise = {r.recipient_openid for r in rows if r.recipient_kind == RecipientKind.ENTERPRISE}
        windows = _open_windows(db, enterprise, now)
        wecom_ids = _current_wecom_userids(db, {r.recipient_staff_id for r in rows if r.recipient_staff_id})
    claimed = []
    for row in rows:
        fields = row._asdict()
        staff_id = fields.pop("recipient_staff_id")
        if staff_id in wecom_ids:  # the colleague's UserID now, not when the push was queued
            fields["recipient_wecom_userid"] = wecom_ids[staff_id]
        claimed.append(Claimed(**fields, window_open=row.recipient_openid in windows))
    return sorted(claimed, key=lambda c: c.id)


def _current_wecom_userids(db: Session, staff_ids: set[int]) -> dict[int, str | None]:
    """Each colleague's WeCom UserID as it is now (one query; a colleague since removed is left out)."""
    if not staff_ids:
        return {}
    return dict(db.execute(sa.select(Staff.id, Staff.wecom_userid).where(Staff.id.in_(staff_ids))).all())


def _open_windows(db: Session, openids: set[str], now: datetime) -> set[str]:
    """Which of these users wrote to the account within the last 48 hours (one query)."""
    if not openids:
        return set()
    rows = db.execute(sa.select(WechatUser.openid, WechatUser.last_message_at, WechatUser.subscribed)
                      .where(WechatUser.openid.in_(openids))).all()
    return {r.openid for r in rows
            if r.subscribed and r.last_message_at is not None
            and now - as_utc(r.last_message_at) < SERVICE_WINDOW}


# ---------------------------------------------------------------------------------------------
# 2. Send
# ---------------------------------------------------------------------------------------------
def channels_for(n: Claimed, settings: Settings) -> list[str]:
    """The channels to try in order; a 'fallback' answer moves on to the next one."""
    return _channels(n.recipient_kind, n.template, n.window_open, settings,
                     openid=n.recipient_openid, wecom_userid=n.recipient_wecom_userid)


def official_account_configured(settings: Settings) -> bool:
    return bool(settings.wechat_appid and settings.wechat_secret)


def _channels(recipient_kind: str, template: str | None, window_open: bool, settings: Settings,
              openid: str | None = "", wecom_userid: str | None = None) -> list[str]:
    has_template = bool(template and settings.wechat_templates.get(template))
    oa = official_account_configured(settings) and bool(openid)
    if recipient_kind != RecipientKind.ENTERPRISE:
        # Staff: WeCom first when both ends have it; then the Official Account, whose window is
        # not looked up (a closed one answers 45015 and the row goes dead).
        channels = [WECOM] if wecom_userid and settings.wecom_configured else []
        if oa:
            channels.append(TEMPLATE if has_template else CUSTOM)
        return channels
    if not oa:
        return []
    channels = [CUSTOM] if window_open else []
    if has_template:
        channels.append(TEMPLATE)
    if template and settings.wechat_subscribe_templates.get(template):
        channels.append(SUBSCRIBE)
    return channels


# Why a queued push cannot reach its recipient (see `obstacles`).
UNCONFIGURED = "unconfigured"  # no Official Account configured: it stays queued
UNSUBSCRIBED = "unsubscribed"  # the recipient unfollowed the account
NO_CHANNEL = "no_channel"  # outside the 48 h window and no template for it


def obstacles(db: Session, notifications: list[Notification], settings: Settings,
              now: datetime | None = None) -> list[str | None]:
    """For each queued push, in order, why it cannot reach its recipient as things stand now, or
    None when a channel is open to them. What the dispatcher would find, judged beforehand, so
    staff are told the truth when they act ("已通知企业" or "请电话告知企业")."""
    oa = official_account_configured(settings)
    if not (oa or settings.wecom_configured):
        return [UNCONFIGURED] * len(notifications)
    now = (now or utcnow()).astimezone(timezone.utc)
    openids = {n.recipient_openid for n in notifications if n.recipient_openid}
    users = {r.openid: r for r in db.execute(
        sa.select(WechatUser.openid, WechatUser.last_message_at, WechatUser.subscribed)
        .where(WechatUser.openid.in_(openids)))} if openids else {}
    found: list[str | None] = []
    for n in notifications:
        if (n.recipient_kind != RecipientKind.ENTERPRISE and n.recipient_wecom_userid
                and settings.wecom_configured):
            found.append(None)  # WeCom reaches a colleague whenever they are in the app's range
            continue
        if not oa:
            found.append(UNCONFIGURED)
            continue
        user = users.get(n.recipient_openid)
        if user is not None and not user.subscribed:
            found.append(UNSUBSCRIBED)
            continue
        window_open = bool(user is not None and user.last_message_at is not None
                           and now - as_utc(user.last_message_at) < SERVICE_WINDOW)
        channels = _channels(n.recipient_kind, n.template, window_open, settings, openid=n.recipient_openid)
        if channels == [CUSTOM] and not window_open:
            channels = []  # staff outside the window with no template: the custom message bounces
        found.append(None if channels else NO_CHANNEL)
    return found


def _send(channel: str, n: Claimed, client, settings: Settings, wecom_client=None) -> SendResult:
    if channel == WECOM:
        return wecom.send_text(wecom_client or wecom.client_for(settings), n.recipient_wecom_userid, n.text,
                               url=n.url)
    if channel == CUSTOM:
        return wechat_api.send_text(client, n.recipient_openid, n.text)
    if channel == TEMPLATE:
        return wechat_api.send_template(client, n.recipient_openid, settings.wechat_templates[n.template],
                                        templates.fit_all(n.template, n.data), url=n.url,
                                        client_msg_id=n.idempotency_key)
    spec = settings.wechat_subscribe_templates[n.template]
    template_id, fields = (spec, None) if isinstance(spec, str) else (spec["id"], spec.get("fields"))
    data = n.data or {}
    if fields:  # subscribe templates name their fields (thing1, time2 ...) by type
        data = {sub_key: data.get(data_key, "") for sub_key, data_key in fields.items()}
        data = templates.fit_all(None, data)  # typed keys: each cut to its own type's limit
    else:
        data = templates.fit_all(n.template, data)
    return wechat_api.send_subscribe(client, n.recipient_openid, template_id, data, page=n.url)


def _describe(result: SendResult) -> str:
    return f"{result.errcode if result.errcode is not None else '-'} {result.errmsg}".strip()


def deliver(n: Claimed, client, settings: Settings, quota_exhausted: bool = False,
            wecom_client=None) -> Outcome:
    """Try the row's channels in order and say what became of it (never raises for WeChat)."""
    channels = channels_for(n, settings)
    notes: list[str] = []  # fallbacks on the way, kept in last_error for the console
    for index, channel in enumerate(channels):
        if channel == TEMPLATE and quota_exhausted:
            return Outcome("retry", error="45009 template quota used up (seen earlier in this batch)",
                           quota=True)
        result = _send(channel, n, client, settings, wecom_client)
        if result.ok:
            return Outcome(NotificationState.SENT, channel, "; ".join(notes) or None,
                           msgid=_int_or_none(result.msgid) if channel == TEMPLATE else None)
        where = f"{channel}: {_describe(result)}"
        if result.category == FALLBACK and channel == WECOM and index == len(channels) - 1:
            # WeCom cannot reach them and no Official Account channel is left: that is the reason.
            return Outcome(NotificationState.DEAD, channel, "; ".join([*notes, where]))
        if result.category == FALLBACK:
            notes.append(where)
            continue
        if result.category == RETRY:
            return Outcome("retry", channel, where, quota=result.errcode == QUOTA_ERRCODE)
        return Outcome(NotificationState.DEAD, channel, "; ".join([*notes, where]))
    return Outcome(NotificationState.DEAD, None, "; ".join([*notes, _no_channel_reason(n)]))


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _no_channel_reason(n: Claimed) -> str:
    key = n.template or n.purpose
    if n.recipient_kind == RecipientKind.ENTERPRISE:
        window = "customer-service window closed" if n.window_open else "outside the 48 h customer-service window"
        return f"no channel left: {window} and no template or subscribe message configured for '{key}'"
    if not n.recipient_openid:
        return "no channel left: staff without an Official Account binding, and WeCom is not configured"
    return f"no channel left: staff outside the 48 h window and no template configured for '{key}'"


# ---------------------------------------------------------------------------------------------
# 3. Record
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """One outcome, ready to write: the fenced UPDATE and the state it leaves the row in."""

    n: Claimed
    state: str  # sent | pending | dead
    channel: str | None
    statement: sa.Update
    error: str | None

    @property
    def urgent(self) -> bool:
        """A sent message WeChat cannot deduplicate: write it down before sending anything else."""
        return self.state == NotificationState.SENT and self.channel in NO_IDEMPOTENCY_KEY


def plan_record(n: Claimed, outcome: Outcome, now: datetime, settings: Settings) -> Record:
    row = sa.update(Notification).where(Notification.id == n.id, Notification.state == NotificationState.PENDING)
    if outcome.state == NotificationState.SENT:
        # Not fenced: the message went out, and saying so matters more than whose lease it was.
        values = {"state": NotificationState.SENT, "sent_at": now, "channel": outcome.channel,
                  "last_error": _clip(outcome.error) if outcome.error else None}
        if outcome.msgid is not None:
            values["msgid"] = outcome.msgid
        state = NotificationState.SENT
    elif outcome.quota:
        values = {"attempts": Notification.attempts - 1, "last_error": _clip(outcome.error),
                  "next_attempt_at": quota_reset_after(now)}
        state = NotificationState.PENDING
    elif outcome.state == "retry" and n.attempts < settings.dispatch_max_attempts:
        delay = backoff_seconds(n.attempts, settings.dispatch_backoff_base_s, settings.dispatch_backoff_cap_s)
        values = {"last_error": _clip(outcome.error), "next_attempt_at": now + timedelta(seconds=delay)}
        state = NotificationState.PENDING
    else:
        error = outcome.error if outcome.state == NotificationState.DEAD else (
            f"gave up after {n.attempts} attempts; last: {outcome.error}")
        values = {"state": NotificationState.DEAD, "last_error": _clip(error)}
        state = NotificationState.DEAD
    if state != NotificationState.SENT:
        row = row.where(Notification.attempts == n.attempts)
    statement = row.values(**values).execution_options(synchronize_session=False)
    return Record(n, state, outcome.channel, statement, values.get("last_error"))


def write_records(sessions: sessionmaker[Session], records: list[Record]) -> None:
    """Write outcomes in one transaction."""
    if not records:
        return
    with transaction(sessions) as db:
        for record in records:
            db.execute(record.statement)
    dead = [r for r in records if r.state == NotificationState.DEAD]
    if dead:
        # One line per write, however many rows died (a misconfigured account kills hundreds).
        shown = "; ".join(f"#{r.n.id} ({r.n.purpose}) {r.error}" for r in dead[:DEAD_LOGGED])
        more = f"; … and {len(dead) - DEAD_LOGGED} more (the console shows each)" if len(dead) > DEAD_LOGGED else ""
        logger.warning("%d notification(s) failed for good: %s%s", len(dead), shown, more)
    records.clear()


def _release(sessions: sessionmaker[Session], rows: list[Claimed], now: datetime) -> None:
    """Hand back rows this dispatcher will not get to before its lease ends (attempt refunded)."""
    with transaction(sessions) as db:
        for n in rows:
            db.execute(sa.update(Notification)
                       .where(Notification.id == n.id, Notification.state == NotificationState.PENDING,
                              Notification.attempts == n.attempts)
                       .values(attempts=Notification.attempts - 1, next_attempt_at=now)
                       .execution_options(synchronize_session=False))


# ---------------------------------------------------------------------------------------------
# The entry points
# ---------------------------------------------------------------------------------------------
def dispatch_once(sessions: sessionmaker[Session], client, settings: Settings, batch: int = 100,
                  now: datetime | None = None, wecom_client=None) -> DispatchCounts:
    """Claim one batch of due notifications, send each, record each. Safe to run concurrently.

    `now` (tests, catch-up tools) fixes the time for the whole batch; by default each outcome is
    stamped when it happens."""
    clock_given = now is not None
    now = (now or utcnow()).astimezone(timezone.utc)
    counts = DispatchCounts()
    lease_s = settings.dispatch_lease_s
    started = time.monotonic()
    claimed = claim_batch(sessions, now, batch, lease_s, wecom_only=not official_account_configured(settings))
    counts.claimed = len(claimed)
    quota_exhausted = False
    unwritten: list[Record] = []  # outcomes a crash may lose without a duplicate message
    for index, n in enumerate(claimed):
        if time.monotonic() - started > lease_s - min(LEASE_SAFETY_S, lease_s / 2):
            rest = claimed[index:]
            write_records(sessions, unwritten)
            _release(sessions, rest, now)
            counts.released = len(rest)
            logger.info("lease running out: released %d unsent notifications", len(rest))
            break
        try:
            outcome = deliver(n, client, settings, quota_exhausted, wecom_client)
        except Exception as err:  # noqa: BLE001 - a bug or bad config must not wedge the row
            # Recorded like a transient failure: it counts towards max attempts, then goes dead
            # with this reason, instead of being re-claimed forever by a crashing batch.
            logger.exception("notification %s: unexpected error while sending", n.id)
            outcome = Outcome("retry", error=f"internal error: {err.__class__.__name__}: {err}")
        if outcome.quota:
            quota_exhausted = True
        record = plan_record(n, outcome, now if clock_given else utcnow(), settings)
        unwritten.append(record)
        if record.urgent:
            write_records(sessions, unwritten)
        state = record.state
        if state == NotificationState.SENT:
            counts.sent += 1
            counts.by_channel[outcome.channel] = counts.by_channel.get(outcome.channel, 0) + 1
        elif state == NotificationState.DEAD:
            counts.dead += 1
        else:
            counts.retried += 1
    write_records(sessions, unwritten)
    if quota_exhausted:
        # One line per batch, not one per row: this is what an operator must see and act on.
        logger.warning("WeChat template quota (45009) used up: template notifications wait until "
                       "the daily reset after midnight Beijing time; raise the quota in 公众号后台 if this repeats")
    return counts


def run_dispatcher(sessions: sessionmaker[Session], client, settings: Settings,
                   stop: threading.Event) -> None:
    """Dispatch until `stop` is set: straight on while there is a backlog, else every interval."""
    while not stop.is_set():
        try:
            counts = dispatch_once(sessions, client, settings, batch=settings.dispatch_batch)
        except Exception:  # noqa: BLE001 - a database or network outage must not end the loop
            logger.exception("outbox dispatch failed; trying again in %s s", settings.dispatch_interval_s)
            counts = DispatchCounts()
        if counts.claimed < settings.dispatch_batch:
            stop.wait(settings.dispatch_interval_s)


def client_for(settings: Settings):
    """The WeChat client the dispatcher uses: shared token through Redis when there is one."""
    return wechat_api.make_client(settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base,
                                  redis=settings.redis_url or None)


def main(argv=None) -> None:
    """python -m bot.push.dispatcher [--once]: a standalone dispatcher configured from the environment."""
    from bot.platform.config import load_settings
    from bot.platform.db import open_database

    parser = argparse.ArgumentParser(description="deliver pending notifications")
    parser.add_argument("--once", action="store_true", help="one batch, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    sessions = open_database(settings.database_url)
    client = client_for(settings)
    if args.once:
        print(dispatch_once(sessions, client, settings, batch=settings.dispatch_batch).as_dict())
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_dispatcher(sessions, client, settings, stop)


if __name__ == "__main__":
    main()
