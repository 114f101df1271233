"""Same seed, same answers; bulk seeding works at benchmark scale."""

from __future__ import annotations

import anthropic

from emulator import Emulator

from .conftest import KEY


def _results(emu: Emulator, batch_id: str) -> list[tuple[str, str]]:
    client = anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0)
    return [(r.custom_id, r.result.type) for r in client.messages.batches.results(batch_id)]


def _fresh(seed: int) -> Emulator:
    emu = Emulator(seed=seed, speed=0)
    emu.add_workspace(KEY, "ws")
    emu.start()
    return emu


def test_same_seed_gives_same_ids_outcomes_and_order():
    first, second = _fresh(7), _fresh(7)
    try:
        ids = first.seed_batch(KEY, 200), second.seed_batch(KEY, 200)
        assert ids[0] == ids[1]
        assert _results(first, ids[0]) == _results(second, ids[1])
    finally:
        first.stop()
        second.stop()


def test_order_is_shuffled_but_stable_across_calls(emu: Emulator):
    batch_id = emu.seed_batch(KEY, 200)
    once = _results(emu, batch_id)
    emu.results_cache.discard(batch_id)  # rebuilt from scratch, still the same
    assert _results(emu, batch_id) == once
    assert [cid for cid, _ in once] != sorted(cid for cid, _ in once)


def test_different_seed_gives_different_outcomes():
    first, second = _fresh(1), _fresh(2)
    try:
        a = first.seed_batch(KEY, 300, outcomes={"succeeded": 0.5, "errored": 0.5})
        b = second.seed_batch(KEY, 300, outcomes={"succeeded": 0.5, "errored": 0.5})
        assert _results(first, a) != _results(second, b)
    finally:
        first.stop()
        second.stop()


def test_default_outcomes_are_mostly_succeeded(emu: Emulator):
    types = [t for _, t in _results(emu, emu.seed_batch(KEY, 2000))]
    share = types.count("succeeded") / len(types)
    assert 0.94 < share < 0.995 and set(types) == {"succeeded", "errored"}


def test_seed_batches_10000_works_and_lists(emu: Emulator):
    ids = emu.seed_batches(KEY, 10_000, n_requests=5)
    assert len(set(ids)) == 10_000
    client = anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0)
    page = client.messages.batches.list(limit=1000)
    assert [b.id for b in page.data] == ids[:1000]
    assert all(b.processing_status == "ended" for b in page.data)


def test_large_batch_results_are_served_whole(emu: Emulator):
    batch_id = emu.seed_batch(KEY, 20_000, line_bytes=1200, outcomes={"succeeded": 1.0})
    assert emu.warm_results(batch_id) == 20_000 * 1200
    client = anthropic.Anthropic(api_key=KEY, base_url=emu.base_url, max_retries=0)
    with client.messages.batches.with_streaming_response.results(batch_id) as response:
        assert sum(1 for _ in response.iter_lines()) == 20_000


def test_a_restarted_emulator_never_reuses_an_id():
    """The CLI draws a salt at every start: the same seed gives other ids, as a restarted API would."""
    from emulator import Emulator

    first, restarted = Emulator(seed=1, id_salt="start-1"), Emulator(seed=1, id_salt="start-2")
    for emu in (first, restarted):
        emu.add_workspace(KEY, "ws")
    ids = first.seed_batches(KEY, 50, n_requests=1), restarted.seed_batches(KEY, 50, n_requests=1)
    assert not set(ids[0]) & set(ids[1])


def test_the_cli_salts_ids_unless_asked_for_the_same(monkeypatch):
    import emulator.__main__ as cli

    made = []
    monkeypatch.setattr(cli, "Emulator", lambda **kwargs: made.append(kwargs) or (_ for _ in ()).throw(SystemExit))
    for argv in ([], [], ["--same-ids"]):
        try:
            cli.main(["--port", "0", *argv])
        except SystemExit:
            pass
    salts = [kwargs["id_salt"] for kwargs in made]
    assert salts[0] and salts[1] and salts[0] != salts[1] and salts[2] == ""
