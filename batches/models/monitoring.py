"""What operating the dashboard needs to see: heartbeats of beat and the workers, and API call counts.

Web, worker and beat are separate processes (often on separate hosts): what one records, /readyz and
/metrics in another read from here.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

log = logging.getLogger(__name__)


class Heartbeat(models.Model):
    """When beat last sent the heartbeat task (`beat`) and when a worker last ran it (`worker`)."""

    BEAT, WORKER = "beat", "worker"

    name = models.CharField(max_length=16, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def beat(cls, name: str) -> None:
        # One UPDATE, no read first: beat and a worker may write at the same moment.
        if not cls.objects.filter(name=name).update(at=timezone.now()):
            try:
                with transaction.atomic():
                    cls.objects.create(name=name, at=timezone.now())
            except IntegrityError:
                cls.objects.filter(name=name).update(at=timezone.now())


class ApiRequestCount(models.Model):
    """Calls to the Anthropic API since the table was made, per endpoint and outcome (`ok`, an HTTP
    status, or `timeout` / `connection_error`).

    Each process tallies its calls in memory and adds them here when a task (or a command) ends, so no
    call waits on a write and a busy sync adds one UPDATE per outcome, not one per call.
    """

    endpoint = models.CharField(max_length=32)
    status = models.CharField(max_length=32)
    count = models.PositiveBigIntegerField(default=0)

    # This process's calls not yet added to the table.
    _pending: Counter[tuple[str, str]] = Counter()
    _lock = threading.Lock()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "status"], name="api_count_unique")]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.status}: {self.count}"

    @classmethod
    def tally(cls, endpoint: str, status: str) -> None:
        with cls._lock:
            cls._pending[endpoint, status] += 1

    @classmethod
    def flush(cls) -> None:
        """Add this process's tallies to the table. A failed write loses them (logged), never an API call."""
        if not cls._pending:
            return
        with cls._lock:
            pending, cls._pending = cls._pending, Counter()
        try:
            for (endpoint, status), n in sorted(pending.items()):  # one order: two flushes never deadlock
                cls._add(endpoint, status, n)
        except DatabaseError:
            log.warning("could not record %d API call counts", sum(pending.values()), exc_info=True)

    @classmethod
    def _add(cls, endpoint: str, status: str, n: int) -> None:
        rows = cls.objects.filter(endpoint=endpoint, status=status)
        if rows.update(count=F("count") + n):
            return
        try:
            with transaction.atomic():
                cls.objects.create(endpoint=endpoint, status=status, count=n)
        except IntegrityError:  # another process made the row first
            rows.update(count=F("count") + n)
