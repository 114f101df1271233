"""The spend page: the golden costs to the cent, groupings and periods, the date range, a CSV of exactly
what is shown, budgets, who may see it, escaping, and a fixed number of queries.

The golden batch (tests/batches/test_pricing.py) ends on 2026-05-31: $8.65 at batch prices, $17.30 at
standard prices; haiku's caching saved 32.6%; one request of an unknown model is unpriced, never $0.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.models import AuditEvent, Batch, Budget, Price, UsageRollup, Workspace
from batches.services import pricing
from batches.services.pricing import daily
from dashboard.spend.budget_status import budget_status
from tests.builders import ENDED, ended_batch, golden_results, stored_result
from tests.html import attribute, element, elements, text

pytestmark = pytest.mark.django_db

MAY = "from=2026-05-01&to=2026-05-31"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def auditor_client(client, make_user):
    client.force_login(make_user("auditor", "Auditor"))
    return client


@pytest.fixture
def golden() -> Batch:
    batch = ended_batch()
    golden_results(batch)
    pricing.roll_up(batch)
    return batch


class _Table(HTMLParser):
    """The text of each row of the spend table: header, body and totals."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.inside = self.cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and "spend" in (dict(attrs).get("class") or "").split():
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag in ("td", "th"):
            self.cell = False

    def handle_data(self, data):
        if self.inside and self.cell:
            self.rows[-1][-1] += data.strip()


def _table(client, query: str) -> list[list[str]]:
    response = client.get(f"/spend/?{query}")
    assert response.status_code == 200
    parser = _Table()
    parser.feed(response.content.decode())
    return parser.rows


def _csv(client, query: str) -> list[list[str]]:
    response = client.get(f"/spend/export.csv?{query}")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _by_group(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[1]: row for row in rows[1:-1]}


def _column(rows: list[list[str]], name: str) -> int:
    return rows[0].index(name)


def _usage(batch: Batch, model: str, cost: str | None, requests: int = 1, **fields) -> UsageRollup:
    """A usage row written as a roll-up writes it: with its day's sums for the report rebuilt."""
    row = UsageRollup.objects.create(
        batch=batch, workspace_id=batch.workspace_id, submitter_id=batch.submitted_by_id, model=model,
        day=pricing.usage_day(batch), requests=requests, input_tokens=0, output_tokens=0, cache_write_5m_tokens=0,
        cache_write_1h_tokens=0, cache_read_tokens=0, cost=cost and Decimal(cost),
        standard_cost=cost and Decimal(cost) * 2, uncached_cost=cost and Decimal(cost), **fields,
    )  # fmt: skip
    daily.refresh([row.day])
    return row


# --- the golden set ---------------------------------------------------------------------------------
def test_the_golden_batch_costs_what_was_worked_out_by_hand(auditor_client, golden):
    rows = _table(auditor_client, f"{MAY}&group=none")
    assert rows[0] == ["Period", "Requests", "Input tokens", "Output tokens", "Cache write tokens",
                       "Cache read tokens", "Cost (batch)", "Standard cost", "Saved vs standard",
                       "Saved by prompt caching", "Unpriced requests"]  # fmt: skip
    day, total = rows[1], rows[-1]
    assert day[0] == "2026-05-31" and total[0] == "Total"
    for row in (day, total):
        assert row[1] == "4"  # errored and expired results are not billed
        assert row[6:9] == ["$8.65", "$17.30", "$8.65"]
        assert row[10] == "1"  # the unknown model's request, counted as unpriced


def test_by_model_each_model_shows_its_cost_and_caching_share(auditor_client, golden):
    rows = _by_group(_table(auditor_client, f"{MAY}&group=model"))
    assert rows["claude-haiku-4-5-20251001"][7:11] == ["$0.78", "$1.55", "$0.78", "32.6%"]
    assert rows["claude-sonnet-4-5-20250929"][7] == "$3.00"
    assert rows["claude-opus-4-1-20250805"][7] == "$4.88"
    assert rows["claude-opus-4-1-20250805"][10] == "−18.2%"  # cache writes never read cost more than plain input


def test_a_model_without_a_price_is_unpriced_never_zero(auditor_client, golden):
    unknown = _by_group(_table(auditor_client, f"{MAY}&group=model"))["gpt-4o"]
    assert unknown[2] == "1" and unknown[7:9] == ["unpriced", "unpriced"] and unknown[11] == "1"
    assert "$0.00" not in unknown
    body = auditor_client.get(f"/spend/?{MAY}").content.decode()
    assert "No price for" in body and "gpt-4o" in body


