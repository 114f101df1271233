"""Sessions as Django's cached_db keeps them, whose read from the cache may be made ahead of time, in the one
round trip that also reads who is asking and their workspaces' versions (batches/services/auth_cache.py).

SESSION_ENGINE with a shared cache (config/settings.py). Writes, expiry and the database behind the cache are
Django's own.
"""

from __future__ import annotations

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbStore


class SessionStore(CachedDbStore):
    # The session's data as the cache held it, read ahead; taken by the first read of the session, if any.
    ahead: dict | None = None

    def load(self) -> dict:
        ahead, self.ahead = self.ahead, None
        return ahead if ahead is not None else super().load()
