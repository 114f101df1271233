"""With a shared cache (Redis in production), an unchanged poll reads nothing from the database, and every
change still shows at the next poll: a write, a revoked role, an ended session. An unreachable cache is
today's queries, never a 500.

Each test runs on the cache in this process's memory (shared by everything in the process, as Redis is by
every process) and on the machine's real Redis, under a key prefix of its own. The writes' on-commit work runs
as a commit would run it (`django_capture_on_commit_callbacks`).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.models import WorkspaceAccess
from batches.services import auth_cache, sync, versions
from config.cache import DegradingRedisCache
from tests.processes import free_port

ROWS = {"HX-Request": "true", "HX-Target": "batch-rows"}
SUMMARY = {"HX-Request": "true", "HX-Target": "batch-summary"}
HEALTH = {"HX-Request": "true", "HX-Target": "sync-health"}
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")


def _redis(url: str) -> dict:
    return {"BACKEND": "config.cache.DegradingRedisCache", "LOCATION": url, "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5}}  # fmt: skip


@pytest.fixture(params=["memory", "redis"])
def shared(request, settings):
    # A cache of its own: the test databases of one run reuse ids, which the cache must not remember.
    memory = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    settings.CACHES = {"default": memory if request.param == "memory" else _redis(REDIS)}
    settings.SHARED_CACHE = True
    settings.SESSION_ENGINE = "dashboard.session_store"
    # No minute boundary between two polls of a test, nor a sync interval's (the health bar's, which polls carry).
    settings.POLL_ETAG_SECONDS = settings.SYNC_INTERVAL_SECONDS = 10**9
    DegradingRedisCache.reachable_again()
    if request.param == "redis":
        assert cache.add("probe", 1) and cache.get("probe") == 1, f"Redis at {REDIS} must answer"
    yield request.param


def _poll(client, url: str, headers: dict, tag: str | None = None):
    return client.get(url, headers=headers | ({"If-None-Match": tag} if tag else {}))


def _queries(do):
    with CaptureQueriesContext(connection) as queries:
        response = do()
    return response, [q["sql"] for q in queries]


def test_an_unchanged_poll_reads_nothing_from_the_database(shared, client, viewer, mirrored):
    client.force_login(viewer)
    for url, headers in (("/", ROWS), (f"/batches/{mirrored['running'].pk}/", SUMMARY), ("/health/", HEALTH)):
        tag = _poll(client, url, headers)["ETag"]
        _poll(client, url, headers, tag)  # the first 304 fills the cache (user, versions)

        again, queries = _queries(lambda: _poll(client, url, headers, tag))  # noqa: B023
        assert again.status_code == 304 and again["ETag"] == tag
        assert queries == [], queries


def _asked(monkeypatch) -> list[str]:
    """The names of the cache's methods called from now on: each is a round trip to Redis."""
    backend, asked = caches["default"], []

    def counted(name, method):
        def ask(*args, **kwargs):
            if not sys._getframe(1).f_code.co_filename.endswith("cache/backends/base.py"):  # memory's get_many: gets
                asked.append(name)
            return method(*args, **kwargs)

        return ask

    for name in ("get", "get_many", "set", "add", "delete", "incr", "set_many"):
        monkeypatch.setattr(backend, name, counted(name, getattr(backend, name)))
    return asked


def test_an_unchanged_poll_asks_the_cache_once(shared, client, viewer, mirrored, monkeypatch):
    """Each question is a round trip to Redis, paid by every poll of every open tab. A process that served this
    session lately asks once, for the session, the generation and the workspaces' versions together; one that did
    not asks three times (the session, who is asking, the versions), then once."""
    client.force_login(viewer)
    tag = _poll(client, "/", ROWS)["ETag"]
    _poll(client, "/", ROWS, tag)
    asked = _asked(monkeypatch)

    assert _poll(client, "/", ROWS, tag).status_code == 304
    assert asked == ["get_many"], asked

    summary = f"/batches/{mirrored['running'].pk}/"
    batch_tag = _poll(client, summary, SUMMARY)["ETag"]
    _poll(client, summary, SUMMARY, batch_tag)
    asked.clear()
    assert _poll(client, summary, SUMMARY, batch_tag).status_code == 304
    assert asked == ["get_many"], asked  # a batch's page too: its workspace is known, its version read ahead

    auth_cache._SEEN.clear()  # as another process, which has not served this session yet, finds it
    asked.clear()
    assert _poll(client, "/", ROWS, tag).status_code == 304
    assert asked == ["get", "get_many", "get_many"], asked
    asked.clear()
    assert _poll(client, "/", ROWS, tag).status_code == 304
    assert asked == ["get_many"], asked


