"""WSGI entry point, served by granian in `watchhouse serve` (or any WSGI server)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchhouse.config.settings")
django_application = get_wsgi_application()

# Imported once Django is set up. Repeat requests for cached public pages and feeds are
# answered here, before Django's middleware, because everyone opens them at once.
from watchhouse.core.pagecache import PageCacheApp  # noqa: E402

application = PageCacheApp(django_application)