def _plain(shown: str) -> str:
    """What the CSV writes for a figure the page shows: "$1,234.50" -> "1234.50", "−18.2%" -> "-18.2", and
    nothing for "unpriced" or "—" (no figure is not zero)."""
    if shown in ("unpriced", "—"):
        return ""
    return shown.replace("−", "-").replace("$", "").replace(",", "").removesuffix("%")


def test_the_csv_holds_exactly_the_rows_and_columns_shown_as_plain_numbers(auditor_client, golden):
    for query in (f"{MAY}&group=none", f"{MAY}&group=model", f"{MAY}&group=workspace&period=week"):
        table, exported = _table(auditor_client, query), _csv(auditor_client, query)
        labels = len(table[0]) - 10
        assert [row[:labels] for row in exported] == [row[:labels] for row in table]
        assert [row[labels:] for row in exported[1:]] == [[_plain(c) for c in row[labels:]] for row in table[1:]]
    header = _csv(auditor_client, f"{MAY}&group=model")[0]
    assert header[7:11] == [
        "Cost at batch prices (USD)", "Cost at standard prices (USD)", "Saved vs standard prices (USD)",
        "Saved by prompt caching (% of uncached cost)",
    ]  # fmt: skip
    assert ["Total", "", "4"] == _csv(auditor_client, f"{MAY}&group=model")[-1][:3]


def test_the_export_is_audited_with_its_filters(auditor_client, golden):
    _csv(auditor_client, f"{MAY}&group=model")
    event = AuditEvent.objects.get(action="export", target="spend")
    assert event.actor_name == "auditor"
    assert event.params == {"period": "day", "group": "model", "from": "2026-05-01", "to": "2026-05-31"}


# --- grouping, periods and the range ----------------------------------------------------------------
@pytest.fixture
def three_batches(golden, make_user):
    """The golden batch (acme, nobody, May 31), one by ann in beta on May 20, one in April."""
    ann = make_user("ann")
    beta = Workspace.objects.create(name="beta", api_key_encrypted="x", api_key_hint="…")
    may20 = ended_batch("may20", ENDED - timedelta(days=11))
    Batch.objects.filter(pk=may20.pk).update(workspace=beta, submitted_by=ann)
    _usage(Batch.objects.get(pk=may20.pk), "claude-haiku-4-5", "1.00")
    _usage(ended_batch("apr", datetime(2026, 4, 10, tzinfo=UTC)), "claude-haiku-4-5", "0.25")
    return golden


def test_it_groups_by_workspace_and_submitter(auditor_client, three_batches):
    by_workspace = _by_group(_table(auditor_client, MAY))
    assert set(by_workspace) == {"acme", "beta"} and by_workspace["beta"][7] == "$1.00"
    by_submitter = _by_group(_table(auditor_client, f"{MAY}&group=submitter"))
    assert by_submitter["ann"][7] == "$1.00" and by_submitter["(no submitter)"][7] == "$8.65"


@pytest.fixture
def profiled(db, make_user):
    """Three batches ended on 2026-05-31, priced at Haiku 4.5's published $1 / $5 per MTok, batch half of it:
    - "p1" for user profile uprof_01acme, by ann: 1,000,000 input ($0.50) + 200,000 output ($0.50) = $1.00;
    - "p2" for uprof_01acme, by bob: 400,000 input = $0.20;
    - "p3" with no user profile, by ann: 2,000,000 output = $5.00.
    So uprof_01acme $1.20 ($2.40 at standard prices), no profile $5.00, all $6.20."""
    ann, bob = make_user("ann"), make_user("bob")
    for name, profile, user, tokens in [("p1", "uprof_01acme", ann, (1_000_000, 200_000)),
                                        ("p2", "uprof_01acme", bob, (400_000, 0)),
                                        ("p3", "", ann, (0, 2_000_000))]:  # fmt: skip
        batch = ended_batch(name)
        Batch.objects.filter(pk=batch.pk).update(user_profile_id=profile, submitted_by=user)
        batch.refresh_from_db()
        stored_result(batch, "a", "claude-haiku-4-5-20251001", input_tokens=tokens[0], output_tokens=tokens[1])
        pricing.roll_up(batch)


