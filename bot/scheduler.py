"""Background jobs, and the rule that exactly one process runs them.

Jobs (APScheduler 3, BackgroundScheduler):
  outbox-dispatch          every `dispatch_interval_s`     bot.push.dispatcher, drains the backlog
  unaccepted-assignments   every `accept_check_interval_s` re-alert / escalate cases nobody accepted
  sla-sweep                at `sla_sweep_hours`            bot.supervision.sla
  daily-digest             at `digest_hour`                one summary per supervisor
  rating-reminders         hourly                          re-invite unrated cases, twice at most
  case-materials           every `material_check_interval_s` download chat photos/files, one push per batch
  escalation-deadlines     hourly                          flag each 协调事项 past its tier's due date once, offer the next tier
  appointment-reminders    every 15 minutes                remind a 上门受理/窗口预约 the day before, from 09:00, once
(hours in service time, bot.platform.clock.SERVICE_TZ, whatever zone the host is in)
The two clock-time jobs live in a persistent SQLAlchemyJobStore on DATABASE_URL, so a digest due
while no scheduler was up still runs when one comes back (within `misfire_grace_time`, once:
coalesced). The two interval jobs live in memory: persisting a 3-second job would only write its
next run time to the database every 3 seconds, and there is nothing to catch up on.

Who runs them — the rule:
  * No REDIS_URL (the embedded default, one process): that process is the leader, no election.
  * REDIS_URL set: any number of processes may start a LeaderScheduler (`start_in_app`, or the
    `bangban scheduler` process through `run_forever`); they campaign for one Redis lock with a
    TTL (`scheduler_lock_ttl_s`). The holder renews it every third of the TTL and runs the jobs;
    a holder that fails to renew (lock gone, taken, or Redis unreachable: it cannot prove it still
    leads) shuts its scheduler down at once and campaigns again; the others retry every third of
    the TTL, so a stopped leader is replaced within one TTL (at once if it stopped cleanly and
    released the lock).
  * To run the scheduler only in a dedicated `bangban scheduler` process, set SCHEDULER_IN_APP=false
    for the web workers. Running both is safe too: they share the lock.
  * Several processes without Redis must not each run a scheduler: set SCHEDULER_IN_APP=false on
    all but one (production runs Redis anyway, see DESIGN.md).
Correctness never rests on the lock alone. A leader frozen past its TTL (a long GC pause, a
suspended VM) may overlap its successor for a moment, so every job is idempotent: dispatch claims
rows with SKIP LOCKED leases, every push carries an idempotency key, ledger lines are guarded by
NOT EXISTS, and the sweep-type jobs serialise on a PostgreSQL advisory lock.

Start it after forking (gunicorn `post_fork`/`when_ready`, or lazily in the worker), never in a
pre-fork master: threads do not survive fork().
"""
from __future__ import annotations

import logging
import signal
import threading
from collections import Counter
from datetime import datetime, timedelta

import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.casework import appointments, completion, materials, materials_store
from bot.casework.cases import log
from bot.models import Case, LedgerEntry, Staff, utcnow
from bot.platform.clock import SERVICE_TZ, as_utc
from bot.platform.config import Settings
from bot.platform.db import make_engine, open_database, transaction
from bot.platform.workdays import WorkCalendar, load_calendar
from bot.push import dispatcher, notify
from bot.supervision import sla
from bot.supervision.digest import RegionFigures, region_figures
from bot.vocabulary import CaseState, Role

logger = logging.getLogger(__name__)

LEADER_LOCK_NAME = "bangban:scheduler:leader"
# A backlog is drained batch after batch, but one run gives the executor back after this many.
MAX_BATCHES_PER_RUN = 50
# pg_advisory_xact_lock keys of the jobs that must not overlap themselves (see the docstring).
DIGEST_LOCK_KEY = 0x5A_4449_4745_5354
ACCEPT_LOCK_KEY = 0x5A_4143_4345_5054


def _serialise(db: Session, key: int) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


