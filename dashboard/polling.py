"""Cheap polls: a polled fragment carries an ETag, and a poll whose ETag still holds is answered 304 unrendered.

The ETag covers everything the fragment depends on, so a 304 is never wrong:
- the versions of the workspaces it shows (`Workspace.data_version`, bumped with every change a page shows; with a
  shared cache, counters kept there and moved by the same bumps: batches/services/versions.py);
- who asks and what they may do (the buttons differ), the full path and the htmx target, the browser's time zone
  (times are rendered in it);
- the deploy (a hash of the code, templates and static files, so a new release renders afresh);
- the minute: relative times ("running for 4 minutes", "ended 2 minutes ago") move on without any change, so
  the answer renders again at least once every `POLL_ETAG_SECONDS`. That also bounds the staleness of any
  change a write forgot to announce.

A change makes every open tab render again within one poll: a hundred tabs, a hundred renders of the same rows.
So the render is shared: a fragment that holds nothing personal (no CSRF token: no form) is kept in the cache
under the same key less the user, and the other tabs showing it with the same permissions get those bytes.

Browsers revalidate an XHR GET with their HTTP cache when the response has an ETag and `Cache-Control:
private, no-cache`: htmx's polls send If-None-Match by themselves, and a 304 reaches htmx as the cached 200.

The page's own polls (the list's rows, a batch's summary) also carry the health bar, swapped out of band, and
their ETag covers the bar's versions too: a tab then asks one request per poll where it asked two (the poll,
then the bar's, static/dashboard/health.js), and the answer, 304 or not, always holds the bar as it is now.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers

from batches.models import Batch
from batches.services import versions
from batches.services import workspace_roles as scoped
from dashboard.access import visible_batches, visible_workspace_ids
from dashboard.context_processors import WATCHED

# What a cached fragment varies by besides the URL: the full page and each fragment of it share one URL.
VARY = ("HX-Request", "HX-Target", "Cookie")
_DEPLOYED = ("templates", "static", "dashboard", "batches")


@lru_cache(maxsize=1)
def deploy_version() -> str:
    """A hash of what renders the pages, once per process; the same on every host running the same release."""
    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    for top in _DEPLOYED:
        for path in sorted((base / top).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".html", ".js", ".css", ".svg"}:
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def etag(request: HttpRequest, workspace_versions: list[tuple[int, int]]) -> str:
    return '"' + _digest(request, workspace_versions, str(request.user.pk)) + '"'


def _digest(request: HttpRequest, workspace_versions: list[tuple[int, int]], who: str) -> str:
    user = request.user
    parts = [
        deploy_version(),
        str(int(time.time() // settings.POLL_ETAG_SECONDS)),
        request.get_full_path(),
        request.headers.get("HX-Target", ""),
        request.COOKIES.get("tz", ""),
        who,
        # Cached on the user by the permission check the view already passed: no query.
        ",".join(sorted(user.get_all_permissions())),
        # And, for a user given chosen workspaces, the role in each (read once per request, already read).
        ";".join(f"{ws}:{','.join(sorted(c))}" for ws, c in sorted((scoped.workspace_roles(user) or {}).items())),
        ";".join(f"{pk}:{version}" for pk, version in workspace_versions),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _shared_render(request: HttpRequest, workspace_versions: list[tuple[int, int]], view: Callable) -> HttpResponse:
    """The fragment as anyone with these permissions sees it now: rendered once, then served from the cache."""
    key = "poll:" + _digest(request, workspace_versions, "anyone")
    kept = _recent.get(key) or cache.get(key)
    if kept is not None:
        _recent.keep(key, kept)
        return HttpResponse(kept[0], content_type=kept[1])
    response = view()
    # A token in the fragment (a form) is this session's: such a fragment is never handed to anyone else.
    personal = request.META.get("CSRF_COOKIE_NEEDS_UPDATE") or getattr(response, "streaming", False)
    if response.status_code == 200 and not personal:
        kept = (response.content, response["Content-Type"])
        cache.set(key, kept, settings.POLL_ETAG_SECONDS)
        _recent.keep(key, kept)
    return response


class _Recent:
    """The shared renders this process served lately, besides the shared cache's copy. When a sync moves a
    version, every open tab's next poll renders, and most of them ask for a fragment another tab of this process
    already fetched: a list of sixty rows is some 100 KB to fetch from Redis each time. The key holds all the
    fragment depends on (the versions, the minute...), so a copy here is as current as the cache's. Only with a
    shared cache: without one, the cache already is this process's memory. Bounded in bytes, oldest out first."""

    def __init__(self, at_most: int) -> None:
        self.at_most, self.size, self.kept, self.lock = at_most, 0, {}, threading.Lock()

    def get(self, key: str) -> tuple[bytes, str] | None:
        return self.kept.get(key) if settings.SHARED_CACHE else None

    def keep(self, key: str, kept: tuple[bytes, str]) -> None:
        if not settings.SHARED_CACHE or key in self.kept or len(kept[0]) > self.at_most // 8:
            return
        with self.lock:
            if key in self.kept:  # another thread kept it meanwhile
                return
            self.kept[key] = kept
            self.size += len(kept[0])
            while self.size > self.at_most:
                self.size -= len(self.kept.pop(next(iter(self.kept)))[0])


_recent = _Recent(at_most=16 * 1024 * 1024)


