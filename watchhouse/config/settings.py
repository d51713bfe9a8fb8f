"""Watchhouse settings: the one place that reads the environment.

Every setting has a one-line comment. Production hardening is switched on by
``WATCHHOUSE_ENV=production``; nothing else changes behaviour behind the operator's back.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from watchhouse.config.env import env_bool, env_int, env_list, env_str

# The project checkout (where var/, node_modules/ and bench/ live).
BASE_DIR = Path(__file__).resolve().parent.parent.parent
# "development" (default), "test" or "production".
WATCHHOUSE_ENV = env_str("WATCHHOUSE_ENV", "development")
if WATCHHOUSE_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"WATCHHOUSE_ENV must be development, test or production, not {WATCHHOUSE_ENV!r}"
    )
# True when production hardening applies.
PRODUCTION = WATCHHOUSE_ENV == "production"
# True while the test suite runs (pytest sets WATCHHOUSE_ENV=test or this module is imported
# by pytest).
TESTING = WATCHHOUSE_ENV == "test" or "pytest" in sys.modules

# Writable state of a single-machine install: SQLite file, media, backups.
VAR_DIR = Path(env_str("WATCHHOUSE_VAR_DIR", str(BASE_DIR / "var")))

_DEV_SECRET = "dev-insecure-watchhouse-secret-key-change-me-in-production-0123456789"  # noqa: S105
# Signs sessions, links and tokens; production refuses the development default.
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET)
if PRODUCTION and (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters in production "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )
# Debug pages; never on in production.
DEBUG = env_bool("WATCHHOUSE_DEBUG", WATCHHOUSE_ENV == "development") and not PRODUCTION

# The public address of this site, used in links, feeds and e-mails.
SITE_URL = env_str("WATCHHOUSE_SITE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}").rstrip("/")
# Host names this site answers to.
ALLOWED_HOSTS = env_list(
    "WATCHHOUSE_ALLOWED_HOSTS",
    ["127.0.0.1", "localhost", "[::1]", "testserver"]
    + ([SITE_URL.split("//", 1)[1].split("/")[0].split(":")[0]] if "//" in SITE_URL else []),
)
# Origins trusted for CSRF-checked POSTs.
CSRF_TRUSTED_ORIGINS = env_list("WATCHHOUSE_CSRF_TRUSTED_ORIGINS", [SITE_URL])
# The department's name as shown on the site.
WATCHHOUSE_AGENCY_NAME = env_str("WATCHHOUSE_AGENCY_NAME", "Watchhouse Demo Police Department")

INSTALLED_APPS = [
    "watchhouse.config.admin.WatchhouseAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "watchhouse.core",
    "watchhouse.accounts",
    "watchhouse.audit",
    "watchhouse.geo",
    "watchhouse.geocode",
    "watchhouse.crimemap",
    "watchhouse.notify",
    "watchhouse.alerts",
    "watchhouse.posts",
    "watchhouse.tips",
    "watchhouse.community",
    "watchhouse.rumors",
    "watchhouse.outlets",
    "watchhouse.monitoring",
    "watchhouse.web",
    "watchhouse.console",
    "watchhouse.api",
]

MIDDLEWARE = [
    "watchhouse.core.middleware.RequestIdMiddleware",
    "watchhouse.core.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "watchhouse.config.urls"
WSGI_APPLICATION = "watchhouse.config.wsgi.application"
ASGI_APPLICATION = "watchhouse.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "watchhouse.web.context_processors.site",
            ],
        },
    },
]

# The database: SQLite in var/ by default, PostgreSQL (or any Django backend) by URL.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'watchhouse.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite cannot create the folder of its file; a fresh checkout has no var/ yet.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock when the transaction starts, so concurrent writers queue
        # instead of failing half-way; WAL lets readers run beside a writer.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA busy_timeout=20000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis, when set, carries the task queue (RQ), the cache and rate-limit counters.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("WATCHHOUSE_CACHE_PREFIX", "watchhouse"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Which task backend runs background work: "database" (default) or "rq" (needs REDIS_URL).
WATCHHOUSE_TASK_BACKEND = env_str("WATCHHOUSE_TASK_BACKEND", "rq" if REDIS_URL else "database")
if WATCHHOUSE_TASK_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured("WATCHHOUSE_TASK_BACKEND=rq needs REDIS_URL.")
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {
        "default": {
            "URL": REDIS_URL,
            # A job's time limit; a job whose worker died is retried once this has passed.
            "DEFAULT_TIMEOUT": env_int("WATCHHOUSE_TASK_TIMEOUT_SECONDS", 900),
            "QUEUE_CLASS": "watchhouse.core.taskqueue.RetryingQueue",
        }
    }
elif WATCHHOUSE_TASK_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
else:
    raise ImproperlyConfigured("WATCHHOUSE_TASK_BACKEND must be 'database' or 'rq'.")
# Seconds without a heartbeat after which a worker is presumed dead and its task re-queued.
WATCHHOUSE_WORKER_LEASE_SECONDS = env_int("WATCHHOUSE_WORKER_LEASE_SECONDS", 30)
# How many times a task is attempted before it is recorded as failed for good.
WATCHHOUSE_TASK_MAX_ATTEMPTS = env_int("WATCHHOUSE_TASK_MAX_ATTEMPTS", 5)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Counts failures and locks out before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "console:home"
# Staff must confirm a TOTP code at every login (always on in production).
WATCHHOUSE_MFA_REQUIRED = PRODUCTION or env_bool("WATCHHOUSE_MFA_REQUIRED", False)
# Failed logins from one user name and address before it is locked out.
AXES_FAILURE_LIMIT = env_int("WATCHHOUSE_LOGIN_FAILURE_LIMIT", 5)
# Hours a lock-out lasts.
AXES_COOLOFF_TIME = env_int("WATCHHOUSE_LOGIN_COOLOFF_HOURS", 1)
# Lock out the combination of user name and address, so one attacker cannot lock out everyone.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Keep the attempt records even when a login finally succeeds (they are security records).
AXES_RESET_ON_SUCCESS = True
# The address of the client as seen by the web server (set a proxy header behind a proxy).
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
# Shown to a locked-out user.
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# Name of the TOTP issuer shown in authenticator apps.
OTP_TOTP_ISSUER = WATCHHOUSE_AGENCY_NAME
# Seconds a TOTP code may drift from the server's clock (one 30 s step each side).
OTP_TOTP_TOLERANCE = 1

# Fernet keys for data encrypted at rest, newest first; older keys still decrypt.
WATCHHOUSE_ENCRYPTION_KEYS = env_list("WATCHHOUSE_ENCRYPTION_KEYS", [])
if PRODUCTION and not WATCHHOUSE_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "WATCHHOUSE_ENCRYPTION_KEYS must hold at least one Fernet key in production "
        "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')."
    )

LANGUAGE_CODE = "en"
# Languages the public site is translated into; alert law asks for Spanish.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "watchhouse" / "locale"]
# The agency's local time zone (IANA name); everything is stored in UTC.
TIME_ZONE = env_str("WATCHHOUSE_TIME_ZONE", "America/Chicago")
USE_I18N = True
USE_TZ = True

# URL prefix and folder of collected static files.
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("WATCHHOUSE_STATIC_ROOT", str(VAR_DIR / "static")))
# Front-end packages come from the npm registry at build time (make assets), never a CDN.
STATICFILES_DIRS = [
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/leaflet", BASE_DIR / "node_modules" / "leaflet" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING or DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve static files straight from the app folders (no collectstatic) in development and tests.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
# URL prefix and folder of uploaded media.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("WATCHHOUSE_MEDIA_ROOT", str(VAR_DIR / "media")))
# Originals of uploaded media, as received (with their metadata): staff only, never served
# under MEDIA_URL; the public gets the copies the worker makes from them in MEDIA_ROOT.
WATCHHOUSE_PRIVATE_MEDIA_ROOT = Path(
    env_str("WATCHHOUSE_PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private-media"))
)
# Posts: kind -> role names that may publish it without review; kinds left out keep the
# safe defaults of watchhouse/posts/policy.py (supervisors and admins; PIOs for routine kinds).
WATCHHOUSE_POSTS_DIRECT_PUBLISH: dict[str, list[str]] = {}
# Largest media upload taken (video and audio), in bytes: 2 GiB.
WATCHHOUSE_POSTS_MAX_UPLOAD_BYTES = env_int("WATCHHOUSE_POSTS_MAX_UPLOAD_BYTES", 2 << 30)
# Largest image upload taken, in bytes (a camera photo is rarely above 30 MB).
WATCHHOUSE_POSTS_MAX_IMAGE_BYTES = env_int("WATCHHOUSE_POSTS_MAX_IMAGE_BYTES", 50_000_000)
# Days a missing-person post stays up unless it is resolved sooner (then it is withdrawn).
WATCHHOUSE_POSTS_MISSING_EXPIRY_DAYS = env_int("WATCHHOUSE_POSTS_MISSING_EXPIRY_DAYS", 30)
# Largest single file a tipster may send, in bytes: 2 GiB.
WATCHHOUSE_TIPS_MAX_FILE_BYTES = env_int("WATCHHOUSE_TIPS_MAX_FILE_BYTES", 2 << 30)
# Most files in one tip or one answer.
WATCHHOUSE_TIPS_MAX_FILES = env_int("WATCHHOUSE_TIPS_MAX_FILES", 10)
# Tips one client may send per hour (counted under a keyed hash that expires with the hour).
WATCHHOUSE_TIPS_PER_HOUR = env_int("WATCHHOUSE_TIPS_PER_HOUR", 10)
# Wrong tip code or passphrase attempts allowed per client, and per tip code, per 15 minutes.
WATCHHOUSE_TIPS_STATUS_ATTEMPTS = env_int("WATCHHOUSE_TIPS_STATUS_ATTEMPTS", 10)
# The address e-mail tips are sent to (`watchhouse tips smtpd` receives for it).
WATCHHOUSE_TIPS_EMAIL_ADDRESS = env_str("WATCHHOUSE_TIPS_EMAIL_ADDRESS", "")
# The number SMS tips are texted to; texts to it (or starting with TIP) open a tip thread.
WATCHHOUSE_TIPS_SMS_NUMBER = env_str("WATCHHOUSE_TIPS_SMS_NUMBER", "")
# Community: minutes a resident's e-mailed sign-in link works (once).
WATCHHOUSE_COMMUNITY_SIGNIN_MINUTES = env_int("WATCHHOUSE_COMMUNITY_SIGNIN_MINUTES", 15)
# Flags from different residents that hide a comment or discussion until staff review it.
WATCHHOUSE_COMMUNITY_FLAGS_TO_HIDE = env_int("WATCHHOUSE_COMMUNITY_FLAGS_TO_HIDE", 3)
# Comments and discussions one resident may post per hour (spam floods).
WATCHHOUSE_COMMUNITY_POSTS_PER_HOUR = env_int("WATCHHOUSE_COMMUNITY_POSTS_PER_HOUR", 20)
# URL schemes a resident's text may link to; anything else is refused.
WATCHHOUSE_COMMUNITY_LINK_SCHEMES = env_list("WATCHHOUSE_COMMUNITY_LINK_SCHEMES", ["https", "http"])
# Domains residents may not link to (known malware or phishing hosts), comma-separated.
WATCHHOUSE_COMMUNITY_BLOCKED_DOMAINS = env_list("WATCHHOUSE_COMMUNITY_BLOCKED_DOMAINS", [])
# Community reports one client may send from the public form per hour.
WATCHHOUSE_COMMUNITY_REPORTS_PER_HOUR = env_int("WATCHHOUSE_COMMUNITY_REPORTS_PER_HOUR", 5)
# Post views one client may add to the counts per hour.
WATCHHOUSE_COMMUNITY_SEEN_PER_HOUR = env_int("WATCHHOUSE_COMMUNITY_SEEN_PER_HOUR", 300)
# A TrueType font for the verification postcards (Debian's fonts-dejavu-core by default).
WATCHHOUSE_POSTCARD_FONT = env_str(
    "WATCHHOUSE_POSTCARD_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
)
# Largest screenshot taken as rumor evidence, in bytes.
WATCHHOUSE_RUMORS_SCREENSHOT_MAX_BYTES = env_int("WATCHHOUSE_RUMORS_SCREENSHOT_MAX_BYTES", 20 << 20)
# Open311 GeoReport v2: this jurisdiction's id (jurisdiction_id), default the site's host.
WATCHHOUSE_OPEN311_JURISDICTION = env_str("WATCHHOUSE_OPEN311_JURISDICTION", "")
# Fediverse: the department actor's name, followable as @name@<site domain>.
WATCHHOUSE_FEDIVERSE_USERNAME = env_str("WATCHHOUSE_FEDIVERSE_USERNAME", "police")
# Fediverse: fetch remote actors at private or loopback addresses (tests only; an SSRF guard).
WATCHHOUSE_AP_ALLOW_PRIVATE = env_bool("WATCHHOUSE_AP_ALLOW_PRIVATE", TESTING)
# Fediverse: days a server may fail every delivery before it is given up (until it answers).
WATCHHOUSE_AP_DEAD_AFTER_DAYS = env_int("WATCHHOUSE_AP_DEAD_AFTER_DAYS", 7)
# Fediverse: delivery attempts per inbox before it is recorded failed.
WATCHHOUSE_AP_MAX_ATTEMPTS = env_int("WATCHHOUSE_AP_MAX_ATTEMPTS", 10)
# Fediverse: signed POSTs to remote inboxes in flight at once.
WATCHHOUSE_AP_DELIVERY_CONCURRENCY = env_int("WATCHHOUSE_AP_DELIVERY_CONCURRENCY", 32)
# Fediverse: largest activity an inbox takes, in bytes.
WATCHHOUSE_AP_MAX_INBOX_BYTES = env_int("WATCHHOUSE_AP_MAX_INBOX_BYTES", 256 << 10)
# Outlets: seconds between collections of one outlet's replies, comments and mentions.
WATCHHOUSE_OUTLETS_COLLECT_SECONDS = env_int("WATCHHOUSE_OUTLETS_COLLECT_SECONDS", 300)
# Outlets: seconds a worker's claim on a copy holds; longer than the slowest sync (video uploads
# the network processes for up to two minutes), so only a dead worker's claim is taken over.
WATCHHOUSE_OUTLETS_LEASE_SECONDS = env_int("WATCHHOUSE_OUTLETS_LEASE_SECONDS", 300)
# Outlets: days before a network token expires that admins are told.
WATCHHOUSE_OUTLETS_EXPIRY_WARNING_DAYS = env_int("WATCHHOUSE_OUTLETS_EXPIRY_WARNING_DAYS", 7)
# Monitoring: the classifier `watchhouse monitoring train` writes and the stream loads (absent:
# the built-in emergency lexicon scores posts).
WATCHHOUSE_MONITORING_MODEL = Path(
    env_str("WATCHHOUSE_MONITORING_MODEL", str(VAR_DIR / "monitoring" / "model.npz"))
)
# Monitoring: where preserved evidence (WARC files) is written.
WATCHHOUSE_MONITORING_EVIDENCE_DIR = Path(
    env_str("WATCHHOUSE_MONITORING_EVIDENCE_DIR", str(VAR_DIR / "monitoring" / "evidence"))
)
# Monitoring: classifier score (0-1) above which a post naming a local place is kept with no rule.
WATCHHOUSE_MONITORING_ALERT_SCORE = env_int("WATCHHOUSE_MONITORING_ALERT_SCORE_PERCENT", 80) / 100
# Monitoring: longest life of a watch rule, in days (a rule is renewed on purpose, not forgotten).
WATCHHOUSE_MONITORING_RULE_MAX_DAYS = env_int("WATCHHOUSE_MONITORING_RULE_MAX_DAYS", 90)
# Monitoring: named activists and others the agency adds to the protected deny-list.
WATCHHOUSE_MONITORING_PROTECTED_NAMES = env_list("WATCHHOUSE_MONITORING_PROTECTED_NAMES", [])
# Monitoring: the Bluesky AppView a case reads a named account's own posts from.
WATCHHOUSE_MONITORING_BSKY_APPVIEW = env_str(
    "WATCHHOUSE_MONITORING_BSKY_APPVIEW", "https://public.api.bsky.app"
)
# Monitoring: scheme of WebFinger lookups for accounts to follow (http only for loopback tests).
WATCHHOUSE_MONITORING_WEBFINGER_SCHEME = env_str("WATCHHOUSE_MONITORING_WEBFINGER_SCHEME", "https")
# Monitoring: largest RSS/Atom feed read, in bytes; larger ones are refused and counted.
WATCHHOUSE_MONITORING_RSS_MAX_BYTES = env_int("WATCHHOUSE_MONITORING_RSS_MAX_BYTES", 5 << 20)
# Monitoring: seconds between reads of a pull source (RSS/Atom feeds, the outlets' inbox).
WATCHHOUSE_MONITORING_POLL_SECONDS = env_int("WATCHHOUSE_MONITORING_POLL_SECONDS", 300)
# Monitoring: longest post text read, in characters; longer posts are refused and counted.
WATCHHOUSE_MONITORING_MAX_POST_CHARS = env_int("WATCHHOUSE_MONITORING_MAX_POST_CHARS", 10000)
# Monitoring: posts waiting to be processed before unmatched ones are shed (back-pressure).
WATCHHOUSE_MONITORING_QUEUE_SIZE = env_int("WATCHHOUSE_MONITORING_QUEUE_SIZE", 20000)
# Monitoring: seconds near-duplicates are held in memory to join a story; then forgotten.
WATCHHOUSE_MONITORING_STORY_WINDOW_SECONDS = env_int(
    "WATCHHOUSE_MONITORING_STORY_WINDOW_SECONDS", 600
)
# Monitoring: days a matched post nobody passed on is kept for review.
WATCHHOUSE_MONITORING_REVIEW_DAYS = env_int("WATCHHOUSE_MONITORING_REVIEW_DAYS", 30)
# Monitoring: widest witness search around an incident without a second person (metres, hours).
WATCHHOUSE_MONITORING_SEARCH_MAX_METRES = env_int("WATCHHOUSE_MONITORING_SEARCH_MAX_METRES", 1000)
WATCHHOUSE_MONITORING_SEARCH_MAX_HOURS = env_int("WATCHHOUSE_MONITORING_SEARCH_MAX_HOURS", 24)
# Monitoring: days a closed case's data is kept before it is purged (0: at once).
WATCHHOUSE_MONITORING_CLOSED_RETENTION_DAYS = env_int(
    "WATCHHOUSE_MONITORING_CLOSED_RETENTION_DAYS", 0
)
# Monitoring: years after approval a case must be reviewed or is purged (28 CFR 23.20(h)).
WATCHHOUSE_MONITORING_REVIEW_YEARS = env_int("WATCHHOUSE_MONITORING_REVIEW_YEARS", 5)
# Monitoring: RFC 3161 time-stamping authority for evidence hashes (empty: none).
WATCHHOUSE_MONITORING_TSA_URL = env_str("WATCHHOUSE_MONITORING_TSA_URL", "")
# Where `watchhouse backup` writes by default.
WATCHHOUSE_BACKUP_DIR = Path(env_str("WATCHHOUSE_BACKUP_DIR", str(VAR_DIR / "backups")))

# Outgoing e-mail: SMTP when a host is set, otherwise printed to the console.
EMAIL_HOST = env_str("WATCHHOUSE_EMAIL_HOST", "")
EMAIL_PORT = env_int("WATCHHOUSE_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("WATCHHOUSE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("WATCHHOUSE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("WATCHHOUSE_EMAIL_USE_TLS", False)
# Seconds to wait on the mail server, so a stuck server cannot hang a worker.
EMAIL_TIMEOUT = env_int("WATCHHOUSE_EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
# The sender of every message the site sends.
DEFAULT_FROM_EMAIL = env_str("WATCHHOUSE_FROM_EMAIL", "alerts@watchhouse.invalid")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# CAP <sender> of this agency's alerts (default: alerts@ the site's host).
WATCHHOUSE_ALERT_SENDER = env_str("WATCHHOUSE_ALERT_SENDER", "")
# SAME geocode (FIPS county code) added to every alert area; IPAWS needs it.
WATCHHOUSE_ALERT_SAME_GEOCODE = env_str("WATCHHOUSE_ALERT_SAME_GEOCODE", "")
# VAPID key pair for Web Push (watchhouse.notify.channels.webpush.vapid_keys_generate()).
WATCHHOUSE_VAPID_PRIVATE_KEY = env_str("WATCHHOUSE_VAPID_PRIVATE_KEY", "")
WATCHHOUSE_VAPID_PUBLIC_KEY = env_str("WATCHHOUSE_VAPID_PUBLIC_KEY", "")
# Contact the push services see (mailto: or https:); default mailto: the sender address.
WATCHHOUSE_VAPID_SUBJECT = env_str("WATCHHOUSE_VAPID_SUBJECT", "")
# Twilio account, auth token, sending number and API base URL for SMS.
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
TWILIO_BASE_URL = env_str("TWILIO_BASE_URL", "https://api.twilio.com")
# Messages per second each channel may send (shared by all workers when Redis is the cache).
WATCHHOUSE_NOTIFY_RATE_LIMITS = {
    "email": env_int("WATCHHOUSE_RATE_EMAIL", 50),
    "push": env_int("WATCHHOUSE_RATE_PUSH", 200),
    "sms": env_int("WATCHHOUSE_RATE_SMS", 10),
    "webhook": env_int("WATCHHOUSE_RATE_WEBHOOK", 50),
}
# Attempts per delivery before it is recorded as failed.
WATCHHOUSE_NOTIFY_MAX_ATTEMPTS = env_int("WATCHHOUSE_NOTIFY_MAX_ATTEMPTS", 5)
# Subscriptions one client may submit per window; more are refused with 429.
WATCHHOUSE_SUBSCRIBE_RATE_LIMIT = env_int("WATCHHOUSE_SUBSCRIBE_RATE_LIMIT", 10)
WATCHHOUSE_SUBSCRIBE_RATE_WINDOW_SECONDS = env_int("WATCHHOUSE_SUBSCRIBE_RATE_WINDOW_SECONDS", 3600)

# Address search: "local" (the agency's imported address points), "nominatim" or "census"
# (the last two need the geopy package and internet access).
WATCHHOUSE_GEOCODER = env_str("WATCHHOUSE_GEOCODER", "local")
# A self-hosted Nominatim host (empty: OpenStreetMap's public one).
WATCHHOUSE_GEOCODER_URL = env_str("WATCHHOUSE_GEOCODER_URL", "")
# User agent sent to remote geocoders (default names the agency).
WATCHHOUSE_GEOCODER_USER_AGENT = env_str("WATCHHOUSE_GEOCODER_USER_AGENT", "")
# Seconds per remote geocoder lookup.
WATCHHOUSE_GEOCODER_TIMEOUT_SECONDS = env_int("WATCHHOUSE_GEOCODER_TIMEOUT_SECONDS", 5)
# Address searches one client may make per window.
WATCHHOUSE_GEOCODE_RATE_LIMIT = env_int("WATCHHOUSE_GEOCODE_RATE_LIMIT", 60)
WATCHHOUSE_GEOCODE_RATE_WINDOW_SECONDS = env_int("WATCHHOUSE_GEOCODE_RATE_WINDOW_SECONDS", 60)
# Seconds per request, and the largest document read, when fetching other agencies' CAP feeds.
WATCHHOUSE_CAP_FEED_TIMEOUT_SECONDS = env_int("WATCHHOUSE_CAP_FEED_TIMEOUT_SECONDS", 10)
WATCHHOUSE_CAP_FEED_MAX_BYTES = env_int("WATCHHOUSE_CAP_FEED_MAX_BYTES", 2_000_000)
# Privacy policy of the public crime statistics (see watchhouse/crimemap/privacy.py for its
# keys); what it leaves out keeps the safe defaults there.
WATCHHOUSE_CRIME_PRIVACY: dict[str, Any] = {}
# Largest incident export the console takes as an upload (bigger ones: the command line), and
# the time and size limits for exports fetched from an address by import-incident-feed.
WATCHHOUSE_CRIME_UPLOAD_MAX_BYTES = env_int("WATCHHOUSE_CRIME_UPLOAD_MAX_BYTES", 100_000_000)
WATCHHOUSE_CRIME_FEED_TIMEOUT_SECONDS = env_int("WATCHHOUSE_CRIME_FEED_TIMEOUT_SECONDS", 60)
WATCHHOUSE_CRIME_FEED_MAX_BYTES = env_int("WATCHHOUSE_CRIME_FEED_MAX_BYTES", 2_000_000_000)
# Requests one client may make to the public crime statistics API per window.
WATCHHOUSE_CRIME_API_RATE_LIMIT = env_int("WATCHHOUSE_CRIME_API_RATE_LIMIT", 600)
WATCHHOUSE_CRIME_API_RATE_WINDOW_SECONDS = env_int("WATCHHOUSE_CRIME_API_RATE_WINDOW_SECONDS", 60)
# Base-map tile URL template for the public crime map ({z}/{x}/{y}); empty draws boundaries only.
WATCHHOUSE_CRIME_TILES_URL = env_str("WATCHHOUSE_CRIME_TILES_URL", "")
# Attribution the tile server requires, shown on the map (HTML is not allowed).
WATCHHOUSE_CRIME_TILES_ATTRIBUTION = env_str("WATCHHOUSE_CRIME_TILES_ATTRIBUTION", "")

# Daily jobs the worker runs, so no cron is needed: "HH:MM command arguments" (local time),
# separated by semicolons, e.g. "06:00 send-crime-digests; 03:00 import-incident-feed --format
# stl-nibrs --folder /srv/rms" (see watchhouse/core/schedule.py for the commands allowed).
WATCHHOUSE_DAILY = env_str("WATCHHOUSE_DAILY", "")

# Render public alert pages and feeds once and serve repeats from the cache (off under test,
# where transactions never commit and so never clear it).
WATCHHOUSE_PAGE_CACHE = env_bool("WATCHHOUSE_PAGE_CACHE", not TESTING)

# Addresses (besides logged-in staff) allowed to read /metrics, e.g. a Prometheus server.
WATCHHOUSE_METRICS_ALLOWED_IPS = env_list("WATCHHOUSE_METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
# "json" for one JSON object per log line (production default), "text" for people.
WATCHHOUSE_LOG_FORMAT = env_str("WATCHHOUSE_LOG_FORMAT", "json" if PRODUCTION else "text")
# Minimum level of log lines.
WATCHHOUSE_LOG_LEVEL = env_str("WATCHHOUSE_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "watchhouse.core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "watchhouse.core.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": WATCHHOUSE_LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": WATCHHOUSE_LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Security headers and cookies. Strict CSP everywhere: only this site's own scripts,
# styles, images and fonts; no inline script.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Staff sessions end after eight hours (a shift).
SESSION_COOKIE_AGE = env_int("WATCHHOUSE_SESSION_SECONDS", 8 * 3600)
CONTENT_SECURITY_POLICY: dict[str, dict[str, Any]] = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("WATCHHOUSE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["upgrade-insecure-requests"] = True

# Install the database triggers that refuse changes to audit entries (off under test, where
# tables are flushed between tests; the audit tests install them where they test them).
WATCHHOUSE_AUDIT_TRIGGERS = not TESTING

if TESTING:
    # Fast hashing keeps the suite quick; production keeps Django's default (PBKDF2).
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The data folder shared beside the checkout (real crime and crisis data for tests/benchmarks).
WATCHHOUSE_SHARED_DATA = Path(
    env_str("WATCHHOUSE_SHARED_DATA", str(BASE_DIR.parent / "shared" / "data"))
)
