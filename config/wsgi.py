"""WSGI entry point: ``gunicorn config.wsgi:application``."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

try:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
except ImproperlyConfigured as exc:
    sys.stderr.write(f"configuration error: {exc}\n")
    # Exit code 4 is gunicorn's "application could not be loaded": the arbiter stops instead of
    # respawning workers that would fail the same way.
    sys.exit(4)
