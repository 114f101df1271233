"""With the database unreachable, every page and action answers 503 "try again", never a 500; the REST API and the
pass-through say so in the API's JSON shape."""

from __future__ import annotations

import socket
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client

from dashboard.views.server_error import DATABASE_DOWN

pytestmark = pytest.mark.django_db(transaction=True)  # no test transaction holding the connection open


@contextmanager
def _database_unreachable():
    """The real driver failing to connect: PostgreSQL at a port nothing listens on, SQLite at a path it cannot
    open. The connection is closed first, so the next query has to connect."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed_port = s.getsockname()[1]
        connection.settings_dict.update(HOST="127.0.0.1", PORT=closed_port)
    else:
        connection.settings_dict["NAME"] = "/nonexistent-dir/db.sqlite3"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.fixture
def operator(make_user):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("operator", "Operator"))
    return client


def test_pages_polls_and_actions_say_try_again(operator, mirrored):
    running = mirrored["running"].id
    with _database_unreachable():
        answers = [
            operator.get("/"),
            operator.get("/", headers={"HX-Request": "true", "HX-Target": "batch-rows"}),
            operator.get(f"/batches/{running}/"),
            operator.post(f"/batches/{running}/refresh/"),
            operator.post(f"/batches/{running}/cancel/", {"confirmed": "yes"}),
            operator.get("/health/"),
        ]
    for response in answers:
        assert response.status_code == 503 and response["Retry-After"] == "5"
        assert "The database is unreachable right now" in response.content.decode()
    assert operator.get("/").status_code == 200  # and back to normal once it is reachable


def test_a_bug_is_still_a_500(viewer, settings):
    settings.ROOT_URLCONF = "tests.dashboard.failing_urls"
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    response = client.get("/boom/")
    assert response.status_code == 500 and DATABASE_DOWN not in response.content.decode()


def test_the_rest_api_and_the_pass_through_say_try_again_in_json(make_user, mirrored):
    """Code calling the dashboard gets the API's error shape, and the SDK's own retry advice, not an HTML page."""
    from batches.services import tokens

    workspace = mirrored["running"].workspace
    _, raw = tokens.issue(make_user("olga", "Operator"), name="ci", workspaces=[workspace], role="Operator")
    client = Client(raise_request_exception=False)
    with _database_unreachable():
        answers = [
            client.get("/api/v1/batches", HTTP_AUTHORIZATION=f"Bearer {raw}"),
            client.post(
                "/anthropic/v1/messages/batches",
                b'{"requests": []}',
                content_type="application/json",
                HTTP_X_API_KEY=raw,
            ),  # fmt: skip
        ]
    for response in answers:
        assert response.status_code == 503 and response["Retry-After"] == "5" and response["x-should-retry"] == "true"
        assert response.json()["error"]["message"].startswith("The dashboard's database is unreachable")
    assert client.get("/api/v1/batches", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_a_bug_in_an_api_call_is_a_500_in_the_apis_shape(settings):
    settings.ROOT_URLCONF = "tests.dashboard.failing_urls"
    client = Client(raise_request_exception=False)
    for path in ("/api/v1/boom", "/anthropic/v1/boom"):
        response = client.get(path)
        # As the API's own 500s: the SDK may retry, and the request id names the log line.
        assert response.status_code == 500 and response["x-should-retry"] == "true"
        error = {"type": "api_error", "message": "Something went wrong on the dashboard's side; it was logged."}
        assert response.json() == {"type": "error", "error": error, "request_id": response["request-id"]}
