"""bangban serve / scheduler / ask / chat: running the bot, and talking to it from a terminal."""
from __future__ import annotations

import json
import sys
import uuid

from bot.platform.config import load_settings

from .startup import started


def _manager(settings):
    from dialogs import build_manager

    return build_manager(settings)


def cmd_serve(args) -> int:
    settings = load_settings()
    return _serve(settings.on_port(args.port or settings.port), args.host or settings.host)


def _serve(settings, host: str) -> int:
    """The development server and, in the same process, the scheduler (the outbox among its jobs)."""
    from bot.platform.config import refuse_to_serve
    from webhook import create_app

    port = settings.port
    if problem := refuse_to_serve(settings, [host]):
        print(problem, file=sys.stderr)
        return 2
    app = create_app(settings)
    from bot.scheduler import start_in_app

    scheduler = start_in_app(settings)  # one process here: it is the leader
    started()
    print(f"帮办通 listening on http://{host}:{port}/wechat  (console: /console, health: /healthz)", flush=True)
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        if scheduler is not None:
            scheduler.stop()
    return 0


def cmd_scheduler(args) -> int:
    from bot.scheduler import run_forever

    started()  # the jobs build what they use as they run
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
    started()
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


def register(sub) -> None:
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
