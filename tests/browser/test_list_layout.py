"""The batch list as ops staff expect it, measured in Chromium: one line per batch and nothing cut at 1440 and
1280 px, at least 15 batches on a 1440x900 screen, a card per batch on a phone (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page

from batches.models import Batch, Workspace
from batches.services import sync

SCREENS = Path("/tmp/screens")
ONE_LINE_PX = 40  # a row of one text line with its padding; two lines would be over 50


@pytest.fixture
def full_list(emulator, workspace: Workspace, user) -> None:
    """24 batches, ended and running, with errors, labels and a submitter: a page as wide as it gets, seen by
    an Operator (the tick column too)."""
    for codename in ("cancel_batch", "retry_results"):
        user.user_permissions.add(Permission.objects.get(content_type__app_label="batches", codename=codename))
    Workspace.objects.filter(pk=workspace.pk).update(name="research-evaluations-eu")
    key = workspace.test_api_key
    emulator.seed_batches(key, 18, status="ended", n_requests=40, outcomes={"succeeded": 0.9, "errored": 0.1})
    emulator.seed_batches(key, 6, status="in_progress", n_requests=400)
    sync.catch_up(workspace.pk)
    Batch.objects.update(label="Nightly evaluation of the support-ticket classifier", submitted_by=user)


def measure(page: Page) -> dict:
    return page.evaluate(
        """(() => {
        const wrap = document.querySelector('.table-wrap'), table = document.querySelector('table.batches');
        const rows = [...document.querySelectorAll('#batch-rows tr[data-row]')];
        const cols = [...document.querySelectorAll('table.batches thead th')].filter(th => th.offsetParent !== null);
        return {
          wrapWidth: wrap.clientWidth, tableWidth: table.scrollWidth, pageWidth: document.documentElement.scrollWidth,
          heights: rows.map(r => r.getBoundingClientRect().height),
          onScreen: rows.filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length,
          columns: cols.map(th => th.textContent.replace(/[▲▼↕]/g, '').trim()),
          rowDisplay: rows.length ? getComputedStyle(rows[0]).display : '',
        };
      })()"""
    )


def shoot(page: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENS / name)


@pytest.mark.processes
@pytest.mark.parametrize(("width", "height"), [(1440, 900), (1280, 800)])
def test_one_line_per_batch_and_nothing_cut_on_a_desktop(make_page, full_list, width, height):
    page = make_page(viewport={"width": width, "height": height})
    page.goto("/")
    shoot(page, f"list-{width}.png")
    m = measure(page)
    print(f"{width}x{height}: {m['onScreen']} rows on screen, {max(m['heights']):.1f} px each")
    assert len(m["heights"]) == 24
    assert max(m["heights"]) <= ONE_LINE_PX, m["heights"]
    assert m["tableWidth"] <= m["wrapWidth"], m  # no sideways scroll: every column inside its box
    assert m["pageWidth"] <= width
    if width == 1440:
        assert m["columns"][-1] == "Label" and "Workspace" in m["columns"] and "Ended" in m["columns"]
        assert m["onScreen"] >= 15, m["onScreen"]
    else:
        assert {"Batch", "Status", "Created", "Progress", "Errors", "Label"} <= set(m["columns"])


@pytest.mark.processes
def test_narrower_screens_drop_columns_by_priority_before_scrolling_sideways(make_page, full_list):
    page = make_page(viewport={"width": 1024, "height": 768})
    page.goto("/")
    shoot(page, "list-1024.png")
    m = measure(page)
    assert max(m["heights"]) <= ONE_LINE_PX and m["tableWidth"] <= m["wrapWidth"], m
    assert "Ended" not in m["columns"] and "Label" not in m["columns"]  # lower priorities went first
    assert {"Batch", "Status", "Created", "Progress", "Errors"} <= set(m["columns"])


@pytest.mark.processes
def test_a_phone_shows_a_card_per_batch(make_page, full_list):
    page = make_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto("/")
    shoot(page, "list-390.png")
    m = measure(page)
    assert m["rowDisplay"] == "block" and m["pageWidth"] <= 390, m
    first = page.locator("#batch-rows tr[data-row]").first
    assert "Nightly evaluation" in first.inner_text() and "28 d left" in first.inner_text()  # every value
    names = first.locator("td[data-label]").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    assert '"Label"' in names and '"Errors"' in names  # each under its column's name
    box = first.bounding_box()
    assert box and box["width"] <= 390 and box["height"] > 200  # a card, one value a line