def test_it_groups_by_user_profile_beside_the_submitter(auditor_client, profiled):
    rows = _table(auditor_client, f"{MAY}&group=user_profile")
    assert rows[0][:2] == ["Period", "User profile"]
    cost, standard = _column(rows, "Cost (batch)"), _column(rows, "Standard cost")
    by_profile = _by_group(rows)
    assert set(by_profile) == {"uprof_01acme", "(no user profile)"}
    assert [by_profile["uprof_01acme"][i] for i in (2, cost, standard)] == ["2", "$1.20", "$2.40"]
    assert [by_profile["(no user profile)"][i] for i in (2, cost)] == ["1", "$5.00"]
    assert rows[-1][cost] == "$6.20"
    by_submitter = _by_group(_table(auditor_client, f"{MAY}&group=submitter"))
    assert by_submitter["ann"][cost] == "$6.00" and by_submitter["bob"][cost] == "$0.20"


def test_the_csv_groups_by_user_profile_in_plain_numbers(auditor_client, profiled):
    rows = _csv(auditor_client, f"{MAY}&group=user_profile")
    assert rows[0][:2] == ["Period", "User profile"]
    cost = _column(rows, "Cost at batch prices (USD)")
    assert [(r[1], r[cost]) for r in rows[1:]] == [
        ("(no user profile)", "5.00"),
        ("uprof_01acme", "1.20"),
        ("", "6.20"),
    ]


def test_usage_rolled_up_before_the_column_takes_its_batchs_profile(profiled):
    import importlib

    from django.apps import apps

    UsageRollup.objects.update(user_profile_id="")
    importlib.import_module("batches.migrations.0034_i19_usage_user_profile").copy_profiles(apps, None)
    assert dict(UsageRollup.objects.values_list("batch_id", "user_profile_id")) == {
        "msgbatch_p1": "uprof_01acme",
        "msgbatch_p2": "uprof_01acme",
        "msgbatch_p3": "",
    }


def test_it_sums_by_week_and_by_month(auditor_client, three_batches):
    weeks = _table(auditor_client, f"{MAY}&period=week&group=none")
    assert [(r[0], r[6]) for r in weeks[1:]] == [
        ("Week of 2026-05-18", "$1.00"),
        ("Week of 2026-05-25", "$8.65"),
        ("Total", "$9.65"),
    ]
    months = _table(auditor_client, "from=2026-04-01&to=2026-05-31&period=month&group=none")
    assert [(r[0], r[6]) for r in months[1:]] == [("2026-04", "$0.25"), ("2026-05", "$9.65"), ("Total", "$9.90")]


def test_the_date_range_leaves_out_usage_outside_it(auditor_client, three_batches):
    rows = _table(auditor_client, "from=2026-05-01&to=2026-05-30&group=none")
    assert [(r[0], r[6]) for r in rows[1:]] == [("2026-05-20", "$1.00"), ("Total", "$1.00")]
    assert _table(auditor_client, "from=2026-06-01&to=2026-06-30")[1][0] == "No usage in this range."


def test_the_workspace_filter_keeps_only_that_workspace(auditor_client, three_batches):
    rows = _table(auditor_client, f"{MAY}&workspace=beta")
    assert [r[1] for r in rows[1:-1]] == ["beta"]


def test_by_default_it_shows_the_last_30_days(auditor_client, golden):
    now = datetime.now(UTC)
    _usage(ended_batch("today", now), "claude-haiku-4-5", "2.00")
    _usage(ended_batch("month_ago", now - timedelta(days=30)), "claude-haiku-4-5", "5.00")
    rows = _table(auditor_client, "")
    assert [r[0] for r in rows[1:]] == [now.date().isoformat(), "Total"] and rows[-1][7] == "$2.00"


def test_a_start_after_the_end_is_explained(auditor_client, golden):
    body = auditor_client.get("/spend/?from=2026-06-01&to=2026-05-01").content.decode()
    assert "Some filters are not valid" in body and "The start date is after the end date." in body
    assert auditor_client.get("/spend/export.csv?from=2026-06-01&to=2026-05-01").status_code == 400