# ---------------------------------------------------------------------------------------------
# The jobs
# ---------------------------------------------------------------------------------------------
class Jobs:
    """What the scheduler runs; each method is also callable directly (tests, `bangban` commands)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session] | None = None, client=None,
                 calendar: WorkCalendar | None = None):
        self.settings = settings
        self.sessions = sessions or open_database(settings.database_url)
        self.client = client or dispatcher.client_for(settings)
        self.calendar = calendar or load_calendar()

    def dispatch_outbox(self, now: datetime | None = None) -> dispatcher.DispatchCounts:
        batch = self.settings.dispatch_batch
        total = dispatcher.DispatchCounts()
        if not (self.settings.wechat_appid and self.settings.wechat_secret or self.settings.wecom_configured):
            # No Official Account configured (the embedded default): pushes stay queued, visible in
            # the console, and go out once WECHAT_APPID/WECHAT_SECRET are set.
            if not getattr(self, "_warned_unconfigured", False):
                logger.warning("WECHAT_APPID/WECHAT_SECRET not set: notifications stay queued")
                self._warned_unconfigured = True
            return total
        for _ in range(MAX_BATCHES_PER_RUN):
            counts = dispatcher.dispatch_once(self.sessions, self.client, self.settings, batch=batch, now=now)
            for name in ("claimed", "sent", "retried", "dead", "released"):
                setattr(total, name, getattr(total, name) + getattr(counts, name))
            for channel, sent in counts.by_channel.items():
                total.by_channel[channel] = total.by_channel.get(channel, 0) + sent
            if counts.claimed < batch:
                break
        return total

    def sla_sweep(self, now: datetime | None = None) -> sla.SweepCounts:
        with transaction(self.sessions) as db:
            counts = sla.sweep(db, self.calendar, self.settings, now=now)
        return counts  # run_job logs it when it did something

    def daily_digest(self, now: datetime | None = None) -> int:
        """Queue one 每日简报 per supervisor (once a day: keyed by date and supervisor)."""
        now = now or utcnow()
        today = sla.service_today(now)
        with transaction(self.sessions) as db:
            _serialise(db, DIGEST_LOCK_KEY)
            supervisors = list(db.scalars(sa.select(Staff).where(
                Staff.role == Role.SUPERVISOR, Staff.active.is_(True),
                sa.or_(Staff.wechat_openid.is_not(None), Staff.wecom_userid.is_not(None)))))
            figures = region_figures(db, today)
            queued = 0
            for supervisor in supervisors:
                queued += notify.daily_digest(
                    db, supervisor, today, self.settings.region_name(supervisor.region),
                    figures.get(supervisor.region, RegionFigures()), self.settings.public_url) is not None
        return queued

    def rating_reminders(self, now: datetime | None = None) -> int:
        """Re-invite unrated cases (at most two reminders each; bot.supervision.ratings keeps the count)."""
        from bot.supervision import ratings

        return ratings.remind_unrated(self.sessions, self.settings, now)

    def case_materials(self, now: datetime | None = None) -> materials.Counts:
        """Download the photos and files received in the chat (bot/casework/materials.py), then
        tell commissioners of each finished batch."""
        counts = materials.Counts()
        if self.settings.wechat_appid and self.settings.wechat_secret:
            if getattr(self, "material_store", None) is None:
                self.material_store = materials_store.store_for(self.settings)
            counts = materials.download_due(self.sessions, self.client, self.material_store, self.settings, now)
        counts.notified = materials.notify_batches(self.sessions, self.settings, now)
        return counts

    def completion_deadlines(self, now: datetime | None = None) -> dict:
        """办结 awaiting the enterprise's confirmation past its deadline counts as confirmed
        (逾期视为确认; bot/casework/completion.py). Idempotent: only pending confirmations are taken."""
        today = sla.service_today(now or utcnow())
        with transaction(self.sessions) as db:
            return {"deemed_confirmed": completion.deem_overdue(db, today)}

    def appointment_reminders(self, now: datetime | None = None) -> dict:
        """Remind the enterprise of tomorrow's 上门受理 / 窗口预约 (bot/casework/appointments.py), once
        each: rows are taken locked and marked reminded in the same transaction."""
        with transaction(self.sessions) as db:
            return {"appointments_reminded": appointments.remind_due(db, now, self.settings.public_url)}

    def escalation_deadlines(self, now: datetime | None = None) -> dict:
        """协调事项 past their tier's due date (bot/supervision/escalations.py): flagged once each (ledger
        协调超期, supervisors offered the next tier). It never moves one up by itself: that is a person's call."""
        from bot.supervision import escalations

        today = sla.service_today(now or utcnow())
        with transaction(self.sessions) as db:
            return {"escalations_overdue": escalations.flag_overdue(db, today, self.settings.public_url)}

    def unaccepted_assignments(self, now: datetime | None = None) -> dict:
        """Cases still 'applied' after the first period: re-alert the commissioner; after the
        second period (or at once when nobody is assigned): alert the region's supervisors and
        write an 'escalated' ledger line. Each step happens once per case."""
        now = now or utcnow()
        first = timedelta(minutes=self.settings.accept_realert_minutes)
        second = first + timedelta(minutes=self.settings.accept_escalate_minutes)
        done = {"realerted": 0, "escalated": 0}
        with transaction(self.sessions) as db:
            _serialise(db, ACCEPT_LOCK_KEY)
            waiting = db.execute(
                sa.select(Case, Staff).outerjoin(Staff, Staff.id == Case.commissioner_id)
                .where(Case.state == CaseState.APPLIED, Case.created_at <= now - first).order_by(Case.id)).all()
            if not waiting:
                return done
            escalated = set(db.scalars(sa.select(LedgerEntry.case_id).where(
                LedgerEntry.case_id.in_([case.id for case, _ in waiting]), LedgerEntry.action == "escalated",
                LedgerEntry.case_item_id.is_(None))))
            supervisors = _supervisors_by_region(db, {case.region for case, _ in waiting})
            for case, commissioner in waiting:
                reachable = bool(commissioner and commissioner.active and notify.reachable(commissioner))
                if reachable and _realert(db, case, commissioner, self.settings):
                    done["realerted"] += 1
                # Nobody to re-alert: going to the supervisors is the only step left.
                threshold = second if reachable else first
                if as_utc(case.created_at) <= now - threshold and case.id not in escalated:
                    _escalate(db, case, commissioner, supervisors.get(case.region, []), threshold, self.settings)
                    done["escalated"] += 1
        return done


