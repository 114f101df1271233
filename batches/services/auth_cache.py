"""Who is asking, from the shared cache: the user with their permissions and workspace roles, no query.

A poll needs the user, their permissions (the ETag and the buttons depend on them) and their workspace roles:
four queries from the database. With a shared cache (settings.SHARED_CACHE) the user is kept there once
loaded, those three read, with the generation it was loaded under (read in one round trip with the current
one, as every request of a signed-in user asks). Every write that changes who may do what (a
user, their groups or permissions, a group's permissions, a workspace role) moves the generation once it is
committed, so the next request of every user loads afresh: a revoked role takes effect on the next poll.

Moving the generation after the commit, never before, is what keeps a request that read the old rows from
caching them under the new generation.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.crypto import constant_time_compare

from batches.models import WorkspaceAccess
from batches.services.workspace_roles import workspace_roles

GENERATION = "auth:generation"


def user_of(request):
    """request.user as django.contrib.auth.get_user makes it, read from the cache when it holds it."""
    if not settings.SHARED_CACHE:
        return auth.get_user(request)
    session = request.session
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend = session[BACKEND_SESSION_KEY]
    except (KeyError, ValueError):
        return AnonymousUser()
    generation, user = _cached(user_id)
    if user is not None and backend in settings.AUTHENTICATION_BACKENDS:
        # As Django checks it: a changed password ends the other sessions (a mismatch lets Django decide).
        if constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
            user.backend = backend
            return user
    user = auth.get_user(request)
    if generation is not None and user.is_authenticated:
        user.get_all_permissions()  # kept on the user (ModelBackend's caches), then pickled with it
        workspace_roles(user)
        # Kept with the generation read before the user was loaded: rows read before a change committed are kept
        # under the generation that change then moves away from. Kept a short while only: a change committed while
        # the cache was unreachable (the generation could not move) is seen within POLL_ETAG_SECONDS all the same.
        cache.set(_user_key(user_id), (generation, user), settings.POLL_ETAG_SECONDS)
    return user


def _user_key(user_id) -> str:
    return f"auth:user:{user_id}"


def _cached(user_id) -> tuple[int | None, object | None]:
    """(the current generation, the user kept under it or None): one round trip to the cache for both, as every
    request of a signed-in user asks (two cost a tenth of an unchanged poll's time). (None, None): no cache."""
    key = _user_key(user_id)
    found = cache.get_many([GENERATION, key])
    generation = found.get(GENERATION)
    if generation is None:
        # Never a number used before: a cache that lost the key (restarted, evicted) starts afresh.
        cache.add(GENERATION, time.time_ns(), None)
        return cache.get(GENERATION), None
    kept = found.get(key)
    return generation, (kept[1] if kept is not None and kept[0] == generation else None)


def forget_everyone(update_fields=None, **kwargs) -> None:
    """Once the change is committed: every user is loaded afresh on their next request. Not for a login's
    stamp of `last_login` alone: a morning of logins would otherwise empty the cache at each one."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    if settings.SHARED_CACHE:
        transaction.on_commit(_move_generation, robust=True)


def _move_generation() -> None:
    try:
        moved = cache.incr(GENERATION)
    except ValueError:
        moved = None  # missing: the next request starts a new generation anyway
    if moved is None:
        cache.delete(GENERATION)


def connect() -> None:
    """Called once by the app's ready(): every write that changes who may do what."""
    user_model = get_user_model()
    for model in (user_model, Group, Permission, WorkspaceAccess):
        post_save.connect(forget_everyone, sender=model, dispatch_uid=f"auth_cache.save.{model.__name__}")
        post_delete.connect(forget_everyone, sender=model, dispatch_uid=f"auth_cache.delete.{model.__name__}")
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(forget_everyone, sender=through, dispatch_uid=f"auth_cache.m2m.{through.__name__}")
