"""bangban staff: commissioners and supervisors, their passwords and API tokens."""
from __future__ import annotations

import sys

from bot.platform.config import load_settings
from bot.vocabulary import ROLES


def _staff_db():
    from bot.platform.db import open_database, upgrade

    url = load_settings().database_url
    upgrade(url)
    return open_database(url)


def cmd_staff_add(args) -> int:
    import getpass

    from bot.people import staff
    from bot.platform.db import transaction

    from bot.push import wecom

    wecom_userid = (args.wecom_userid or "").strip() or None
    if wecom_userid and (problem := wecom.userid_problem(wecom_userid)):
        print(f"not added: {problem}", file=sys.stderr)
        return 2
    password = args.password or getpass.getpass(f"{args.username} 的登录密码：")
    try:
        with transaction(_staff_db()) as db:
            s = staff.create_staff(db, username=args.username, name=args.name, role=args.role, region=args.region,
                                   password=password, wechat_openid=args.openid)
            s.wecom_userid = wecom_userid
            print(f"added {s.role} {s.username} ({s.name}, {s.region})")
    except staff.StaffError as err:
        print(f"not added: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_staff_list(args) -> int:
    import sqlalchemy as sa

    from bot.models import Staff
    from bot.platform.db import transaction

    with transaction(_staff_db()) as db:
        rows = db.scalars(sa.select(Staff).order_by(Staff.region, Staff.role, Staff.username)).all()
        for s in rows:
            alerts = ", ".join(a for a in ("WeChat" if s.wechat_openid else "",
                                            f"WeCom {s.wecom_userid}" if s.wecom_userid else "") if a)
            print(f"{s.region:<12} {s.role:<12} {s.username:<16} {s.name:<8} "
                  f"{f'alerts: {alerts}' if alerts else 'no alerts'}{'' if s.active else '  (inactive)'}")
    if not rows:
        print("no staff yet: `bangban staff add ...` or `bangban staff seed-demo`")
    return 0


def cmd_staff_regions(args) -> int:
    """The hierarchy (市 → 县/区 → 镇/园区), one code a line, indented by tier: what --region takes."""
    from bot.platform import region_tiers

    def show(code: str, depth: int) -> None:
        r = region_tiers.get(code)
        print(f"{'  ' * depth}{code:<{24 - 2 * depth}} {r.tier_name:<5} {r.name}{'  (示例)' if r.example else ''}")
        for child in region_tiers.children(code):
            show(child.code, depth + 1)

    for r in region_tiers.hierarchy().regions.values():
        if r.parent is None:
            show(r.code, 0)
    return 0


def cmd_staff_seed_demo(args) -> int:
    from bot.people import staff
    from bot.platform.db import transaction

    with transaction(_staff_db()) as db:
        roster = staff.seed_demo_roster(db)
    print(f"demo roster ready: {len(roster)} staff, password {staff.DEMO_PASSWORD!r} (change it outside a demo)")
    return 0


def _when(value) -> str:
    from bot.platform.clock import stamp

    return stamp(value) or "-"


def cmd_staff_token(args) -> int:
    """Mint a token (the default), or --list them, or --revoke one."""
    import sqlalchemy as sa

    from bot.models import Staff
    from bot.people import staff
    from bot.platform.db import transaction

    if args.username is None and not args.list and args.revoke is None:
        print("which staff member? `bangban staff token <username>` (or --list / --revoke ID)", file=sys.stderr)
        return 2
    with transaction(_staff_db()) as db:
        s = staff.by_username(db, args.username) if args.username else None
        if args.username and s is None:
            print(f"no staff member {args.username}", file=sys.stderr)
            return 1
        if args.revoke is not None:
            if not staff.revoke_token(db, args.revoke):
                print(f"no live token {args.revoke} (unknown or already revoked)", file=sys.stderr)
                return 1
            print(f"revoked token {args.revoke}")
            return 0
        if args.list:
            names = dict(db.execute(sa.select(Staff.id, Staff.username)).all())
            print(f"{'id':>4}  {'token':<14} {'staff':<16} {'scopes':<11} {'state':<8} {'created':<17} "
                  f"{'last used':<17} label")
            for t in staff.tokens_of(db, s):
                print(f"{t.id:>4}  {t.prefix + '…':<14} {names.get(t.staff_id, '?'):<16} {t.scopes:<11} "
                      f"{'revoked' if t.revoked_at else 'active':<8} {_when(t.created_at):<17} "
                      f"{_when(t.last_used_at):<17} {t.label}")
            return 0
        try:
            token = staff.mint_token(db, s, label=args.label, scopes=args.scope)
        except staff.StaffError as err:
            print(f"no token: {err}", file=sys.stderr)
            return 1
    print(token)
    print("(shown once: store it in the approval system's configuration)", file=sys.stderr)
    return 0


def cmd_staff_passwd(args) -> int:
    import getpass

    from bot.people import staff
    from bot.platform.db import transaction

    password = args.password
    if password is None:
        password = getpass.getpass(f"{args.username} 的新密码：")
        if getpass.getpass("再输入一次：") != password:
            print("not changed: the two entries differ", file=sys.stderr)
            return 1
    try:
        with transaction(_staff_db()) as db:
            s = staff.by_username(db, args.username)
            if s is None:
                print(f"no staff member {args.username}", file=sys.stderr)
                return 1
            staff.set_password(s, password)
    except staff.StaffError as err:
        print(f"not changed: {err}", file=sys.stderr)
        return 1
    print(f"password changed for {s.username}; their console sessions have ended")
    return 0


def cmd_staff_wecom(args) -> int:
    """Set (or --clear) the 企业微信 UserID a staff member's alerts go to first."""
    from bot.people import staff
    from bot.platform.db import transaction
    from bot.push import wecom

    userid = (args.userid or "").strip()
    if args.clear == bool(userid):
        print("give the WeCom UserID (`bangban staff wecom <username> <userid>`) or --clear", file=sys.stderr)
        return 2
    if userid and (problem := wecom.userid_problem(userid)):
        print(f"not changed: {problem}", file=sys.stderr)
        return 2
    settings = load_settings()
    with transaction(_staff_db()) as db:
        s = staff.by_username(db, args.username)
        if s is None:
            print(f"no staff member {args.username}", file=sys.stderr)
            return 1
        s.wecom_userid = userid or None
    if not userid:
        print(f"{s.username}: WeCom alerts off" + ("; alerts go to their WeChat" if s.wechat_openid else "; no alerts now"))
        return 0
    print(f"{s.username}: alerts go to WeCom user {userid}"
          + (" first, then their WeChat if WeCom cannot reach them" if s.wechat_openid else ""))
    if not settings.wecom_configured:
        print("  note: WECOM_CORPID / WECOM_SECRET / WECOM_AGENTID are not all set: WeCom alerts wait until they are",
              file=sys.stderr)
    return 0


def cmd_staff_deactivate(args) -> int:
    from bot.people import staff
    from bot.platform.db import transaction

    with transaction(_staff_db()) as db:
        s = staff.by_username(db, args.username)
        if s is None:
            print(f"no staff member {args.username}", file=sys.stderr)
            return 1
        still_open = staff.deactivate(db, s)
    print(f"deactivated {s.username}: no sign-in, API tokens revoked, no new assignments")
    if still_open:
        print(f"  {still_open} open case(s) still assigned to them: a supervisor reassigns them in the console")
    return 0


def cmd_staff_bind_qr(args) -> int:
    """A one-time binding code: the staff member scans it with their WeChat, and alerts go there."""
    from bot.people import qr_codes
    from webhook.wechat_codes import MintRefused, mint_binding

    ttl = int(args.minutes * 60)
    if not 60 <= ttl <= qr_codes.MAX_TEMPORARY_TTL_S:
        print(f"--minutes must be between 1 and {qr_codes.MAX_TEMPORARY_TTL_S // 60}", file=sys.stderr)
        return 2
    try:
        minted = mint_binding(load_settings(), _staff_db(), args.username, ttl_s=ttl)
    except MintRefused as err:
        print(f"no code: {err}", file=sys.stderr)
        return 1
    print(f"binding code for {args.username} ({minted.staff_name}): valid {args.minutes:g} min, once"
          + ("; scanning it replaces the WeChat account bound now" if minted.replaces_binding else ""))
    print(minted.url)
    return 0


def register(sub) -> None:
    st = sub.add_parser("staff", help="commissioners and supervisors").add_subparsers(dest="staff_command", required=True)
    s = st.add_parser("add", help="add a commissioner or supervisor")
    s.add_argument("username")
    s.add_argument("--name", required=True)
    s.add_argument("--role", required=True, choices=list(ROLES))
    s.add_argument("--region", required=True, help="region code, e.g. donghu or a sub-region such as "
                   "yyx_rongjiawan (`bangban staff regions` lists them)")
    s.add_argument("--openid", help="their WeChat openid, for alerts")
    s.add_argument("--wecom-userid", help="their 企业微信 UserID (账号): alerts go there first")
    s.add_argument("--password", help="login password (asked for when omitted)")
    s.set_defaults(func=cmd_staff_add)
    st.add_parser("list", help="the roster").set_defaults(func=cmd_staff_list)
    st.add_parser("regions", help="the region codes in their tiers (config/region_tiers.yaml)").set_defaults(
        func=cmd_staff_regions)
    st.add_parser("seed-demo", help="two commissioners and a supervisor per region (demo data)").set_defaults(
        func=cmd_staff_seed_demo)
    s = st.add_parser("token", help="mint an API token for the approval system (or --list, --revoke)")
    s.add_argument("username", nargs="?", help="whose token to mint (with --list: whose to list)")
    s.add_argument("--label", default="", help="what the token is for, shown in --list")
    s.add_argument("--scope", action="append", choices=["read", "write"],
                   help="read (default): cases; write: also report item progress")
    s.add_argument("--list", action="store_true", help="list tokens (everyone's, or the user's)")
    s.add_argument("--revoke", type=int, metavar="ID", help="revoke the token with this id (see --list)")
    s.set_defaults(func=cmd_staff_token)
    s = st.add_parser("passwd", help="set a staff member's password (ends their console sessions)")
    s.add_argument("username")
    s.add_argument("--password", help="the new password (asked for twice when omitted)")
    s.set_defaults(func=cmd_staff_passwd)
    s = st.add_parser("bind-qr", help="a one-time QR code that binds the WeChat account scanning it (alerts go there)")
    s.add_argument("username")
    s.add_argument("--minutes", type=float, default=30.0, help="how long the code lives (default 30)")
    s.set_defaults(func=cmd_staff_bind_qr)
    s = st.add_parser("wecom", help="set the 企业微信 UserID a staff member's alerts go to first (or --clear)")
    s.add_argument("username")
    s.add_argument("userid", nargs="?", help="their UserID (账号) in 企业微信 通讯录")
    s.add_argument("--clear", action="store_true", help="no WeCom alerts for them")
    s.set_defaults(func=cmd_staff_wecom)
    s = st.add_parser("deactivate", help="stop an account: no sign-in, tokens revoked, no new cases")
    s.add_argument("username")
    s.set_defaults(func=cmd_staff_deactivate)
