"""A real Chromium driven by Playwright against pytest-django's live server, and the emulator behind it.

Chromium is Debian's `chromium` package (bin/test installs it when it can); Playwright's own browser
downloads are not used. A missing browser fails these tests: they must not pass by being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission, User
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from batches.models import Batch, Workspace
from batches.roles import sync_role_groups
from batches.services import sync
from emulator import Emulator
from tests.builders import batch_request

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google, which a closed network answers slowly.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
USERNAME, PASSWORD = "operator", "pw-operator-123"
# Long enough for a 5 s poll plus a slow render on a busy machine.
LIVE_TIMEOUT_MS = 15_000


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # Playwright's sync API keeps an asyncio loop marked as running on this thread, and Django refuses ORM
    # calls while one runs, although the tests' calls are plain synchronous ones between browser steps.
    # Package scope, not session: the loop stops before the rest of the suite runs.
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install chromium); "
            "bin/test does it when run as root with apt-get available.",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def user(transactional_db) -> User:
    """Someone who may look at batches. A flush after a transactional test can empty the groups and
    permissions the migrations made: sync_role_groups makes them again first."""
    sync_role_groups(django_apps)
    user = User.objects.create_user(USERNAME, password=PASSWORD)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="batches", codename="view_batch"))
    return user


@pytest.fixture
def make_page(browser: Browser, live_server, user) -> Iterator[Callable[..., Page]]:
    """A page in a fresh context (`color_scheme`, `viewport`...), logged in through the form unless told not to."""
    contexts = []

    def make(*, logged_in: bool = True, **context_options) -> Page:
        context = browser.new_context(base_url=live_server.url, **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if logged_in:
            log_in(page)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(make_page) -> Page:
    return make_page(logged_in=False)


@pytest.fixture
def logged_in_page(make_page) -> Page:
    return make_page()


def log_in(page: Page, username: str = USERNAME, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))


def wait_until(page: Page, condition: str, timeout_ms: int) -> None:
    """Wait for a JavaScript condition on the page. Not page.wait_for_function: Playwright evals its predicate
    inside the page, which the Content-Security-Policy forbids; evaluate() goes through the DevTools protocol,
    which the policy does not see."""
    for _ in range(timeout_ms // 100):
        if page.evaluate(condition):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still not true after {timeout_ms} ms: {condition}")


@pytest.fixture
def running_batch(emulator: Emulator, workspace: Workspace) -> Batch:
    """100 requests mirrored while in progress, two of them to end errored. As the API does, the counts stay at
    "processing" until the whole batch ends."""
    # A max_tokens no answer reaches: whole answers, none cut off (incomplete answers are drawn apart).
    requests = [batch_request(f"live-{i:03d}", max_tokens=4096) for i in range(98)]
    requests += [batch_request(f"live-err-{i}", "x [emulate:errored:overloaded_error]") for i in range(2)]
    batch_id = emulator.create_batch(workspace.test_api_key, requests, duration=600)
    sync.catch_up(workspace.pk)
    return Batch.objects.get(pk=batch_id)


@pytest.fixture
def make_ended_batch(emulator: Emulator, workspace: Workspace) -> Callable[[list[dict]], Batch]:
    """A batch that ran to its end, mirrored and ingested by the real sync."""

    def make(requests: list[dict]) -> Batch:
        batch_id = emulator.create_batch(workspace.test_api_key, requests, duration=30)
        emulator.advance(60)
        sync.catch_up(workspace.pk)
        batch = Batch.objects.get(pk=batch_id)
        assert batch.results_ingested_at, "the sync should have ingested the ended batch"
        return batch

    return make


@pytest.fixture
def several_batches(make_ended_batch, running_batch) -> Batch:
    """An ended batch (succeeded, errored and expired items, a label) beside the running one; the ended one."""
    ended = make_ended_batch(
        [batch_request(f"ok-{i:03d}") for i in range(30)]
        + [batch_request(f"over-{i}", "x [emulate:errored:overloaded_error]") for i in range(3)]
        + [batch_request("exp-1", "x [emulate:expired]")]
    )
    Batch.objects.filter(pk=ended.pk).update(label="Nightly evaluation")
    return ended


@pytest.fixture
def held(monkeypatch) -> list[tuple[str, tuple]]:
    """The tasks the pages hand to the worker (an estimate, a refresh), kept as (name, args) instead of sent: no
    worker runs here, and the shared broker must not keep them for another test's worker."""
    from batches.services import handoff

    handed: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        handoff, "_send", lambda task, args, expires: handed.append((getattr(task, "name", task), args)) or True
    )
    return handed
