"""Workspace-scoped access: a team lead given workspace A alone, even as its Admin, sees and does nothing in
workspace B, on any page, count, export, spend figure, budget, audit row, subscription or action."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from batches.models import AuditEvent, Batch, Budget, Submission, WorkspaceAccess
from batches.services import audit, sync
from tests.builders import batch_request, jsonl


@pytest.fixture
def two(emulator, make_workspace, mirrored):
    """Workspace B is `mirrored`'s (an ended batch with errors, a running one); A has one ended batch of its own."""
    mine = make_workspace("alpha")
    own = emulator.create_batch(
        mine.test_api_key,
        [batch_request("a-ok", "hi [emulate:succeeded]"), batch_request("a-bad", "x [emulate:errored:api_error]")],
        duration=1,
    )
    emulator.advance(30)
    sync.catch_up(mine.pk)
    other = mirrored["workspace"]
    other.name = "bravo-team"  # a name no page holds by chance
    other.save(update_fields=["name"])
    Budget.objects.create(workspace=other, monthly_amount=Decimal("123.45"))
    audit.record(None, "cancel", mirrored["running"].id)  # a row about B's batch
    draft = Submission.objects.create(workspace=other, fingerprint="b-draft", request_count=1, filename="theirs.jsonl")
    return {"mine": mine, "own": Batch.objects.get(pk=own), "other": other, "draft": draft, **mirrored}


@pytest.fixture
def lead(client, make_user, two):
    """A user given workspace A as its Admin, and no groups: every permission a workspace role has, in A."""
    user = make_user("lead")
    WorkspaceAccess.objects.create(user=user, workspace=two["mine"], role="Admin")
    client.force_login(user)
    return client


def _b_requests(two) -> dict[str, tuple[str, str, dict]]:
    ended, running, draft = two["ended"].id, two["running"].id, two["draft"].pk
    file = jsonl([batch_request("x")])
    return {
        "batch page": ("get", f"/batches/{ended}/", {}),
        "running batch page": ("get", f"/batches/{running}/", {}),
        "a result": ("get", f"/batches/{ended}/results/ok-000/", {}),
        "download": ("get", f"/batches/{ended}/download.jsonl", {}),
        "download csv": ("get", f"/batches/{ended}/download.csv", {}),
        "refresh": ("post", f"/batches/{running}/refresh/", {}),
        "cancel form": ("get", f"/batches/{running}/cancel/", {}),
        "cancel": ("post", f"/batches/{running}/cancel/", {"confirmed": "yes"}),
        "attach page": ("get", f"/batches/{ended}/inputs/", {}),
        "attach": ("post", f"/batches/{ended}/inputs/", {"file": SimpleUploadedFile("a.jsonl", file)}),
        "watch": ("post", f"/batches/{ended}/watch/", {"watch": "on"}),
        "retry plan": ("get", f"/retry/?batch={ended}&kind=overloaded_error", {}),
        "retry": ("post", f"/retry/?batch={ended}&kind=overloaded_error", {}),
        "draft": ("get", f"/submissions/{draft}/", {}),
        "send draft": ("post", f"/submissions/{draft}/send/", {}),
        "discard draft": ("post", f"/submissions/{draft}/discard/", {"confirmed": "yes"}),
        "estimate draft": ("post", f"/submissions/{draft}/estimate/", {}),
        "reconciliation": ("get", "/spend/reconcile/", {}),
    }


@pytest.mark.parametrize(
    "action",
    [
        "batch page", "running batch page", "a result", "download", "download csv", "refresh", "cancel form",
        "cancel", "attach page", "attach", "watch", "retry plan", "retry", "draft", "send draft",
        "discard draft", "estimate draft", "reconciliation",
    ],
)  # fmt: skip
def test_every_url_and_action_on_workspace_b_is_refused(lead, two, emulator, action):
    method, url, data = _b_requests(two)[action]
    events, submissions, calls = AuditEvent.objects.count(), Submission.objects.count(), dict(emulator.calls)

    response = getattr(lead, method)(url, data)

    assert response.status_code == 403, (action, response.status_code)
    assert "workspace you have not been given" in response.content.decode() or action == "reconciliation"
    assert AuditEvent.objects.count() == events and Submission.objects.count() == submissions
    assert emulator.calls.get("cancel", 0) == calls.get("cancel", 0)
    two["draft"].refresh_from_db()
    assert two["draft"].is_draft