def _supervisors_by_region(db: Session, regions: set[str]) -> dict[str, list[Staff]]:
    out: dict[str, list[Staff]] = {}
    for s in db.scalars(sa.select(Staff).where(Staff.region.in_(regions), Staff.role == Role.SUPERVISOR,
                                               Staff.active.is_(True),
                                               sa.or_(Staff.wechat_openid.is_not(None), Staff.wecom_userid.is_not(None)))):
        out.setdefault(s.region, []).append(s)
    return out


def _realert(db: Session, case: Case, commissioner: Staff, settings: Settings) -> bool:
    return notify.assignment_reminder(db, case, commissioner, settings.accept_realert_minutes,
                                      settings.public_url) is not None


def _escalate(db: Session, case: Case, commissioner: Staff | None, supervisors: list[Staff],
              waited: timedelta, settings: Settings) -> None:
    minutes = int(waited.total_seconds() // 60)
    if commissioner is None:
        why = "该地区暂无可分派的帮代办专员，请尽快分派"
        log(db, case, "escalated", "无专员可分派，已提醒主管分派")
    else:
        why = f"专员{commissioner.name}超过{minutes}分钟仍未受理，请协调或改派"
        log(db, case, "escalated", f"超过{minutes}分钟未受理，已提醒主管")
    for supervisor in supervisors:
        notify.acceptance_escalated(db, case, supervisor, why, settings.public_url)


# ---------------------------------------------------------------------------------------------
# APScheduler wiring. Persisted jobs name their function by reference ("bot.scheduler:run_job")
# and carry only the job's name; the function reaches the Jobs of the leader in this process.
# ---------------------------------------------------------------------------------------------
_leader_jobs: Jobs | None = None
_leader_jobs_guard = threading.Lock()


def run_job(name: str):
    jobs = _leader_jobs
    if jobs is None:  # this process stepped down while the job was queued: not ours to run
        logger.info("skipping %s: this process is not the scheduler leader", name)
        return None
    result = getattr(jobs, name)()
    if did_something(result):
        # The one line a run leaves in the log, and only when it changed something: the outbox
        # runs every few seconds, and "nothing to do" forty times a minute buries what matters.
        logger.info("%s: %s", name, describe(result))
    return result


def _figures(result) -> dict:
    if hasattr(result, "as_dict"):
        return result.as_dict()
    if isinstance(result, dict):
        return result
    return {"queued": result} if isinstance(result, int) else {}


def did_something(result) -> bool:
    if isinstance(result, dispatcher.DispatchCounts):
        return result.claimed > 0
    return any(v for v in _figures(result).values() if isinstance(v, (int, float)))


def describe(result) -> str:
    return ", ".join(f"{k} {v}" for k, v in _figures(result).items() if v)


def _set_leader_jobs(jobs: Jobs | None, only_if: Jobs | None = None) -> None:
    global _leader_jobs
    with _leader_jobs_guard:
        if only_if is None or _leader_jobs is only_if:
            _leader_jobs = jobs


def job_definitions(settings: Settings) -> list[dict]:
    tz = SERVICE_TZ
    return [
        dict(id="outbox-dispatch", args=["dispatch_outbox"], jobstore="memory",
             trigger=IntervalTrigger(seconds=settings.dispatch_interval_s, timezone=tz)),
        dict(id="unaccepted-assignments", args=["unaccepted_assignments"], jobstore="memory",
             trigger=IntervalTrigger(seconds=settings.accept_check_interval_s, timezone=tz)),
        dict(id="case-materials", args=["case_materials"], jobstore="memory",
             trigger=IntervalTrigger(seconds=settings.material_check_interval_s, timezone=tz)),
        dict(id="rating-reminders", args=["rating_reminders"], jobstore="memory",
             trigger=IntervalTrigger(hours=1, timezone=tz)),
        dict(id="completion-deadlines", args=["completion_deadlines"], jobstore="memory",
             trigger=IntervalTrigger(hours=1, timezone=tz)),
        dict(id="escalation-deadlines", args=["escalation_deadlines"], jobstore="memory",
             trigger=IntervalTrigger(hours=1, timezone=tz)),
        dict(id="appointment-reminders", args=["appointment_reminders"], jobstore="memory",
             trigger=IntervalTrigger(minutes=15, timezone=tz)),
        dict(id="sla-sweep", args=["sla_sweep"], jobstore="default",
             trigger=CronTrigger(hour=",".join(str(h) for h in settings.sla_sweep_hours), minute=0, timezone=tz)),
        dict(id="daily-digest", args=["daily_digest"], jobstore="default",
             trigger=CronTrigger(hour=settings.digest_hour, minute=0, timezone=tz)),
    ]


def build_scheduler(settings: Settings) -> BackgroundScheduler:
    # APScheduler logs "Running job …" and "… executed successfully" at INFO for every run: two
    # lines every 3 s for the outbox alone. run_job says what a run did instead; APScheduler's
    # warnings (missed runs, errors) still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=make_engine(settings.database_url)),
                   "memory": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(4)},
        # max_instances=1: a slow run is never doubled by the next tick; coalesce: after downtime,
        # one catch-up run, not one per missed tick; the grace says how late is still worth it.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=SERVICE_TZ,
    )


