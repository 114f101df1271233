"""Fixtures for the SDK's own batch tests (suite.py): the emulator, the SDK's `client` / `async_client` fixtures
as its conftest makes them (strict or loose validation, httpx or aiohttp) but pointed at the emulator, and a
real batch for every test that names one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import anthropic
import pytest
import pytest_asyncio

from emulator import Emulator, EmulatorError
from emulator.content import STOP_REASONS
from tests.emulator_sdk import suite

API_KEY = "my-anthropic-api-key"  # the SDK's tests' own key, known to this emulator
HERE = "tests/emulator_sdk/test_sdk_"  # the SDK's tests (test_harness.py tests the harness)

# The failures left, and why: each is a fake cursor pair the SDK's tests hard-code (no batch of the emulator
# has those ids, and the API takes only one of after_id and before_id), or an expectation of respx's mocked
# body rather than of the API. `strict`: each must fail, and with this error, or the list is out of date.
FAKE_CURSORS = "the fake cursor pair after_id='after_id', before_id='before_id': no batch has those ids"
MOCKED_BODY = (
    "asserts the two lines respx was told to answer ({'foo': 'bar'}, {'bar': 'baz'}), which no API answers; "
    "the real lines before it parse (the stream is lazy, then consumed)"
)
XFAIL: dict[str, tuple[str, type[BaseException]]] = {
    "test_method_list_with_all_params": (FAKE_CURSORS, anthropic.BadRequestError),
    "test_method_results": (MOCKED_BODY, AssertionError),
}


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "respx(**options): respx's marker in the SDK's tests; set aside here")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if not item.nodeid.startswith(HERE):
            continue
        name = getattr(item, "originalname", item.name)
        if name in XFAIL:
            reason, raises = XFAIL[name]
            item.add_marker(pytest.mark.xfail(reason=reason, raises=raises, strict=True))


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    emulator = Emulator(seed=1, speed=0.0)
    emulator.start(host="127.0.0.1", port=0)
    emulator.add_workspace(api_key=API_KEY, name="sdk-tests")
    suite.use_workspace(emulator.workspace_id(API_KEY))
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def _fast_retries():
    """tests/conftest.py's fixture of the same name tunes Django's settings and clears its cache for each test;
    these tests use neither (the SDK and the emulator only), so they skip that cost."""


@pytest.fixture(scope="module")  # as the SDK's conftest has it (session); one per emulator here
def client(request, emu: Emulator) -> Iterator[anthropic.Anthropic]:
    strict = getattr(request, "param", True)
    with anthropic.Anthropic(
        base_url=emu.base_url, api_key=API_KEY, _strict_response_validation=strict, max_retries=0
    ) as sdk:
        yield sdk


@pytest_asyncio.fixture
async def async_client(request, emu: Emulator) -> AsyncIterator[anthropic.AsyncAnthropic]:
    param = getattr(request, "param", True)
    strict, http_client = param, None
    if isinstance(param, dict):
        strict = param.get("strict", True)
        if param.get("http_client") == "aiohttp":
            http_client = anthropic.DefaultAioHttpClient()
    async with anthropic.AsyncAnthropic(
        base_url=emu.base_url, api_key=API_KEY, _strict_response_validation=strict, http_client=http_client,
        max_retries=0,
    ) as sdk:  # fmt: skip
        yield sdk


@pytest.fixture
def respx_mock() -> suite.SetAside:
    return suite.SetAside()


# Every content block type, every stop reason and every other result type, for the results tests to parse.
RESULT_MARKERS = [
    "[emulate:succeeded:all_blocks]",
    *(f"[emulate:succeeded:{reason}]" for reason in STOP_REASONS),
    "[emulate:errored:invalid_request_error]",
    "[emulate:expired]",
    "[emulate:canceled]",
]


# The emulator operation each kind of SDK test calls: after the test, the emulator must have answered it.
OPERATIONS = ("create", "retrieve", "list", "delete", "cancel", "results")


@pytest.fixture(autouse=True)
def needs_batch(request, emu: Emulator) -> Iterator[None]:
    """A batch of the emulator's in the state the test's call needs, named wherever the SDK's test wrote
    `message_batch_id="message_batch_id"`; afterwards, proof that the call reached the emulator."""
    name = request.node.name
    if not request.node.nodeid.startswith(HERE) or "path_params" in name:
        yield  # the path_params tests are refused by the SDK before any request
        return
    if "cancel" in name:
        batch_id = emu.seed_batch(API_KEY, 3, status="in_progress")
    elif "results" in name:
        requests = [
            {"custom_id": f"item-{n}", "params": {"model": "claude-sonnet-4-6", "max_tokens": 256,
             "messages": [{"role": "user", "content": f"{marker} Hello"}]}}
            for n, marker in enumerate(RESULT_MARKERS)
        ]  # fmt: skip
        batch_id = emu.create_batch(API_KEY, requests, created_at=emu.now() - timedelta(hours=1), duration=600)
    elif "retrieve" in name or "delete" in name:
        batch_id = emu.seed_batch(API_KEY, 3, status="ended")
    else:
        batch_id = None
    (operation,) = [op for op in OPERATIONS if op in name]
    before = emu.calls[operation]
    suite.use_batch(batch_id)
    yield
    suite.use_batch(None)
    assert emu.calls[operation] > before, f"{name} never reached the emulator's {operation}"
    if operation == "cancel":
        assert emu.api_retrieve(API_KEY, batch_id)["processing_status"] == "canceling"
    elif operation == "delete":
        with pytest.raises(EmulatorError):  # gone: 404, as the API answers
            emu.api_retrieve(API_KEY, batch_id)
