"""Bookkeeping that survives a lost database connection, and the lease rules of crashed work.

A worker whose PostgreSQL connection is cut (a failover, `pg_terminate_backend`, a restart) must still
record what happened: otherwise the task dies holding its lease and queue mark, and the batch stalls
with no trace. `reconnecting` closes the broken connection and runs the bookkeeping once more on a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
T = TypeVar("T")


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` is the database connection going away (not a constraint or a bad query)."""
    return isinstance(exc, (OperationalError, InterfaceError))


def reconnect() -> bool:
    """Drop the current connection so the next query opens a new one. False inside a transaction: the
    transaction is lost with its connection, and only its owner can start again."""
    if connection.in_atomic_block:
        return False
    try:
        connection.close()
    except DatabaseError:
        pass  # closing a dead connection can fail too; Django forgets it all the same
    return True


def reconnecting(work: Callable[[], T], what: str) -> T:
    """Run `work`; when the connection has gone, reconnect and run it once more."""
    try:
        return work()
    except (OperationalError, InterfaceError) as exc:
        if not reconnect():
            raise
        log.warning("%s: database connection lost (%s); reconnected", what, exc)
        return work()
