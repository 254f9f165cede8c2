"""Run the emulator on a real socket, for tests that drive wechatpy over HTTP and for the demo."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.emulator.app import create_app


class _QuietRequestHandler(WSGIRequestHandler):
    # The access log would print every access_token and the app secret in request URLs.
    def log_request(self, *args, **kwargs):
        pass


@contextmanager
def serve(host: str = "127.0.0.1", port: int = 0, app: Flask | None = None,
          clock=None, quiet: bool = True) -> Iterator[str]:
    """Serve `app` (a fresh emulator by default) in a background thread; yield its base URL.

    port=0 lets the OS pick a free port, so parallel test runs never collide.
    """
    app = app if app is not None else create_app(clock=clock)
    handler = _QuietRequestHandler if quiet else WSGIRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    # A short poll interval keeps shutdown (and so each test using serve()) quick.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="wechat-emulator", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
