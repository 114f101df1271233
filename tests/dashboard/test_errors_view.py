"""Errors across batches: grouped by type, then workspace and batch, with drill-down links."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches import sync
from batches.models import ErrorCount


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
    # session, user, its permissions (2), by workspace, top ranks, top rows, sync health
    assert count() == before == 8
