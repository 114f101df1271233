import logging
import time
import zoneinfo

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import HttpResponseBadRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.html import escape

from batches.services import auth_cache

log = logging.getLogger(__name__)
REFRESH_SECONDS = 60
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
REFRESHED_KEY = "refreshed_at"


class PolicyMiddleware(CSPMiddleware):
    """django-csp's Content-Security-Policy, left off a 304: it has no body to govern, and the browser keeps the
    headers of the response it revalidated, the policy among them. A 304 is most of what open tabs ask, and
    building the policy was a twentieth of one."""

    def process_response(self, request, response):
        if response.status_code == 304:
            return response
        return super().process_response(request, response)


class BrowserTimezoneMiddleware:
    """Show times in the browser's time zone, which static/dashboard/app.js puts in the `tz` cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.COOKIES.get("tz", "")
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        return self.get_response(request)


def _has_nul(request) -> bool:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    values = [*request.GET.keys(), *request.GET.values(), *request.COOKIES.values()]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        values += [*request.POST.keys(), *request.POST.values()]  # fields only: an uploaded file may hold NULs
    return any("\x00" in value for value in values)


class RejectNulMiddleware:
    """Answer 400 to a NUL character in the path, query string, cookies or form fields.

    PostgreSQL cannot store or compare a string with NUL: every lookup of such a value raised a 500.
    No URL, id, filter or form field of the dashboard has any use for one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    MESSAGE = "NUL characters are not allowed in URLs or forms."

    def __call__(self, request):
        if _has_nul(request):
            return self.refuse(request)
        return self.get_response(request)

    def refuse(self, request):
        return HttpResponseBadRequest(self.MESSAGE, content_type="text/plain")


class SessionIdleMiddleware:
    """End a session after SESSION_IDLE_SECONDS without a request (SESSION_COOKIE_AGE).

    Each save pushes the expiry forward. Saving on every request (SESSION_SAVE_EVERY_REQUEST) would write
    the session row on each 5 s poll of every open tab; at most once a minute is enough for an idle limit
    measured in hours.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = request.session
        if session.accessed and session.get(SESSION_KEY) and response.status_code != 500:
            now = int(time.time())
            if now - session.get(REFRESHED_KEY, 0) >= min(REFRESH_SECONDS, settings.SESSION_COOKIE_AGE // 10):
                session[REFRESHED_KEY] = now  # modified: saved with a new expiry
        return response


def session_refreshed_at_login(sender, request, user, **kwargs) -> None:
    """Logging in saves the session anyway: stamp it then, so the next page does not write it again."""
    request.session[REFRESHED_KEY] = int(time.time())


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's, but `request.user` comes from the shared cache when it holds it: a poll reads no user,
    permission or workspace-role row (batches/services/auth_cache.py)."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))


def _user(request):
    if not hasattr(request, "_cached_user"):
        request._cached_user = auth_cache.user_of(request)
    return request._cached_user


class AdminInputMiddleware:
    """A value the Django admin cannot use, answered 400 rather than 500.

    Django's own admin code raises on what a staff member can type: an id past 64 bits (`?id__in=`, an action's
    selection) overflows SQLite's integers, `?at__year=9999` overflows a date, JSON 100,000 levels deep recurses, and
    SQLite's JSON check refuses NaN. None of it is the dashboard's code, nor a fault of the server: the request is
    refused with what could not be used, and logged with its traceback (a bug of ours would still show there).
    """

    REFUSED = (OverflowError, ValueError, RecursionError, DjangoValidationError, IntegrityError)

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path_info.startswith("/admin/") or not isinstance(exception, self.REFUSED):
            return None
        # At ERROR: the same errors come from the dashboard's own admin code (a price book, a key), and alerts must see
        # those; the staff member is told only what could not be used.
        log.error("admin: %s %s answered 400: %s", request.method, request.path_info, type(exception).__name__,
                  exc_info=exception)  # fmt: skip
        return HttpResponseBadRequest(ADMIN_REFUSED.format(kind=escape(type(exception).__name__)))


ADMIN_REFUSED = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Not a value the admin can use</title></head><body><h1>Not a value the admin can use</h1>
<p>A filter, a selection or a field held a value out of range or unreadable ({kind}); it was logged.
Go back and change it, or <a href="/admin/">start again</a>.</p></body></html>"""