def test_the_same_user_does_everything_its_role_allows_in_workspace_a(lead, two):
    own = two["own"]
    assert lead.get(f"/batches/{own.id}/").status_code == 200
    assert lead.get(f"/batches/{own.id}/download.jsonl").status_code == 200
    assert lead.get("/spend/").status_code == 200 and lead.get("/audit/").status_code == 200
    response = lead.post(
        "/submit/", {"workspace": "alpha", "file": SimpleUploadedFile("a.jsonl", jsonl([batch_request("n")]))}
    )
    assert response.status_code == 302 and Submission.objects.filter(workspace=two["mine"]).exists()


def test_submitting_into_workspace_b_is_not_offered_and_not_accepted(lead, two):
    page = lead.get("/submit/").content.decode()
    assert "alpha" in page and two["other"].name not in page
    file = SimpleUploadedFile("a.jsonl", jsonl([batch_request("n")]))
    response = lead.post("/submit/", {"workspace": two["other"].name, "file": file})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not Submission.objects.filter(workspace=two["other"]).exclude(pk=two["draft"].pk).exists()


def test_the_list_its_counts_and_its_search_show_only_workspace_a(lead, two):
    page = lead.get("/").content.decode()
    assert two["own"].id in page
    for batch in ("ended", "running", "old"):
        assert two[batch].id not in page
    assert f"/batches/{two['ended'].id}/" not in lead.get(f"/?q={two['ended'].id}").content.decode()
    # The workspace filter offers A alone; asking for B by name is refused as a choice, not answered.
    assert f'value="{two["other"].name}"' not in page
    assert two["ended"].id not in lead.get(f"/?workspace={two['other'].name}").content.decode()


def test_bulk_actions_over_the_filter_leave_workspace_b_alone(lead, two, emulator):
    every_running = {"action": "cancel", "all_matching": "1", "confirmed": "yes"}
    response = lead.post("/batches/bulk/?status=in_progress", every_running)
    assert response.status_code == 302
    response = lead.post("/batches/bulk/", {"action": "cancel", "batch": [two["running"].id], "confirmed": "yes"})
    assert response.status_code == 302
    assert emulator.calls.get("cancel", 0) == 0
    two["running"].refresh_from_db()
    assert two["running"].processing_status == "in_progress"


def test_errors_spend_and_exports_leave_out_workspace_b(lead, two):
    errors = lead.get("/errors/").content.decode()
    assert "api_error" in errors and "overloaded_error" not in errors  # B's error type

    spend = lead.get("/spend/").content.decode()
    assert "alpha" in spend and two["other"].name not in spend and "123.45" not in spend  # B's budget
    rows = list(csv.reader(io.StringIO(lead.get("/spend/export.csv?group=workspace").getvalue().decode())))
    assert rows[1:] and all(two["other"].name not in row for row in rows)
    # Asking for B by name is refused as a choice, and shows none of B's figures.
    asked = lead.get(f"/spend/?workspace={two['other'].name}").content.decode()
    assert "is not one of the available choices" in asked and "123.45" not in asked


def test_the_audit_log_and_its_export_hold_only_workspace_a(lead, two):
    audit.record(None, "cancel", two["own"].id)
    page = lead.get("/audit/").content.decode()
    assert two["own"].id in page and two["running"].id not in page
    export = lead.get("/audit/export.csv").getvalue().decode()
    assert two["own"].id in export and two["running"].id not in export


def test_notifications_and_health_name_only_workspace_a(lead, two):
    page = lead.get("/notifications/").content.decode()
    assert "alpha" in page and two["other"].name not in page
    assert two["other"].name not in lead.get("/health/").content.decode()


def test_an_unscoped_user_still_sees_every_workspace(client, make_user, two):
    client.force_login(make_user("everyone", "Viewer", "Auditor"))
    page = client.get("/").content.decode()
    assert two["own"].id in page and two["ended"].id in page
    spend = client.get("/spend/").content.decode()
    assert "bravo-team" in spend and "123.45" in spend  # what the scoped user is not shown is there to show
    assert client.get(f"/batches/{two['ended'].id}/").status_code == 200


