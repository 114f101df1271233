"""Shared fixtures: a real emulator over HTTP, workspaces pointing at it, a fixed cast of users.

Plain builders (requests, rows) are in tests/builders.py. Django is imported inside the fixtures that
need it, so the emulator's own tests also run without it (`pytest tests/emulator -p no:django`).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest

from emulator import Emulator

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from batches.models import Workspace

_keys = itertools.count(1)


# Tests whose outcome cannot depend on the suite's database or broker: the emulator's (no Django), the SDK's own
# tests against it, and the ones that start the product with the outside environment stripped (a newcomer's start).
DATABASE_FREE = ("tests/emulator/", "tests/emulator_sdk/", "tests/deploy/", "tests/dashboard/test_production.py",
                 "tests/dashboard/test_settings.py")  # fmt: skip
USES_DATABASE = {"db", "transactional_db", "live_server"}


def pytest_collection_modifyitems(config, items) -> None:
    """A test that starts real processes (the `processes` fixture) or drives Chromium is marked `processes`, so a
    developer's quick loop can leave them out: `pytest -m "not processes"`. A test of DATABASE_FREE that asks for
    no database is marked `database_free`: CI's PostgreSQL + Redis run leaves those out, as the SQLite run
    (the README's command) has already run them against exactly the same things."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "processes" in names or "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.processes)
        uses_database = names & USES_DATABASE or item.get_closest_marker("django_db")
        if item.nodeid.startswith(DATABASE_FREE) and not uses_database:
            item.add_marker(pytest.mark.database_free)


@pytest.fixture
def processes(tmp_path):
    """Start real processes (tests/processes.py): each stopped when the test ends, whatever happened."""
    from tests.processes import Processes

    started = Processes(tmp_path)
    yield started
    started.stop_all()


def pytest_configure(config) -> None:
    """Make the folders the settings point at (the SQLite test database's, the embedded broker's), as
    ./bin/start does: importing the settings creates nothing."""
    if config.pluginmanager.hasplugin("django"):
        from django.core.management import call_command

        call_command("prepare", verbosity=0)


@pytest.fixture(autouse=True)
def price_book(request) -> None:
    """The price book every deployed database holds (loaded by migration 0026). The flush after each
    transactional test (a browser's, a worker's) empties it, and every later test would then see each model
    unpriced: pricing, events and pages would depend on the order the tests ran in."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in names or "live_server" in names or (marker and marker.kwargs.get("transaction")):
        request.getfixturevalue("transactional_db")
    elif "db" in names or marker:
        request.getfixturevalue("db")
    else:
        return
    import importlib

    from django.apps import apps

    from batches.models import PricedModel

    if not PricedModel.objects.exists():
        importlib.import_module("batches.migrations.0026_i18_price_book").load(apps, None)


@pytest.fixture
def emulator():
    emu = Emulator(seed=1, speed=0.0)
    emu.start(host="127.0.0.1", port=0)
    yield emu
    emu.stop()


@pytest.fixture
def twin():
    """A second emulator with the first's seed: the same ids, for other batches (as a stand-in restarted with its
    seed gives them)."""
    emu = Emulator(seed=1, speed=0.0)
    emu.start(host="127.0.0.1", port=0)
    yield emu
    emu.stop()


@pytest.fixture
def make_workspace(emulator, db):
    """A dashboard workspace whose key the emulator knows (unless `known=False`)."""

    from batches.models import Workspace

    def make(name: str | None = None, *, known: bool = True) -> Workspace:
        n = next(_keys)
        api_key = f"sk-ant-test-{n:04d}-{'x' * 20}"
        if known:
            emulator.add_workspace(api_key=api_key, name=name or f"ws{n}")
        workspace = Workspace(name=name or f"ws{n}", base_url=emulator.base_url)
        workspace.set_api_key(api_key)
        workspace.save()
        workspace.test_api_key = api_key  # the tests' own copy, to seed the emulator
        return workspace

    return make


@pytest.fixture
def workspace(make_workspace):
    return make_workspace("main")


@pytest.fixture(autouse=True)
def _fast_retries(request):
    if not request.config.pluginmanager.hasplugin("django"):
        return  # the emulator's own tests, run without Django
    settings = request.getfixturevalue("settings")
    # The SDK-facing retry loop honours retry-after; tests keep waits short.
    settings.ANTHROPIC_MAX_RETRY_WAIT_SECONDS = 2
    settings.INGEST_CHUNK_LINES = 50
    from django.core.cache import cache

    # Each test's database starts again from workspace 1 at version 0: a fragment another test's polls shared
    # (dashboard/polling.py) would match its key.
    cache.clear()


# --- a fixed cast of users -----------------------------------------------------------------------
def _user(name: str, *roles: str) -> User:
    from django.apps import apps as django_apps
    from django.contrib.auth.models import Group, User

    from batches.roles import ROLES, sync_role_groups

    # Transactional tests (the worker's, the browser's) flush the groups the migration made. Making them again
    # costs ~40 queries, so only when a flush has taken them.
    if Group.objects.filter(name__in=ROLES, permissions__isnull=False).distinct().count() < len(ROLES):
        sync_role_groups(django_apps)
    user = User.objects.create_user(name, password=f"pw-{name}-123")
    user.groups.set(Group.objects.filter(name__in=roles))
    return user


@pytest.fixture
def make_user(db):
    """A user holding these roles (the groups the migration creates)."""
    return _user


@pytest.fixture
def viewer(db):
    return _user("viewer", "Viewer")


@pytest.fixture
def nobody(db):
    """Logged in, but given no role yet."""
    return _user("nobody")


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client, make_user):
    """Logged in as someone holding the Operator role; `client.user` is that user."""
    client.user = make_user("operator", "Operator")
    client.force_login(client.user)
    return client


# --- notification receivers (tests/receivers.py) -------------------------------------------------
@pytest.fixture
def make_receiver():
    """A real HTTP receiver in this process: `make_receiver(500, 500)` answers 500 twice, then 200."""
    from tests.receivers import Receiver

    started = []

    def make(*statuses: int) -> Receiver:
        receiver = Receiver(statuses=list(statuses)).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def smtp(settings):
    """A real SMTP server in this process, with Django's email pointed at it; its recorder is returned."""
    from tests.receivers import start_smtp

    controller, recorder, port = start_smtp()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield recorder
    controller.stop()
