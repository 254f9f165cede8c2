"""Production entry point: `gunicorn -c gunicorn.conf.py webhook.wsgi:app`.

Each worker imports this after gunicorn forks it (preload_app stays off), so each builds its own
app and campaigns for scheduler leadership in its own threads; with Redis exactly one of them
(or a separate `bangban scheduler` process) runs the jobs. SCHEDULER_IN_APP=false opts out.
"""
from bot.platform.config import load_settings
from bot.scheduler import start_in_app

from . import create_app

settings = load_settings()
app = create_app(settings)
scheduler = start_in_app(settings)
