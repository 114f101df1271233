"""The one way work is handed to the Celery worker: `enqueue`, once the current transaction commits.

Services name the task (the constants below) instead of importing batches.tasks, which imports the services:
that would be an import cycle. Tasks, views and the admin pass the task itself. Either way the message is
sent after the commit, so the worker finds what the caller wrote, and a broker that cannot take it is
reported (False, logged) rather than raised: work that must not be lost is in the database already, and a
beat sweep picks it up once the broker is back.
"""

from __future__ import annotations

import logging

from celery import Task, current_app
from django.db import transaction
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

# Tasks a service hands on (tests/batches/test_handoff.py checks each is registered).
SUBMIT_BATCHES = "batches.tasks.submit_batches"
ESTIMATE_SUBMISSION = "batches.tasks.estimate_submission"
SPLIT_KEPT_BODY = "batches.tasks.split_kept_body"


def enqueue(task: Task | str, *args, expires: float | None = None) -> bool:
    """Send a task once the current transaction commits (at once outside one). False, logged, when the broker
    cannot take it (down, unreachable): the caller says so. Inside a transaction that has not committed yet
    the answer is not known: True. `expires`: seconds after which a worker drops it unrun."""
    sent: list[bool] = []
    transaction.on_commit(lambda: sent.append(_send(task, args, expires)))
    return all(sent)


def _send(task: Task | str, args: tuple, expires: float | None) -> bool:
    # Looked up when sent: batches.apps registers the tasks as Django starts.
    task = current_app.tasks[task] if isinstance(task, str) else task
    try:
        task.apply_async(args, expires=expires)
    except (OperationalError, OSError) as exc:
        log.warning("could not enqueue %s%r: %s", task.name, args, exc)
        return False
    return True