def test_a_fragment_another_tab_fetched_comes_from_this_process(
    shared, client, viewer, make_user, mirrored, emulator, monkeypatch, django_capture_on_commit_callbacks
):
    """When a sync moves a version, every open tab renders its next poll: the first renders, and the others of
    this process get the same bytes from its memory, asking the cache only the one question every poll asks."""
    other = client.__class__()
    other.force_login(make_user("colleague", "Viewer"))
    client.force_login(viewer)
    for browser in (client, other, client, other):  # each session seen once by this process
        _poll(browser, "/", ROWS)
    emulator.advance(3600)
    with django_capture_on_commit_callbacks(execute=True):
        sync.catch_up(mirrored["workspace"].pk)

    mine = _poll(client, "/", ROWS)
    asked = _asked(monkeypatch)
    theirs, queries = _queries(lambda: _poll(other, "/", ROWS))
    assert mine.status_code == theirs.status_code == 200 and 'data-live="false"' in theirs.content.decode()
    assert theirs.content == mine.content and queries == [] and asked == ["get_many"], (asked, queries)


def test_a_change_the_cache_did_not_hear_is_seen_within_the_etag_period(
    shared, client, viewer, mirrored, monkeypatch, settings
):
    """A role taken away while the cache was unreachable cannot move the generation: the user this process keeps
    is used no longer than the cache's own copy, POLL_ETAG_SECONDS after it was loaded."""
    client.force_login(viewer)
    tag = _poll(client, "/", ROWS)["ETag"]
    assert _poll(client, "/", ROWS, tag).status_code == 304

    viewer.groups.remove(Group.objects.get(name="Viewer"))  # its on-commit move of the generation never runs
    assert _poll(client, "/", ROWS, tag).status_code == 304  # kept: nothing told this process

    later = time.time() + settings.POLL_ETAG_SECONDS
    monkeypatch.setattr(auth_cache, "time", SimpleNamespace(time=lambda: later, time_ns=time.time_ns))
    cache.delete(f"auth:user:{viewer.pk}")  # the cache's copy, gone by then too (kept POLL_ETAG_SECONDS)
    assert _poll(client, "/", ROWS, tag).status_code == 403


def test_each_session_is_its_own_users(shared, client, viewer, make_user, mirrored):
    """What this process keeps per session is never another session's: two people polling the same page from
    the same process each get their own answer."""
    operator = make_user("operator", "Operator")
    other = client.__class__()
    client.force_login(viewer)
    other.force_login(operator)
    for _ in range(3):
        mine = _poll(client, "/", ROWS)
        theirs = _poll(other, "/", ROWS)
        assert mine.status_code == theirs.status_code == 200
        assert mine["ETag"] != theirs["ETag"]  # who asks is part of it, and so are the buttons they may use
    assert mine.wsgi_request.user == viewer and theirs.wsgi_request.user == operator


def test_a_change_makes_the_next_poll_render(
    shared, client, viewer, mirrored, emulator, django_capture_on_commit_callbacks
):
    client.force_login(viewer)
    running = mirrored["running"]
    list_tag = _poll(client, "/", ROWS)["ETag"]
    page_tag = _poll(client, f"/batches/{running.pk}/", SUMMARY)["ETag"]
    assert _poll(client, "/", ROWS, list_tag).status_code == 304

    emulator.advance(3600)
    with django_capture_on_commit_callbacks(execute=True):
        sync.catch_up(mirrored["workspace"].pk)

    poll = _poll(client, "/", ROWS, list_tag)
    assert poll.status_code == 200 and 'data-live="false"' in poll.content.decode()  # the batch ended
    assert _poll(client, f"/batches/{running.pk}/", SUMMARY, page_tag).status_code == 200


def test_the_health_bar_renders_again_on_a_failure_a_watch_and_each_sync_interval(
    shared, client, viewer, mirrored, emulator, settings, django_capture_on_commit_callbacks
):
    settings.SYNC_INTERVAL_SECONDS = 10**9
    client.force_login(viewer)
    tag = _poll(client, "/health/", HEALTH)["ETag"]
    assert _poll(client, "/health/", HEALTH, tag).status_code == 304

    emulator.faults.add(op="list", status=401, times=-1)
    with django_capture_on_commit_callbacks(execute=True):
        sync.catch_up(mirrored["workspace"].pk)
    failing = _poll(client, "/health/", HEALTH, tag)
    assert failing.status_code == 200 and "sync failing since" in failing.content.decode()

    tag = failing["ETag"]
    assert _poll(client, "/health/", HEALTH, tag).status_code == 304
    client.post(f"/batches/{mirrored['running'].pk}/watch/", {"watch": "on"}, headers={"HX-Request": "true"})
    watching = _poll(client, "/health/", HEALTH, tag)  # this browser's watch list is part of the bar
    assert watching.status_code == 200

    # A successful pass announces nothing, but the bar says when it was: it renders again each sync interval.
    settings.SYNC_INTERVAL_SECONDS = 1
    time.sleep(1 - time.time() % 1 + 0.01)  # just past an interval's start
    tag = _poll(client, "/health/", HEALTH)["ETag"]
    assert _poll(client, "/health/", HEALTH, tag).status_code == 304
    time.sleep(1 - time.time() % 1 + 0.01)
    assert _poll(client, "/health/", HEALTH, tag).status_code == 200


