"""Who is asking, from the shared cache: the user with their permissions and workspace roles, no query.

A poll needs the user, their permissions (the ETag and the buttons depend on them) and their workspace roles:
four queries from the database. With a shared cache (settings.SHARED_CACHE) the user is kept there once
loaded, those three read, with the generation it was loaded under (read in one round trip with the current
one, as every request of a signed-in user asks). Every write that changes who may do what (a
user, their groups or permissions, a group's permissions, a workspace role) moves the generation once it is
committed, so the next request of every user loads afresh: a revoked role takes effect on the next poll.

Moving the generation after the commit, never before, is what keeps a request that read the old rows from
caching them under the new generation.

Each process also keeps the users of the sessions it served lately. A request of one of them then asks the
cache once, for the session, the generation and the versions of the user's workspaces together, where it asked
three times: the user is the process's own copy if the generation has not moved since it was loaded.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.crypto import constant_time_compare

from batches.models import WorkspaceAccess
from batches.services import versions
from batches.services.workspace_roles import visible_workspace_ids, workspace_roles

GENERATION = "auth:generation"


def user_of(request):
    """request.user as django.contrib.auth.get_user makes it, read from the cache when it holds it."""
    if not settings.SHARED_CACHE:
        return auth.get_user(request)
    ahead = _read_ahead(request)
    session = request.session
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend = session[BACKEND_SESSION_KEY]
    except (KeyError, ValueError):
        return AnonymousUser()
    if ahead is not None and ahead.user.pk == user_id:
        generation, user, loaded_at = ahead.generation, ahead.user, None
    else:
        (generation, user, loaded_at), ahead = _cached(user_id), None
    if user is not None and backend in settings.AUTHENTICATION_BACKENDS:
        # As Django checks it: a changed password ends the other sessions (a mismatch lets Django decide).
        if constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
            user.backend = backend
            if ahead is None:
                _remember(session.session_key, generation, user, loaded_at)
            else:
                request.versions_ahead = ahead.versions
            return user
    user = auth.get_user(request)
    if generation is not None and user.is_authenticated:
        user.get_all_permissions()  # kept on the user (ModelBackend's caches), then pickled with it
        workspace_roles(user)
        # Kept with the generation read before the user was loaded: rows read before a change committed are kept
        # under the generation that change then moves away from. Kept a short while only: a change committed while
        # the cache was unreachable (the generation could not move) is seen within POLL_ETAG_SECONDS all the same.
        loaded_at = time.time()
        cache.set(_user_key(user_id), (generation, user, loaded_at), settings.POLL_ETAG_SECONDS)
        _remember(session.session_key, generation, user, loaded_at)
    return user


def _user_key(user_id) -> str:
    return f"auth:user:{user_id}"


def _cached(user_id) -> tuple[int | None, object | None, float]:
    """(the current generation, the user kept under it or None, when it was loaded): one round trip to the cache
    for both, as every request of a signed-in user asks (two cost a tenth of an unchanged poll's time). The
    generation None: no cache."""
    key = _user_key(user_id)
    found = cache.get_many([GENERATION, key])
    generation = found.get(GENERATION)
    if generation is None:
        # Never a number used before: a cache that lost the key (restarted, evicted) starts afresh.
        cache.add(GENERATION, time.time_ns(), None)
        return cache.get(GENERATION), None, 0.0
    kept = found.get(key)
    if kept is None or kept[0] != generation:
        return generation, None, 0.0
    # An entry kept by the release before is (generation, user): it was loaded a short while ago at most.
    return generation, kept[1], kept[2] if len(kept) > 2 else time.time()


# The sessions this process served lately, by session key: (when the user was loaded, the generation it was loaded
# under, the user pickled, the workspaces they see). A request of one of them asks the cache once, for the session,
# the generation and those workspaces' versions together, where it asked three times: the user is this process's
# copy if the generation has not moved since it was loaded. Bounded: the oldest goes first.
_SEEN: dict[str, tuple[float, int, bytes, list[int] | None]] = {}
SEEN_AT_MOST = 5000


@dataclass(frozen=True)
class _Ahead:
    generation: int
    user: object
    versions: list | None  # versions.of(the workspaces the user sees), or None if one counter was not kept


def _remember(session_key: str | None, generation: int | None, user, loaded_at: float) -> None:
    if session_key is None or generation is None:
        return
    while len(_SEEN) >= SEEN_AT_MOST:
        try:
            del _SEEN[next(iter(_SEEN))]
        except (KeyError, RuntimeError, StopIteration):  # another thread took it, or changed the dict meanwhile
            break
    _SEEN[session_key] = (loaded_at, generation, pickle.dumps(user), visible_workspace_ids(user))


def _read_ahead(request) -> _Ahead | None:
    """For a session this process served lately: its data, the generation and its workspaces' versions in one
    round trip, with the user as loaded, if the generation still is the one it was loaded under."""
    session = request.session
    seen = _SEEN.get(session.session_key) if hasattr(session, "ahead") and session.session_key else None
    if seen is None:
        return None
    loaded_at, generation, pickled, workspace_ids = seen
    if time.time() - loaded_at >= settings.POLL_ETAG_SECONDS:  # as the cache's own copy: kept a short while only
        del _SEEN[session.session_key]
        return None
    session_key, version_keys = session.cache_key, versions.keys(workspace_ids)
    found = cache.get_many([session_key, GENERATION, *version_keys])
    if session_key not in found:  # ended, or no longer in the cache: the session store decides, as without this
        return None
    session.ahead = found[session_key]
    if found.get(GENERATION) != generation:
        return None
    return _Ahead(generation, pickle.loads(pickled), versions.found_in(workspace_ids, found))


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