# --- the chart --------------------------------------------------------------------------------------
def test_the_chart_is_an_accessible_svg_coloured_by_the_theme(auditor_client, three_batches):
    body = auditor_client.get(f"/spend/?{MAY}").content.decode()
    chart = element(body, "svg")
    assert attribute(chart, "role") == "img"
    assert attribute(chart, "aria-labelledby") == "spend-chart-title spend-chart-desc"
    assert text(element(body, id="spend-chart-title")) == "Batch cost per day by workspace, 2026-05-01 to 2026-05-31"
    assert (
        text(element(body, id="spend-chart-desc"))
        == "$9.65 in all by workspace, 2 groups. 1 unpriced request not shown."
    )
    # Coloured by a class the stylesheet colours (a style attribute would be refused by the CSP, and the
    # bars drawn black: tests/browser/test_csp.py looks at the colour itself).
    [acme] = [bar for bar in elements(chart, "rect") if "2026-05-31 · acme: $8.65" in text(bar)]
    assert attribute(acme, "class") == "series-0"
    assert not [node for node in elements(chart) if attribute(node, "style") is not None]
    assert "<script" not in body.lower().replace('<script src="/static/', "")  # no chart library


def test_the_chart_keeps_six_groups_and_sums_the_rest(auditor_client, golden):
    for n in range(8):
        _usage(ended_batch(f"m{n}"), f"model-{n}", f"{n + 1}.00")
    body = auditor_client.get(f"/spend/?{MAY}&group=model").content.decode()
    chart = str(element(body, "svg"))
    titles = {text(t).strip() for t in elements(chart, "title")}
    # Kept: model-7 ($8) to model-4 ($5), opus ($4.875), model-3 ($4); the other five summed as one.
    assert {"model-7", "model-3", "5 others"} <= titles and "model-2" not in titles
    assert [attribute(r, "class") for r in elements(chart, "rect", rx="2")][-1] == "series-other"  # its key


def test_hostile_model_names_are_escaped_in_the_table_and_the_chart(auditor_client, golden):
    Price.objects.create(family=HOSTILE, effective_from=ENDED.date(), input=1, output=1, cache_write_5m=1,
                         cache_write_1h=1, cache_read=1, source="test")  # fmt: skip
    stored_result(golden, "evil", HOSTILE, input_tokens=1_000_000)
    pricing.roll_up(golden)
    body = auditor_client.get(f"/spend/?{MAY}&group=model").content.decode()
    assert HOSTILE not in body
    assert HOSTILE in text(element(body, "svg"))  # shown as text, never as markup
    assert _by_group(_table(auditor_client, f"{MAY}&group=model"))[HOSTILE][7] == "$0.50"


# --- budgets ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spent", "warning"),
    [("79.00", None), ("80.00", "80% of budget used"), ("99.99", "80% of budget used"), ("100.00", "over budget")],
)
def test_budgets_warn_at_80_and_100_percent_on_every_page(auditor_client, spent, warning):
    batch = ended_batch("now", datetime.now(UTC))
    Budget.objects.create(workspace=batch.workspace, monthly_amount=Decimal(100))
    _usage(batch, "claude-haiku-4-5", spent)
    _usage(ended_batch("last_month", datetime.now(UTC) - timedelta(days=40)), "claude-haiku-4-5", "500.00")
    for url in ("/", "/spend/", "/errors/"):
        body = auditor_client.get(url).content.decode()
        shown = 'aria-label="Budgets"' in body
        assert shown == (warning is not None), url
        if warning:
            assert warning in body and f"${spent} of $100.00" in body
    assert f"${spent}" in auditor_client.get("/spend/").content.decode()  # the budget table always shows it


def test_each_budget_sums_only_its_own_workspace_this_month():
    now = datetime.now(UTC)
    acme = ended_batch("acme1", now).workspace
    _usage(ended_batch("acme2", now), "claude-haiku-4-5", "12.50", requests=3)
    _usage(Batch.objects.get(pk="msgbatch_acme1"), "claude-haiku-4-5", "7.25")
    _usage(Batch.objects.get(pk="msgbatch_acme1"), "gpt-4o", None, requests=4)  # unpriced: counted, not $0
    _usage(ended_batch("acme_old", now - timedelta(days=40)), "claude-haiku-4-5", "900.00")
    other = Workspace.objects.create(name="zeta", api_key_encrypted="x", api_key_hint="…")
    zeta = Batch.objects.create(id="msgbatch_z", workspace=other, processing_status="ended", created_at=now,
                                expires_at=now + timedelta(days=1), ended_at=now)  # fmt: skip
    _usage(zeta, "claude-haiku-4-5", "50.00")
    idle = Workspace.objects.create(name="idle", api_key_encrypted="x", api_key_hint="…")
    for ws, amount in ((acme, 100), (other, 40), (idle, 10)):
        Budget.objects.create(workspace=ws, monthly_amount=Decimal(amount))

    status = {b.workspace: (b.spent_text, b.unpriced, b.level) for b in budget_status()}
    assert status == {"acme": ("$19.75", 4, ""), "zeta": ("$50.00", 0, "over"), "idle": ("$0.00", 0, "")}


