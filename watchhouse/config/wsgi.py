"""WSGI entry point, served by granian in `watchhouse serve`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchhouse.config.settings")
application = get_wsgi_application()
