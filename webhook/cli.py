"""`bangban`: the one command for people, tests and benchmarks.

It sits at the top of the dependency graph (it wires every layer), which is why it lives beside
the other entry points here rather than in bot/.
"""
from __future__ import annotations

import argparse
import json
import sys
import uuid

from bot.config import load_settings


def _manager(settings):
    from dialogs import build_manager

    return build_manager(settings)


def cmd_serve(args) -> int:
    from . import create_app

    settings = load_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)
    from bot.scheduler import start_in_app

    scheduler = start_in_app(settings)  # one process here: it is the leader
    print(f"帮办通 listening on http://{host}:{port}/wechat  (console: /console, health: /healthz)", flush=True)
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        if scheduler is not None:
            scheduler.stop()
    return 0


def cmd_scheduler(args) -> int:
    from bot.scheduler import run_forever

    run_forever(load_settings())
    return 0


def cmd_ask(args) -> int:
    turn = _manager(load_settings()).handle_text(args.user or f"cli-{uuid.uuid4().hex[:12]}", args.question)
    if args.json:
        print(json.dumps(turn.as_dict(), ensure_ascii=False))
    else:
        print(turn.reply)
    return 0


def cmd_chat(args) -> int:
    manager = _manager(load_settings())
    user = args.user or f"cli-{uuid.uuid4().hex[:12]}"
    interactive = sys.stdin.isatty()
    if interactive:
        print("帮办通 · 输入问题后回车，Ctrl-D 退出", flush=True)
    for line in sys.stdin:
        text = line.rstrip("\n")
        if interactive and not text.strip():
            continue
        turn = manager.handle_text(user, text)
        print(turn.reply + ("\n" if interactive else ""), flush=True)
        if not interactive:
            print("---", flush=True)  # separates replies for whoever reads a pipe
    return 0


def cmd_db_upgrade(args) -> int:
    from bot.db import upgrade

    url = load_settings().database_url
    upgrade(url, args.revision)
    print(f"database at {args.revision}: {url.split('@')[-1]}")
    return 0


def cmd_db_revision(args) -> int:
    from alembic import command

    from bot.db import alembic_config

    command.revision(alembic_config(load_settings().database_url), message=args.message, autogenerate=True)
    return 0


def cmd_kb_check(args) -> int:
    from knowledge import check

    problems = check()
    if problems:
        print(f"{len(problems.lines)} problem(s) in the knowledge base:")
        for line in problems.lines:
            print("  - " + line)
        return 1
    print("knowledge base OK")
    return 0


def cmd_kb_stats(args) -> int:
    from collections import Counter

    from knowledge import load

    kb = load()
    regions = Counter(e.region for e in kb.entries)
    print(f"entries: {len(kb.entries)}  topics: {len(kb.topics)}  "
          f"questions: {sum(len(e.questions) for e in kb.entries)}")
    print(f"regions: {len(kb.regions)}  stages: {len(kb.stages)}  approval items: {len(kb.items)}")
    print("entries by region: " + ", ".join(f"{r} {n}" for r, n in sorted(regions.items())))
    print(f"general national guidance: {sum(e.general_guidance for e in kb.entries)} entries")
    reviewed = sorted(e.reviewed for e in kb.entries if e.reviewed)
    if reviewed:
        print(f"last reviewed: oldest {reviewed[0]}, newest {reviewed[-1]}")
    return 0


def cmd_kb_gaps(args) -> int:
    from bot import kb_log
    from bot.db import open_database, transaction

    with transaction(open_database(load_settings().database_url)) as db:
        gaps = kb_log.gaps(db, limit=args.limit)
    if not gaps:
        print("no unanswered questions recorded")
        return 0
    print("times  last asked        question  (best guess)")
    for g in gaps:
        print(f"{g.times:5d}  {g.last_asked}  {g.question}  ({g.best_guess or '-'})")
    return 0


def _staff_db():
    from bot.db import open_database, upgrade

    url = load_settings().database_url
    upgrade(url)
    return open_database(url)


