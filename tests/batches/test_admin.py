"""Workspaces in the Django admin: the key is write-only and shown masked."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from batches.models import AuditEvent, Price, UsageRollup, Workspace
from batches.services import pricing
from config.celery import app
from tests.builders import ENDED, ended_batch, stored_result


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser("root", "", "pw-irrelevant"))
    return client


def test_adding_a_workspace_encrypts_the_key(admin_client):
    response = admin_client.post(
        "/admin/batches/workspace/add/",
        {"name": "acme", "base_url": "", "is_active": "on", "api_key": "sk-ant-api03-topsecret-abcd"},
    )
    assert response.status_code == 302
    ws = Workspace.objects.get(name="acme")
    assert ws.credentials.api_key == "sk-ant-api03-topsecret-abcd" and ws.api_key_hint == "sk-ant-…abcd"


def test_the_change_page_never_renders_the_key(admin_client):
    ws = Workspace(name="acme")
    ws.set_api_key("sk-ant-api03-topsecret-abcd")
    ws.save()
    for url in ("/admin/batches/workspace/", f"/admin/batches/workspace/{ws.pk}/change/"):
        body = admin_client.get(url).content.decode()
        assert "topsecret" not in body and ws.api_key_encrypted not in body
        assert "sk-ant-…abcd" in body


def test_saving_without_a_key_keeps_the_current_one(admin_client):
    ws = Workspace(name="acme")
    ws.set_api_key("sk-ant-api03-topsecret-abcd")
    ws.save()
    admin_client.post(f"/admin/batches/workspace/{ws.pk}/change/", {"name": "acme2", "base_url": "", "api_key": ""})
    ws.refresh_from_db()
    assert ws.name == "acme2" and ws.credentials.api_key == "sk-ant-api03-topsecret-abcd"


def test_a_new_workspace_needs_a_key(admin_client):
    response = admin_client.post("/admin/batches/workspace/add/", {"name": "acme", "base_url": "", "api_key": ""})
    assert response.status_code == 200 and not Workspace.objects.exists()
    assert "needs an API key" in response.content.decode()


def test_workspace_and_key_changes_are_audited_without_the_key(admin_client):
    from batches.models import AuditEvent

    admin_client.post(
        "/admin/batches/workspace/add/",
        {"name": "acme", "base_url": "", "is_active": "on", "api_key": "sk-ant-api03-topsecret-abcd"},
    )
    ws = Workspace.objects.get(name="acme")
    admin_client.post(f"/admin/batches/workspace/{ws.pk}/change/", {"name": "acme", "base_url": "", "api_key": ""})
    events = list(AuditEvent.objects.order_by("id").values_list("action", "target", "params"))
    assert events[0] == ("key_change", "acme", {"key": "sk-ant-…abcd", "created": True})
    assert events[1][0] == "workspace_change" and events[1][2]["created"] is True
    assert events[2] == ("workspace_change", "acme", {"fields": ["is_active"], "created": False})
    assert "topsecret" not in str(events)


def test_deleting_prices_from_the_list_reprices_their_usage_and_is_audited(
    admin_client, django_capture_on_commit_callbacks
):
    batch = ended_batch("b1", ENDED)
    stored_result(batch, "h", "claude-haiku-4-5", input_tokens=1_000_000, output_tokens=0)
    pricing.roll_up(batch)
    assert UsageRollup.objects.get().cost == Decimal("0.50")
    haiku = list(Price.objects.filter(family="claude-haiku-4-5").values_list("pk", flat=True))

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                "/admin/batches/price/",
                {"action": "delete_selected", "index": 0, "_selected_action": haiku, "post": "yes"},
            )
    finally:
        app.conf.task_always_eager = False

    assert response.status_code == 302 and not Price.objects.filter(family="claude-haiku-4-5").exists()
    assert UsageRollup.objects.get().cost is None  # unpriced now, never the deleted price's figure
    event = AuditEvent.objects.get(target="price claude-haiku-4-5")
    assert event.action == "price_change" and event.params["price"] == "deleted"


def test_the_price_book_actions_show_the_diff_then_apply_it(admin_client):
    Price.objects.filter(family="claude-fable-5-2").delete()
    any_row = list(Price.objects.values_list("pk", flat=True)[:1])

    shown = admin_client.post("/admin/batches/price/", {"action": "show_price_book", "index": 0,
                                                        "_selected_action": any_row}, follow=True)  # fmt: skip
    assert "+ claude-fable-5-2 from 2026-11-09: $8 / $40" in shown.content.decode()
    assert not Price.objects.filter(family="claude-fable-5-2").exists()  # shown, not applied

    admin_client.post("/admin/batches/price/", {"action": "apply_price_book", "index": 0, "_selected_action": any_row})
    assert Price.objects.get(family="claude-fable-5-2").input == Decimal(8)
    assert AuditEvent.objects.get(target="price book").params["changes"] == 1


def test_a_budget_change_is_audited(admin_client):
    workspace = Workspace.objects.create(name="acme", api_key_encrypted="x")
    response = admin_client.post("/admin/batches/budget/add/", {"workspace": workspace.pk, "monthly_amount": "250.00"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="budget_change")
    assert (event.target, event.params) == ("acme", {"monthly_amount": "250.00", "created": True})


ADMIN_PAGES = ["price", "budget", "workspace", "batch", "result"]


@pytest.mark.parametrize("role", ["Viewer", "Operator", "Auditor", "Admin"])
def test_the_admin_site_gives_each_staff_role_what_its_table_says(client, make_user, role):
    user = make_user(f"staff-{role.lower()}", role)
    User.objects.filter(pk=user.pk).update(is_staff=True)
    client.force_login(user)

    index = client.get("/admin/").content.decode()
    statuses = {page: client.get(f"/admin/batches/{page}/").status_code for page in ADMIN_PAGES}

    if role == "Admin":
        assert statuses == dict.fromkeys(ADMIN_PAGES, 200)
        assert "Prices" in index and "Budgets" in index and "Batches" in index and "Batchs" not in index
    else:
        assert all(status == 403 for page, status in statuses.items() if page != "batch"), statuses


def test_an_admin_adds_a_price_and_a_budget_through_the_admin_pages(client, make_user):
    user = make_user("boss", "Admin")
    User.objects.filter(pk=user.pk).update(is_staff=True)
    client.force_login(user)
    workspace = Workspace.objects.create(name="acme", api_key_encrypted="x")

    price = client.post("/admin/batches/price/add/", {
        "family": "claude-test-9", "effective_from": "2026-12-01", "input": "1", "output": "5",
        "cache_write_5m": "1.25", "cache_write_1h": "2", "cache_read": "0.1", "batch_factor": "0.5",
        "web_search_per_1000": "10", "source": "test",
    })  # fmt: skip
    budget = client.post("/admin/batches/budget/add/", {"workspace": workspace.pk, "monthly_amount": "100.00"})

    assert (price.status_code, budget.status_code) == (302, 302)
    assert Price.objects.filter(family="claude-test-9").exists() and workspace.budget.monthly_amount == 100


@pytest.mark.parametrize("field", ["input", "cache_read", "batch_factor", "web_search_per_1000"])
def test_a_negative_price_is_refused_where_it_is_typed(client, make_user, field):
    """The admin saved input=-1: every request of that model would have counted as a credit against spend."""
    user = make_user("boss", "Admin")
    User.objects.filter(pk=user.pk).update(is_staff=True)
    client.force_login(user)
    form = {"family": "claude-test-9", "effective_from": "2026-12-01", "input": "1", "output": "5",
            "cache_write_5m": "1.25", "cache_write_1h": "2", "cache_read": "0.1", "batch_factor": "0.5",
            "web_search_per_1000": "10", "source": "test"}  # fmt: skip

    page = client.post("/admin/batches/price/add/", {**form, field: "-1"})

    assert page.status_code == 200 and "Ensure this value is greater than or equal to 0." in page.content.decode()
    assert not Price.objects.filter(family="claude-test-9").exists()


def test_a_fixed_key_lets_backed_off_ingests_try_again_at_once(admin_client, emulator, make_workspace):
    from batches.services import ingest, sync

    workspace = make_workspace("rekeyed")
    batch_id = emulator.seed_batch(workspace.test_api_key, 5, status="ended")
    sync.sync_workspace(workspace.pk)
    emulator.faults.add(op="results", status=401, error_type="authentication_error", message="invalid x-api-key")
    assert ingest.ingest_batch(batch_id).outcome == "failed"
    assert ingest.claim_due(workspace.pk) == []  # the longest back-off

    admin_client.post(
        f"/admin/batches/workspace/{workspace.pk}/change/",
        {"name": workspace.name, "base_url": workspace.base_url, "is_active": "on", "api_key": workspace.test_api_key},
    )

    assert ingest.claim_due(workspace.pk) == [batch_id]


def _workspace(base_url: str = "") -> Workspace:
    ws = Workspace(name="acme", base_url=base_url)
    ws.set_api_key("sk-ant-api03-topsecret-abcd")
    ws.save()
    return ws


def test_changing_the_base_url_needs_the_key_again(admin_client):
    ws = _workspace()
    change = f"/admin/batches/workspace/{ws.pk}/change/"

    refused = admin_client.post(change, {"name": "acme", "base_url": "https://evil.example", "api_key": ""})

    assert refused.status_code == 200 and "enter the API key again" in refused.content.decode()
    ws.refresh_from_db()
    assert ws.base_url == ""
    admin_client.post(
        change, {"name": "acme", "base_url": "https://proxy.example/v1", "api_key": "sk-ant-api03-new-wxyz"}
    )
    ws.refresh_from_db()
    assert ws.base_url == "https://proxy.example/v1" and ws.credentials.api_key == "sk-ant-api03-new-wxyz"
    row = AuditEvent.objects.filter(action="workspace_change").latest("pk")
    assert row.params["base_url"] == {"from": "", "to": "https://proxy.example/v1"}


@pytest.mark.parametrize("url", ["http://evil.example", "ftp://evil.example", "https://user:pw@evil.example"])
def test_a_base_url_must_be_https_unless_loopback(admin_client, url):
    response = admin_client.post("/admin/batches/workspace/add/",
                                 {"name": "acme", "base_url": url, "api_key": "sk-ant-api03-x-abcd"})  # fmt: skip
    assert response.status_code == 200 and not Workspace.objects.exists()
    local = {"name": "acme", "base_url": "http://127.0.0.1:8765", "api_key": "sk-ant-api03-x-abcd"}
    admin_client.post("/admin/batches/workspace/add/", local)
    assert Workspace.objects.get().base_url == "http://127.0.0.1:8765"


def test_allowed_api_hosts_is_the_whole_list(db, settings):
    from batches.errors import PermanentAPIError

    settings.ALLOWED_API_HOSTS = ["proxy.internal"]
    assert _workspace("http://proxy.internal:8080").credentials.api_key  # listed: even plain http
    Workspace.objects.filter(name="acme").update(base_url="https://elsewhere.example")
    with pytest.raises(PermanentAPIError, match="ALLOWED_API_HOSTS"):
        _ = Workspace.objects.get(name="acme").credentials  # a key is never sent to a host not listed


def test_a_batch_deleted_or_relabelled_in_the_admin_shows_on_the_list_at_once(admin_client):
    from batches.models import Batch
    from tests.html import element, elements, text

    def listed(q: str) -> int:  # the All tab's count, kept in the cache until a workspace's version moves
        body = admin_client.get(f"/?q={q}").content.decode()
        return int(text(element(next(iter(elements(element(body, "nav", class_="tabs"), "a"))), "span")).strip())

    kept, gone = ended_batch("kept"), ended_batch("gone")
    assert listed("msgbatch_") == 2 and listed("renamed") == 0
    admin_client.post(f"/admin/batches/batch/{gone.pk}/delete/", {"post": "yes"})
    assert not Batch.objects.filter(pk=gone.pk).exists()
    assert listed("msgbatch_") == 1
    admin_client.post(f"/admin/batches/batch/{kept.pk}/change/", {"label": "renamed-nightly"})
    assert listed("renamed") == 1


@pytest.mark.parametrize("how", ["one", "selected"])
def test_a_batch_deleted_in_the_admin_leaves_the_spend_reports_daily_sums(admin_client, how):
    from batches.models import DailyUsage

    kept, gone = ended_batch("kept"), ended_batch("gone")
    for batch in (kept, gone):
        stored_result(batch, "h", "claude-haiku-4-5", input_tokens=1_000_000, output_tokens=0)
        pricing.roll_up(batch)
    assert DailyUsage.objects.get().cost == Decimal("1.00")  # $1/MTok halved, twice
    if how == "one":
        admin_client.post(f"/admin/batches/batch/{gone.pk}/delete/", {"post": "yes"})
    else:
        admin_client.post(
            "/admin/batches/batch/", {"action": "delete_selected", "_selected_action": [gone.pk], "post": "yes"}
        )
    assert not UsageRollup.objects.filter(batch=gone).exists()
    assert DailyUsage.objects.get().cost == Decimal("0.50")  # the kept batch's only


@pytest.mark.parametrize(
    "url",
    ["/admin/batches/batch/?workspace__exact=999999999999999999999999999999", "/admin/batches/signin/?at__year=9999"],
    ids=["a workspace past 64 bits", "the year 10000"],
)
def test_the_admin_answers_a_value_out_of_range_with_a_400(admin_client, url):
    """Django's own admin raised on each (SQLite's OverflowError; "year 10000 is out of range"): a 500 from what a
    staff member can type. (PostgreSQL compares the first and finds nothing: a 200.)"""
    response = admin_client.get(url)

    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400 or "at__year" in url:
        assert response.status_code == 400 and "Not a value the admin can use" in response.content.decode()
