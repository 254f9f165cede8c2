"""bangban wechat: the Official Account's own settings at WeChat: the custom menu and QR codes.

    bangban wechat menu push [--file config/menu.yaml]   check the menu, then menu/create
    bangban wechat menu show                             what WeChat has now (menu/get)
    bangban wechat qr region <region>                     a permanent 帮代办窗口 poster code

Every call goes through wechatpy's client at WECHAT_API_BASE (the local emulator in tests and
the demo), with the access_token the dispatcher shares; codes are minted by webhook/wechat_codes.py,
as `bangban staff bind-qr` mints the staff binding code.
"""
from __future__ import annotations

import sys
from urllib.parse import urlsplit

from bot.platform.config import load_settings


def _client(settings):
    from webhook.wechat_codes import MintRefused, client_for

    try:
        return client_for(settings)
    except MintRefused as err:
        raise SystemExit(str(err)) from None


def _refused(err) -> int:
    print(f"WeChat refused: {err.errcode} {err.errmsg}", file=sys.stderr)
    return 1


def cmd_menu_push(args) -> int:
    from wechatpy.exceptions import WeChatClientException

    from dialogs import menu

    settings = load_settings()
    try:
        body = menu.load(args.file).for_wechat(settings.public_url)
    except menu.MenuError as err:
        print(f"menu not pushed: {err}", file=sys.stderr)
        return 1
    try:
        _client(settings).menu.create(body)
    except WeChatClientException as err:
        return _refused(err)
    host = urlsplit(settings.public_url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        print(f"note: PUBLIC_URL is {settings.public_url}: the menu's web pages open there, which people's "
              "phones cannot reach; set PUBLIC_URL to the public address and push again", file=sys.stderr)
    print(f"menu pushed: {len(body['button'])} buttons, "
          f"{sum(len(b.get('sub_button', [])) for b in body['button'])} sub buttons")
    _print_menu(body["button"])
    return 0


def _print_menu(buttons: list[dict]) -> None:
    for b in buttons:
        subs = b.get("sub_button") or []
        print(f"  {b['name']}" + ("" if subs else f"  {_action(b)}"))
        for s in subs:
            print(f"    - {s['name']}  {_action(s)}")


def _action(b: dict) -> str:
    if b.get("type") == "view":
        return f"view {b.get('url', '')}"
    return f"{b.get('type', '?')} {b.get('key', '')}"


def cmd_menu_show(args) -> int:
    from wechatpy.exceptions import WeChatClientException

    try:
        answer = _client(load_settings()).menu.get()
    except WeChatClientException as err:
        if err.errcode == 46003:
            print("WeChat has no menu for this account yet: `bangban wechat menu push`")
            return 0
        return _refused(err)
    if answer is None:  # wechatpy answers 46003 (no menu) with None
        print("WeChat has no menu for this account yet: `bangban wechat menu push`")
        return 0
    _print_menu((answer.get("menu") or {}).get("button") or [])
    return 0


def cmd_qr_region(args) -> int:
    from bot.people import qr_codes
    from knowledge import load
    from webhook.wechat_codes import MintRefused, mint_poster

    from .staff import _staff_db

    settings = load_settings()
    regions = load(strict=False).regions  # only the regions: a problem in an entry is no reason to refuse
    region = args.region if args.region in regions else next(
        (r.id for r in regions.values() if args.region in r.names), None)
    if region is None:
        print(f"no region {args.region!r}; one of: {', '.join(regions)}", file=sys.stderr)
        return 1
    try:
        minted = mint_poster(settings, _staff_db(), region)
    except MintRefused as err:
        print(f"no code: {err}", file=sys.stderr)
        return 1
    print(f"{regions[region].name} 帮代办窗口 poster code (permanent, scene {qr_codes.region_scene(region)}):")
    print(minted.url)
    return 0


def register(sub) -> None:
    wx = sub.add_parser("wechat", help="the Official Account at WeChat: custom menu, QR codes").add_subparsers(
        dest="wechat_command", required=True)
    m = wx.add_parser("menu", help="the custom menu (自定义菜单)").add_subparsers(dest="menu_command", required=True)
    s = m.add_parser("push", help="check config/menu.yaml and send it to WeChat (menu/create)")
    s.add_argument("--file", default=None, help="the menu file (default config/menu.yaml)")
    s.set_defaults(func=lambda a: cmd_menu_push(_default_file(a)))
    m.add_parser("show", help="the menu WeChat has now (menu/get)").set_defaults(func=cmd_menu_show)
    q = wx.add_parser("qr", help="QR codes with a scene (带参数二维码)").add_subparsers(dest="qr_command", required=True)
    s = q.add_parser("region", help="a region's 帮代办窗口 poster: scanning presets the region and offers to apply")
    s.add_argument("region", help="region id or name, e.g. jiangbei or 江北")
    s.set_defaults(func=cmd_qr_region)


def _default_file(args):
    if args.file is None:
        from dialogs.menu import DEFAULT_PATH

        args.file = DEFAULT_PATH
    return args