def test_budgets_are_shown_only_to_those_who_may_see_spend(viewer_client):
    batch = ended_batch("now", datetime.now(UTC))
    Budget.objects.create(workspace=batch.workspace, monthly_amount=Decimal(100))
    _usage(batch, "claude-haiku-4-5", "150.00")
    assert "over budget" not in viewer_client.get("/").content.decode()


# --- who may see it ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "status"), [("Viewer", 403), ("Operator", 403), ("Auditor", 200), ("Admin", 200)])
def test_only_auditors_and_admins_see_spend(client, make_user, golden, role, status):
    client.force_login(make_user("someone", role))
    assert client.get("/spend/").status_code == status
    assert client.get(f"/spend/export.csv?{MAY}").status_code == status
    assert ('href="/spend/"' in client.get("/").content.decode()) == (status == 200)


def test_anonymous_users_are_sent_to_log_in(client):
    assert client.get("/spend/")["Location"].startswith("/login/")


# --- queries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query", ["", f"{MAY}&group=model", f"{MAY}&period=week&group=submitter&workspace=acme", "period=month"]
)
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # session, user, its permissions (2), its workspace roles, workspace choices, the sums, unpriced
        # models, budgets, sync health
        ("/spend/", 10),
        # the same less budgets and sync health, plus the audit record of the export
        ("/spend/export.csv", 9),
    ],
)
def test_the_number_of_queries_does_not_grow_with_the_data(auditor_client, golden, make_user, query, path, expected):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = auditor_client.get(f"{path}?{query}")
            assert response.status_code == 200
            response.getvalue()  # the export streams: its queries run as it is read
        return len(queries)

    before = count()
    Budget.objects.create(workspace=golden.workspace, monthly_amount=Decimal(10))
    for n in range(20):
        batch = ended_batch(f"more{n}", datetime.now(UTC) - timedelta(days=n))
        Batch.objects.filter(pk=batch.pk).update(submitted_by=make_user(f"u{n}"))
        _usage(Batch.objects.get(pk=batch.pk), f"model-{n % 7}", None if n % 5 == 0 else "1.50")
    assert count() == before == expected


# --- batch pages ------------------------------------------------------------------------------------
def test_the_batch_list_shows_each_batch_cost(viewer_client, golden):
    ended_batch("pending", ENDED + timedelta(days=1))
    body = viewer_client.get("/").content.decode()
    golden_cost = element(element(body, "tr", id="row-msgbatch_b1"), "td", class_="num cost")
    cost = element(golden_cost, "span")
    assert text(cost) == "$8.65" and attribute(cost, "title") == "$17.30 at standard prices"
    assert text(element(golden_cost, "span", class_="badge")) == "+ unpriced"
    assert text(element(element(body, "tr", id="row-msgbatch_pending"), "td", class_="num cost")) == "—"


def test_a_batch_shows_its_cost_saving_and_unpriced_models(viewer_client, golden):
    body = viewer_client.get(f"/batches/{golden.id}/").content.decode()
    assert "$8.65" in body and "$17.30" in body and "(batch prices saved $8.65)" in body
    assert "1 request of gpt-4o" in body


def test_a_result_shows_its_cost(viewer_client, golden):
    haiku = viewer_client.get(f"/batches/{golden.id}/results/haiku/").content.decode()
    assert "$0.78 <span" in haiku and "$1.55 at standard prices" in haiku and "32.6%" in haiku
    unknown = viewer_client.get(f"/batches/{golden.id}/results/unknown/").content.decode()
    assert "unpriced" in unknown and "$0.00" not in unknown


def test_a_batch_with_only_unpriced_usage_says_so(viewer_client):
    batch = ended_batch("unknown")
    _usage(batch, "gpt-4o", None, requests=3)
    row = element(viewer_client.get("/").content.decode(), "tr", id="row-msgbatch_unknown")
    assert text(element(row, "td", class_="num cost")) == "unpriced" and "$" not in text(row)
