"""The 500 page: in the site's layout when it can be, and a plain page when even that fails."""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader

log = logging.getLogger(__name__)

PLAIN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Something went wrong</title></head>
<body><h1>Something went wrong on our side</h1><p>The error was logged. Try again in a moment:
<a href="/">back to the batches</a>.</p></body></html>"""

# The layout needs the database (the session, the health bar): this page needs nothing.
DATABASE_DOWN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Try again in a moment</title>
</head><body><h1>The database is unreachable right now</h1><p>Try again in a moment:
<a href="/">back to the batches</a>.</p></body></html>"""


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's own handler renders 500.html without the request, so no navigation and no log-out;
    this one renders it with them, unless what failed (the database, say) fails that too.

    A database that cannot be reached is no bug of ours: 503 and "try again", which an htmx poll does not swap
    in (the page keeps what it shows and polls on), and a load balancer reads as "this one is not ready".
    """
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return HttpResponse(DATABASE_DOWN, status=503, headers={"Retry-After": "5"})
    try:
        return HttpResponseServerError(loader.get_template("500.html").render({}, request))
    except Exception:  # noqa: BLE001 - the error page must not fail in its turn
        log.exception("the 500 page could not be rendered in the layout")
        return HttpResponseServerError(PLAIN)
