"""List pagination: newest first, cursors in both directions, SDK auto-paging, limits."""

from __future__ import annotations

from datetime import timedelta

import anthropic
import pytest

from emulator import Emulator

from .conftest import KEY


@pytest.fixture
def ids(emu: Emulator) -> list[str]:
    """25 batches; returned newest first, the order the API lists them."""
    return list(emu.seed_batches(KEY, 25, n_requests=2))


def test_list_is_newest_first_with_default_limit_20(client: anthropic.Anthropic, ids: list[str]):
    page = client.messages.batches.list()
    assert [b.id for b in page.data] == ids[:20]
    assert page.has_more is True
    assert (page.first_id, page.last_id) == (ids[0], ids[19])


def test_auto_paging_after_id_visits_every_batch_once(emu: Emulator, client: anthropic.Anthropic, ids):
    emu.reset_calls()
    assert [b.id for b in client.messages.batches.list(limit=7)] == ids
    assert emu.calls["list"] == 4  # 7 + 7 + 7 + 4


def test_last_page_says_has_more_false(client: anthropic.Anthropic, ids: list[str]):
    page = client.messages.batches.list(limit=10, after_id=ids[19])
    assert [b.id for b in page.data] == ids[20:]
    assert page.has_more is False


def test_before_id_pages_towards_newer_batches(client: anthropic.Anthropic, ids: list[str]):
    page = client.messages.batches.list(limit=5, before_id=ids[20])
    assert [b.id for b in page.data] == ids[15:20]
    assert page.has_more is True
    # The SDK continues with before_id=<first_id> until has_more is false.
    assert [b.id for b in client.messages.batches.list(limit=5, before_id=ids[20])] == (
        ids[15:20] + ids[10:15] + ids[5:10] + ids[0:5]
    )


def test_empty_list(client: anthropic.Anthropic):
    page = client.messages.batches.list()
    assert page.data == [] and page.has_more is False
    assert page.first_id is None and page.last_id is None


@pytest.mark.parametrize("limit", [0, 1001])
def test_limit_out_of_range_is_a_400(client: anthropic.Anthropic, limit: int):
    with pytest.raises(anthropic.BadRequestError, match="limit"):
        client.messages.batches.list(limit=limit)


def test_limit_1000_is_allowed(emu: Emulator, client: anthropic.Anthropic):
    emu.seed_batches(KEY, 1001, n_requests=1)
    page = client.messages.batches.list(limit=1000)
    assert len(page.data) == 1000 and page.has_more is True


def test_a_deleted_batch_still_works_as_a_cursor(emu: Emulator, client: anthropic.Anthropic, ids):
    emu.delete_batch(ids[4])
    assert [b.id for b in client.messages.batches.list(limit=3, after_id=ids[4])] == ids[5:]


def test_batches_created_in_the_past_are_listed_by_created_at(emu: Emulator, client: anthropic.Anthropic):
    newest = emu.seed_batch(KEY, 1)
    older = emu.seed_batch(KEY, 1, created_at=emu.now() - timedelta(days=3))
    middle = emu.seed_batch(KEY, 1, created_at=emu.now() - timedelta(days=1))
    assert [b.id for b in client.messages.batches.list()] == [newest, middle, older]
