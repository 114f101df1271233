"""The test suite's settings: the production settings, with what only tests want.

pytest reads this module (pyproject.toml); the processes the tests start (workers, beat) inherit it through
DJANGO_SETTINGS_MODULE, except those that check the production settings themselves.
"""

from config.settings import *  # noqa: F403
from config.settings import CELERY_BROKER_TRANSPORT_OPTIONS, SECRET_KEY, STORAGES, VAR_DIR, broker_folders

# The suite's embedded broker has folders of its own: a message a test leaves queued (a task sent with no worker
# running) must never reach the real worker a later ./bin/start runs on the same var folder.
if "data_folder_in" in CELERY_BROKER_TRANSPORT_OPTIONS:
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, **broker_folders(VAR_DIR / "test-broker")}

# The production hasher spends ~80 ms per password on purpose; a test logs in thousands of times (610 s of
# the suite as it was, 148 s with this one). Nothing here tests the hash's strength.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No collectstatic runs under test: pages link the plain names, served from the sources
# (tests/dashboard/test_production.py checks the hashed ones on a real server).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
# Find each static file when it is asked for, not by walking every app's static folder whenever a test client
# or server starts its middleware (12% of a test run's CPU, with Django's test client starting it per test).
WHITENOISE_AUTOREFRESH = True

# A checkout that never ran `manage.py prepare` has no kept key; tests sign sessions all the same.
SECRET_KEY = SECRET_KEY or "tests-only-" + "k3y" * 20

# Each test process's own memory, even when REDIS_URL is set (CI's second run): there Redis is also the broker,
# which the cache.clear() between tests would wipe. tests/dashboard/test_shared_cache.py runs the shared cache
# on Redis (and in memory) itself.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SHARED_CACHE = False
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# The suite's receivers (webhooks, Slack and Apprise stand-ins) listen on loopback; tests of the outbound rule turn
# this off (tests/batches/test_outbound.py).
NOTIFY_ALLOW_PRIVATE = True
