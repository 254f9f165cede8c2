"""python -m bot.emulator --port 8765: serve the emulator until interrupted."""
from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from .app import create_app
from .state import DEFAULT_APPID, DEFAULT_SECRET


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="WeChat Official Account API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--appid", default=DEFAULT_APPID)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    args = parser.parse_args(argv)
    print(f"WeChat emulator on http://{args.host}:{args.port} "
          f"(appid={args.appid}, secret={args.secret}); controls under /_emulator/")
    run_simple(args.host, args.port, create_app(appid=args.appid, secret=args.secret),
               threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
