"""SLA sweep at scale: 100k open approval items on PostgreSQL, swept twice.

    .venv/bin/python bench/sla_sweep.py [--items 100000] [--database-url postgresql+psycopg://...]

Seeds a throw-away schema with COPY (regions, commissioners, supervisors, cases with 4 items
each), then times the sweep (target < 2 s) and a second sweep the same day (idempotent: it must
insert nothing). Two scenarios, because the sweep's cost is the rows it inserts, not the items it
reads: "steady" has 10 % of the items overdue (1-25 days), "backlog" 30 % (say, the first sweep
after importing a neglected ledger); the rest are due within the next 60 days. Each scenario
gets its own schema, dropped at the end unless --keep.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bot.platform.config import Settings  # noqa: E402
from bot.platform.db import make_engine, make_sessionmaker, transaction, upgrade  # noqa: E402
from bot.platform.workdays import load_calendar  # noqa: E402
from bot.supervision import sla  # noqa: E402

DEFAULT_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REGIONS = 20
COMMISSIONERS_PER_REGION = 10
SUPERVISORS_PER_REGION = 2
ITEMS_PER_CASE = 4
ITEM_STATES = ("pending", "submitted", "accepted", "correction", "reviewing")
CASE_STATES = ("accepted", "in_progress", "in_progress", "applied")
TARGET_SECONDS = 2.0
SCENARIOS = {"steady": 0.10, "backlog": 0.30}  # share of the items already overdue


def seed(engine: sa.Engine, items: int, today: date, overdue_share: float) -> None:
    rnd = random.Random(42)
    now = datetime.now(timezone.utc)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            staff_id = 0
            commissioners: dict[int, list[int]] = {}
            with cur.copy("COPY staff (id, username, name, role, region, wechat_openid, active, created_at) "
                          "FROM STDIN") as copy:
                for region in range(REGIONS):
                    for role, count in (("commissioner", COMMISSIONERS_PER_REGION),
                                        ("supervisor", SUPERVISORS_PER_REGION)):
                        for _ in range(count):
                            staff_id += 1
                            if role == "commissioner":
                                commissioners.setdefault(region, []).append(staff_id)
                            copy.write_row((staff_id, f"u{staff_id}", f"员工{staff_id}", role, f"r{region}",
                                            f"oStaff{staff_id}", True, now))
            cases = items // ITEMS_PER_CASE
            with cur.copy("COPY cases (id, number, mode, state, applicant_openid, company_name, credit_code, "
                          "project_name, region, investment_type, key_project, stage, contact_name, "
                          "commissioner_id, created_at) FROM STDIN") as copy:
                for case_id in range(1, cases + 1):
                    region = case_id % REGIONS
                    copy.write_row((case_id, f"BD-2026-{case_id:06d}", "帮办", rnd.choice(CASE_STATES),
                                    f"oEnt{case_id}", f"示例企业{case_id}有限公司", "91350100M000100Y43",
                                    f"示例项目{case_id}", f"r{region}", "社会投资", False, "3", "陈经理",
                                    rnd.choice(commissioners[region]), now))
            with cur.copy("COPY case_items (id, case_id, item_code, name, department, state, time_limit_wd, "
                          "due_date, updated_at) FROM STDIN") as copy:
                for item_id in range(1, cases * ITEMS_PER_CASE + 1):
                    case_id = (item_id - 1) // ITEMS_PER_CASE + 1
                    late = rnd.random() < overdue_share
                    due = today + timedelta(days=-rnd.randint(1, 25) if late else rnd.randint(0, 60))
                    copy.write_row((item_id, case_id, f"item{item_id % 12}", f"审批事项{item_id % 12}",
                                    "住房和城乡建设部门", rnd.choice(ITEM_STATES), 10, due, now))
            for table in ("staff", "cases", "case_items"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                cur.execute(f"ANALYZE {table}")
        conn.commit()
    finally:
        raw.close()


def run_scenario(database_url: str, name: str, overdue_share: float, items: int, keep: bool) -> None:
    schema = f"bench_sla_{name}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in database_url else "?"
    url = f"{database_url}{sep}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        calendar = load_calendar()
        settings = Settings()
        today = date(2026, 11, 18)

        started = time.perf_counter()
        seed(engine, items, today, overdue_share)
        print(f"[{name}] seeded {items} open items, {overdue_share:.0%} overdue, in {items // ITEMS_PER_CASE} "
              f"cases ({REGIONS} regions) in {time.perf_counter() - started:.1f} s")

        for label in ("first sweep", "second sweep (same day)"):
            started = time.perf_counter()
            with transaction(sessions) as db:
                counts = sla.sweep(db, calendar, settings, today=today)
            elapsed = time.perf_counter() - started
            verdict = "OK" if elapsed < TARGET_SECONDS else f"SLOWER than the {TARGET_SECONDS:.0f} s target"
            print(f"[{name}] {label}: {elapsed:.2f} s [{verdict}] {counts.as_dict()}")
        engine.dispose()
    finally:
        if not keep:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append",
                        help="run only this scenario (repeatable); default: all")
    parser.add_argument("--keep", action="store_true", help="keep the bench schemas")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        sys.exit("the sweep bench needs PostgreSQL (--database-url postgresql+psycopg://...)")
    for name in args.scenario or SCENARIOS:
        run_scenario(args.database_url, name, SCENARIOS[name], args.items, args.keep)


if __name__ == "__main__":
    main()