def _install_jobs(scheduler: BackgroundScheduler, settings: Settings) -> None:
    """Add the jobs; a persisted job whose trigger did not change is kept as stored, so its
    missed run (say, the 08:00 digest while no leader was up) still happens."""
    for job in job_definitions(settings):
        stored = scheduler.get_job(job["id"], jobstore=job["jobstore"])
        if stored is not None and str(stored.trigger) == str(job["trigger"]) and list(stored.args) == job["args"]:
            continue
        scheduler.add_job("bot.scheduler:run_job", replace_existing=True, name=job["id"], **job)


class LeaderScheduler:
    """Runs the jobs while this process holds the leader lock (always, without Redis)."""

    def __init__(self, settings: Settings, jobs: Jobs | None = None, redis_client=None,
                 lock_name: str = LEADER_LOCK_NAME):
        self.settings = settings
        self.jobs = jobs or Jobs(settings)
        if redis_client is None and settings.redis_url:
            import redis

            redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.redis = redis_client
        self.ttl = settings.scheduler_lock_ttl_s
        # thread_local=False: the lock is taken by the campaign thread but released by stop().
        self._lock = (redis_client.lock(lock_name, timeout=self.ttl, thread_local=False)
                      if redis_client is not None else None)
        self._scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = threading.Lock()
        self.runs: Counter = Counter()  # job id -> runs finished here (status pages, tests)
        self.terms = 0  # how many times this process became the leader

    @property
    def is_leader(self) -> bool:
        return self._scheduler is not None

    def start(self) -> "LeaderScheduler":
        if self._lock is None:
            self._lead()
            return self
        self._thread = threading.Thread(target=self._campaign, name="scheduler-leader-election", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.ttl + 5)
        self._step_down("stopping", wait=True)

    # -- leadership --------------------------------------------------------------------------
    def _campaign(self) -> None:
        renew_every = self.ttl / 3
        while not self._stop.is_set():
            try:
                if self.is_leader:
                    self._lock.reacquire()  # resets the TTL; raises if the lock is no longer ours
                elif self._lock.acquire(blocking=False):
                    try:
                        self._lead()
                    except Exception:
                        self._lock.release()  # could not start the jobs: let another process lead
                        raise
            except Exception as err:  # noqa: BLE001 - lost, stolen or unreachable: stop leading
                if self.is_leader:
                    self._step_down(f"cannot renew the leader lock ({err.__class__.__name__}: {err})")
                else:
                    logger.warning("scheduler election: %s: %s", err.__class__.__name__, err)
            self._stop.wait(renew_every)

    def _lead(self) -> None:
        with self._state:
            if self._scheduler is not None or self._stop.is_set():
                return
            scheduler = build_scheduler(self.settings)
            scheduler.add_listener(self._count_run, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
            _set_leader_jobs(self.jobs)
            scheduler.start(paused=True)
            _install_jobs(scheduler, self.settings)
            scheduler.resume()
            self._scheduler = scheduler
            self.terms += 1
        logger.info("this process is now the scheduler leader")

    def _step_down(self, reason: str, wait: bool = False) -> None:
        with self._state:
            scheduler, self._scheduler = self._scheduler, None
            if scheduler is not None:
                _set_leader_jobs(None, only_if=self.jobs)
                scheduler.shutdown(wait=wait)
                # A clean stop is routine; losing the lead is what an operator may want to know.
                logger.log(logging.INFO if self._stop.is_set() else logging.WARNING,
                           "scheduler stopped its jobs: %s", reason)
            if self._lock is not None:
                try:
                    self._lock.release()  # the others need not wait for the TTL
                except Exception as err:  # noqa: BLE001 - not ours any more, or Redis is away: it expires
                    logger.debug("leader lock not released (%s); it expires by itself", err)

    def _count_run(self, event: JobExecutionEvent) -> None:
        self.runs[event.job_id] += 1
        if event.exception is not None:
            logger.error("job %s failed: %s", event.job_id, event.exception)


def start_in_app(settings: Settings) -> LeaderScheduler | None:
    """For app processes: campaign for leadership unless SCHEDULER_IN_APP=false."""
    if not settings.scheduler_in_app:
        return None
    return LeaderScheduler(settings).start()


def run_forever(settings: Settings, stop: threading.Event | None = None) -> None:
    """`bangban scheduler`: a process that only schedules, until SIGTERM/SIGINT (or `stop`)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    leader = LeaderScheduler(settings).start()
    logger.info("scheduler process up (%s)", "Redis leader election" if settings.redis_url else "sole leader")
    try:
        stop.wait()
    finally:
        leader.stop()
