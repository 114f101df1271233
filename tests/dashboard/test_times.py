"""Times as pages say them: relative phrases a person reads at a glance, absolute ones in 24-hour time with
their zone (issue 21: pages showed "Dec. 4, 2026, 5:05 p.m." with no zone while the health bar used 24-hour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from dashboard import times

NOW = datetime(2026, 12, 4, 17, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "said"),
    [
        (timedelta(seconds=2), "just now"),
        (timedelta(seconds=45), "45 s ago"),
        (timedelta(minutes=12, seconds=59), "12 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(days=2, hours=23), "2 d ago"),
        (-timedelta(minutes=5), "in 5 min"),
    ],
)
def test_relative_times(ago, said):
    assert times.relative(NOW - ago, NOW) == said


def test_absolute_times_are_24_hour_and_name_their_zone():
    assert times.absolute(NOW) == "2026-12-04 17:05 UTC"
    with timezone.override("Europe/Paris"):
        assert times.absolute(NOW) == "2026-12-04 18:05 CET"


def test_a_bare_datetime_on_a_page_is_24_hour_with_its_zone():
    rendered = Template("{{ t }}|{{ t|date }}").render(Context({"t": NOW}))
    assert rendered == "2026-12-04 17:05 UTC|2026-12-04"
    assert "p.m." not in rendered
