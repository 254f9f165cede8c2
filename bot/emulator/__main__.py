"""python -m bot.emulator --port 8765: serve the emulator until interrupted."""
from __future__ import annotations

import argparse

from werkzeug.serving import WSGIRequestHandler, run_simple

from bot.emulator.app import create_app
from bot.emulator.state import DEFAULT_APPID, DEFAULT_SECRET


class _PathOnlyRequestHandler(WSGIRequestHandler):
    """Logs each call by its path alone: the query carries the access_token, and for
    /cgi-bin/token the AppSecret, which do not belong in a terminal or a log file."""

    def log_request(self, code="-", size="-"):
        self.log("info", '"%s %s" %s', self.command, self.path.split("?", 1)[0], code)


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
               threaded=True, use_reloader=False, request_handler=_PathOnlyRequestHandler)


if __name__ == "__main__":
    main()
