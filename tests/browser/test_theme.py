"""The light and dark themes follow the OS setting; screenshots for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.builders import batch_request

SCREENS = Path("/tmp/screens")
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def several_batches(make_ended_batch, running_batch):
    """A running batch and an ended one with errors, so the list has something of each to show."""
    make_ended_batch(
        [batch_request(f"ok-{i:03d}") for i in range(40)]
        + [batch_request(f"over-{i}", "x [emulate:errored:overloaded_error]") for i in range(3)]
        + [batch_request("exp-1", "x [emulate:expired]")]
    )


def body_background(page: Page) -> tuple[int, ...]:
    color = page.evaluate("getComputedStyle(document.body).backgroundColor")
    return tuple(int(c) for c in re.findall(r"\d+", color)[:3])


def screenshot(page: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENS / name, full_page=True)


def test_the_dark_scheme_gives_a_dark_page(make_page, several_batches):
    page = make_page(color_scheme="dark")
    page.goto("/")

    assert all(channel < 60 for channel in body_background(page))
    screenshot(page, "batch-list-dark.png")


def test_the_light_scheme_gives_a_light_page(make_page, several_batches):
    page = make_page(color_scheme="light")
    page.goto("/")

    assert all(channel > 200 for channel in body_background(page))
    screenshot(page, "batch-list-light.png")


def test_the_batch_list_fits_a_phone_screen(make_page, several_batches):
    page = make_page(color_scheme="dark", viewport=PHONE)
    page.goto("/")

    # Wide tables scroll inside their wrapper; the page itself must not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "batch-list-phone-dark.png")
