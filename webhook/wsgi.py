"""Production entry point: `gunicorn webhook.wsgi:app` (settings from the environment)."""
from . import create_app

app = create_app()
