"""gunicorn settings for 帮办通 (`gunicorn -c gunicorn.conf.py webhook.wsgi:app`).

Workers are forked before they import the app (no preload), so each opens its own database pool,
Redis connections and scheduler threads: threads and pooled sockets do not survive fork().
"""
import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
preload_app = False
# WeChat waits 5 s; a request still running after 30 s is stuck, not slow.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Bounded request size at the edge too (the app caps bodies at WECHAT_MAX_BODY_BYTES).
limit_request_line = 8190
accesslog = "-"
# gunicorn's default format logs the request line with its query string ("%(r)s") and the referer:
# a /wechat query is a signature anyone could replay with another body, a console search may be
# a name. The path only ("%(U)s"), then, and no referer.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"'
errorlog = "-"


def on_starting(server):
    """Before listening: refuse the public development SECRET_KEY on an address others reach
    (bot.platform.config.refuse_to_serve); gunicorn prints the reason and exits 1."""
    from bot.platform.config import load_settings, refuse_to_serve

    hosts = [b.rsplit(":", 1)[0] if not b.startswith("unix:") and ":" in b else b for b in server.cfg.bind]
    if problem := refuse_to_serve(load_settings(), hosts):
        raise RuntimeError(problem)