def cmd_staff_add(args) -> int:
    import getpass

    from bot import staff
    from bot.db import transaction

    password = args.password or getpass.getpass(f"{args.username} 的登录密码：")
    try:
        with transaction(_staff_db()) as db:
            s = staff.create_staff(db, username=args.username, name=args.name, role=args.role, region=args.region,
                                   password=password, wechat_openid=args.openid)
            print(f"added {s.role} {s.username} ({s.name}, {s.region})")
    except staff.StaffError as err:
        print(f"not added: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_staff_list(args) -> int:
    import sqlalchemy as sa

    from bot.db import transaction
    from bot.models import Staff

    with transaction(_staff_db()) as db:
        rows = db.scalars(sa.select(Staff).order_by(Staff.region, Staff.role, Staff.username)).all()
        for s in rows:
            print(f"{s.region:<12} {s.role:<12} {s.username:<16} {s.name:<8} "
                  f"{'alerts on' if s.wechat_openid else 'no alerts'}{'' if s.active else '  (inactive)'}")
    if not rows:
        print("no staff yet: `bangban staff add ...` or `bangban staff seed-demo`")
    return 0


def cmd_staff_seed_demo(args) -> int:
    from bot import staff
    from bot.db import transaction

    with transaction(_staff_db()) as db:
        roster = staff.seed_demo_roster(db)
    print(f"demo roster ready: {len(roster)} staff, password {staff.DEMO_PASSWORD!r} (change it outside a demo)")
    return 0


def cmd_staff_token(args) -> int:
    import sqlalchemy as sa

    from bot import staff
    from bot.db import transaction
    from bot.models import Staff

    with transaction(_staff_db()) as db:
        s = db.scalar(sa.select(Staff).where(Staff.username == staff.normalize_username(args.username)))
        if s is None:
            print(f"no staff member {args.username}", file=sys.stderr)
            return 1
        token = staff.mint_token(db, s, label=args.label)
    print(token)
    print("(shown once: store it in the approval system's configuration)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bangban", description="帮办通: WeChat 帮办/代办 assistant")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the WeChat webhook (development server)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)

    sub.add_parser("scheduler", help="run only the background jobs (outbox, SLA sweep, digest)").set_defaults(
        func=cmd_scheduler)

    s = sub.add_parser("ask", help="the reply a brand-new user gets to one message")
    s.add_argument("question")
    s.add_argument("--json", action="store_true", help="one JSON object: reply, intent, topic, confidence")
    s.add_argument("--user", help="user id (default: a new one)")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", help="a conversation: one message per line on stdin")
    s.add_argument("--user", help="user id; reuse it to continue a conversation")
    s.set_defaults(func=cmd_chat)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    s = db.add_parser("upgrade", help="apply migrations (DATABASE_URL)")
    s.add_argument("revision", nargs="?", default="head")
    s.set_defaults(func=cmd_db_upgrade)
    s = db.add_parser("revision", help="autogenerate a migration from bot/models.py (developers)")
    s.add_argument("-m", "--message", required=True)
    s.set_defaults(func=cmd_db_revision)

    st = sub.add_parser("staff", help="commissioners and supervisors").add_subparsers(dest="staff_command", required=True)
    s = st.add_parser("add", help="add a commissioner or supervisor")
    s.add_argument("username")
    s.add_argument("--name", required=True)
    s.add_argument("--role", required=True, choices=["commissioner", "supervisor"])
    s.add_argument("--region", required=True, help="region id, e.g. donghu")
    s.add_argument("--openid", help="their WeChat openid, for alerts")
    s.add_argument("--password", help="login password (asked for when omitted)")
    s.set_defaults(func=cmd_staff_add)
    st.add_parser("list", help="the roster").set_defaults(func=cmd_staff_list)
    st.add_parser("seed-demo", help="two commissioners and a supervisor per region (demo data)").set_defaults(
        func=cmd_staff_seed_demo)
    s = st.add_parser("token", help="mint an API token for the approval system")
    s.add_argument("username")
    s.add_argument("--label", default="")
    s.set_defaults(func=cmd_staff_token)

    kb = sub.add_parser("kb", help="knowledge base tools").add_subparsers(dest="kb_command", required=True)
    kb.add_parser("check", help="validate every entry").set_defaults(func=cmd_kb_check)
    kb.add_parser("stats", help="counts").set_defaults(func=cmd_kb_stats)
    s = kb.add_parser("gaps", help="questions the bot could not answer, most frequent first")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(func=cmd_kb_gaps)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except BrokenPipeError:  # `bangban ask ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
