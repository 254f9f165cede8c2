"""bangban db: schema migrations (Alembic)."""
from __future__ import annotations

from bot.platform.config import load_settings


def cmd_db_upgrade(args) -> int:
    from bot.platform.db import upgrade

    url = load_settings().database_url
    upgrade(url, args.revision)
    print(f"database at {args.revision}: {url.split('@')[-1]}")
    return 0


def cmd_db_revision(args) -> int:
    from alembic import command

    from bot.platform.db import alembic_config

    command.revision(alembic_config(load_settings().database_url), message=args.message, autogenerate=True)
    return 0


def register(sub) -> None:
    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    s = db.add_parser("upgrade", help="apply migrations (DATABASE_URL)")
    s.add_argument("revision", nargs="?", default="head")
    s.set_defaults(func=cmd_db_upgrade)
    s = db.add_parser("revision", help="autogenerate a migration from bot/models.py (developers)")
    s.add_argument("-m", "--message", required=True)
    s.set_defaults(func=cmd_db_revision)
