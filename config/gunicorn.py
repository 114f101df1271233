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
worker_class = "gthread"
workers = envint("WEB_CONCURRENCY", "2")
threads = envint("WEB_THREADS", "4")

# gthread answers its heartbeat between requests, so a long upload (up to 256 MB) does not trip this.
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
# (connections, the local render cache when no shared cache is configured) every few seconds.
max_requests = envint("WEB_MAX_REQUESTS", "50000")
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
