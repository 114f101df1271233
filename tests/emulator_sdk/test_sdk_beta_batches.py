"""The SDK's `tests/api_resources/beta/messages/test_batches.py` (anthropic 2.17.0), against the emulator
(suite.py)."""

from tests.emulator_sdk.suite import load

_sdk = load("beta_messages_test_batches.py.txt", __name__ + "_sdk")
TestBatches = _sdk["TestBatches"]
TestAsyncBatches = _sdk["TestAsyncBatches"]
