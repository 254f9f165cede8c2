"""HTTP edge: the WeChat callback (and, as they land, the staff console and web chat)."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, jsonify, request
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.platform.config import Settings, load_settings
from bot.platform.logs import request_id, setup_logging


def create_app(settings: Settings | None = None, manager=None) -> Flask:
    """App factory: one place that wires settings, the services (dialogs/services.py), the dialog
    manager on them and the blueprints. A test hands in a manager from dialogs.build_manager,
    and its services with it."""
    from dialogs import build_manager, build_services

    from .chat import bp as chat_bp
    from .console import init_app as init_console
    from .pages import init_app as init_pages
    from .params import IdConverter
    from .replay_guard import NonceGuard
    from .retry_guard import RetryGuard
    from .wechat import bp as wechat_bp

    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["BANGBAN_SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if settings.trusted_proxies:
        # request.remote_addr (the login throttle's client address) becomes the address the
        # outermost trusted proxy saw, not the proxy's own; nothing further out is believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    if manager is None:
        manager = build_manager(services=build_services(settings))
        manager.warm()  # jieba and the intent model load now, not on the first user's message
    services = manager.services
    app.extensions["bangban_services"] = services  # the console's database, store and knowledge base
    app.extensions["bangban_dialogs"] = manager
    app.extensions["bangban_retry_guard"] = RetryGuard(
        services.kv, ttl_s=settings.dedup_ttl_s, wait_s=settings.reply_budget_s)
    app.extensions["bangban_nonce_guard"] = NonceGuard(services.kv, window_s=settings.max_timestamp_skew_s)
    # Turns run on a small pool so a slow one can be answered asynchronously (webhook/wechat.py).
    app.extensions["bangban_turns"] = ThreadPoolExecutor(max_workers=8, thread_name_prefix="turn")
    app.url_map.converters["int"] = IdConverter  # before any route: an id beyond 32 bits is a 404
    app.register_blueprint(wechat_bp)
    init_console(app)  # staff console (/console) and the approval-system API (/api/v1)
    app.register_blueprint(chat_bp)  # the web chat page (/chat): the same pipeline in a browser
    init_pages(app)  # Chinese 404/405 answers everywhere, and /favicon.ico

    @app.get("/healthz")
    def healthz():
        """Liveness: the process answers."""
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        """Readiness for the load balancer: the database answers; the shared store is reported,
        but its loss only degrades the bot (answers keep flowing), so it does not fail readiness."""
        import sqlalchemy as sa

        from bot.platform.kv import StoreUnavailable

        checks = {}
        try:
            with services.sessions() as db:
                db.execute(sa.text("select 1"))
            checks["database"] = "ok"
        except Exception as err:  # noqa: BLE001 - any failure means not ready
            checks["database"] = f"unavailable: {err.__class__.__name__}"
        try:
            services.kv.ping()
            checks["store"] = "ok"
        except StoreUnavailable:
            checks["store"] = "unavailable (degraded: no conversation state)"
        ready = checks["database"] == "ok"
        return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503

    @app.before_request
    def _request_id():
        # WeChat and load balancers may send one; otherwise each request gets its own, so every
        # log line of one message can be found together.
        request_id.set(request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16])

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-Id"] = request_id.get()
        return response

    setup_logging(settings.log_format)
    return app
