"""The embedded broker (config/broker.py): a worker polling the queue never takes a message still being written.

With kombu's own filesystem transport the first test fails at its first message (the reader decodes an empty or
half-written file); a worker that did so died with "Unrecoverable error" in CI.
"""

import multiprocessing
from queue import Empty
from time import monotonic

from django.conf import settings
from kombu import Connection

from config.broker import Transport
from config.settings import broker_folders

MESSAGES = 200


def _channel(options):
    return Connection("filesystem://", transport=Transport, transport_options=options).default_channel


def _publish(options) -> None:
    """A web process or beat publishing tasks (in a process of its own, as they are)."""
    writer = _channel(options)
    body = "a task's arguments " * 5_000  # ~100 kB: its write takes long enough for a poll to land inside it
    for n in range(MESSAGES):
        writer._put("celery", {"n": n, "body": body})


def test_a_worker_polling_beside_a_publisher_only_ever_takes_whole_messages(tmp_path):
    options = {**broker_folders(tmp_path), "store_processed": False}
    for folder in ("queue", "processed", "control"):
        (tmp_path / folder).mkdir()
    reader = _channel(options)
    publisher = multiprocessing.get_context("spawn").Process(target=_publish, args=(options,))
    publisher.start()
    taken, deadline = [], monotonic() + 60
    try:
        while len(taken) < MESSAGES and monotonic() < deadline:
            try:
                # kombu's own transport fails here at once: JSONDecodeError on an empty or partial file.
                taken.append(reader._get("celery")["n"])
            except Empty:
                continue
    finally:
        publisher.join(timeout=30)
    assert sorted(taken) == list(range(MESSAGES))  # every message taken whole and once, none lost
    assert not list((tmp_path / "queue").iterdir())  # and no partial file left behind


def test_the_workers_and_the_web_publish_through_it_when_no_broker_is_configured():
    from config.celery import app

    if settings.CELERY_BROKER_URL == "filesystem://":
        with app.connection_for_write() as connection:
            assert isinstance(connection.transport, Transport)