def test_a_viewer_role_in_a_workspace_may_only_view_there(client, make_user, two, emulator):
    user = make_user("watcher", "Operator")  # the group's Operator role does not reach past the workspace role
    WorkspaceAccess.objects.create(user=user, workspace=two["mine"], role="Viewer")
    client.force_login(user)
    assert client.get(f"/batches/{two['own'].id}/").status_code == 200
    assert client.get(f"/batches/{two['ended'].id}/").status_code == 403
    refused = client.post(f"/retry/?batch={two['own'].id}&kind=api_error")
    assert refused.status_code == 403
    assert "This needs the Operator or Admin role in this workspace." in refused.content.decode()


def test_a_poll_rendered_for_someone_seeing_every_workspace_is_never_served_to_a_lead_of_one(
    client, lead, make_user, two
):
    rows = {"HX-Request": "true", "HX-Target": "batch-rows"}
    everyone = type(client)()
    everyone.force_login(make_user("everyone", "Viewer"))
    first = everyone.get("/?status=in_progress", headers=rows).content.decode()
    assert two["running"].id in first  # rendered and kept for the next poller with the same view of things

    polled = lead.get("/?status=in_progress", headers=rows)
    assert polled.status_code == 200 and two["running"].id not in polled.content.decode()


def test_a_lead_given_operator_and_auditor_in_one_workspace_retries_and_reads_spend_there_only(client, make_user, two):
    user = make_user("ops-lead")
    WorkspaceAccess.objects.create(user=user, workspace=two["mine"], roles=["Operator", "Auditor"])
    client.force_login(user)
    spend = client.get("/spend/")
    assert spend.status_code == 200 and "bravo-team" not in spend.content.decode()  # Auditor: spend, of A alone
    assert client.get("/audit/").status_code == 200
    assert client.get(f"/retry/?batch={two['own'].id}&kind=api_error").status_code == 200  # Operator: retry in A
    assert client.get(f"/retry/?batch={two['ended'].id}&kind=api_error").status_code == 403  # never in B
    assert client.get("/admin/batches/workspace/").status_code != 200  # and no site administration


def test_a_grant_written_the_old_way_with_one_role_still_works(make_user, two):
    access = WorkspaceAccess.objects.create(user=make_user("old"), workspace=two["mine"], role="Auditor")
    access.refresh_from_db()
    assert access.roles == ["Auditor"] and access.role == "Auditor"


def test_a_batch_watched_before_access_was_taken_away_leaves_the_health_bar(lead, two):
    from dashboard.context_processors import WATCHED

    session = lead.session
    session[WATCHED] = [two["own"].id, two["ended"].id]  # B's batch watched while the user could still see B
    session.save()

    bar = lead.get("/health/").content.decode()

    assert two["own"].id in bar and two["ended"].id not in bar and "bravo-team" not in bar


def test_the_batch_list_csv_holds_only_workspace_a(lead, two):
    export = b"".join(lead.get("/batches/export.csv").streaming_content).decode()
    assert two["own"].id in export
    assert all(two[name].id not in export for name in ("ended", "running", "old"))
    # Asking for B by name is named as unreadable and refused, not answered with B's batches.
    asked = lead.get(f"/batches/export.csv?workspace={two['other'].name}")
    assert asked.status_code == 400 and two["ended"].id not in asked.content.decode()


def test_the_submissions_list_holds_only_workspace_a(lead, two):
    mine = Submission.objects.create(
        workspace=two["mine"], fingerprint="a-draft", request_count=1, filename="ours.jsonl"
    )
    page = lead.get("/submissions/").content.decode()
    assert f"/submissions/{mine.pk}/" in page and "ours.jsonl" in page
    assert f"/submissions/{two['draft'].pk}/" not in page and "theirs.jsonl" not in page
    assert "theirs.jsonl" not in lead.get(f"/submissions/?workspace={two['other'].name}").content.decode()


def test_a_user_given_no_role_is_shown_no_workspace_in_the_health_bar(client, make_user, two):
    """Every page is refused to a user given no role yet, but the health bar (on the 403 page too) listed every
    workspace by name, with its sync errors: unscoped read as "all", whatever the user may see."""
    client.force_login(make_user("newcomer"))
    assert client.get("/").status_code == 403
    bar = client.get("/health/").content.decode()
    assert two["other"].name not in bar and two["mine"].name not in bar
