"""Schemathesis over the REST API, with a token for two workspaces: generated calls never get a 500, and every
response matches the schema it claims (status, content type, body)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance


def test_no_500_and_every_answer_matches_the_schema(mirrored, make_workspace, make_user, make_token):
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections
    from drf_spectacular.generators import SchemaGenerator

    raw = make_token(make_user("ada", "Admin"), [mirrored["workspace"], make_workspace("other")], "Admin")
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    schema.app = get_wsgi_application()
    # A NUL in a URL is refused by the whole site's middleware before any view (tests/dashboard/test_middleware.py).
    schema.config.generation.update(allow_x00=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14

    # As Django's test client does: the test's transaction holds the database open between calls.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                      derandomize=True)  # fmt: skip
            def check(case):
                # Every check but "a schema-valid request is accepted": a workspace name or a batch id the
                # generator makes up is, rightly, refused (400 or 404, as the schema says).
                case.call_and_validate(headers={"x-api-key": raw}, excluded_checks=[positive_data_acceptance])

            check()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