def visible_versions(request: HttpRequest) -> list[tuple[int | str, int]]:
    """The versions of the workspaces this user may see, read once a request: the list poll's ETag, the bar's, and
    the list's tab counts are all kept under them (one query without a shared cache, none with one)."""
    if not hasattr(request, "_visible_versions"):
        # Who is asking first: reading them is what reads their workspaces' versions too (in the same round trip,
        # when this process served their session lately), leaving them in request.versions_ahead.
        ids = visible_workspace_ids(request)
        ahead = getattr(request, "versions_ahead", None)
        request._visible_versions = ahead if ahead is not None else versions.of(ids)
    return request._visible_versions


def list_versions(request: HttpRequest, **kwargs) -> list[tuple[int | str, int]]:
    return visible_versions(request)


def health_versions(request: HttpRequest, **kwargs) -> list[tuple[int | str, int | str]]:
    """The health bar's: the versions of the workspaces it shows (a failing sync, a recovery and a refused answer
    bump them), the batches this browser watches (its session's), and the sync interval now. A successful pass
    announces nothing (every tab's rows would render again), but the bar shows when it was: so it renders again
    once per sync interval, as well as at once on a failure."""
    watched = hashlib.sha256(",".join(request.session.get(WATCHED, [])).encode()).hexdigest()[:16]
    interval = int(time.time() // settings.SYNC_INTERVAL_SECONDS)
    return [*visible_versions(request), ("watched", watched), ("synced", interval)]


def batch_versions(request: HttpRequest, batch_id: str, **kwargs) -> list[tuple[int | str, int]] | None:
    """The batch's workspace: one query, none with a shared cache. None (render, and 404 or 403 there) if this
    user may not see the batch."""
    if settings.SHARED_CACHE:
        visible = visible_workspace_ids(request)
        workspace_id = _workspace_of(batch_id)
        if workspace_id is not None and visible is not None and workspace_id not in visible:
            workspace_id = _workspace_of(batch_id, fresh=True)  # kept from a workspace since deleted and added again?
        if workspace_id is None or (visible is not None and workspace_id not in visible):
            return None
        # Among the versions read with who is asking, with no round trip of its own: for a user who sees every
        # workspace, the "any workspace" counter, which every bump moves; otherwise the workspace's own.
        shown = visible_versions(request)
        return shown if visible is None else [version for version in shown if version[0] == workspace_id]
    row = visible_batches(request).filter(pk=batch_id).values_list("workspace_id", "workspace__data_version").first()
    return [row] if row else None


# Batches' workspaces this process has read: a batch never moves to another workspace. Bounded: emptied when full.
_WORKSPACE_OF: dict[str, int] = {}
WORKSPACES_KEPT = 20_000


def _workspace_of(batch_id: str, *, fresh: bool = False) -> int | None:
    """A batch never moves to another workspace: its workspace is kept in the cache, and in this process, once
    read. `fresh`: read again from the database."""
    workspace_id = None if fresh else _WORKSPACE_OF.get(batch_id)
    if workspace_id is not None:
        return workspace_id
    key = "batch-workspace:" + hashlib.sha256(batch_id.encode()).hexdigest()[:32]  # any text is a safe key
    workspace_id = None if fresh else cache.get(key)
    if workspace_id is None:
        workspace_id = Batch.objects.filter(pk=batch_id).values_list("workspace_id", flat=True).first()
        if workspace_id is not None:
            cache.set(key, workspace_id, 24 * 3600)
    if workspace_id is None:
        _WORKSPACE_OF.pop(batch_id, None)
    else:
        if len(_WORKSPACE_OF) >= WORKSPACES_KEPT:
            _WORKSPACE_OF.clear()
        _WORKSPACE_OF[batch_id] = workspace_id
    return workspace_id


def conditional(versions_of: Callable[..., list[tuple[int, int]] | None], *, bar: bool = False) -> Callable:
    """Give the view's htmx GETs an ETag, and answer 304 to a poll that already holds the current one.

    Only htmx requests: a full page also shows the health bar and messages, which have their own lives.
    `bar`: the answer also carries the health bar out of band, and its ETag covers the bar's versions too.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def polled(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method != "GET" or not getattr(request, "htmx", False):
                response = view(request, *args, **kwargs)
                patch_vary_headers(response, VARY)
                return response
            shown = versions_of(request, *args, **kwargs)
            if shown is None:
                return view(request, *args, **kwargs)
            if bar:  # what the view shows and what the bar does, each once (the list's workspaces are the bar's)
                shown = list(dict.fromkeys([*shown, *health_versions(request)]))
            tag = etag(request, shown)
            if tag in _tags(request.headers.get("If-None-Match", "")):
                response = HttpResponseNotModified()
            else:

                def answer() -> HttpResponse:
                    return _with_bar(request, view(request, *args, **kwargs), bar)

                response = _shared_render(request, shown, answer)
                if response.status_code != 200:
                    return response
            response["ETag"] = tag
            response["Cache-Control"] = "private, no-cache"
            patch_vary_headers(response, VARY)
            return response

        return polled

    return decorate


def _with_bar(request: HttpRequest, response: HttpResponse, bar: bool) -> HttpResponse:
    """The answer and, after it, the health bar to swap in place of the page's (hx-swap-oob)."""
    if bar and response.status_code == 200 and not getattr(response, "streaming", False):
        response.content += render_to_string("_health.html", {"out_of_band": True}, request).encode()
    return response


def _tags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}