def test_a_role_taken_away_takes_effect_on_the_next_poll(
    shared, client, viewer, mirrored, django_capture_on_commit_callbacks
):
    client.force_login(viewer)
    tag = _poll(client, "/", ROWS)["ETag"]
    assert _poll(client, "/", ROWS, tag).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        viewer.groups.remove(Group.objects.get(name="Viewer"))
    assert _poll(client, "/", ROWS, tag).status_code == 403


def test_a_workspace_taken_away_takes_effect_on_the_next_poll(
    shared, client, make_user, make_workspace, mirrored, django_capture_on_commit_callbacks
):
    other = make_workspace("other")
    user = make_user("scoped")
    WorkspaceAccess.objects.create(user=user, workspace=mirrored["workspace"], role="Viewer")
    access = WorkspaceAccess.objects.create(user=user, workspace=other, role="Viewer")
    client.force_login(user)
    url = f"/batches/{mirrored['running'].pk}/"
    tag = _poll(client, url, SUMMARY)["ETag"]
    assert _poll(client, url, SUMMARY, tag).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        WorkspaceAccess.objects.filter(user=user, workspace=mirrored["workspace"]).delete()
    assert access.pk and _poll(client, url, SUMMARY, tag).status_code in (403, 404)


def test_a_batch_whose_workspace_was_added_again_is_polled_in_its_new_one(
    shared, client, make_user, make_workspace, mirrored, django_capture_on_commit_callbacks
):
    """A batch never moves between workspaces, so each process keeps which one holds it; but a workspace deleted
    and added again mirrors its batches anew, under a new id. A poll then reads the batch's workspace again, and a
    change there still renders."""
    again = make_workspace("added again")
    user = make_user("scoped")
    with django_capture_on_commit_callbacks(execute=True):
        WorkspaceAccess.objects.create(user=user, workspace=mirrored["workspace"], role="Viewer")
    client.force_login(user)
    running = mirrored["running"]
    url = f"/batches/{running.pk}/"
    tag = _poll(client, url, SUMMARY)["ETag"]
    assert _poll(client, url, SUMMARY, tag).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        type(running).objects.filter(pk=running.pk).update(workspace=again)
        WorkspaceAccess.objects.filter(user=user).delete()  # as the workspace's deletion does
        WorkspaceAccess.objects.create(user=user, workspace=again, role="Viewer")
    moved = _poll(client, url, SUMMARY, tag)
    assert moved.status_code == 200 and moved["ETag"] != tag
    assert _poll(client, url, SUMMARY, moved["ETag"]).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        versions.bump(again.pk)
    assert _poll(client, url, SUMMARY, moved["ETag"]).status_code == 200


def test_an_ended_session_takes_effect_on_the_next_poll(shared, client, viewer, mirrored):
    client.force_login(viewer)
    tag = _poll(client, "/", ROWS)["ETag"]
    assert _poll(client, "/", ROWS, tag).status_code == 304
    cookie = client.cookies["sessionid"].value

    client.logout()
    client.cookies["sessionid"] = cookie  # a second tab still sends the old cookie
    poll = _poll(client, "/", ROWS, tag)
    assert poll.status_code == 302 and poll["Location"].startswith("/login/")


def test_an_unreachable_cache_is_answered_from_the_database(settings, client, viewer, mirrored, caplog):
    settings.CACHES = {"default": _redis(f"redis://127.0.0.1:{free_port()}/0")}  # nothing listens there
    settings.SHARED_CACHE = True
    settings.SESSION_ENGINE = "dashboard.session_store"
    settings.POLL_ETAG_SECONDS = 10**9
    DegradingRedisCache.reachable_again()
    client.force_login(viewer)

    first = _poll(client, "/", ROWS)
    assert first.status_code == 200 and f"row-{mirrored['running'].pk}" in first.content.decode()
    again, queries = _queries(lambda: _poll(client, "/", ROWS, first["ETag"]))
    assert again.status_code == 304 and queries  # today's queries: session, user, permissions, versions
    assert client.get("/").status_code == 200
    assert "the cache is unreachable (ConnectionError)" in caplog.text


def test_someone_else_logging_in_leaves_the_cached_users_alone(
    shared, client, viewer, make_user, mirrored, django_capture_on_commit_callbacks
):
    client.force_login(viewer)
    tag = _poll(client, "/", ROWS)["ETag"]
    _poll(client, "/", ROWS, tag)
    other = make_user("other", "Viewer")
    with django_capture_on_commit_callbacks(execute=True):
        client_b = client.__class__()
        client_b.force_login(other)  # stamps other.last_login

    again, queries = _queries(lambda: _poll(client, "/", ROWS, tag))
    assert again.status_code == 304 and queries == [], queries
