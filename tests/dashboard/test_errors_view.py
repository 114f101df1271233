"""Errors across batches: grouped by type, then workspace and batch, with drill-down links."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.models import ErrorCount
from batches.services import sync
from tests.html import attribute, elements, text


def test_errors_are_grouped_by_type_with_counts_and_links(viewer_client, mirrored):
    body = viewer_client.get("/errors/").content.decode()
    ended = mirrored["ended"]
    assert "overloaded_error" in body and "invalid_request_error" in body
    assert f"/batches/{ended.id}/?error_type=overloaded_error" in body
    assert "fix the request before retrying" in body and "can be retried as is" in body


def test_the_rollup_matches_the_results(mirrored):
    counts = dict(ErrorCount.objects.filter(batch=mirrored["ended"]).values_list("error_type", "count"))
    assert counts == {"overloaded_error": 3, "invalid_request_error": 1}


def test_it_filters_by_workspace(viewer_client, mirrored, make_workspace):
    other = make_workspace("other")
    body = viewer_client.get(f"/errors/?workspace={other.name}").content.decode()
    assert "overloaded_error" not in body and "No errored results in other" in body


def test_the_number_of_queries_does_not_grow_with_error_types(viewer_client, mirrored, emulator):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            viewer_client.get("/errors/")
        return len(queries)

    before = count()
    emulator.seed_batches(mirrored["workspace"].test_api_key, 5, status="ended", n_requests=200,
                          outcomes={"succeeded": 0.5, "api_error": 0.2, "timeout_error": 0.3})  # fmt: skip
    sync.catch_up(mirrored["workspace"].pk)
    assert ErrorCount.objects.values("error_type").distinct().count() == 4
    # session, user, its permissions (2), its workspace roles, workspace choices, by workspace, top ranks,
    # top rows, incomplete answers by stop reason, sync health
    assert count() == before == 11


def test_retry_all_retryable_is_offered_for_a_workspace_and_its_dates(operator_client, mirrored):
    workspace = mirrored["workspace"].name
    day = mirrored["ended"].created_at.date().isoformat()
    body = operator_client.get(f"/errors/?workspace={workspace}&created_from={day}&created_to={day}").content.decode()
    link = next(a for a in elements(body, "a") if text(a).startswith("Retry all retryable items"))
    assert (
        attribute(link, "href") == f"/retry/?workspace={workspace}&kind=retryable&created_from={day}&created_to={day}"
    )
    assert operator_client.get(attribute(link, "href")).status_code == 200


def test_a_date_range_leaves_out_the_errors_of_batches_created_outside_it(viewer_client, mirrored):
    later = (mirrored["ended"].created_at.date() + timedelta(days=1)).isoformat()
    body = viewer_client.get(f"/errors/?created_from={later}").content.decode()
    assert "overloaded_error" not in body and "No errored results" in body


def test_account_errors_say_fix_the_account_then_retry_as_is(viewer_client, mirrored):
    """billing, authentication and permission errors are not the request's fault (issue 21, point 17)."""
    ended = mirrored["ended"]
    ErrorCount.objects.create(batch=ended, workspace_id=ended.workspace_id, error_type="billing_error", count=2)
    body = viewer_client.get("/errors/").content.decode()
    badges = {text(b).strip() for b in elements(body, "span", class_="badge account")}
    assert badges == {"an account problem: fix billing, the key or its access, then retry as is"}
    assert len(list(elements(body, "span", class_="badge fix"))) == 1  # invalid_request_error alone


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's index: CI's second run")
def test_one_workspace_over_dates_reads_its_batches_from_an_index(viewer_client, mirrored):
    """At a million batches this page read every batch of the span, whatever its workspace (120-160 ms of SQL); with
    the workspace said of the batch too it reads that workspace's from this index (60 ms; bench/pages.py)."""
    workspace, day = mirrored["workspace"].name, mirrored["ended"].created_at.date().isoformat()
    with CaptureQueriesContext(connection) as queries:
        body = viewer_client.get(f"/errors/?workspace={workspace}&created_from={day}").content.decode()
    assert "overloaded_error" in body
    dated = [q["sql"] for q in queries if "batches_errorcount" in q["sql"] and "created_at" in q["sql"]]
    assert dated and all('"batches_batch"."workspace_id" =' in sql or "b.workspace_id =" in sql for sql in dated)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'batch_ids_by_workspace_created'")
        (definition,) = cursor.fetchone()
    assert "(workspace_id, created_at) INCLUDE (id)" in definition
