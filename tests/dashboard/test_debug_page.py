"""If someone turns DEBUG on, its error page still shows no database or broker URL and no secret."""

from __future__ import annotations

import sys

from django.db import connection
from django.views.debug import technical_500_response

SECRETS = {
    "DATABASE_URL": "postgres://dash:db-password-123@db.internal.example:5432/dash",
    "REDIS_URL": "redis://:redis-password-456@redis.internal.example:6379/0",
    "ANTHROPIC_API_KEY": "sk-ant-api03-never-shown-7890",
    "SENTRY_DSN": "https://dsn-key-abc@errors.example/1",
}
BROKER_URL = "amqp://dash:broker-password-789@mq.internal.example:5672//"
HIDDEN = ["db-password-123", "db.internal.example", "redis-password-456", "broker-password-789", "mq.internal.example",
          "sk-ant-api03-never-shown", "dsn-key-abc"]  # fmt: skip


def test_the_debug_page_masks_urls_dsns_and_keys_in_settings_and_the_environment(rf, settings):
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = BROKER_URL
    settings.SENTRY_DSN = SECRETS["SENTRY_DSN"]
    request = rf.get("/boom/", **SECRETS)  # the server's environment reaches the page as request.META
    try:
        _fail()
    except RuntimeError:
        response = technical_500_response(request, *sys.exc_info())
    page = response.content.decode()
    assert "the page under test" in page and "CELERY_BROKER_URL" in page and "DATABASE_URL" in page
    # DATABASES is masked whole (its name, user and password with it)
    for secret in [*HIDDEN, settings.SECRET_KEY, str(connection.settings_dict["NAME"])]:
        assert secret not in page, secret


# Far from the secrets above: the page shows the source around each frame, and its variables.
def _fail():
    raise RuntimeError("the page under test")
