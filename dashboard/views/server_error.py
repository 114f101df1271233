"""The 500 page: in the site's layout when it can be, and a plain page when even that fails; and the page for a
request Django itself refuses (400)."""

from __future__ import annotations

import logging
import sys

from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseServerError
from django.http.multipartparser import MultiPartParserError
from django.template import loader
from django.utils.html import escape

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


BAD_REQUEST = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>This request could not be read</title></head><body><h1>This request could not be read</h1>
<p>{why}</p><p><a href="/">Back to the batches</a>.</p></body></html>"""


def why_bad(exception: BaseException | None) -> str:
    """What a person (or a script) can do about a request Django refused before any view saw it."""
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return "It sent more form fields or files than this server takes at once (1,000 fields, 100 files): send fewer."
    if isinstance(exception, MultiPartParserError):
        return "Its upload could not be read: a file name or a part's header is too long, or the form is cut short."
    if isinstance(exception, RequestDataTooBig):
        return "Its form was larger than this server reads in memory: send a file as a file upload."
    if isinstance(exception, DisallowedHost):
        return "It named a host this server does not answer for (ALLOWED_HOSTS): use the dashboard's own address."
    return "It was malformed: its headers or its body could not be read."


def bad_request(request: HttpRequest, exception: BaseException | None = None) -> HttpResponse:
    """Django's own 400 ("Bad Request (400)", and nothing else) for a request it refused before any view: a page
    needing nothing of the request, as the host it names may be the reason (DisallowedHost)."""
    return HttpResponseBadRequest(BAD_REQUEST.format(why=escape(why_bad(exception))))
