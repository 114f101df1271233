"""Settings, all from environment variables with embedded defaults (docs/configuration.md).

Importing them creates nothing: `manage.py prepare` (which ./bin/start runs first) makes the folders and the
generated secret key they point at. The test suite's differences are in tests/settings.py.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.email_url import email_settings
from config.env import env, envbool, envfloat, envint, envlist, read_kept, weak_secret_key
from config.sso import sso_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("DASHBOARD_VAR_DIR", str(BASE_DIR / "var")))

# Debug pages and auto-reload are for a developer's machine only (`./bin/start --dev` turns them on).
DEBUG = envbool("DEBUG", "false")

# Without SECRET_KEY, `manage.py prepare` generates one once and keeps it in var/, as the admin password is;
# until then it is empty, and Django refuses to sign anything. Several hosts must share one: set it (or
# SECRET_KEY_FILE) on each.
SECRET_KEY_PATH = VAR_DIR / "secret-key.txt"
SECRET_KEY = env("SECRET_KEY") or read_kept(SECRET_KEY_PATH)
if not DEBUG and SECRET_KEY and (weakness := weak_secret_key(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak for production ({weakness}): set it to a long random string, e.g. the output "
        "of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`, or unset it to have one generated "
        "and kept in DASHBOARD_VAR_DIR/secret-key.txt by `manage.py prepare`."
    )
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

# API keys are encrypted with this key; it defaults to one derived from SECRET_KEY, so rotating
# SECRET_KEY without setting FIELD_ENCRYPTION_KEY makes stored keys unreadable (re-enter them).
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY")

# --- Served behind a TLS proxy -------------------------------------------------------------------
# One switch turns on the safe set for HTTPS; each setting below can still be set on its own. Off by
# default: on plain http://127.0.0.1:8000 secure cookies would never come back and login would fail.
DASHBOARD_HTTPS = envbool("DASHBOARD_HTTPS", "false")
_https = "true" if DASHBOARD_HTTPS else "false"
# Trust the proxy's word that the request came over TLS only when a proxy sets (and overwrites) it.
_proxy_header = env("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto" if DASHBOARD_HTTPS else "")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https") if _proxy_header.lower() not in ("", "none") else None
)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", _https)
# Probes often speak plain HTTP to the server directly.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if DASHBOARD_HTTPS else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _https)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", _https)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", _https)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", _https)
# Needed when the proxy passes another Host than the browser's; by default every served host over https.
CSRF_TRUSTED_ORIGINS = envlist(
    "CSRF_TRUSTED_ORIGINS",
    ",".join(f"https://{'*' + h if h.startswith('.') else h}" for h in ALLOWED_HOSTS if h != "*")
    if DASHBOARD_HTTPS
    else "",
)
# How many proxies append to X-Forwarded-For in front of the server: the login lockout counts failures
# per client address, which is then the one the last proxy saw (0: the connection's own address).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "1" if DASHBOARD_HTTPS else "0")
# ...and only when the connection comes from one of these (addresses or networks): a client that reaches the server
# directly cannot choose its own address by sending X-Forwarded-For.
TRUSTED_PROXIES = envlist("TRUSTED_PROXIES", "127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver (./bin/start --dev) serves static files through whitenoise too, as production does.
    "whitenoise.runserver_nostatic",
    # Django's, collecting less: no Redoc, no source maps (config/static.py).
    "config.static.StaticFilesConfig",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    # Single sign-on (OpenID Connect) and TOTP for local accounts: docs/sso.md, config/sso.py.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files, served from the project's static files (no CDN).
    "drf_spectacular_sidecar",
    "batches",
    "dashboard",
    "api",
]

MIDDLEWARE = [
    "config.logs.RequestIdMiddleware",
    "api.middleware.RequestIdMiddleware",  # the same id as the API's `request-id`, for code's callers
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After whitenoise: static files need no policy, pages do (CONTENT_SECURITY_POLICY below).
    "dashboard.middleware.PolicyMiddleware",  # django-csp's, not on a 304
    "api.middleware.RejectNulMiddleware",  # the dashboard's, with the API's error shape for code
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, so the refreshed expiry is in place before the session is saved.
    "dashboard.middleware.SessionIdleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, reading who is asking from the shared cache when there is one (batches/services/auth_cache.py).
    "dashboard.middleware.CachedAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # An SSO session ends after SSO_SESSION_HOURS, or when an Admin or the IdP ends it (dashboard/sso/).
    "dashboard.sso.middleware.SsoSessionMiddleware",
    "dashboard.middleware.BrowserTimezoneMiddleware",
    "dashboard.middleware.AdminInputMiddleware",  # Django's admin on a value out of range: 400, not 500
    # Last: it turns a lockout seen during the login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% partialdef %} everywhere without a {% load %}, as in Django 6 where it is built in.
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.sync_health",
                "dashboard.context_processors.budgets",
            ],
        },
    }
]

# Web, worker and beat share a SQLite file: wait for a lock instead of failing at once, and take the write
# lock when a transaction begins (a deferred one that reads first cannot wait: it fails "database is locked").
SQLITE_OPTIONS = {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
# Connections are kept and reused for CONN_MAX_AGE seconds (one per web thread and worker process, see
# docs/deployment.md for the count against PostgreSQL's max_connections), checked before reuse.
CONN_MAX_AGE = envint("CONN_MAX_AGE", "60")
CONN_HEALTH_CHECKS = envbool("CONN_HEALTH_CHECKS", "true")
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=CONN_HEALTH_CHECKS)
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        options = DATABASES["default"].setdefault("OPTIONS", {})
        # JIT compiles any query the planner guesses is large: on the budget header (a tiny table autovacuum
        # never analyzes, so its rows are guessed) it spent 193 ms compiling a 23 ms query on every page.
        # The dashboard's queries are all short; none gains from it (bench/spend.py).
        options["options"] = "-c jit=off"
        # An unreachable server fails a request (and /readyz) in seconds rather than at the TCP timeout.
        options.setdefault("connect_timeout", 5)
    elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "CONN_MAX_AGE": CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": CONN_HEALTH_CHECKS,
            "OPTIONS": SQLITE_OPTIONS,
            # A file, not memory: the Celery integration test's worker process must see the test data.
            # One per test process, so two test runs side by side do not share it.
            "TEST": {"NAME": VAR_DIR / f"test-db-{os.getpid()}.sqlite3"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes refuses a username from one address after LOGIN_FAILURE_LIMIT failures in a row, for
# LOGIN_LOCKOUT_MINUTES, even with the right password. An Admin unlocks it in /admin/axes/.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Before the password is checked: LOGIN_ADDRESS_FAILURE_LIMIT, against spraying many usernames from one address.
    "dashboard.security.AddressLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
    # A user given chosen workspaces holds each one's role there (batches/services/workspace_roles.py).
    "batches.services.workspace_roles.WorkspaceRoleBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "10")
LOGIN_ADDRESS_FAILURE_LIMIT = envint("LOGIN_ADDRESS_FAILURE_LIMIT", "50")
AXES_COOLOFF_TIME = timedelta(minutes=envfloat("LOGIN_LOCKOUT_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "dashboard.security.client_ip"
AXES_LOCKOUT_CALLABLE = "dashboard.security.lockout_response"
# A session ends after this long without a request (refreshed at most once a minute, not on every poll).
SESSION_IDLE_SECONDS = envint("SESSION_IDLE_SECONDS", str(8 * 3600))
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
globals().update(sso_settings())
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "batch_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True
FORMAT_MODULE_PATH = "config.formats"  # 24-hour times with their zone on every page

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed names (app.3f2a9c….css) cached for a year, and gzip/brotli copies, served by whitenoise from
# STATIC_ROOT after `collectstatic` (the start command runs it). With DEBUG on they are served from the
# sources (`manage.py prepare` makes STATIC_ROOT, which whitenoise warns about when it is missing).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "config.static.ManifestStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy on every page, the admin's included: scripts, styles and everything else from this
# site only, and no inline code or style at all, so markup injected past the escaping could run nothing.
# Every script is a static file (htmx told by a <meta> in base.html not to eval nor add a <style>), every
# style is in app.css (the chart's colours are classes); tests/browser/test_csp.py walks every page in
# Chromium and fails on any violation.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The debug page (DEBUG=true only) masks database and broker URLs as well as keys and passwords.
DEFAULT_EXCEPTION_REPORTER_FILTER = "dashboard.security.ExceptionReporterFilter"

# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; without a token it does not exist.
METRICS_TOKEN = env("METRICS_TOKEN")

# --- The cache (docs/performance.md) ------------------------------------------------------------------
# Shared by every process (Redis: CACHE_URL, or REDIS_URL), polls answer from it without a database query:
# sessions, who is asking and the workspaces' versions are kept there, each entry invalidated by the write
# that changes it. Without one, each process keeps only its shared renders in its own memory, and every poll
# reads those three from the database (a local cache cannot hear another process's writes).
CACHE_URL = env("CACHE_URL") or (env("REDIS_URL") if env("REDIS_URL").startswith(("redis://", "rediss://")) else "")
SHARED_CACHE = bool(CACHE_URL)
if SHARED_CACHE:
    CACHES = {
        "default": {
            # An unreachable Redis is a miss, never a 500 (config/cache.py); it is given a quarter second.
            "BACKEND": "config.cache.DegradingRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "dashboard"),
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
    }
    # Django's cached_db, whose read can share a round trip with who is asking (dashboard/session_store.py).
    SESSION_ENGINE = "dashboard.session_store"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Celery --------------------------------------------------------------------------------------
# With no broker configured, kombu's filesystem transport needs no server: the start command and
# the tests run a real worker and beat against it (its folders are made by `manage.py prepare`).
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or env("REDIS_URL") or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}


def broker_folders(root: Path) -> dict[str, str]:
    """The embedded broker's folders under `root` (tests/settings.py gives the suite's a root of their own)."""
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "processed_folder": str(root / "processed"),
        # Broadcast (pidbox) files; without it kombu writes them under ./control of the working directory.
        "control_folder": str(root / "control"),
    }


CELERY_BROKER_TRANSPORT = None  # from the URL's scheme
if CELERY_BROKER_URL == "filesystem://":
    # kombu's filesystem transport, except that a message is renamed into the queue whole (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **broker_folders(VAR_DIR / "broker"),
        "store_processed": False,
        # A worker takes one message per poll: at kombu's default of one poll a second, a queue fed faster
        # than that (beat's heartbeat and syncs at a short interval, a burst of submissions) only grows.
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # An unreachable Redis (a host that drops packets) would otherwise hold a request until the TCP timeout.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2  # the same for AMQP
# A view that enqueues answers within a few seconds when the broker is down ("the worker is unreachable"):
# two quick retries of the publish, not Celery's default of three with growing waits.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Worker processes per host; each holds a database connection, two while it ingests (docs/deployment.md).
CELERY_WORKER_CONCURRENCY = envint("CELERY_WORKER_CONCURRENCY", "2")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Ingests have their own queue, and bin/start their own worker, so a backlog of them (a first sync of
# 10,000 ended batches) never holds up the metadata sync behind it.
# Notifications are sent from their own queue (and worker): a receiver that hangs until its timeout never
# holds up a sync.
CELERY_TASK_ROUTES = {
    "batches.tasks.ingest_batch": {"queue": "ingest"},
    "batches.tasks.ingest_batches": {"queue": "ingest"},
    "batches.tasks.send_notifications": {"queue": "notify"},
}

SYNC_INTERVAL_SECONDS = envfloat("SYNC_INTERVAL_SECONDS", "30")
# A workspace not synced for this long, with no failure or wait to explain it, is shown as overdue on every page:
# the workers or the beat have stopped, and what the pages show is getting old.
SYNC_OVERDUE_SECONDS = envfloat("SYNC_OVERDUE_SECONDS", str(max(4 * SYNC_INTERVAL_SECONDS, 120)))
CELERY_BEAT_SCHEDULE = {
    "sync-all-workspaces": {"task": "batches.tasks.sync_all_workspaces", "schedule": SYNC_INTERVAL_SECONDS},
    "resume-submissions": {"task": "batches.tasks.resume_submissions", "schedule": 60.0},
    "compact-batch-tally": {"task": "batches.tasks.compact_batch_tally", "schedule": 60.0},
    # /readyz: beat is alive if it sent this lately, a worker if one ran it. A stale one is dropped, but not
    # before a busy worker (a sync queued ahead of it on a loaded host) could reach it: expiring after one short
    # interval, every heartbeat expired in the queue and /readyz never saw a worker.
    "heartbeat": {
        "task": "batches.tasks.heartbeat",
        "schedule": SYNC_INTERVAL_SECONDS,
        "options": {"expires": max(SYNC_INTERVAL_SECONDS, 60)},
    },
    "fetch-cost-report": {
        "task": "batches.tasks.fetch_cost_report",
        "schedule": envfloat("COST_REPORT_INTERVAL_SECONDS", "3600"),
    },
    # The outbox: dispatch new events and send what is due (retries back off per delivery, in the database).
    "send-notifications": {
        "task": "batches.tasks.send_notifications",
        "schedule": envfloat("NOTIFY_SEND_INTERVAL_SECONDS", "10"),
    },
    # What becomes true with time: batches expiring, results at risk, sync failing, budgets crossed.
    "check-notifications": {
        "task": "batches.tasks.check_notifications",
        "schedule": envfloat("NOTIFY_CHECK_INTERVAL_SECONDS", "60"),
    },
}

# --- Anthropic API and sync --------------------------------------------------------------------
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL")
# Hosts a workspace's base URL may name besides api.anthropic.com and loopback (batches/api_hosts.py); empty: any
# https:// host. A stored key is only ever sent to a base URL this allows.
ALLOWED_API_HOSTS = envlist("ALLOWED_API_HOSTS", "")
# An Admin key (sk-ant-admin…) lets the dashboard fetch Anthropic's Cost Report to reconcile against.
ANTHROPIC_ADMIN_API_KEY = env("ANTHROPIC_ADMIN_API_KEY")
ANTHROPIC_ADMIN_BASE_URL = env("ANTHROPIC_ADMIN_BASE_URL")
ANTHROPIC_TIMEOUT_SECONDS = envfloat("ANTHROPIC_TIMEOUT_SECONDS", "60")
ANTHROPIC_MAX_RETRIES = envint("ANTHROPIC_MAX_RETRIES", "2")
# A retry-after longer than this is not slept through inside a worker: the sync records it and the
# workspace is skipped until then.
ANTHROPIC_MAX_RETRY_WAIT_SECONDS = envfloat("ANTHROPIC_MAX_RETRY_WAIT_SECONDS", "10")
SYNC_FULL_PASS_HOURS = envfloat("SYNC_FULL_PASS_HOURS", "6")
SYNC_LEASE_SECONDS = envint("SYNC_LEASE_SECONDS", "300")
# A batch the API cannot find this soon after its creation is still propagating (SDK issue #1432).
SYNC_NOT_FOUND_GRACE_SECONDS = envint("SYNC_NOT_FOUND_GRACE_SECONDS", "300")
INGEST_CHUNK_LINES = envint("INGEST_CHUNK_LINES", "2000")
# ...or fewer, once a chunk holds this many bytes: an ingest holds a few chunks at a time, whatever the lines' size.
INGEST_CHUNK_BYTES = envint("INGEST_CHUNK_BYTES", str(4 << 20))
# Small batches ingested together (batches/services/ingest_group.py) are downloaded this many at once: from a remote
# API each download is mostly waiting. Each holds at most a chunk; a 429/503/529 stops the group's downloads.
INGEST_DOWNLOADS_IN_FLIGHT = envint("INGEST_DOWNLOADS_IN_FLIGHT", "4")
# A large batch's chunks are stored by this many threads, each with its own database connection, while the task
# reads and parses the next (batches/services/result_store.py). PostgreSQL only: SQLite takes one writer at a time.
INGEST_WRITERS = envint("INGEST_WRITERS", "2")
# Each ended batch's ingest is its own task (batches/services/ingest.py): its lease, renewed every chunk; how many
# times one task opens a stream that was cut (or answered 5xx/529); its own back-off after that, from the
# base doubling up to the max; and after how long a batch queued but never started is queued again.
INGEST_LEASE_SECONDS = envint("INGEST_LEASE_SECONDS", "120")
INGEST_STREAM_ATTEMPTS = envint("INGEST_STREAM_ATTEMPTS", "4")
INGEST_RESUME_WAIT_SECONDS = envfloat("INGEST_RESUME_WAIT_SECONDS", "0.5")  # before the 2nd open; doubling
INGEST_BACKOFF_SECONDS = envfloat("INGEST_BACKOFF_SECONDS", "30")
INGEST_BACKOFF_MAX_SECONDS = envfloat("INGEST_BACKOFF_MAX_SECONDS", "3600")
INGEST_REQUEUE_SECONDS = envint("INGEST_REQUEUE_SECONDS", "3600")
# How long after a create whose answer was lost the API must list the batch before we conclude it was
# never made and send it again (a batch may not be listed the instant it is made).
SUBMIT_LIST_GRACE_SECONDS = envint("SUBMIT_LIST_GRACE_SECONDS", "120")
# A batch adopted after a lost answer must have been created while our create call was out, give or
# take this much difference between our clock and the API's.
SUBMIT_CLOCK_SKEW_SECONDS = envint("SUBMIT_CLOCK_SKEW_SECONDS", "60")
# The API's limits per batch: an upload or a retry larger than these is split into several batches.
SUBMIT_MAX_REQUESTS = envint("SUBMIT_MAX_REQUESTS", "100000")
SUBMIT_MAX_BYTES = envint("SUBMIT_MAX_BYTES", str(256 * 1024 * 1024))
# The most one uploaded file may hold, decompressed if it is gzip (4 GiB: 16 full batches); a gzip file that
# decompresses to more is refused while it is read, never held.
SUBMIT_MAX_UPLOAD_BYTES = envint("SUBMIT_MAX_UPLOAD_BYTES", str(4 * 1024 * 1024 * 1024))
# An upload's check is bounded in memory, time and work (batches/services/uploads.py): one line is never held past
# this many bytes, blank lines are counted against a budget, and the whole check against a time budget.
SUBMIT_MAX_LINE_BYTES = envint("SUBMIT_MAX_LINE_BYTES", str(256 * 1024 * 1024))
SUBMIT_MAX_BLANK_LINES = envint("SUBMIT_MAX_BLANK_LINES", "100000")
SUBMIT_VALIDATE_SECONDS = envfloat("SUBMIT_VALIDATE_SECONDS", "120")
# The request watchdog (config/watchdog.py, under gunicorn): a request that makes no progress for this long has its
# connection closed, and its process replaced if it still runs on. Longer than every wait the app makes on purpose
# (the upload check just above, which stops with a clear message; a pass-through create's 600 s wait on the API),
# so it cuts only what is stuck, or a client that stalled.
WEB_REQUEST_TIMEOUT = envfloat("WEB_REQUEST_TIMEOUT", "630")
if SUBMIT_VALIDATE_SECONDS >= WEB_REQUEST_TIMEOUT:
    raise ImproperlyConfigured(
        f"SUBMIT_VALIDATE_SECONDS ({SUBMIT_VALIDATE_SECONDS:g}) must be less than WEB_REQUEST_TIMEOUT "
        f"({WEB_REQUEST_TIMEOUT:g}): an upload's check must stop, with its message, before the watchdog cuts it."
    )

# --- Notifications (batches/services/notify/, docs/notifications.md) -------------------------------------------
# Absolute links in payloads and emails point here.
DASHBOARD_URL = env("DASHBOARD_URL", "http://127.0.0.1:8000")
# Default channels, subscribed to every event of every workspace, as ANTHROPIC_API_KEY defines a workspace.
NOTIFY_WEBHOOK_URLS = [u.strip() for u in env("NOTIFY_WEBHOOK_URLS").split(",") if u.strip()]
NOTIFY_WEBHOOK_SECRET = env("NOTIFY_WEBHOOK_SECRET")
NOTIFY_EMAIL_TO = [a.strip() for a in env("NOTIFY_EMAIL_TO").split(",") if a.strip()]
# Each attempt's timeout (connect at most 5 s); retries double from the base to the max, ±25%, up to the bound.
NOTIFY_TIMEOUT_SECONDS = envfloat("NOTIFY_TIMEOUT_SECONDS", "10")
NOTIFY_RETRY_BASE_SECONDS = envfloat("NOTIFY_RETRY_BASE_SECONDS", "30")
NOTIFY_RETRY_MAX_SECONDS = envfloat("NOTIFY_RETRY_MAX_SECONDS", "3600")
NOTIFY_MAX_ATTEMPTS = envint("NOTIFY_MAX_ATTEMPTS", "8")
# Webhooks need https except to a loopback address; this allows plain http to any host (a private network).
NOTIFY_ALLOW_HTTP = envbool("NOTIFY_ALLOW_HTTP", "false")
# Notifications to loopback, private and link-local addresses (batches/services/notify/outbound.py): off, so a
# channel's URL cannot reach cloud metadata or a service inside the network.
NOTIFY_ALLOW_PRIVATE = envbool("NOTIFY_ALLOW_PRIVATE", "false")
# Email through Django's framework: SMTP from EMAIL_URL (config/email_url.py), the console when unset.
DEFAULT_FROM_EMAIL = env("NOTIFY_EMAIL_FROM", "batch-dashboard@localhost")
globals().update(email_settings(env("EMAIL_URL")))  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS...
# The sync-health bar polls this often while a workspace is failing, and this often otherwise.
HEALTH_POLL_SECONDS = envfloat("HEALTH_POLL_SECONDS", "5")
HEALTH_IDLE_POLL_SECONDS = envfloat("HEALTH_IDLE_POLL_SECONDS", "30")
# A polled fragment whose data did not change is answered 304, but renders again at least this often, so its
# relative times ("running for 4 minutes") move on (dashboard/polling.py).
POLL_ETAG_SECONDS = envint("POLL_ETAG_SECONDS", "60")

# One line per record: text, or with LOG_FORMAT=json one JSON object (time, level, logger, message,
# request_id or task_id). The SDK's request bodies (prompts, up to 256 MB) are dropped at any level.
LOG_FORMAT = env("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}")
LOGGING_CONFIG = "config.logs.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "config.logs.ContextFilter"},
        "no_bodies": {"()": "config.logs.DropRequestBodies"},
        "forbidden_one_line": {"()": "config.logs.ForbiddenInOneLine"},
    },
    "formatters": {
        "text": {
            "()": "config.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(context_id)s] %(message)s",
        },
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["context", "no_bodies"], "formatter": LOG_FORMAT}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # On the logger too, so no handler (a test's, an error tracker's) ever receives a body.
        "anthropic": {"filters": ["no_bodies"]},
        "anthropic._base_client": {"filters": ["no_bodies"]},
        "django.request": {"filters": ["forbidden_one_line"]},
        # httpx2 logs every request URL at INFO; URLs never carry keys, but the noise is not useful.
        "httpx2": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "apprise": {"level": "WARNING"},
        # Its start-up banner at INFO on every command is noise.
        "axes": {"level": "WARNING"},
    },
}


# --- The REST API and the Anthropic pass-through (api/, docs/api.md) ---------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # ?format= chooses a results file (jsonl or csv), not a DRF renderer.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Batch dashboard API",
    "DESCRIPTION": "The dashboard's pages as JSON: batches, results, errors, submissions, retries, spend, audit.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}
# A pass-through create whose same body comes again within this many seconds (the SDK retrying a cut connection)
# gets the batch the first one made, instead of a second batch.
PASSTHROUGH_SAME_BODY_SECONDS = envint("PASSTHROUGH_SAME_BODY_SECONDS", "3600")
# Request bodies above this many bytes are kept on disk while they are forwarded (up to the API's 256 MB).
PASSTHROUGH_SPOOL_DIR = env("PASSTHROUGH_SPOOL_DIR", str(VAR_DIR / "spool"))
