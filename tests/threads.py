"""Running one thing from several threads at the same moment, for the tests of what must happen once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def at_once(n: int, work: Callable[[], Any]) -> list[Any]:
    """Run `work` in `n` threads released together; its results, after failing on any error it raised."""
    from django.db import connection

    results, errors = [], []
    start = threading.Barrier(n)

    def run() -> None:
        try:
            start.wait()
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - raised below, in the test's own thread
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
