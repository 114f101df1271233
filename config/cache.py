"""The shared cache (Redis) as the dashboard uses it: an outage is a miss, never an error.

Polls answer from the cache (sessions, who is asking, the workspaces' versions: docs/performance.md). When
Redis is unreachable every read here is a miss and every write is dropped, so a request falls back to the
database, as it did before the cache, instead of answering 500. After one failure a process leaves Redis
alone for `RETRY_SECONDS`, so an outage does not add a connect timeout to every request.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
_FAILURES = (RedisError, OSError)


class KeptClient(RedisCacheClient):
    """Django's client, keeping one redis.Redis per server where Django makes one per call. A redis.Redis is
    safe to share between threads (each command takes a connection from the pool); making it, and dropping it,
    was 2% of an unchanged poll's time under gunicorn (py-spy, 2026-12-07)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
            client = self._clients.setdefault(index, self._client(connection_pool=self._pools[index]))
        return client


class DegradingRedisCache(RedisCache):
    """Django's RedisCache, whose failures read as misses and dropped writes (logged at most once per RETRY_SECONDS)."""

    _down_until = 0.0

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = KeptClient

    def validate_key(self, key):
        """Django's warns of keys that memcached would refuse, looking at each character in Python: 1% of an
        unchanged poll's time, 4% of a fragment served from the cache, for a cache that takes any key."""

    def _call(self, name: str, default, *args, **kwargs):
        if time.monotonic() < DegradingRedisCache._down_until:
            return default
        try:
            return getattr(super(), name)(*args, **kwargs)
        except _FAILURES as exc:
            # At most once per RETRY_SECONDS per process; the exception's text may hold the URL's password.
            log.warning("the cache is unreachable (%s): answering from the database", type(exc).__name__)
            DegradingRedisCache._down_until = time.monotonic() + RETRY_SECONDS
            return default

    def get(self, key, default=None, version=None):
        return self._call("get", default, key, default, version)

    def get_many(self, keys, version=None):
        return self._call("get_many", {}, keys, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", None, key, value, timeout=timeout, version=version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", False, key, value, timeout=timeout, version=version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", list(data), data, timeout=timeout, version=version)

    def delete(self, key, version=None):
        return self._call("delete", False, key, version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", None, keys, version)

    def incr(self, key, delta=1, version=None):
        """None when the key is missing or the cache is down (Django raises ValueError for the first)."""
        try:
            return self._call("incr", None, key, delta, version)
        except ValueError:
            return None

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", False, key, timeout=timeout, version=version)

    def has_key(self, key, version=None):
        return self._call("has_key", False, key, version)

    def clear(self):
        return self._call("clear", None)

    @classmethod
    def reachable_again(cls) -> None:
        """Forget an outage now (tests)."""
        cls._down_until = 0.0
