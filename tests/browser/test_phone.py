"""A phone (390 px wide) in Chromium: no page is wider than the screen, nothing is cut, the chart can be read
(issue 21, point 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from batches.models import Batch, Submission
from tests.builders import batch_request

PHONE = {"width": 390, "height": 844}
SCREENS = Path("/tmp/screens")
MIN_LABEL_PX = 10  # the smallest text a phone's reader is asked to read


@pytest.fixture
def everything(user, make_ended_batch, running_batch) -> dict:
    """Every page has something to show: an ended batch whose errors have long type names, a running one, a draft
    with a long file name, spend to chart; the user may open every page (an Admin of every workspace)."""
    user.is_superuser = user.is_staff = True
    user.save()
    ended = make_ended_batch(
        [batch_request(f"ok-{i:03d}") for i in range(12)]
        + [batch_request(f"bad-request-{i}", "x [emulate:errored:invalid_request_error]") for i in range(3)]
        + [batch_request("over-1", "x [emulate:errored:overloaded_error]")]
    )
    Batch.objects.filter(pk=ended.pk).update(label="Nightly evaluation of the support-ticket classifier")
    draft = Submission.objects.create(
        workspace=ended.workspace, fingerprint="draft", request_count=3, created_by=user,
        filename="support-ticket-classifier-evaluation-2026-12-05-nightly-run.jsonl",
    )  # fmt: skip
    return {"ended": ended, "running": running_batch, "draft": draft}


def _pages(everything: dict) -> list[str]:
    ended = everything["ended"].id
    return [
        "/", f"/batches/{ended}/", f"/batches/{ended}/?result_type=errored", f"/batches/{ended}/results/bad-request-0/",
        f"/batches/{everything['running'].id}/", "/submit/", f"/submissions/{everything['draft'].pk}/",
        "/submissions/", "/errors/", "/spend/", "/spend/reconcile/", "/audit/", "/notifications/",
        "/notifications/channels/", "/notifications/channels/new/", "/notifications/deliveries/", "/tokens/",
        f"/retry/?batch={ended}&kind=overloaded_error", "/account/two-step/",
    ]  # fmt: skip


# Wider than the screen: the page itself, or any element whose box reaches past the screen's right edge (not
# inside a box that scrolls on purpose), or text clipped by a box too narrow for it ("invalid_reque").
OVERFLOW = """(() => {
  const width = document.documentElement.clientWidth, out = [];
  const scrolls = el => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX === 'auto' || s.overflowX === 'scroll') return true;
    }
    return false;
  };
  // Visually hidden for screen readers (clip: rect(0 0 0 0)), as the phone's batch cards hide their header row.
  const hidden = el => { for (let p = el; p; p = p.parentElement) { if (getComputedStyle(p).clip.startsWith('rect(0'))
      return true; } return false; };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' ? el.className.trim().split(/\\s+/).map(c => c && '.' + c).join('') : '');
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('dialog:not([open]), [hidden], .sr-only, .skip, svg') || !el.getClientRects().length) continue;
    if (hidden(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && !scrolls(el)) out.push(name(el) + ' reaches ' + Math.round(box.right) + ' px');
    const s = getComputedStyle(el);
    if ((s.overflowX === 'hidden' || s.textOverflow === 'ellipsis') && el.scrollWidth > el.clientWidth + 1
        && el.textContent.trim()) out.push(name(el) + ' cuts "' + el.textContent.trim().slice(0, 40) + '"');
  }
  for (const wrap of document.querySelectorAll('.table-wrap')) {
    if (wrap.scrollWidth > wrap.clientWidth + 1)
      out.push('a table scrolls sideways, ' + wrap.scrollWidth + ' px: ' + wrap.textContent.trim().slice(0, 30));
  }
  return {pageWidth: document.documentElement.scrollWidth, width, out: out.slice(0, 8)};
})()"""

CHART_LABELS = """(() => [...document.querySelectorAll('svg.chart text')].map(t => {
  const scale = t.getScreenCTM();  // a rotated label (the y axis's) scales by the length of its x vector
  return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * Math.hypot(scale.a, scale.b)};
}))()"""


@pytest.mark.processes
def test_no_page_is_wider_than_a_phone_and_nothing_is_cut(make_page, everything):
    page = make_page(viewport=PHONE)
    found = {}
    for url in _pages(everything):
        response = page.goto(url)
        assert response.status == 200, (url, response.status)
        measured = page.evaluate(OVERFLOW)
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENS / f"phone{url.replace('/', '_').replace('?', '_')[:60]}.png", full_page=True)
        if measured["pageWidth"] > PHONE["width"] or measured["out"]:
            found[url] = measured
    for url, measured in found.items():
        print(url, measured)
    assert not found, list(found)


@pytest.mark.processes
def test_the_spend_charts_labels_are_readable_on_a_phone(make_page, everything):
    page: Page = make_page(viewport=PHONE)
    page.goto("/spend/")
    labels = page.evaluate(CHART_LABELS)
    assert labels, "the spend page should draw its chart"
    print(f"chart labels at {min(label['px'] for label in labels):.1f} px or more")
    small = [(label["text"], round(label["px"], 1)) for label in labels if label["px"] < MIN_LABEL_PX]
    assert not small, small
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
