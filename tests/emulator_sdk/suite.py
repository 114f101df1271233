"""The official SDK's own batch tests, as published in the pinned sdist, run against the emulator.

The copies in sdk_2_17_0/ are the sdist's files byte for byte (their sha256 is checked before use). The SDK runs
them against a Prism mock server, which answers any id; here they reach the emulator over real HTTP, so a
few literal values are put right on the fly, each on its own line so tracebacks keep the copy's line numbers:

- the placeholder id `message_batch_id="message_batch_id"` becomes a real batch of the emulator's, made for the
  test by the fixture in conftest.py (a running one to cancel, an ended one to delete or read results of);
- the placeholder beta `betas=["string"]` becomes a beta the API knows (the emulator refuses unknown betas with
  the API's 400, as it should);
- `respx` is not used: its routes are set aside (`SetAside` below) and the request goes to the emulator;
- `tests.utils` (the SDK's helpers) is the copy of the SDK's own `tests/utils.py`.

Nothing else is changed. The failures left are listed in conftest.py's XFAIL, each with its reason.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import types
from pathlib import Path
from typing import Any

import anthropic
import pytest

SDK_VERSION = "2.17.0"
COPIES = Path(__file__).parent / "sdk_2_17_0"
# sha256 of each copy, as extracted from anthropic-2.17.0.tar.gz (sha256 1be6bc44c4eca7e4...a5934 on PyPI).
SHA256 = {
    "messages_test_batches.py.txt": "0285da88d11b544ff3f53ac798e91e6ae7f8944c0831b586aa00d1ed95e53071",
    "beta_messages_test_batches.py.txt": "36818c679c2c3b9d09a57fa77ed5944aeaa0a382e3c94fb753ad037ac6ee5f4f",
    "utils.py.txt": "c8f0048fb4289a24f3f548dac5d3b1d2145b53bf5493e97d74642b1a08c6b33b",
}
# A beta the API knows and that changes nothing in a batch call: the one the SDK itself sends for batches.
REAL_BETA = "message-batches-2024-09-24"
FAKE_WORKSPACE = "wrkspc_011CZkZaBF1tNoB5wlCeusgy"

# (text in the copy, its replacement, how many times it must occur): a copy that changed fails loudly.
_IMPORTS = f"from {__name__} import real_batch_id, real_workspace_id; from {__name__} import"
_COMMON = [
    ("from respx import MockRouter", f"from {__name__} import SetAside as MockRouter", 1),
    ("from tests.utils import", _IMPORTS, 1),
    ('message_batch_id="message_batch_id",', "message_batch_id=real_batch_id(),", 30),
]
EDITS = {
    "messages_test_batches.py.txt": [
        *_COMMON,
        (f'workspace_id="{FAKE_WORKSPACE}",', "workspace_id=real_workspace_id(),", 10),
    ],
    "beta_messages_test_batches.py.txt": [
        *_COMMON,
        (f'workspace_id="{FAKE_WORKSPACE}",', "workspace_id=real_workspace_id(),", 2),
        ('betas=["string"],', f'betas=["{REAL_BETA}"],', 10),
    ],
}

_current: list[str] = []
_workspace: list[str] = []


def use_batch(batch_id: str | None) -> None:
    """The batch the running test's calls name (set by conftest.py's fixture before each test)."""
    _current[:] = [batch_id] if batch_id else []


def use_workspace(workspace_id: str) -> None:
    """The emulator's id of the workspace whose key the clients hold (`anthropic-workspace-id`)."""
    _workspace[:] = [workspace_id]


def real_workspace_id() -> str:
    return _workspace[0]


def real_batch_id() -> str:
    assert _current, "no emulator batch was made for this test (conftest.py: needs_batch)"
    return _current[0]


class SetAside:
    """Stands where the SDK's tests take respx's router: the routes they declare are kept, not mocked, so every
    request reaches the emulator."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, str]] = []

    def get(self, path: str, **_: Any) -> SetAside:
        self.routes.append(("GET", path))
        return self

    def mock(self, **_: Any) -> SetAside:
        return self


def source(name: str) -> str:
    data = (COPIES / name).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[name]:
        raise RuntimeError(f"{name} is not the copy from anthropic=={SDK_VERSION}'s sdist (sha256 {digest})")
    text = data.decode()
    for old, new, count in EDITS.get(name, []):
        found = text.count(old)
        if found != count:
            raise RuntimeError(f"{name}: expected {count} of {old!r}, found {found}")
        text = text.replace(old, new)
    return text


def load(name: str, module_name: str) -> dict[str, Any]:
    """The copy `name`, edited as above, executed as module `module_name`: its namespace."""
    if anthropic.__version__ != SDK_VERSION:
        raise RuntimeError(
            f"the SDK is {anthropic.__version__}, the copies are {SDK_VERSION}'s: copy the new sdist's "
            "tests/api_resources/{messages,beta/messages}/test_batches.py and tests/utils.py into tests/emulator_sdk"
        )
    module = types.ModuleType(module_name)
    module.__file__ = str(COPIES / name)
    sys.modules[module_name] = module
    exec(compile(source(name), module.__file__, "exec"), module.__dict__)
    for cls in module.__dict__.values():
        # The SDK's conftest marks its async tests at collection (asyncio_mode "auto"); pytest-asyncio's strict
        # mode, this project's, needs the mark before: on each coroutine function, as its tests are written.
        for attr, member in vars(cls).items() if inspect.isclass(cls) else ():
            if attr.startswith("test_") and inspect.iscoroutinefunction(member):
                pytest.mark.asyncio(member)
    return module.__dict__


assert_matches_type = load("utils.py.txt", f"{__name__}_sdk_utils")["assert_matches_type"]
