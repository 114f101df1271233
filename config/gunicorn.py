"""gunicorn's settings for ./bin/start and deploy/dashboard-web.service (`gunicorn -c python:config.gunicorn`).

See docs/deployment.md for how these counts fit PostgreSQL's connection limit.
"""

from config.env import env, envint

wsgi_app = "config.wsgi:application"
bind = [env("BIND") or f"127.0.0.1:{envint('PORT', '8000')}"]

# Sized for 2 cores shared with the Celery worker, beat and PostgreSQL. Rendering a page is Python work
# that holds the GIL, so one process per core is what runs pages in parallel; each request also waits on
# the database and on the client, which threads overlap. 2 × 4 serves 8 requests at once and holds at most
# 8 database connections. (gunicorn's usual 2 × cores + 1 processes would triple the memory for no CPU.)
# gthread with a request watchdog (config/watchdog.py): gthread alone never times out a request running in a
# thread, so one upload once held a thread for hours. A request that makes no progress for WEB_REQUEST_TIMEOUT
# seconds (630, config/settings.py) has its connection closed; if its thread is still busy 5 s later, this process
# finishes its other requests and is replaced. Every step is logged. Why this and not sync workers with gunicorn's
# own timeout: docs/hardening.md.
worker_class = "config.watchdog.WatchdogWorker"
workers = envint("WEB_CONCURRENCY", "2")
threads = envint("WEB_THREADS", "4")

# The arbiter's heartbeat timeout. gthread answers it from its main loop, between requests, so it never bounds a
# request (the watchdog above does); it catches a process whose main loop is stuck.
timeout = 60
graceful_timeout = 30
# Longer than the 5 s between a tab's polls, so each open tab keeps its connection instead of opening one per
# poll (at 5 s, equal to the interval, most polls paid a new connection); shorter than a load balancer's
# usual 60 s idle timeout. An idle kept-alive connection waits in the process's poller, not in a thread.
keepalive = 20
# Open connections per process (gthread), kept-alive idle ones included: a thousand tabs on two processes.
worker_connections = 2000
# Recycle a process now and then, so a slow leak in any library never grows without bound. Not every 1,000
# requests: a thousand open tabs poll ~200 times a second, and each restart cost its process's warm state
# (connections, the local render cache when no shared cache is configured) every few seconds. 50,000 still
# replaced each process every ~3 minutes at 1,000 tabs (~300 requests/s each, bench/load.py); at 1,000,000 it is
# about an hour, while the processes' memory stayed flat over the benchmark's runs.
max_requests = envint("WEB_MAX_REQUESTS", "1000000")
max_requests_jitter = max_requests // 10

# Whether a request came over TLS is Django's call alone (SECURE_PROXY_SSL_HEADER), not gunicorn's as well.
secure_scheme_headers: dict[str, str] = {}
# Several servers may run on one host (tests, a second instance): no shared control socket.
control_socket_disable = True

# Server messages to stderr; requests are logged by the app (config/logs.py), with their request id.
errorlog = "-"  # stderr
accesslog = None
if env("LOG_FORMAT") == "json":
    # gunicorn's own lines (start, worker exits) as JSON too, like everything else.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "config.logs.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False}},
    }
