"""Tokens for the REST API and the pass-through, made through the service a user's page uses."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import mirrored  # noqa: F401  (a fixture: an emulated workspace with batches)


@pytest.fixture
def make_token(db):
    """`make_token(user, [workspaces], role)`: the token's text, as shown once."""
    from batches.services import tokens

    def make(user, workspaces, role: str = "Viewer", **kwargs) -> str:
        return tokens.issue(user, name="test", workspaces=list(workspaces), role=role, **kwargs)[1]

    return make


def auth(token: str) -> dict[str, str]:
    """Headers as the Anthropic SDK sends its key."""
    return {"HTTP_X_API_KEY": token}
