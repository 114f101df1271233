"""The harness that runs the SDK's batch tests against the emulator (suite.py) changes only what it says."""

from __future__ import annotations

import shutil

import pytest

from tests.emulator_sdk import suite

COPIES = ["messages_test_batches.py.txt", "beta_messages_test_batches.py.txt"]


@pytest.mark.parametrize("name", COPIES)
def test_no_placeholder_id_beta_or_mock_is_left(name):
    text = suite.source(name)
    assert 'message_batch_id="message_batch_id"' not in text
    assert suite.FAKE_WORKSPACE not in text
    assert 'betas=["string"]' not in text
    assert "import respx" not in text and "from respx" not in text
    # The cursors stay fake on purpose: they are the failures conftest.XFAIL lists.
    assert 'after_id="after_id"' in text


@pytest.mark.parametrize("name", COPIES)
def test_only_lines_the_edits_name_differ_from_the_sdists_copy(name):
    original = (suite.COPIES / name).read_text().splitlines()
    edited = suite.source(name).splitlines()
    assert len(edited) == len(original)  # tracebacks point at the copy's own lines
    changed = [(old, new) for old, new in zip(original, edited, strict=True) if old != new]
    olds = [old for old, _, _ in suite.EDITS[name]]
    assert changed and all(any(o in old for o in olds) for old, _ in changed)


def test_a_copy_that_is_not_the_sdists_is_refused(tmp_path, monkeypatch):
    for name in suite.SHA256:
        shutil.copy(suite.COPIES / name, tmp_path / name)
    with open(tmp_path / COPIES[0], "a") as copy:
        copy.write("\n# edited\n")
    monkeypatch.setattr(suite, "COPIES", tmp_path)
    with pytest.raises(RuntimeError, match="is not the copy from anthropic==2.17.0's sdist"):
        suite.source(COPIES[0])


def test_the_respx_routes_are_set_aside_not_mocked():
    routes = suite.SetAside()
    assert routes.get("/v1/messages/batches/x").mock(return_value=None) is routes
    assert routes.routes == [("GET", "/v1/messages/batches/x")]
